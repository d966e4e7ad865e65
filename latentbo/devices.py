"""Where training and campaigns run: a validated torch device."""

from __future__ import annotations

import torch

from latentbo.errors import ConfigError


def resolve_device(name: str | torch.device | None) -> torch.device:
    """Parse a device name (``cpu``, ``cuda``, ``cuda:1``, ``mps``, or ``auto``: CUDA
    when there is a GPU, else the CPU); ``None`` means CPU.

    Raises:
        ConfigError: unparsable, or the accelerator is not available on this machine.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name or "cpu")
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"invalid device {name!r}: {exc}") from None
    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
    if not available.get(device.type, lambda: False)():
        raise ConfigError(f"device {device} is not available on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {device}: only {torch.cuda.device_count()} CUDA device(s)")
    return device
