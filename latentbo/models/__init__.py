"""Autoencoders: encoder + decoder + latent regulariser, each chosen by name; one
config base, one checkpoint format and one training loop for sequence and image models.

Names are imported on first use (torch is slow to import), so a command that only
reads the zoo's cards stays fast."""

from latentbo.lazy import lazy_getattr

_WHERE = {
    "LatentModel": "autoencoder", "SequenceAutoencoder": "autoencoder", "load_model": "checkpoint",
    "save_model": "checkpoint", "IMAGE_MODELS": "config", "IMAGE_PRESETS": "config", "MODELS": "config",
    "ImageConfig": "config", "ModelConfig": "config", "ImageAutoencoder": "image", "REGULARIZERS": "regularizers",
    "Regularizer": "regularizers", "make_regularizer": "regularizers",
}


__getattr__ = lazy_getattr(__name__, _WHERE, globals())

__all__ = sorted(_WHERE)
