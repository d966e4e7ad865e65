"""Reading user files with one clear error, atomic file writes (a crash mid-write
never leaves a half-written file behind) and one writer per output folder."""

from __future__ import annotations

import errno
import fcntl
import gzip
import logging
import os
import re
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

#: A file each kind of run leaves in its output folder: the sign that a folder holds a run.
RUN_MARKERS = ("training_state.pt", "campaign.json", "config.toml")
#: Everything latentbo writes at the top of a run folder (training, image training, a
#: campaign, a study's cell), and in a campaign's ``trial_<t>`` folders: ``--overwrite``
#: removes these and refuses a folder that holds anything else.
RUN_FILES = frozenset({
    "data_report.json", "config.toml", "meta.json", "model.safetensors", "last.safetensors", "metrics.csv",
    "training_state.pt", "metrics.json", "samples.png", "reconstructions.png", "interpolations.png", "latent.png",
    "campaign.json", "init.npz", "init_strings.json", "summary.json", "summary.csv", "report.md", "best_so_far.png",
    "molecules.csv", "molecules.sdf", "top_molecules.png", "cell.json"})
TRIAL_FILES = frozenset({"evaluations.jsonl", "state.pt", "pending.pt", "retrained.pt"})
_TRIAL_DIR = re.compile(r"trial_\d+")
_TEMP_FILE = re.compile(r"\..+\.[^.]+\.tmp")  # an atomic write that was interrupted


def _written_by_latentbo(path: Path) -> bool:
    if path.is_symlink():
        return False
    if path.is_dir():
        return bool(_TRIAL_DIR.fullmatch(path.name)) and all(
            not p.is_symlink() and p.is_file() and (p.name in TRIAL_FILES or _TEMP_FILE.fullmatch(p.name))
            for p in path.iterdir())
    return path.name in RUN_FILES or bool(_TEMP_FILE.fullmatch(path.name))


def clear_run(folder: str | Path) -> bool:
    """Empty ``folder`` (``--overwrite``) if it holds a latentbo run and nothing else,
    so a new run starts there. Only the files latentbo writes (:data:`RUN_FILES`,
    ``trial_<t>`` folders of :data:`TRIAL_FILES`) are removed; a folder that holds
    anything else (your notes, data, a link) is left whole and refused.

    Returns:
        Whether a run was removed.

    Raises:
        ConfigError: the folder holds files but no run, or a file latentbo did not
            write (nothing is deleted), or cannot be emptied.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return False
    entries = [p for p in folder.iterdir() if p.name != LOCK_FILE]
    if not any((folder / m).is_file() for m in RUN_MARKERS):
        if entries:
            raise ConfigError(f"--overwrite: {folder} holds files but no latentbo run; refusing to delete them")
        return False
    foreign = sorted(p.name for p in entries if not _written_by_latentbo(p))
    if foreign:
        raise ConfigError(f"--overwrite: {folder} also holds {foreign[0]!r}"
                          f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}, which latentbo did not "
                          "write; nothing was deleted: move them, or choose another --out")
    try:
        for p in entries:
            if p.is_dir():
                for child in p.iterdir():
                    child.unlink()
                p.rmdir()
            else:
                p.unlink()
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


def cache_dir() -> Path:
    """``LATENTBO_CACHE_DIR`` or ``~/.cache/latentbo``: parsed datasets and grammars, the
    image suite's feature network."""
    return Path(os.environ.get("LATENTBO_CACHE_DIR") or Path.home() / ".cache" / "latentbo")


def writable_numba_cache(package_dir: Path) -> None:
    """numba caches compiled functions beside their module or in the user's cache
    folder; with neither writable (a read-only install and a read-only home) every
    cached function fails. Then point ``NUMBA_CACHE_DIR`` at a new temporary folder,
    with one warning. Call before numba is imported."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    home_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"

    def writable(path: Path) -> bool:
        while not path.exists() and path != path.parent:
            path = path.parent
        return os.access(path, os.W_OK)

    if writable(package_dir / "__pycache__") or writable(home_cache):
        return
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="latentbo-numba-")
    logging.getLogger("latentbo").warning(
        "neither %s nor %s is writable: numba caches compiled code in %s for this process (set NUMBA_CACHE_DIR to "
        "keep it)", package_dir, home_cache, os.environ["NUMBA_CACHE_DIR"])


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
