import pytest
import torch

from latentbo.devices import resolve_device
from latentbo.errors import ConfigError


def test_names_resolve_to_devices() -> None:
    assert resolve_device(None) == resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


def test_bad_or_missing_devices_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="invalid device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device cuda is not available on this machine"):
            resolve_device("cuda")
    else:
        with pytest.raises(ConfigError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
