"""A model measured as a user sees it: strings it never trained on go through the
public ``encode_strings`` -> ``decode_latents`` path (argmax, the codec's default
masks), and prior samples are decoded and compared with the same test set.

For molecules: exact reconstruction as canonical SMILES with stereo and without it,
the mean Tanimoto similarity (ECFP4, 2,048 bits) of each molecule to its
reconstruction (0 for a skipped or invalid one), and, of the prior samples, validity,
the share a repair made (the semantic masks' fallback pass; radicals made hydrogens),
the share still with a radical, uniqueness, novelty, mean QED, the share with an
aromatic ring and GuacaMol's KL-divergence score against the test set.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch

from latentbo.tasks import get_task

#: GuacaMol's KL benchmark: descriptors compared by kernel density (the first four) or
#: by histogram (the counts).
KL_CONTINUOUS = ("BertzCT", "MolLogP", "MolWt", "TPSA")
KL_DISCRETE = ("NumHAcceptors", "NumHDonors", "NumRotatableBonds", "NumAliphaticRings", "NumAromaticRings")


def _mols(smiles: list[str | None]) -> list[Any]:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return [Chem.MolFromSmiles(s) if s else None for s in smiles]


def _canonical(mol: Any, stereo: bool = True) -> str | None:
    from rdkit import Chem

    return None if mol is None else Chem.MolToSmiles(mol, isomericSmiles=stereo)


def _ecfp4(mol: Any, bits: int = 2048) -> Any:
    from rdkit.Chem import rdFingerprintGenerator

    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=bits).GetFingerprint(mol)


def kl_divergence_score(samples: list[str], reference: list[str]) -> dict[str, Any]:
    """GuacaMol's KL-divergence score of ``samples`` against ``reference`` (both taken
    as distinct stereo-free molecules): ``exp(-KL)`` per descriptor and for the
    nearest-neighbour similarity within each set (ECFP4, 4,096 bits), averaged; 1 is
    the same distribution.

    Returns:
        ``score`` and ``kl`` (each divergence by name); ``score`` is ``None`` with
        fewer than two distinct valid molecules on either side.
    """
    from rdkit.Chem import Descriptors
    from rdkit.DataStructs import BulkTanimotoSimilarity
    from scipy.stats import entropy, gaussian_kde

    sets = []
    for strings in (reference, samples):
        mols = {c: m for m in _mols(list(strings)) if (c := _canonical(m, stereo=False)) is not None}
        sets.append(list(mols.values()))
    if min(len(s) for s in sets) < 2:
        return {"score": None, "kl": {}}
    desc = [np.array([[getattr(Descriptors, d)(m) for d in (*KL_CONTINUOUS, *KL_DISCRETE)] for m in s]) for s in sets]

    def continuous(p: np.ndarray, q: np.ndarray) -> float:
        grid = np.linspace(min(p.min(), q.min()), max(p.max(), q.max()), 1000)
        try:
            return float(entropy(gaussian_kde(p)(grid) + 1e-10, gaussian_kde(q)(grid) + 1e-10))
        except np.linalg.LinAlgError:  # a constant descriptor: no density to estimate
            return 0.0 if np.allclose(p.mean(), q.mean()) else float("inf")

    def discrete(p: np.ndarray, q: np.ndarray) -> float:
        hp, edges = np.histogram(p, bins=10, density=True)
        hq, _ = np.histogram(q, bins=edges)  # counts: none may fall inside the reference's range
        hq = hq / (hq.sum() * np.diff(edges)) if hq.sum() else np.zeros_like(hp)
        return float(entropy(hp + 1e-10, hq + 1e-10))

    kl = {d: continuous(desc[0][:, i], desc[1][:, i]) for i, d in enumerate(KL_CONTINUOUS)}
    kl.update({d: discrete(desc[0][:, j], desc[1][:, j]) for j, d in enumerate(KL_DISCRETE, len(KL_CONTINUOUS))})
    nearest = []
    for mols in sets:
        fps = [_ecfp4(m, 4096) for m in mols]
        sims = np.zeros((len(fps), len(fps)))
        for i in range(1, len(fps)):
            sims[i, :i] = sims[:i, i] = BulkTanimotoSimilarity(fps[i], fps[:i])
        nearest.append(sims.max(1))
    kl["internal_similarity"] = continuous(nearest[0], nearest[1])
    return {"score": float(np.mean([np.exp(-v) for v in kl.values()])), "kl": kl}


def reconstruction(model: Any, strings: list[str]) -> dict[str, Any]:
    """Encode ``strings``, decode the codes (argmax) and compare.

    Returns:
        ``n``, ``encoded``, ``skipped`` and ``skipped_by_reason`` (what the codec could
        not encode), ``exact`` (of all ``n``: a skipped string is a miss), and for
        molecules ``exact_no_stereo`` and ``tanimoto`` (mean over all ``n``).
    """
    codes, batch = model.encode_strings(strings)
    decoded = model.decode_latents(codes) if len(codes) else []
    kept = [strings[i] for i in batch.kept]
    out: dict[str, Any] = {"n": len(strings), "encoded": len(kept), "skipped": len(batch.failures),
                           "skipped_by_reason": batch.failure_counts()}
    if not get_task(model.config.task).molecules:
        out["exact"] = sum(model.codec.canonical(a) == b for a, b in zip(kept, decoded)) / max(len(strings), 1)
        return out
    from rdkit.DataStructs import TanimotoSimilarity

    exact = flat = 0
    similarity = 0.0
    for a, b in zip(_mols(kept), _mols(decoded)):
        if a is None or b is None:
            continue
        exact += _canonical(a) == _canonical(b)
        flat += _canonical(a, stereo=False) == _canonical(b, stereo=False)
        similarity += TanimotoSimilarity(_ecfp4(a), _ecfp4(b))
    n = max(len(strings), 1)
    return {**out, "exact": exact / n, "exact_no_stereo": flat / n, "tanimoto": similarity / n}


def prior_samples(model: Any, n: int, seed: int, reference: list[str] | None = None,
                  training: set[str] | None = None) -> dict[str, Any]:
    """``n`` prior samples decoded (argmax) and measured.

    Args:
        reference: the test set, for the KL score, QED and aromatic share (molecules).
        training: canonical strings the model trained on, for novelty (``None``: not measured).

    Returns:
        ``valid`` (fraction), ``fallback`` (fraction of all samples the semantic masks'
        fallback pass made), ``saturated`` (fraction whose unpaired electrons the SELFIES
        codec made hydrogens), ``unique`` (distinct / valid), ``novel`` (valid not in
        ``training`` / valid), ``invalid_reasons``; for molecules ``radical`` (share of
        valid ones left with an unpaired electron), ``qed``,
        ``aromatic`` (share with an aromatic ring), ``kl_score``, ``fcd``, and the test set's
        ``reference_qed`` / ``reference_aromatic``.
    """
    task = get_task(model.config.task)
    gen = torch.Generator().manual_seed(seed)
    strings, status = model.decode_latents_with_status(model.sample_latents(n, gen))
    why = [task.invalidity(s) for s in strings]
    valid = [s for s, r in zip(strings, why) if r is None]
    out: dict[str, Any] = {"samples": n, "valid": len(valid) / n, "fallback": status.count("fallback") / n,
                           "saturated": status.count("saturated") / n,
                           "invalid_reasons": dict(Counter(r for r in why if r is not None))}
    if not task.molecules:
        out["unique"] = len(set(valid)) / max(len(valid), 1)
        out["novel"] = None if training is None else sum(v not in training for v in valid) / max(len(valid), 1)
        return out
    from rdkit.Chem import QED, rdMolDescriptors

    mols = [m for m in _mols(valid) if m is not None]
    canon = [_canonical(m) for m in mols]
    out["unique"] = len(set(canon)) / max(len(canon), 1)
    out["novel"] = None if training is None else sum(c not in training for c in canon) / max(len(canon), 1)
    out["radical"] = sum(any(a.GetNumRadicalElectrons() for a in m.GetAtoms()) for m in mols) / max(len(mols), 1)

    def chemistry(ms: list[Any]) -> tuple[float | None, float | None]:
        if not ms:
            return None, None
        return (float(np.mean([QED.qed(m) for m in ms])),
                float(np.mean([rdMolDescriptors.CalcNumAromaticRings(m) > 0 for m in ms])))

    out["qed"], out["aromatic"] = chemistry(mols)
    if reference is not None:
        out["reference_qed"], out["reference_aromatic"] = chemistry([m for m in _mols(reference) if m is not None])
        out["kl_score"] = kl_divergence_score(canon, reference)["score"]
        out["fcd"] = frechet_chemnet_distance(canon, reference)
    return out


def frechet_chemnet_distance(samples: list[str], reference: list[str]) -> float | None:
    """FCD (Preuer et al. 2018) of ``samples`` to ``reference`` with the ChemNet weights
    that ``fcd_torch`` ships (lower is closer; two samples of one distribution are not
    0 at a few hundred molecules); ``None`` without the package (``pip install
    fcd_torch``) or with fewer than two molecules on a side."""
    try:
        from fcd_torch import FCD
    except ImportError:
        return None
    if min(len(samples), len(reference)) < 2:
        return None
    return float(FCD(device="cpu", n_jobs=1)(list(samples), list(reference)))


def evaluate_model(model: Any, strings: list[str], n_samples: int = 1000, seed: int = 0,
                   training: set[str] | None = None) -> dict[str, Any]:
    """:func:`reconstruction` of ``strings`` and :func:`prior_samples` against them."""
    return {"reconstruction": reconstruction(model, strings),
            "prior": prior_samples(model, n_samples, seed, reference=strings, training=training)}
