from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from latentbo.errors import ConfigError
from latentbo.study import ExecutorSettings, make_executor
from tests.study import workers


def _run(executor, fn, xs):
    try:
        return {p["x"]: r for p, r in executor.run(fn, [{"x": x} for x in xs])}
    finally:
        executor.close()


@pytest.mark.parametrize("name", ["serial", "process"])
def test_executors_run_every_payload(name: str) -> None:
    results = _run(make_executor(name, ExecutorSettings(workers=2)), workers.square, range(5))
    assert {x: r["value"] for x, r in results.items()} == {x: x * x for x in range(5)}


def test_process_pool_survives_a_dying_worker() -> None:
    results = _run(make_executor("process", ExecutorSettings(workers=2)), workers.die_on_three, range(6))
    assert sorted(results) == list(range(6))
    failed = [x for x, r in results.items() if r["status"] == "failed"]
    assert 3 in failed and all("BrokenProcessPool" in results[x]["error"] for x in failed)
    # The cells that shared the broken pool were resubmitted, not lost.
    assert all(results[x]["value"] == x * x for x in results if x not in failed)


def _running(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")  # a zombie (exited, not yet reaped) counts as gone
    return status.exists() and "\nState:\tZ" not in status.read_text()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_workers_exit_when_their_driver_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    driver = ("from latentbo.study import ExecutorSettings, make_executor; from tests.study import workers; "
              "ex = make_executor('process', ExecutorSettings(workers=1)); "
              f"list(ex.run(workers.write_pid_and_sleep, [{{'pid_file': {str(pid_file)!r}}}]))")
    proc = subprocess.Popen([sys.executable, "-c", driver], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 120
        while not pid_file.exists() or not pid_file.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, "the worker never started"
            time.sleep(0.2)
        worker = int(pid_file.read_text())
        assert _running(worker)
    finally:
        proc.kill()  # no shutdown: the pool cannot tell its workers
        proc.wait()
    deadline = time.monotonic() + 30
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(worker)


def test_unknown_executor() -> None:
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("slurm")


def test_cells_in_flight_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.setattr("torch.get_num_threads", lambda: 6)  # e.g. OMP_NUM_THREADS=6
    assert ExecutorSettings.sized("serial", threads=1).cpus == 6  # one cell at a time: torch's threads
    assert ExecutorSettings.sized("process", threads=1, workers=3).cpus == 2
    assert ExecutorSettings.sized("process", threads=1).cpus == 1  # a worker per core
    ray = ExecutorSettings.sized("ray", threads=4, gpus=1, address="auto")
    assert (ray.cpus, ray.gpus, ray.address) == (4, 1, "auto")  # Ray schedules the study's [resources]
