def length(strings):
    """A user objective for the import-path test: string length, NaN for None."""
    return [len(s) if s is not None else float("nan") for s in strings]


def nothing(strings):
    """A user objective that scores nothing (every string invalid)."""
    return [float("nan") for _ in strings]
