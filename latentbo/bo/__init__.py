"""Latent-space BO campaigns."""

from latentbo.bo.campaign import Campaign, CampaignConfig

__all__ = ["Campaign", "CampaignConfig"]
