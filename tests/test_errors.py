import inspect

import pytest

from latentbo import errors
from latentbo.errors import ConfigError, DatasetNotFoundError, InvalidInputError, LatentboError


def test_every_error_is_a_latentbo_error_with_a_docstring() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert len(classes) >= 12
    for cls in classes:
        assert issubclass(cls, LatentboError) and cls.__doc__, cls.__name__


def test_errors_also_catchable_as_the_builtin_they_refine() -> None:
    with pytest.raises(ValueError):
        raise ConfigError("bad")
    with pytest.raises(FileNotFoundError):
        raise DatasetNotFoundError("missing")


def test_invalid_input_names_the_string_and_the_token() -> None:
    err = InvalidInputError("x $ 1", "unknown_token", "unknown token '$'", token="$", position=1)
    assert (err.reason, err.token, err.position) == ("unknown_token", "$", 1)
    assert str(err) == "unknown token '$' (input: 'x $ 1')"
