"""Autoencoders: encoder + decoder + latent regulariser, each chosen by name; one
config base, one checkpoint format and one training loop for sequence and image models."""

from latentbo.models.autoencoder import LatentModel, SequenceAutoencoder
from latentbo.models.checkpoint import load_model, save_model
from latentbo.models.config import IMAGE_MODELS, IMAGE_PRESETS, MODELS, ImageConfig, ModelConfig
from latentbo.models.image import ImageAutoencoder
from latentbo.models.regularizers import REGULARIZERS, Regularizer, make_regularizer

__all__ = ["IMAGE_MODELS", "IMAGE_PRESETS", "MODELS", "REGULARIZERS", "ImageAutoencoder", "ImageConfig", "LatentModel",
           "ModelConfig", "Regularizer", "SequenceAutoencoder", "load_model", "make_regularizer", "save_model"]
