"""Inversion: the GP learns a score at a code whose decode is the string scored.

An encoder's code for a string often decodes to another string (the zoo's ZINC models
give back 1 in 20 held-out molecules), and a candidate's decode is scored at the
candidate, not at a code of what was scored. Either way the GP is told a score at a
code that does not carry it. Inversion (as in InvBO) re-encodes each string and,
where that code does not decode back to it, refines the code by gradient steps on the
decoder's likelihood of the string (:meth:`~latentbo.models.SequenceAutoencoder.invert`).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from latentbo.chem import canonical_smiles
from latentbo.models import SequenceAutoencoder
from latentbo.tasks import Task

#: Adam steps on a code that does not decode back to its string.
INVERSION_STEPS = 30


def canonical(task: Task, model: SequenceAutoencoder, text: str | None) -> str | None:
    """The form two strings are compared in: RDKit's canonical SMILES (with stereo)
    for molecules, the codec's spelling otherwise; ``None`` for an unreadable string."""
    if text is None:
        return None
    return canonical_smiles(text) if task.molecules else model.codec.canonical(text)


def invert(model: SequenceAutoencoder, task: Task, strings: list[str], codes: Tensor,
           steps: int = INVERSION_STEPS) -> tuple[Tensor, list[bool], dict[str, Any]]:
    """Codes for ``strings`` (``N x d``, their encodings) that decode back to them
    where refinement gets there.

    Returns:
        The ``N x d`` codes (refined where the encoding did not decode back), whether
        each decodes back, and counts: ``codes``, ``decoded_back`` (the encodings),
        ``refined``, ``decoded_back_after``.
    """
    want = [canonical(task, model, s) for s in strings]
    back = [w is not None and canonical(task, model, d) == w for w, d in zip(want, model.decode_latents(codes))]
    todo = [i for i, ok in enumerate(back) if not ok]
    codes = codes.clone().float()
    if todo:
        codes[todo] = model.invert([strings[i] for i in todo], codes[todo], steps)
        for i, d in zip(todo, model.decode_latents(codes[todo])):
            back[i] = want[i] is not None and canonical(task, model, d) == want[i]
    report = {"codes": len(strings), "decoded_back": len(strings) - len(todo), "refined": len(todo),
              "decoded_back_after": sum(back)}
    return codes, back, report
