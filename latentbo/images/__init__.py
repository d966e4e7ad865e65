"""Image-generation benchmark suite: the same regularisers on image autoencoders."""

from latentbo.images.data import IMAGE_DATASETS, ImageSet, load_images, read_idx
from latentbo.images.metrics import LeNet, clustering_accuracy, feature_net, frechet_distance
from latentbo.images.models import (IMAGE_MODELS, IMAGE_PRESETS, ImageAutoencoder, ImageConfig, load_image_model,
                                    save_image_model)
from latentbo.images.runner import Generative, evaluate, train_image_model

__all__ = ["IMAGE_DATASETS", "IMAGE_MODELS", "IMAGE_PRESETS", "Generative", "ImageAutoencoder", "ImageConfig",
           "ImageSet", "LeNet", "clustering_accuracy", "evaluate", "feature_net", "frechet_distance", "load_image_model",
           "load_images", "read_idx", "save_image_model", "train_image_model"]
