"""Typed exception hierarchy: every error latentbo raises on purpose derives from
:class:`LatentboError`, so callers can catch the project's errors without also
swallowing genuine bugs."""

from __future__ import annotations


class LatentboError(Exception):
    """Base class of all errors raised deliberately by latentbo."""


class GrammarError(LatentboError):
    """A grammar file is missing, malformed or inconsistent."""


class InvalidInputError(LatentboError, ValueError):
    """A string cannot be tokenised or parsed.

    Args:
        text: The offending input string.
        reason: Short machine-readable reason, e.g. ``"unknown_token"``.
        detail: Human-readable explanation naming the offending token.
        token: The offending token, when one can be named.
        position: Token index of the failure, when known.
    """

    def __init__(
        self,
        text: str,
        reason: str,
        detail: str,
        token: str | None = None,
        position: int | None = None,
    ) -> None:
        self.text = text
        self.reason = reason
        self.detail = detail
        self.token = token
        self.position = position
        super().__init__(f"{detail} (input: {text!r})")


class DatasetNotFoundError(LatentboError, FileNotFoundError):
    """A dataset file is not where the data-directory setting says it should be."""


class DatasetError(LatentboError):
    """A dataset exists but cannot be used (empty, unreadable, wrong format)."""


class CheckpointError(LatentboError):
    """A checkpoint is corrupt or was made with an incompatible grammar/codec."""


class ConfigError(LatentboError, ValueError):
    """A configuration value is invalid."""


class StudyError(LatentboError):
    """Some cells of a study failed after all their retries."""


class BusyError(LatentboError):
    """An output folder is held by another running latentbo process."""


class ObjectiveTimeoutError(LatentboError):
    """An objective took longer than the campaign's ``objective_timeout``."""


class ObjectiveError(LatentboError):
    """An objective raised, or returned something other than one finite score (or
    NaN) per string."""


class SurrogateError(LatentboError):
    """The GP could not be fitted even after retries."""


def first_line(exc: BaseException) -> str:
    """An exception's first line, for one-line messages: torch's refusal of an unsafe
    pickle goes on to suggest ``weights_only=False``, which would run the file's code."""
    return (str(exc).strip().splitlines() or [""])[0][:200]
