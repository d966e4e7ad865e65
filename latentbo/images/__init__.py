"""Image-generation benchmark suite: the same regularisers on image autoencoders
(the models and their configs live in :mod:`latentbo.models`, the datasets in
:mod:`latentbo.data`; this package has the Table-1 metrics, training and evaluation)."""

from latentbo.data import ImageSet, load_images, read_idx
from latentbo.images.metrics import LeNet, clustering_accuracy, feature_net, frechet_distance, precision_recall
from latentbo.images.runner import Generative, evaluate, train_image_model

__all__ = ["Generative", "ImageSet", "LeNet", "clustering_accuracy", "evaluate", "feature_net",
           "frechet_distance", "load_images", "precision_recall", "read_idx", "train_image_model"]
