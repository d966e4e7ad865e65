#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv outside the repository, and run the
# CLI from there: the package must work without the source tree (grammars included).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/pip wheel --quiet --no-deps -w "$work/dist" .
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet torch==2.13.0   # the local CPU build first, as in the Makefile
"$work/venv/bin/pip" install --quiet "$work"/dist/latentbo-*.whl
cd "$work"
lbo="$work/venv/bin/latentbo"
"$lbo" grammar check --task expressions --limit 2000 --no-progress --json > check.json
"$work/venv/bin/python" -c "import json; r = json.load(open('check.json')); assert r['round_trip_exact'] == 2000, r"
"$lbo" train --task expressions --arch gmm_dae --epochs 1 --limit 500 --no-progress --out model > /dev/null
"$lbo" bo --model model --objective expr --iterations 2 --batch 3 --trials 1 --init-size 100 --gp-points 40 \
    --n-decode 2 --no-progress --out bo
test -f bo/summary.json
"$lbo" models list --json > zoo.json
"$work/venv/bin/python" -c "import json; assert {c['name'] for c in json.load(open('zoo.json'))} >= {'expressions-gmm_dae', 'zinc-gvae'}"
echo "CC(=O)Nc1ccc(O)cc1" > mol.smi
"$lbo" encode --model zinc-gvae --input mol.smi --out z.npy > /dev/null
echo "wheel check: installed wheel ran grammar check, train, a 2-iteration campaign and a pretrained model outside the repository"
