"""Latent-space BO campaigns."""

from typing import Any

__all__ = ["Campaign", "CampaignConfig"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so the CLI can read the acquisition registry without torch.
    if name in __all__:
        from latentbo.bo import campaign

        return getattr(campaign, name)
    raise AttributeError(f"module 'latentbo.bo' has no attribute {name!r}")
