"""Module-level worker functions for executor tests (spawned processes and Ray
workers import them by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def square(payload: dict) -> dict:
    return {"status": "done", "value": payload["x"] ** 2, "pid": os.getpid()}


def die_on_three(payload: dict) -> dict:
    if payload["x"] == 3:
        os._exit(1)  # a hard crash: no exception reaches the pool
    return square(payload)


def write_pid_and_sleep(payload: dict) -> dict:
    Path(payload["pid_file"]).write_text(str(os.getpid()))
    time.sleep(120)
    return square({"x": 0})
