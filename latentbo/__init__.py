"""latentbo: latent-space Bayesian optimisation over structured data."""

import os

# torch's OpenMP threads spin while they wait for work. With another busy process on the
# machine that spinning starves them: `latentbo demo` took over 18 minutes instead of
# 2.5 with passive waiting, on 2 cores with one busy. It must be set before torch loads;
# a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
