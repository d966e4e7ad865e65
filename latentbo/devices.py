"""Where training runs: a validated torch device."""

from __future__ import annotations

import torch

from latentbo.errors import ConfigError


def resolve_device(name: str | torch.device | None) -> torch.device:
    """Parse a device name (``cpu``, ``cuda``, ``cuda:1``, ``mps``); ``None`` means CPU.

    Raises:
        ConfigError: unparsable, or the accelerator is not available on this machine.
    """
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
