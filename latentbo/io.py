"""Reading user files with one clear error, atomic file writes (a crash mid-write
never leaves a half-written file behind) and one writer per output folder."""

from __future__ import annotations

import errno
import fcntl
import gzip
import os
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from latentbo.errors import BusyError, ConfigError, DatasetError, LatentboError


def read_text(path: str | Path, what: str = "file", error: type[LatentboError] = DatasetError) -> str:
    """The UTF-8 text of a user file (gunzipped when it ends in ``.gz``).

    Args:
        path: the file.
        what: how the message names it (``"config"``, ``"input file"``...).
        error: the exception type raised.

    Raises:
        error: the path is missing, is a directory, or is not UTF-8 text (binary).
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{what} {path} is a directory, not a file")
    try:
        data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except (OSError, EOFError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 4]!r}); "
                    "is it a binary file?") from None


def read_toml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A TOML file as a dict.

    Raises:
        ConfigError: unreadable, binary, or not valid TOML.
    """
    try:
        return tomllib.loads(read_text(path, what, ConfigError))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def writable_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if needed.

    Raises:
        ConfigError: it cannot be created or written (a file is in the way, no
            permission, read-only file system).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise ConfigError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from None
    return folder

LOCK_FILE = ".latentbo.lock"

#: A file each kind of run leaves in its output folder: what --overwrite may replace.
RUN_MARKERS = ("training_state.pt", "campaign.json", "config.toml")


def clear_run(folder: str | Path) -> bool:
    """Empty ``folder`` (``--overwrite``) if it holds a latentbo run, so a new run
    starts there; a folder without a run's marker file is left alone.

    Returns:
        Whether a run was removed.

    Raises:
        ConfigError: the folder holds files but no run (never deleted), or cannot be emptied.
    """
    import shutil

    folder = Path(folder)
    if not folder.is_dir():
        return False
    entries = [p for p in folder.iterdir() if p.name != LOCK_FILE]
    if not any((folder / m).is_file() for m in RUN_MARKERS):
        if entries:
            raise ConfigError(f"--overwrite: {folder} holds files but no latentbo run; refusing to delete them")
        return False
    try:
        for p in entries:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    except OSError as exc:
        raise ConfigError(f"--overwrite: cannot empty {folder}: {exc.strerror or exc}") from None
    return True


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, rename."""
    atomic_write_with(path, lambda fh: fh.write(data))


def atomic_write_with(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    """:func:`atomic_write_bytes` for content written by ``write(file)`` (large arrays,
    without a second copy in memory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from the user's group
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask: from /proc where there is one (reading it by setting it
    would open a moment in which other threads' files get mode 0666)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` where /proc tells it, else the
    machine's physical memory)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(need: float, what: str) -> None:
    """Refuse, before any work, a request that cannot fit in memory.

    Raises:
        ConfigError: naming the request, its estimate and what is available.
    """
    have = available_memory()
    if need > have:
        raise ConfigError(f"{what} needs about {need / 2**30:,.1f} GiB of memory; {have / 2**30:,.1f} GiB are "
                          "available")


def inside(root: str | Path, relative: str) -> Path:
    """``root / relative``, refused when it would leave ``root`` (``..``, an absolute
    path) or pass through a symbolic link below ``root``: latentbo writes nothing
    outside a run's folder, and follows no link it did not make.

    Raises:
        ConfigError: naming the way out.
    """
    root = Path(root)
    path = Path(os.path.normpath(root / relative))
    if not path.is_relative_to(Path(os.path.normpath(root))):
        raise ConfigError(f"{relative!r} would write outside {root}")
    current = root
    for part in path.relative_to(os.path.normpath(root)).parts:
        current = current / part
        if current.is_symlink():
            raise ConfigError(f"{current} is a symbolic link; latentbo writes nothing through a link it did not "
                              "make: remove it")
    return path


@contextmanager
def output_lock(folder: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` for the life of a run, so that two runs
    started into one output folder cannot mix their files (the OS releases it if the
    process dies).

    Raises:
        BusyError: another process holds the folder.
    """
    folder = writable_folder(folder)
    try:  # never through a link planted at the lock's name: it would overwrite its target
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"{folder / LOCK_FILE} is a symbolic link; latentbo follows no link it did not make: "
                              "remove it") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"{folder / LOCK_FILE} is not a regular file; remove it")
    fh = os.fdopen(fd, "r+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise BusyError(f"{folder} is being written by another latentbo run ({holder}); "
                        "wait for it to finish or choose another --out") from None
    try:
        fh.truncate(0)
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


@contextmanager
def run_folder(folder: str | Path, resume: bool = False, overwrite: bool = False) -> Iterator[Path]:
    """:func:`output_lock` on ``folder`` for a run that starts or resumes there;
    ``overwrite`` first empties a run already in it (:func:`clear_run`).

    Raises:
        ConfigError: both ``resume`` and ``overwrite``.
        BusyError: another process holds the folder.
    """
    if overwrite and resume:
        raise ConfigError("--overwrite replaces a run and --resume continues it: pass one of them")
    with output_lock(folder):
        if overwrite:
            clear_run(folder)
        yield Path(folder)
