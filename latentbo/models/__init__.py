"""Autoencoders: encoder + decoder + latent regulariser, each chosen by name."""

from latentbo.models.autoencoder import LatentModel, SequenceAutoencoder, load_model, save_model
from latentbo.models.config import MODELS, ModelConfig
from latentbo.models.regularizers import REGULARIZERS, Regularizer, make_regularizer

__all__ = ["MODELS", "REGULARIZERS", "LatentModel", "ModelConfig", "Regularizer", "SequenceAutoencoder", "load_model",
           "make_regularizer", "save_model"]
