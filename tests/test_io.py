"""Atomic writes and the one-writer-per-folder lock (latentbo.io)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from latentbo.errors import BusyError
from latentbo.io import LOCK_FILE, atomic_write_text, output_lock


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a" / "x.txt", "hello")
    assert (tmp_path / "a" / "x.txt").read_text() == "hello"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.txt"]


def test_second_writer_in_another_process_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from latentbo.io import output_lock\n"
         "with output_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(30)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BusyError, match=f"another latentbo run \\(pid {holder.pid}\\)"):
            with output_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with output_lock(tmp_path):  # the dead holder's lock went with it
        assert (tmp_path / LOCK_FILE).read_text() == f"pid {__import__('os').getpid()}"


def test_lock_is_released_after_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with output_lock(tmp_path):
            raise RuntimeError("boom")
    with output_lock(tmp_path):  # non-blocking: it would raise BusyError had the lock stayed
        pass


def test_a_link_planted_at_the_lock_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    from latentbo.errors import ConfigError

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_FILE).symlink_to(victim)
    with pytest.raises(ConfigError, match="is a symbolic link"):
        with output_lock(out):
            pass
    assert victim.read_text() == "precious"


def test_written_files_get_the_users_umask(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "result.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == 0o644


def test_inside_refuses_ways_out_of_the_run_folder(tmp_path: Path) -> None:
    from latentbo.errors import ConfigError
    from latentbo.io import inside

    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    assert inside(out, "cells/bo/a") == out / "cells" / "bo" / "a"
    with pytest.raises(ConfigError, match="would write outside"):
        inside(out, "cells/../../elsewhere")
    (out / "cells").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="is a symbolic link"):
        inside(out, "cells/bo/a")


def test_numba_gets_a_temporary_cache_when_nothing_is_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    import os
    import tempfile

    from latentbo.io import writable_numba_cache

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    writable_numba_cache(tmp_path)  # a writable package folder: numba's own choice stands
    assert "NUMBA_CACHE_DIR" not in os.environ
    monkeypatch.setattr(os, "access", lambda *_: False)  # a read-only install and home (root writes anywhere)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the temporary cache made inside the test's folder
    writable_numba_cache(tmp_path)
    assert Path(os.environ["NUMBA_CACHE_DIR"]).parent == tmp_path and "numba caches compiled code in" in caplog.text
    monkeypatch.delenv("NUMBA_CACHE_DIR")


def test_overwrite_removes_only_what_latentbo_wrote(tmp_path: Path) -> None:
    """A folder with a file named like a run's beside a user's thesis and data is refused
    whole; a real run's files (trial folders included) are removed."""
    from latentbo.errors import ConfigError
    from latentbo.io import clear_run

    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    (proj / "config.toml").write_text("lr = 1\n")
    (proj / "thesis.tex").write_text("draft")
    with pytest.raises(ConfigError, match="also holds 'data' and 1 more, which latentbo did not write"):
        clear_run(proj)
    assert (proj / "thesis.tex").read_text() == "draft" and (proj / "data").is_dir()
    run = tmp_path / "run"
    (run / "trial_0").mkdir(parents=True)
    for name in ("campaign.json", "summary.json", ".summary.json.abc123.tmp"):
        (run / name).write_text("{}")
    from latentbo.bo.checkpoint import PENDING
    from latentbo.bo.retraining import RETRAINED

    for name in ("evaluations.jsonl", "state.pt", PENDING, RETRAINED):  # what a trial writes, retraining included
        (run / "trial_0" / name).write_text("")
    (run / "trial_0" / "notes.txt").write_text("mine")  # a user's file inside a trial folder
    with pytest.raises(ConfigError, match="'trial_0'"):
        clear_run(run)
    (run / "trial_0" / "notes.txt").unlink()
    (run / "summary.csv").symlink_to(proj / "thesis.tex")  # a link named like a run's file
    with pytest.raises(ConfigError, match="'summary.csv'"):
        clear_run(run)
    (run / "summary.csv").unlink()
    assert clear_run(run) and not any(run.iterdir()) and (proj / "thesis.tex").read_text() == "draft"
