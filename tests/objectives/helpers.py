def length(strings):
    """A user objective for the import-path test: string length, NaN for None."""
    return [len(s) if s is not None else float("nan") for s in strings]


def nothing(strings):
    """A user objective that scores nothing (every string invalid)."""
    return [float("nan") for _ in strings]


calls = {"n": 0}


def hangs_after_first(strings):
    """Scores the first batch (the initial data), then never returns."""
    import time

    calls["n"] += 1
    if calls["n"] > 1:
        time.sleep(3600)
    return length(strings)
