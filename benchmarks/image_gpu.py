"""The image table at the paper's scale in one GPU call: every model trained side by side
on the one GPU, scored there, the results sent back.

    python benchmarks/image_gpu.py prepare                  # here: builds .gpu/ (git-ignored)
    # on the GPU machine, one device `run` with carry [".gpu"]:
    source .gpu/env.sh; python benchmarks/image_gpu.py run --out "$OUT" --presets quick [--minutes 6] [--seed 0]
        [--epochs E] [--datasets mnist,fashion-mnist]
    python benchmarks/image_gpu.py unpack FILES_AT [--work runs/image_table]   # here, then:
    python benchmarks/image_table.py --profile full --data-dir ../shared/data --work runs/image_table --presets quick --no-train

``prepare`` runs ``../shared/gpu/prepare.sh`` with the wheels the image suite needs beyond
the GPU image's packages (pythae and prdc with their dependencies; not RDKit's, which the
image suite does not import and which would not fit the 64 MiB carried), copies
Fashion-MNIST and MNIST into ``.gpu/data`` and trains the full profile's LeNets here into
``.gpu/lenet`` (the GPU's minutes go to the models).

``run`` puts the carried LeNets in the cache (training any that are missing), then starts
one ``image_table.py`` worker per model (ours and pythae's, with ``--presets``' settings)
with ``--max-minutes`` = ``--minutes``, all at once on the one GPU with the CPU cores
shared among them: each trains on the GPU, encodes and decodes there, and writes its
scores. A worker's run that the budget stops is scored at the epochs it reached
(``--score-stopped``: the table's ``epochs`` column says how many), the datasets in
``--datasets``' order. Workers still running ``--grace`` minutes after the budget are
stopped. Both sides train in fp32 (on a GPU cuDNN may run convolutions in TF32, for ours
and pythae's alike). A device call allows 10 minutes: ``--minutes 6`` leaves time for
scoring. It writes into ``--out``: ``image_runs.tar.gz`` (every run's config, metrics,
scores, sample grid and log, and the LeNets; it says so if it outgrows the 16 MiB a file
may have) and GMM-DAE's weights in fp16, cut into parts of :data:`PART` bytes (a device
call sends back files of at most 16 MiB, about 64 MiB in all: at width 128 the weights of
one dataset). ``unpack`` puts them under ``--work`` (weights back in fp32, those whose
parts did not all come back left out and named; LeNets into the cache), where
``image_table.py`` then reads the scores without training anything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import torch
from _common import cast_floats, run
from image_table import METRIC_SEED, PROFILES, PYTHAE, datasets_of, load_presets, run_folder
from safetensors import SafetensorError
from safetensors.torch import load, load_file, save, save_file

from latentbo.data import set_data_dir
from latentbo.errors import ConfigError
from latentbo.images import feature_net
from latentbo.io import cache_dir
from latentbo.models import IMAGE_MODELS

ROOT = Path(__file__).resolve().parents[1]
#: What the GPU image lacks for the image suite (pinned as installed here), besides what
#: prepare.sh always fetches.
WHEELS = ("selfies==2.2.0", "pythae==0.1.2", "prdc==0.2", "pydantic==2.14.4", "pydantic-core==2.50.5", "annotated-types==0.8.0",
          "typing-inspection==0.4.5", "typing-extensions==4.16.0", "cloudpickle==3.1.3", "imageio==2.38.2")
#: Largest weights file sent back (a device call returns files of at most 16 MiB).
PART = 15 * 2**20
#: The workers' whole results, sent back in one file.
TARBALL = "image_runs.tar.gz"
#: In the tarball: which run folder each weights file belongs in.
WEIGHTS = "gpu_weights.json"
#: What a run folder sends back: not the weights, the training state or most image grids.
KEEP = ("*.json", "*.csv", "*.toml", "*.log", "samples.png")


def prepare() -> None:
    """Build ``.gpu/`` for the image suite (network: package registries only)."""
    shared = ROOT.parent / "shared"
    subprocess.run(["bash", str(shared / "gpu" / "prepare.sh"), *WHEELS], cwd=ROOT, check=True)
    # what the image suite never imports: the carried folder and the checkout share 64 MiB
    for wheel in [*(ROOT / ".gpu" / "whl").glob("rdkit*.whl"), *(ROOT / ".gpu" / "whl").glob("nltk*.whl")]:
        wheel.unlink()
    for name in ("zinc250k", "expressions"):
        shutil.rmtree(ROOT / ".gpu" / "data" / name, ignore_errors=True)
    for name in ("fashion-mnist", "mnist"):
        shutil.copytree(shared / "data" / name, ROOT / ".gpu" / "data" / name, dirs_exist_ok=True)
    # the full profile's LeNets trained here, so the GPU's minutes go to the models
    set_data_dir(str(shared / "data"))
    torch.set_num_threads(1)  # seconds on one thread; with more, beside other jobs, OpenMP stalled for minutes
    for dataset in PROFILES["full"]["datasets"]:
        _, accuracy = feature_net(*datasets_of(dataset, sweep=False), epochs=PROFILES["full"]["lenet_epochs"],
                                  seed=METRIC_SEED)
        print(f"{dataset}: LeNet accuracy {accuracy:.4f}")
    (ROOT / ".gpu" / "lenet").mkdir(exist_ok=True)
    for f in cache_dir().glob("lenet-*"):
        shutil.copy2(f, ROOT / ".gpu" / "lenet" / f.name)
    size = sum(f.stat().st_size for f in (ROOT / ".gpu").rglob("*") if f.is_file())
    print(f".gpu/ holds {size / 2**20:.1f} MiB (a device call carries at most 64 MiB)")


def worker_commands(args: argparse.Namespace, models: list[str], pythae: list[str]) -> dict[str, list[str]]:
    """One ``image_table.py`` command per model (name -> argv), each training and scoring
    that model only and writing no table."""
    common = [sys.executable, str(ROOT / "benchmarks" / "image_table.py"), "--profile", args.profile,
              "--device", args.device, "--work", str(args.work), "--seed", str(args.seed),
              "--max-minutes", str(args.minutes), "--no-sensitivity", "--no-table", "--score-stopped",
              *(["--data-dir", str(args.data_dir)] if args.data_dir else []),
              *(["--presets", args.presets] if args.presets else []),
              *(["--epochs", str(args.epochs)] if args.epochs else []),
              *(["--datasets", args.datasets] if args.datasets else [])]
    commands = {f"latentbo-{m}": [*common, "--models", m, "--pythae", ""] for m in models}
    commands.update({f"pythae-{n}": [*common, "--models", "", "--pythae", n] for n in pythae})
    return commands


def split_weights(run_dir: Path, out: Path, stem: str) -> None:
    """``run_dir``'s model.safetensors in fp16, cut into ``out/stem.partNN`` files of at
    most :data:`PART` bytes."""
    data = save(cast_floats(load_file(run_dir / "model.safetensors"), torch.float16))
    for i in range(0, len(data), PART):
        (out / f"{stem}.part{i // PART:02d}").write_bytes(data[i : i + PART])


def run_gpu(args: argparse.Namespace) -> None:
    set_data_dir(args.data_dir)
    p = PROFILES[args.profile]
    datasets = args.datasets.split(",") if args.datasets else p["datasets"]
    models = [m for m in args.models.split(",") if m]
    pythae = [n for n in args.pythae.split(",") if n]
    if unknown := sorted(set(models) - set(IMAGE_MODELS)) + sorted(set(pythae) - set(PYTHAE)):
        raise ConfigError(f"unknown model(s) {unknown}; ours: {sorted(IMAGE_MODELS)}, pythae's: {PYTHAE}")
    if unknown := sorted(set(datasets) - set(p["datasets"])):
        raise ConfigError(f"dataset(s) {unknown} not in the {args.profile} profile: {p['datasets']}")
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work  # the workers' --work, and what is sent back
    t0 = time.monotonic()
    if (carried := ROOT / ".gpu" / "lenet").is_dir():  # trained by prepare
        cache_dir().mkdir(parents=True, exist_ok=True)
        for f in carried.iterdir():
            shutil.copy2(f, cache_dir() / f.name)
    for dataset in datasets:  # the workers load the LeNet from the cache instead of each training it
        train, scored_on = datasets_of(dataset, sweep=False)
        _, accuracy = feature_net(train, scored_on, epochs=p["lenet_epochs"], seed=METRIC_SEED)
        print(f"{dataset}: LeNet accuracy {accuracy:.4f} ({time.monotonic() - t0:.0f} s)", flush=True)
    commands = worker_commands(args, models, pythae)
    threads = str(max(1, (os.cpu_count() or 1) // len(commands)))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    (work / "logs").mkdir(parents=True, exist_ok=True)
    procs = {}
    for name, argv in commands.items():
        with open(work / "logs" / f"{name}.log", "w") as log:
            procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    stop = time.monotonic() + 60 * (args.minutes + args.grace)
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.0, stop - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(f"{name}: exit {proc.returncode} ({time.monotonic() - t0:.0f} s)", flush=True)
    presets = load_presets(args.presets or args.profile)
    weights = {}  # parts' stem -> the run folder they belong in, relative to --work
    for dataset in datasets:
        run_dir = run_folder(work, args.profile, dataset, "test", args.seed, "latentbo gmm_dae",
                             presets.get(dataset, {}).get("latentbo gmm_dae", {}))
        if (run_dir / "eval" / "metrics.json").exists():
            stem = f"{dataset}-seed{args.seed}-gmm_dae"
            split_weights(run_dir, args.out, stem)
            weights[stem] = str(run_dir.relative_to(work))
    (work / WEIGHTS).write_text(json.dumps(weights, indent=2))
    with tarfile.open(args.out / TARBALL, "w:gz") as tar:
        for pattern in KEEP:
            for f in sorted(work.rglob(pattern)):
                tar.add(f, arcname=str(Path("runs") / f.relative_to(work)))
        for f in sorted(cache_dir().glob("lenet-*")):
            tar.add(f, arcname=str(Path("lenet") / f.name))
    if (size := (args.out / TARBALL).stat().st_size) > 16 * 2**20:
        print(f"{TARBALL} is {size / 2**20:.1f} MiB: a device call sends back at most 16 MiB a file")
    scored = sorted(work.rglob("eval/metrics.json"))
    print(f"{len(scored)} of {len(commands) * len(datasets)} runs scored; sent back: "
          f"{', '.join(sorted(f.name for f in args.out.iterdir()))}")


def unpack(args: argparse.Namespace) -> None:
    """The files a ``run`` sent back, under ``--work`` (weights in fp32) and the cache."""
    src = args.files
    with tarfile.open(src / TARBALL) as tar:
        runs, lenets = [], []
        for m in tar.getmembers():
            top, _, rest = m.name.partition("/")
            if top == "runs" and rest:
                m.name = rest
                runs.append(m)
            elif top == "lenet" and rest:
                m.name = rest
                lenets.append(m)
        tar.extractall(args.work, members=runs, filter="data")  # "data": nothing outside --work, no links out
        cache_dir().mkdir(parents=True, exist_ok=True)
        tar.extractall(cache_dir(), members=[m for m in lenets if not (cache_dir() / m.name).exists()], filter="data")
    for stem, rel in json.loads((args.work / WEIGHTS).read_text()).items():
        parts = sorted(src.glob(f"{stem}.part*"))
        try:
            half = load(b"".join(f.read_bytes() for f in parts))
        except SafetensorError:  # a device call returns about 64 MiB in all: later parts may stay behind
            print(f"{stem}: {len(parts)} part(s) came back, not the whole weights file; its scores are unpacked, "
                  "its weights not")
            continue
        save_file(cast_floats(half, torch.float32), str(args.work / rel / "model.safetensors"))
    print(f"unpacked {len(runs)} files under {args.work}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="build .gpu/ here")
    r = sub.add_parser("run", help="on the GPU machine")
    r.add_argument("--out", type=Path, required=True, help="$OUT: what comes back")
    r.add_argument("--work", type=Path, default=Path("/tmp/image_table"))
    r.add_argument("--data-dir", default=None)
    r.add_argument("--profile", choices=sorted(PROFILES), default="full")
    r.add_argument("--device", default="cuda")
    r.add_argument("--presets", choices=sorted(PROFILES), default=None,
                   help="the profile whose tuned settings the models use (the full profile has no sweep of its own)")
    r.add_argument("--minutes", type=float, default=6.0, help="training budget of every worker")
    r.add_argument("--grace", type=float, default=1.0, help="minutes after the budget to finish scoring")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--epochs", type=int, default=None, help="instead of the profile's epochs")
    r.add_argument("--datasets", default=None, help="the profile's datasets, in the order every worker runs them")
    r.add_argument("--models", default=",".join(IMAGE_MODELS))
    r.add_argument("--pythae", default=",".join(PYTHAE))
    u = sub.add_parser("unpack", help="here, the files a run sent back")
    u.add_argument("files", type=Path, help="the run's files_at folder")
    u.add_argument("--work", type=Path, default=Path("runs/image_table"))
    args = ap.parse_args()
    {"prepare": lambda: prepare(), "run": lambda: run_gpu(args), "unpack": lambda: unpack(args)}[args.command]()


if __name__ == "__main__":
    run(main)
