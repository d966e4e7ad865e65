"""latentbo: latent-space Bayesian optimisation over structured data."""

__version__ = "0.1.0"
