"""Executors: run independent cells serially, in a process pool, or on Ray.

All three share one interface: :meth:`Executor.run` takes a picklable function and
a list of payloads and yields ``(payload, result)`` as cells finish, in completion
order. A worker that dies (segfault, OOM kill, lost Ray node) yields a failed
result instead of raising, so the driver can record and retry it like any error.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from latentbo.errors import ConfigError

Payload = dict[str, Any]
Result = dict[str, Any]


def crashed(exc: BaseException) -> Result:
    """The result recorded for a cell whose worker died or raised outside ``run_cell``."""
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
            "traceback": "".join(traceback.format_exception(exc))}


@dataclass
class ExecutorSettings:
    """How wide cells run.

    Attributes:
        workers: processes of the ``process`` executor (default: CPU count).
        address: Ray cluster address (``None``: start a local Ray).
        cpus: CPUs per cell (its torch threads; Ray's ``num_cpus``).
        gpus: GPUs per cell (Ray's ``num_gpus``).
    """

    workers: int | None = None
    address: str | None = None
    cpus: int = 1
    gpus: float = 0.0

    @classmethod
    def sized(cls, executor: str, threads: int, gpus: float = 0.0, workers: int | None = None,
              address: str | None = None) -> ExecutorSettings:
        """Settings under which the cells in flight never oversubscribe this machine's
        cores: ``serial`` gives its one cell the threads torch would use here (every
        core, unless ``OMP_NUM_THREADS`` says fewer), ``process`` splits the cores among
        its workers, ``ray`` asks for the study's ``[resources] threads`` per cell."""
        import torch

        cores = os.cpu_count() or 1
        serial = torch.get_num_threads()
        cpus = {"serial": serial, "process": max(1, cores // (workers or cores))}.get(executor, threads)
        return cls(workers=workers, address=address, cpus=cpus, gpus=gpus)


class Executor:
    """Base class. Subclasses set :attr:`workers` (cells in flight at once)."""

    name = "base"
    workers = 1

    def __init__(self, settings: ExecutorSettings) -> None:
        self.settings = settings

    def run(self, fn: Callable[[Payload], Result], payloads: list[Payload]) -> Iterator[tuple[Payload, Result]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release pools / cluster connections."""


class SerialExecutor(Executor):
    """One cell after another in this process (no extra dependency)."""

    name = "serial"

    def run(self, fn, payloads):
        for p in payloads:
            yield p, fn(p)


def _exit_with_parent(parent: int) -> None:
    """Process-pool initializer: end the worker once its driver is gone. A driver killed
    outright (SIGTERM, SIGKILL) cannot shut its pool down, and its workers would go on
    computing their cells for hours beside whatever runs next; the cells' checkpoints
    are atomic, so leaving mid-cell loses at most the iteration in progress."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


class ProcessExecutor(Executor):
    """A ``concurrent.futures`` process pool (spawned workers: safe with torch threads).

    When a worker dies the pool is broken: the cell it reported first is recorded as
    crashed, and the cells still in flight are resubmitted to a fresh pool. When the
    driver dies, its workers exit.
    """

    name = "process"

    def __init__(self, settings: ExecutorSettings) -> None:
        super().__init__(settings)
        self.workers = settings.workers or os.cpu_count() or 1
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_exit_with_parent, initargs=(os.getpid(),))

    def run(self, fn, payloads):
        futures = {self._pool.submit(fn, p): p for p in payloads}
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for fut in done:
                p = futures.pop(fut)
                try:
                    yield p, fut.result()
                except Exception as exc:  # BrokenProcessPool etc.: the worker died
                    yield p, crashed(exc)
                    if isinstance(exc, BrokenProcessPool):  # a dead pool runs nothing more
                        self._pool = self._new_pool()
                        futures = {self._pool.submit(fn, q): q for q in futures.values()}
                        break

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


class RayExecutor(Executor):
    """Each cell a Ray task with its CPU/GPU request. ``settings.address`` names an
    existing cluster (``auto``, ``ray://host:10001``); without one a local Ray is
    started with this machine's cores."""

    name = "ray"

    def __init__(self, settings: ExecutorSettings) -> None:
        super().__init__(settings)
        address, cpus = settings.address, settings.cpus
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray executor needs Ray: pip install 'latentbo[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus))

    def run(self, fn, payloads):
        ray = self._ray
        remote = ray.remote(num_cpus=self.settings.cpus, num_gpus=self.settings.gpus, max_retries=0)(fn)
        refs = {remote.remote(p): p for p in payloads}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            p = refs.pop(ready[0])
            try:
                yield p, ray.get(ready[0])
            except Exception as exc:  # worker crash, lost node: recorded and retried by the driver
                yield p, crashed(exc)

    def close(self) -> None:
        self._ray.shutdown()


EXECUTORS: dict[str, type[Executor]] = {"serial": SerialExecutor, "process": ProcessExecutor, "ray": RayExecutor}


def make_executor(name: str, settings: ExecutorSettings | None = None) -> Executor:
    """Build an executor by name (``serial``, ``process``, ``ray``).

    Raises:
        ConfigError: unknown name, or Ray missing.
    """
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; known: {sorted(EXECUTORS)}")
    return EXECUTORS[name](settings or ExecutorSettings())
