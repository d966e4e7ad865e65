"""Semantic masks for SMILES grammar decoding: rings, valence, aromaticity, length.

A context-free SMILES grammar cannot say that a ring digit must close an open ring,
that every ring closes before the end, or that an atom has only so many bonds. This
module adds that state to decoding. Each row keeps its atoms (capacity from RDKit's
valence rules, bonds made, bonds promised by the structure already chosen), its open
ring labels, its branch stack and a count of the atoms still to come; at every step
the productions that would break one of these, or could no longer finish within the
steps left, are masked before the argmax.

What the masks enforce during decoding:

* a ring digit closes an open ring on another atom not already bonded to this one
  (with a compatible bond order), or opens one only while enough atoms remain to
  close it; no derivation ends with a ring open;
* an atom, bond order, branch, ring bond, hydrogen count or charge is chosen only if
  every atom involved stays within its largest valence (RDKit's, per element and
  charge); charges are single (``+``/``-``), as in ZINC and MOSES;
* an aromatic atom appears only where it can be in a ring (it carries a ring bond or a
  ring is open around it), never bonded to another aromatic atom by ``=``/``#``;
* the derivation can finish within ``L`` steps.

What they cannot enforce in one left-to-right pass is kekulisation: whether the
aromatic atoms admit alternating double bonds depends on atoms not yet written.
So each finished row is checked (every aromatic atom in a ring, a perfect matching of
the atoms that need a double bond over the ring's aromatic bonds). A row that fails,
or whose masks found no valid production (``dead_end``: rings, valences and the
length limit cornered it; the rest of that row is decoded by the grammar alone), is
decoded again from the same scores without aromatic atoms, bracket atoms or
ring-bond symbols, with more steps kept for closing rings; its status says so
(:data:`STATUS_NAMES`).

The grammar file is not changed (checkpoint fingerprints stay valid): the rules are
attached to the SMILES grammar's productions by their text in :data:`_ACTIONS`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from latentbo.io import writable_numba_cache

writable_numba_cache(Path(__file__).parent)  # before numba reads its settings

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from numba import njit, prange  # noqa: E402

from latentbo.errors import GrammarError  # noqa: E402

# Row status after semantic decoding (NOT_KEKULE is the first pass's, never returned:
# such a row goes to the fallback pass).
OK, FALLBACK, DEAD_END, UNFINISHED, NOT_KEKULE, RUNNING = 0, 1, 2, 3, 4, 5
STATUS_NAMES = ("ok", "fallback", "dead_end", "unfinished")
# Productions budgeted for closing an open ring (three at least; the margin keeps a
# row near the length limit from being cornered by a bond order it cannot close).
# The fallback pass budgets more.
RING_STEPS, SAFE_RING_STEPS = 4, 8

# Production actions (the semantic meaning of choosing a production).
(A_NONE, A_BA, A_ATOM_ALIPH, A_ATOM_AROM, A_ATOM_BRACKET, A_ELEM, A_SYMBOL, A_BRACKET, A_BAI, A_BAC, A_BAH,
 A_HCOUNT, A_CHARGE, A_ISOTOPE, A_DIGIT, A_BOND, A_RINGBOND, A_RB_MORE, A_RB_LAST, A_BB_MORE, A_BRANCH) = range(21)

_ORGANIC = ["B", "C", "N", "O", "S", "P", "F", "I", "Cl", "Br", "c", "n", "o", "s"]
_BONDS = {"-": 1, "=": 2, "#": 3, "/": 1, "\\": 1}


def _actions() -> dict[str, tuple[int, int]]:
    """Production text -> (action, argument) for the Grammar-VAE SMILES grammar."""
    a = {
        "atom -> bracket_atom": (A_ATOM_BRACKET, 0),
        "atom -> aliphatic_organic": (A_ATOM_ALIPH, 0),
        "atom -> aromatic_organic": (A_ATOM_AROM, 0),
        "bracket_atom -> '[' BAI ']'": (A_BRACKET, 0),
        "BAI -> isotope symbol BAC": (A_BAI, 1),
        "BAI -> symbol BAC": (A_BAI, 1),
        "BAI -> isotope symbol": (A_BAI, 0),
        "BAI -> symbol": (A_BAI, 0),
        "BAC -> chiral BAH": (A_BAC, 1),
        "BAC -> BAH": (A_BAC, 1),
        "BAC -> chiral": (A_BAC, 0),
        "BAH -> hcount BACH": (A_BAH, 3),  # bit 1: hydrogens, bit 2: a charge
        "BAH -> BACH": (A_BAH, 2),
        "BAH -> hcount": (A_BAH, 1),
        "symbol -> aliphatic_organic": (A_SYMBOL, 0),
        "symbol -> aromatic_organic": (A_SYMBOL, 1),
        "isotope -> DIGIT": (A_ISOTOPE, 0),
        "isotope -> DIGIT DIGIT": (A_ISOTOPE, 0),
        "isotope -> DIGIT DIGIT DIGIT": (A_ISOTOPE, 0),
        "hcount -> 'H'": (A_HCOUNT, 0),
        "hcount -> 'H' DIGIT": (A_HCOUNT, 1),
        "charge -> '-'": (A_CHARGE, -1),
        "charge -> '+'": (A_CHARGE, 1),
        # Multi-digit charges are masked (argument 0): no ZINC/MOSES molecule uses one.
        "charge -> '-' DIGIT": (A_CHARGE, 0),
        "charge -> '-' DIGIT DIGIT": (A_CHARGE, 0),
        "charge -> '+' DIGIT": (A_CHARGE, 0),
        "charge -> '+' DIGIT DIGIT": (A_CHARGE, 0),
        "ringbond -> DIGIT": (A_RINGBOND, 0),
        "ringbond -> bond DIGIT": (A_RINGBOND, 1),
        "branched_atom -> atom": (A_BA, 0),  # bit 1: ring bonds, bit 2: branches
        "branched_atom -> atom RB": (A_BA, 1),
        "branched_atom -> atom BB": (A_BA, 2),
        "branched_atom -> atom RB BB": (A_BA, 3),
        "RB -> RB ringbond": (A_RB_MORE, 0),
        "RB -> ringbond": (A_RB_LAST, 0),
        "BB -> BB branch": (A_BB_MORE, 0),
        "branch -> '(' chain ')'": (A_BRANCH, 0),
        "branch -> '(' bond chain ')'": (A_BRANCH, 1),
    }
    for i, e in enumerate(_ORGANIC):
        cls = "aromatic_organic" if e.islower() else "aliphatic_organic"
        a[f"{cls} -> {e!r}"] = (A_ELEM, i)
    for d in range(1, 9):
        a[f"DIGIT -> '{d}'"] = (A_DIGIT, d)
    for b, order in _BONDS.items():
        a[f"bond -> {b!r}"] = (A_BOND, order)
    return a


_ACTIONS = _actions()
_ATOMISH = ("chain", "branched_atom", "BB", "branch")  # each yields >= 1 atom that can close up to 3 rings


def _element_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per organic element and charge (-1, 0, +1): the largest valence RDKit accepts
    (measured on the atom with n methyl neighbours), and RDKit's valence list of the
    isoelectronic element (what kekulisation fills up to)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    table = Chem.GetPeriodicTable()
    cap = np.full((len(_ORGANIC), 3), -1, dtype=np.int64)
    val = np.full((len(_ORGANIC), 3, 4), -1, dtype=np.int64)
    for i, e in enumerate(_ORGANIC):
        sym = e.capitalize()
        for q in (-1, 0, 1):
            sign = {-1: "-", 0: "", 1: "+"}[q]
            for n in range(8):
                if Chem.MolFromSmiles(f"[{sym}{sign}]" + "(C)" * n) is not None:
                    cap[i, q + 1] = n
            z = table.GetAtomicNumber(sym) - q
            vals = [v for v in table.GetValenceList(z) if v >= 0][:4]
            val[i, q + 1, : len(vals)] = vals
    return cap, val, np.array([e.islower() for e in _ORGANIC])


class SmilesSemantics:
    """The tables the semantic decoder needs for one SMILES grammar.

    Raises:
        GrammarError: the grammar lacks a production the rules are attached to.
    """

    def __init__(self, codec) -> None:
        g = codec.grammar
        text = {str(p): p.index for p in g.productions}
        missing = sorted(set(_ACTIONS) - set(text))
        if missing:
            raise GrammarError(f"{g.path}: no SMILES semantics: productions {missing[:3]} ... are missing")
        self.action = np.zeros(g.n_rules, dtype=np.int64)
        self.arg = np.zeros(g.n_rules, dtype=np.int64)
        for s, (act, arg) in _ACTIONS.items():
            self.action[text[s]], self.arg[text[s]] = act, arg
        k = len(g.nonterminals)
        n_symbols = k + len(g.terminals)
        self.atomish = np.zeros(n_symbols, dtype=np.int64)
        for name in _ATOMISH:
            self.atomish[g.nt_index[name]] = 1
        # After a branched_atom, one of these means the chain goes on from it.
        self.continues = np.zeros(n_symbols, dtype=np.int64)
        self.continues[[g.nt_index["branched_atom"], g.nt_index["bond"]]] = 1
        term = {t: k + i for i, t in enumerate(g.terminals)}
        self.close_branch, self.close_bracket = term[")"], term["]"]
        rest, rest_len = codec._rest, codec._rest_len
        self.rule_atomish = np.array([self.atomish[rest[r, : rest_len[r]]].sum() for r in range(g.n_rules)])
        self.cap, self.valences, self.aromatic = _element_tables()
        self.two_bonds = np.array([e in ("o", "s") for e in _ORGANIC])
        # Largest valence within each class (aliphatic, aromatic) and charge mode.
        self.class_cap = np.array([[max(_max_cap(self.cap, e, q, 0) for e in range(len(_ORGANIC))
                                        if self.aromatic[e] == arom) for q in range(3)] for arom in (False, True)])
        # Candidate productions per nonterminal, -1 padded.
        width = int(g.masks.sum(axis=1).max())
        self.window = np.full((k, width), -1, dtype=np.int64)
        for nt in range(k):
            cols = np.flatnonzero(g.masks[nt])
            self.window[nt, : cols.size] = cols
        self.start, self.need_start, self.pad_rule = int(codec._start), int(codec._need_start), int(codec.pad_index)
        self.pad_nt = int(codec._pad_nt)
        # The grammar's and these rules' tables, in the order the numba functions take them.
        self.tables = (self.window, codec._lead.astype(np.int64), codec._lead_len, codec._rest.astype(np.int64),
                       codec._rest_len, codec._is_terminal, codec._need_delta, self.pad_nt, self.action,
                       self.arg, self.atomish, self.rule_atomish, self.continues, int(self.close_branch),
                       int(self.close_bracket), self.cap, self.class_cap, self.valences, self.aromatic, self.two_bonds)
        self._rest_width, self._lead_width = codec._rest.shape[1], codec._lead.shape[1]

    def sizes(self, length: int) -> tuple[int, int]:
        """A row's symbol-stack depth and output width (terminals, then their count)."""
        return 2 + (length + 1) * self._rest_width, 3 + (length + 1) * self._rest_width + length * self._lead_width

    def decode(self, scores: np.ndarray, passes: int = -1) -> tuple[np.ndarray, ...]:
        """Decode ``N x L x R`` float32 scores; returns (symbols, lengths, status, ``N x L``
        productions chosen). ``passes``: -1 the first pass and the fallback where it
        fails; 0 the first pass alone (failures keep ``NOT_KEKULE`` / ``DEAD_END``); 1
        the fallback pass alone (``OK`` reads ``FALLBACK``)."""
        with _numba_threads():
            return _decode_batch(np.ascontiguousarray(scores, dtype=np.float32), self.start, self.need_start,
                                 self.pad_rule, *self.sizes(scores.shape[1]), passes, *self.tables)

    def steps(self, n: int, length: int, mode: int) -> SemanticSteps:
        """A one-pass decode of ``n`` rows of at most ``length`` steps, fed one step of
        scores at a time (``mode`` 1: the fallback pass)."""
        return SemanticSteps(self, n, length, mode)


class SemanticSteps:
    """The state of ``n`` rows decoded one step at a time, for autoregressive models:
    the productions chosen at step ``t`` are the model's input at ``t + 1``. Each row
    chooses what :meth:`SmilesSemantics.decode` would choose from the same scores.

    Attributes:
        active: the rows still decoding, in the order :meth:`step` takes their scores.
    """

    def __init__(self, semantics: SmilesSemantics, n: int, length: int, mode: int) -> None:
        self._sem, self._mode, self.t = semantics, mode, 0
        self._state = _alloc(n, length, *semantics.sizes(length))
        ints, stack, _, _, _, rings, _, rules = self._state
        _start_rows(ints, stack, rings, rules, semantics.start, semantics.pad_nt, semantics.need_start,
                    semantics.atomish, semantics.pad_rule)
        self.active = np.arange(n)
        self.status = np.full(n, RUNNING, dtype=np.int64)

    def step(self, scores: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Choose step ``t``'s production of the active rows from their ``len(active) x R``
        scores. Returns which of them go on (positions among them, ``None`` for all)
        and the productions those chose."""
        with _numba_threads():
            st = _step_batch(np.ascontiguousarray(scores, dtype=np.float32), self.t, self.active, self._mode,
                             *self._state, *self._sem.tables)
        self.status[self.active] = st
        going = st == RUNNING
        keep = None if going.all() else np.flatnonzero(going)
        self.active = self.active[going]
        chosen = self._state[7][self.active, self.t]
        self.t += 1
        return keep, chosen

    def result(self) -> tuple[np.ndarray, ...]:
        """(symbols, lengths, status, productions), as :meth:`SmilesSemantics.decode`."""
        if self.active.size:
            raise RuntimeError("the semantic decode has rows still running")
        out, rules = self._state[6], self._state[7]
        status = self.status.copy()
        if self._mode == 1:
            status[status == OK] = FALLBACK
        return out, out[:, -1].copy(), status, rules


@contextlib.contextmanager
def _numba_threads() -> Iterator[None]:
    """Rows run in parallel on as many threads as torch may use (one per test worker).
    Numba's OpenMP pool, started by the first parallel call, sets the process's OpenMP
    thread count (torch's) to every core: 2 study workers of 1 thread then ran 4 (4x
    slower qLogEI), so torch's count is put back."""
    threads = torch.get_num_threads()
    numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, threads)))
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# A row's scalar state between calls of :func:`_decode_row` (indices into ``ints``).
(S_SP, S_OUT, S_NEED, S_SLOTS, S_ATOMS, S_CUR, S_BSP, S_CHAIN, S_CTX, S_RING_BOND, S_OPEN, S_CL, S_NEW_NEED,
 S_NEW_REST, S_NEW_RB, S_TODO, S_PENDING, S_RB_OPEN, S_BR_ELEM, S_BR_H, S_BR_CHARGE, S_BR_QMODE, S_RELAXED) = range(23)
N_SCALARS = 23
# The per-atom arrays, stacked in ``atoms`` (``rows x N_ATOM_ARRAYS x L+1``).
N_ATOM_ARRAYS = 15


@njit(cache=True)
def _alloc(n, length, depth, width):
    """State for ``n`` rows: scalars, symbol stacks, per-atom arrays, aromatic flags,
    ring-closure partners, open ring labels (atom, bond order), terminals out and the
    production chosen at each step."""
    return (np.zeros((n, N_SCALARS), dtype=np.int64), np.empty((n, depth), dtype=np.int64),
            np.empty((n, N_ATOM_ARRAYS, length + 1), dtype=np.int64), np.empty((n, length + 1), dtype=np.bool_),
            np.empty((n, length + 1, 8), dtype=np.int64), np.empty((n, 2, 10), dtype=np.int64),
            np.zeros((n, width), dtype=np.int64), np.empty((n, length), dtype=np.int64))


@njit(cache=True)
def _start_row(ints, stack, rings, rules, start, pad_nt, need_start, atomish, pad_rule):
    """Reset one row's state to the start of a derivation."""
    ints[:] = 0
    ints[S_SP] = 1
    ints[S_NEED] = need_start
    ints[S_SLOTS] = atomish[start]  # pending atom-yielding symbols
    ints[S_CUR] = -1
    ints[S_BR_ELEM] = -1
    ints[S_BR_QMODE] = 2
    stack[0] = pad_nt
    stack[1] = start
    rings[0, :] = -1
    rings[1, :] = 0
    rules[:] = pad_rule


@njit(cache=True)
def _start_rows(ints, stack, rings, rules, start, pad_nt, need_start, atomish, pad_rule):
    for i in range(len(ints)):
        _start_row(ints[i], stack[i], rings[i], rules[i], start, pad_nt, need_start, atomish, pad_rule)


@njit(cache=True, parallel=True)
def _decode_batch(scores, start, need_start, pad_rule, depth, width, passes, window, lead, lead_len, rest, rest_len,
                  is_terminal, need_delta, pad_nt, action, arg, atomish, rule_atomish, continues, close_branch,
                  close_bracket, cap_table, class_cap, val_table, elem_aromatic, elem_two):
    n, length = scores.shape[0], scores.shape[1]
    out = np.zeros((n, width), dtype=np.int64)
    rules = np.full((n, length), pad_rule, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    status = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        ints, stack, atoms, aromatic, partners, rings, _, _ = _alloc(1, length, depth, 0)
        st = NOT_KEKULE
        for mode in range(2):
            # The fallback pass (mode 1) decodes a row the first pass failed again from the
            # same scores, without aromatic atoms, bracket atoms or ring-bond symbols,
            # keeping more steps for closing rings.
            if passes == 1 - mode or (mode == 1 and st != NOT_KEKULE and st != DEAD_END):
                continue
            _start_row(ints[0], stack[0], rings[0], rules[i], start, pad_nt, need_start, atomish, pad_rule)
            st = _decode_row(scores[i], 0, length, window, lead, lead_len, rest, rest_len, is_terminal, need_delta,
                             pad_nt, action, arg, atomish, rule_atomish, continues, close_branch, close_bracket,
                             cap_table, class_cap, val_table, elem_aromatic, elem_two, mode, ints[0], stack[0],
                             atoms[0], aromatic[0], partners[0], rings[0], out[i], rules[i])
            if mode == 1 and st == OK:
                st = FALLBACK
        lengths[i] = out[i, width - 1]
        status[i] = st
    return out, lengths, status, rules


@njit(cache=True, parallel=True)
def _step_batch(scores, t, rows, mode, ints, stack, atoms, aromatic, partners, rings, out, rules, window, lead,
                lead_len, rest, rest_len, is_terminal, need_delta, pad_nt, action, arg, atomish, rule_atomish,
                continues, close_branch, close_bracket, cap_table, class_cap, val_table, elem_aromatic, elem_two):
    """Advance ``rows`` (of the state) by step ``t``, ``scores`` being their ``len(rows) x
    R`` scores; returns their status (``RUNNING`` while they go on)."""
    length = rules.shape[1]
    status = np.empty(len(rows), dtype=np.int64)
    for k in prange(len(rows)):
        i = rows[k]
        status[k] = _decode_row(scores[k : k + 1], t, length, window, lead, lead_len, rest, rest_len, is_terminal,
                                need_delta, pad_nt, action, arg, atomish, rule_atomish, continues, close_branch,
                                close_bracket, cap_table, class_cap, val_table, elem_aromatic, elem_two, mode, ints[i],
                                stack[i], atoms[i], aromatic[i], partners[i], rings[i], out[i], rules[i])
    return status


@njit(cache=True)
def _max_cap(cap_table, e, qmode, extra):
    """Largest valence of element ``e`` over the charges ``qmode`` allows (0: neutral,
    1: +/-1, 2: any), less ``extra``; -1 where none."""
    best = -1
    for q in range(-1, 2):
        if (qmode == 0 and q != 0) or (qmode == 1 and q == 0):
            continue
        c = cap_table[e, q + 1]
        if c > best:
            best = c
    return best - extra if best >= 0 else -1


@njit(cache=True)
def _decode_row(sc, t0, length, window, lead, lead_len, rest, rest_len, is_terminal, need_delta, pad_nt, action, arg,
                atomish, rule_atomish, continues, close_branch, close_bracket, cap_table, class_cap, val_table,
                elem_aromatic, elem_two, mode, ints, stack, atoms, aromatic, partners, rings, out, rules):
    """Decode steps ``t0 ..`` of one row of ``L`` steps from its scores ``sc`` (a row of
    ``steps x R``, step ``t0`` first); ``mode`` 1 (the fallback pass) masks aromatic
    atoms, bracket atoms and ring-bond symbols. The state (:func:`_alloc`, reset by
    :func:`_start_row`) carries over to the next call; terminal ids go to ``out`` with
    their count in its last slot, the production chosen at each step to ``rules``.
    Returns the row's status, ``RUNNING`` if it goes on after the given steps."""
    width = out.shape[0] - 1
    ring_steps = SAFE_RING_STEPS if mode == 1 else RING_STEPS
    cand = np.empty(window.shape[1], dtype=np.float32)
    (cap, used, promised, parent, porder, level, a_elem, a_charge, a_h, arom_nb, n_partners, branch_stack, cl_u,
     cl_v, cl_o) = (atoms[0], atoms[1], atoms[2], atoms[3], atoms[4], atoms[5], atoms[6], atoms[7], atoms[8],
                    atoms[9], atoms[10], atoms[11], atoms[12], atoms[13], atoms[14])
    # cap: capacity, used: bonds made, promised: bonds the structure chosen still owes,
    # porder: bond to parent (0 aromatic, else its order), arom_nb: single or aromatic
    # bonds to aromatic atoms, partners: ring-closure partners (valence <= 6),
    # branch_stack: atoms a branch returns to, cl_*: ring closures (atoms, order).
    ring_atom, ring_order = rings[0], rings[1]
    sp, n_out, need, slots_f = ints[S_SP], ints[S_OUT], ints[S_NEED], ints[S_SLOTS]
    n_atoms, cur, bsp = ints[S_ATOMS], ints[S_CUR], ints[S_BSP]
    chain_bond = ints[S_CHAIN]  # explicit order of the next chain bond, 0 = none written
    ctx = ints[S_CTX]  # what a DIGIT means: 0 none, 1 ring bond, 2 hydrogen count, 3 isotope
    ring_bond = ints[S_RING_BOND]  # explicit order written before a ring digit
    n_open, n_cl = ints[S_OPEN], ints[S_CL]
    # The atom being written: bonds it needs (incoming, chain, one ring bond, one branch).
    new_need, new_rest, new_rb = ints[S_NEW_NEED], ints[S_NEW_REST], ints[S_NEW_RB] != 0
    ring_todo = ints[S_TODO]  # ring digits the current atom has still to write
    atom_pending = ints[S_PENDING] != 0
    rb_open = ints[S_RB_OPEN] != 0  # the current atom's RB may still add ring digits
    br_elem, br_h, br_charge, br_qmode = ints[S_BR_ELEM], ints[S_BR_H], ints[S_BR_CHARGE], ints[S_BR_QMODE]
    relaxed = ints[S_RELAXED] != 0
    finished = False
    stuck = False
    t = t0
    for t in range(t0, t0 + sc.shape[0]):
        top = stack[sp]
        if top == pad_nt:
            finished = True
            break
        sp -= 1
        slots_f -= atomish[top]
        steps_left = length - t - 1
        inc = 0 if cur < 0 else (chain_bond if chain_bond > 0 else 1)
        free = cap[cur] - used[cur] - promised[cur] if cur >= 0 else 0
        # An aromatic atom must be able to lie on a ring: it carries a ring bond or
        # a ring is open around it; two aromatic atoms are never joined by = or #.
        arom_ok = (mode == 0 and (new_rb or n_open > 0)
                   and (chain_bond < 2 or cur < 0 or not aromatic[cur]))
        # Open rings the current atom could close, and a new atom bonded to it could.
        # (Only counted where a ring digit is or may be coming: the count is the
        # costliest part of a step.)
        closable_new = 0
        closable = 0
        if n_open > 0:
            if action[window[top, 0]] == A_BA or atom_pending:
                closable_new = _closable(-1, cur, ring_atom, ring_order, parent, partners, n_partners, 0)
            if atom_pending:  # chosen by branched_atom, not yet written: its ring digits count
                closable = closable_new
            elif cur >= 0 and (ring_todo > 0 or rb_open):
                closable = _closable(cur, cur, ring_atom, ring_order, parent, partners, n_partners, free)
        # An atom chosen but not yet written must also hold the ring bonds that only
        # it can still make (no atom comes after it to close the rest).
        need_e = new_need
        if atom_pending and n_open > 3 * slots_f + ring_todo:
            need_e = new_need + n_open - 3 * slots_f - ring_todo
        best = -1
        for attempt in range(2):
            # Candidates in order of score (ties: grammar order); the first one the
            # masks allow wins, so a well-trained decoder usually pays for one check.
            n_cand = 0
            for j in range(window.shape[1]):
                r = window[top, j]
                if r < 0:
                    break
                cand[j] = sc[t - t0, r]
                n_cand += 1
            for _ in range(n_cand):
                j = np.argmax(cand[:n_cand])
                r = window[top, j]
                cand[j] = -np.inf
                new_open = n_open
                if need + need_delta[r] > steps_left:
                    continue
                if not relaxed:
                    act = action[r]
                    x = arg[r]
                    f2 = slots_f + rule_atomish[r]  # atoms still to come, the current one aside
                    new_todo = ring_todo
                    new_closable = closable
                    # Ring digits the current atom may still add (its RB not yet closed):
                    # its spare valence, or a carbon's if it is not written yet.
                    more = 0
                    # (The fallback pass plans extra digits only on the last atom.)
                    if rb_open and act != A_RB_LAST and (mode == 0 or f2 == 0):
                        more = (4 - new_need if atom_pending else free) - (1 if act == A_RB_MORE else 0)
                    ok = True
                    if act == A_BA:
                        rb = x & 1
                        bb = (x >> 1) & 1
                        cont = continues[stack[sp]]
                        ok = inc + cont + rb + bb <= 6
                        new_todo = rb
                        new_closable = closable_new
                        more = 4 - (inc + cont + rb + bb) if rb == 1 and (mode == 0 or f2 == 0) else 0
                    elif act == A_ATOM_ALIPH:
                        ok = class_cap[0, 0] >= need_e
                    elif act == A_ATOM_AROM:
                        ok = arom_ok and class_cap[1, 0] >= need_e
                    elif act == A_ATOM_BRACKET:
                        ok = mode == 0 and (class_cap[0, 2] >= need_e
                              or (arom_ok and class_cap[1, 2] >= need_e))
                    elif act == A_SYMBOL:
                        if x == 1:
                            ok = arom_ok and class_cap[1, 2] >= need_e
                        else:
                            ok = class_cap[0, 2] >= need_e
                    elif act == A_ELEM:
                        if elem_aromatic[x] and not arom_ok:
                            ok = False
                        elif br_elem == -2:  # inside a bracket: the charge comes later
                            ok = _max_cap(cap_table, x, br_qmode, 0) >= need_e
                        else:
                            ok = cap_table[x, 1] >= need_e
                    elif act == A_BAI:
                        if x == 0:
                            ok = (class_cap[0, 0] >= need_e
                                  or class_cap[1, 0] >= need_e)
                    elif act == A_BAC:
                        if x == 0:
                            ok = _max_cap(cap_table, br_elem, 0, 0) >= need_e
                        else:  # hydrogens or a charge follow
                            ok = (_max_cap(cap_table, br_elem, 1, 0) >= need_e
                                  or _max_cap(cap_table, br_elem, 0, 1) >= need_e)
                    elif act == A_BAH:
                        ok = _max_cap(cap_table, br_elem, 1 if x & 2 else 0, x & 1) >= need_e
                    elif act == A_HCOUNT:
                        ok = _max_cap(cap_table, br_elem, br_qmode, 1) >= need_e
                    elif act == A_CHARGE:
                        ok = x != 0 and cap_table[br_elem, x + 1] - br_h >= need_e
                    elif act == A_DIGIT:
                        if ctx == 2:
                            ok = _max_cap(cap_table, br_elem, br_qmode, x) >= need_e
                        elif ctx == 1:
                            new_todo = ring_todo - 1
                            if ring_atom[x] >= 0:
                                ok = _can_close(x, cur, ring_bond, ring_atom, ring_order, parent, partners,
                                                n_partners, cap, used, promised, aromatic)
                                new_open = n_open - 1
                                new_closable = closable - 1
                            else:
                                new_open = n_open + 1
                    elif act == A_BOND:
                        if ctx == 1:
                            ok = x - 1 <= free and (
                                _any_close(cur, x, ring_atom, ring_order, parent, partners, n_partners, cap, used,
                                           promised, aromatic)
                                or _ring_budget(n_open + 1, ring_todo - 1, closable, 0, f2, need + need_delta[r],
                                                steps_left, ring_steps))
                        else:
                            ok = x - 1 <= free
                    elif act == A_RINGBOND:
                        ok = (mode == 0 or x == 0) and (
                            _any_close(cur, 0, ring_atom, ring_order, parent, partners, n_partners, cap, used,
                                       promised, aromatic)
                            or _ring_budget(n_open + 1, ring_todo - 1, closable, 0, f2, need + need_delta[r],
                                            steps_left, ring_steps))
                    elif act == A_RB_MORE:
                        ok = free >= 1
                        new_todo = ring_todo + 1
                    elif act == A_BB_MORE:
                        ok = free >= 1
                    if not ok or not _ring_budget(new_open, new_todo, new_closable, more, f2,
                                                  need + need_delta[r], steps_left, ring_steps):
                        continue
                best = r
                break
            if best >= 0 or relaxed:
                break
            relaxed = True  # no production keeps the molecule valid: fall back to the grammar alone
        if best < 0:
            stuck = True  # cannot finish in the steps left
            break
        r = best
        rules[t] = r
        # Apply the production's meaning.
        if not relaxed:
            act = action[r]
            x = arg[r]
            if act == A_BA:
                new_rb = (x & 1) == 1
                ring_todo = x & 1
                rb_open = new_rb
                atom_pending = True
                new_rest = continues[stack[sp]] + (x & 1) + ((x >> 1) & 1)
                new_need = inc + new_rest
            elif act == A_BRACKET:
                br_elem, br_h, br_charge, br_qmode = -2, 0, 0, 2
                ctx = 3
            elif act == A_ELEM:
                if br_elem == -2:
                    br_elem = x
                    ctx = 0
                else:
                    n_atoms, cur = _add_atom(x, 0, 0, cur, chain_bond, new_rest, n_atoms, cap_table, elem_aromatic,
                                             cap, used, promised, aromatic, parent, porder, level, a_elem,
                                             a_charge, a_h, arom_nb, n_partners)
                    chain_bond = 0
                    atom_pending = False
                    if mode == 0 and (_doomed(cur, aromatic, promised, arom_nb, ring_atom)
                                      or _doomed(parent[cur], aromatic, promised, arom_nb, ring_atom)):
                        return NOT_KEKULE
            elif act == A_BAI or act == A_BAC:
                if x == 0:
                    br_qmode = 0
            elif act == A_BAH:
                br_qmode = 1 if x & 2 else 0
                br_h = x & 1
            elif act == A_HCOUNT:
                br_h = 1
                if x == 1:
                    ctx = 2
            elif act == A_CHARGE:
                br_charge = x
            elif act == A_DIGIT:
                if ctx == 2:
                    br_h = x
                    ctx = 0
                elif ctx == 1:
                    if ring_atom[x] >= 0:
                        o = ring_atom[x]
                        ob = ring_order[x]
                        order = ob if ob > ring_bond else ring_bond
                        if order == 0 and not (aromatic[o] and aromatic[cur]):
                            order = 1
                        valence = order if order > 0 else 1
                        used[cur] += valence
                        if ob == 0 and ring_bond > 1:
                            used[o] += ring_bond - 1
                        cl_u[n_cl] = o
                        cl_v[n_cl] = cur
                        cl_o[n_cl] = order
                        n_cl += 1
                        partners[o, n_partners[o]] = cur
                        n_partners[o] += 1
                        partners[cur, n_partners[cur]] = o
                        n_partners[cur] += 1
                        ring_atom[x] = -1
                        n_open -= 1
                        if order <= 1 and aromatic[o] and aromatic[cur]:
                            arom_nb[o] += 1
                            arom_nb[cur] += 1
                        if mode == 0 and _doomed(o, aromatic, promised, arom_nb, ring_atom):
                            return NOT_KEKULE
                    else:
                        ring_atom[x] = cur
                        ring_order[x] = ring_bond
                        used[cur] += ring_bond if ring_bond > 0 else 1
                        n_open += 1
                    promised[cur] -= 1
                    ring_todo -= 1
                    ring_bond = 0
                    ctx = 0
                    if mode == 0 and _doomed(cur, aromatic, promised, arom_nb, ring_atom):
                        return NOT_KEKULE
            elif act == A_BOND:
                if ctx == 1:
                    ring_bond = x
                else:
                    chain_bond = x
            elif act == A_RINGBOND:
                ctx = 1
                ring_bond = 0
            elif act == A_RB_LAST:
                rb_open = False
            elif act == A_RB_MORE or act == A_BB_MORE:
                promised[cur] += 1
                if act == A_RB_MORE:
                    ring_todo += 1
            elif act == A_BRANCH:
                branch_stack[bsp] = cur
                bsp += 1
        # Emit the production's leading terminals, push the rest.
        for j in range(lead_len[r]):
            out[n_out] = lead[r, j]
            n_out += 1
        need += need_delta[r]
        for j in range(rest_len[r]):
            sp += 1
            stack[sp] = rest[r, j]
        slots_f += rule_atomish[r]
        while is_terminal[stack[sp]]:
            s = stack[sp]
            out[n_out] = s
            n_out += 1
            sp -= 1
            if relaxed:
                continue
            if s == close_branch:
                bsp -= 1
                cur = branch_stack[bsp]
            elif s == close_bracket:
                n_atoms, cur = _add_atom(br_elem, br_charge, br_h, cur, chain_bond, new_rest, n_atoms, cap_table,
                                         elem_aromatic, cap, used, promised, aromatic, parent, porder, level,
                                         a_elem, a_charge, a_h, arom_nb, n_partners)
                cap[cur] -= br_h
                chain_bond = 0
                br_elem = -1
                atom_pending = False
                if mode == 0 and (_doomed(cur, aromatic, promised, arom_nb, ring_atom)
                                  or _doomed(parent[cur], aromatic, promised, arom_nb, ring_atom)):
                    return NOT_KEKULE
    out[width] = n_out
    if not finished and stack[sp] != pad_nt:
        if stuck or t + 1 >= length:
            return UNFINISHED
        ints[S_SP], ints[S_OUT], ints[S_NEED], ints[S_SLOTS] = sp, n_out, need, slots_f
        ints[S_ATOMS], ints[S_CUR], ints[S_BSP], ints[S_CHAIN], ints[S_CTX] = n_atoms, cur, bsp, chain_bond, ctx
        ints[S_RING_BOND], ints[S_OPEN], ints[S_CL] = ring_bond, n_open, n_cl
        ints[S_NEW_NEED], ints[S_NEW_REST], ints[S_NEW_RB], ints[S_TODO] = new_need, new_rest, new_rb, ring_todo
        ints[S_PENDING], ints[S_RB_OPEN], ints[S_RELAXED] = atom_pending, rb_open, relaxed
        ints[S_BR_ELEM], ints[S_BR_H], ints[S_BR_CHARGE], ints[S_BR_QMODE] = br_elem, br_h, br_charge, br_qmode
        return RUNNING
    if relaxed:
        return DEAD_END
    if not _kekulizable(n_atoms, aromatic, parent, porder, level, cl_u, cl_v, cl_o, n_cl, used, a_elem, a_charge,
                        a_h, val_table, elem_two):
        return NOT_KEKULE
    return OK


@njit(cache=True)
def _add_atom(e, q, h, cur, chain_bond, rest, n_atoms, cap_table, elem_aromatic, cap, used, promised, aromatic,
              parent, porder, level, a_elem, a_charge, a_h, arom_nb, n_partners):
    a = n_atoms
    arom_nb[a] = 0
    n_partners[a] = 0
    porder[a] = 0
    cap[a] = cap_table[e, q + 1]
    aromatic[a] = elem_aromatic[e]
    a_elem[a], a_charge[a], a_h[a] = e, q, h
    promised[a] = rest
    used[a] = 0
    if cur >= 0:
        order = chain_bond
        if order == 0 and not (aromatic[a] and aromatic[cur]):
            order = 1
        valence = order if order > 0 else 1
        used[a] = valence
        used[cur] += valence
        promised[cur] -= 1
        parent[a] = cur
        porder[a] = order
        level[a] = level[cur] + 1
        if order <= 1 and aromatic[a] and aromatic[cur]:
            arom_nb[a] += 1
            arom_nb[cur] += 1
    else:
        parent[a] = -1
        level[a] = 0
    return n_atoms + 1, a


@njit(cache=True)
def _doomed(a, aromatic, promised, arom_nb, ring_atom):
    """Atom ``a`` is aromatic, can take no more bonds (none promised, no ring of its
    open) and has fewer than two single/aromatic bonds to aromatic atoms: the final
    check would reject the row, so the first pass stops here."""
    if a < 0 or not aromatic[a] or promised[a] > 0 or arom_nb[a] >= 2:
        return False
    for label in range(1, 9):
        if ring_atom[label] == a:
            return False
    return True


@njit(cache=True)
def _bonded(u, v, parent, partners, n_partners):
    """A chain/branch bond or a ring closure joins ``u`` and ``v`` (each atom keeps
    its ring-closure partners: at most its valence)."""
    if parent[u] == v or parent[v] == u:
        return True
    for k in range(n_partners[u]):
        if partners[u, k] == v:
            return True
    return False


@njit(cache=True)
def _closable(atom, neighbour, ring_atom, ring_order, parent, partners, n_partners, free):
    """Open rings that ``atom`` could close (``atom`` = -1: a new atom bonded only to
    ``neighbour``, its valence yet unknown) with ``free`` spare valence. Rings opened
    on one atom count once: closing one bonds the two atoms, which bars the others."""
    n = 0
    for label in range(1, 9):
        o = ring_atom[label]
        if o < 0 or o == neighbour:
            continue
        if atom >= 0 and (_bonded(o, atom, parent, partners, n_partners) or ring_order[label] - 1 > free):
            continue
        seen = False
        for other in range(1, label):
            if ring_atom[other] == o:
                seen = True
        if not seen:
            n += 1
    return n


@njit(cache=True)
def _can_close(label, cur, cb, ring_atom, ring_order, parent, partners, n_partners, cap, used, promised, aromatic):
    """Ring ``label`` may close on ``cur`` with the explicit bond order ``cb`` (0 = none)."""
    o = ring_atom[label]
    if o == cur or _bonded(o, cur, parent, partners, n_partners):
        return False
    ob = ring_order[label]
    if ob > 0 and cb > 0 and ob != cb:
        return False
    order = ob if ob > cb else cb
    if order >= 2 and aromatic[o] and aromatic[cur]:
        return False
    if ob == 0 and cb > 1 and cap[o] - used[o] - promised[o] < cb - 1:
        return False
    if cb == 0 and ob > 1 and cap[cur] - used[cur] - promised[cur] < ob - 1:
        return False
    return True


@njit(cache=True)
def _any_close(cur, cb, ring_atom, ring_order, parent, partners, n_partners, cap, used, promised, aromatic):
    """Some open ring can close on ``cur`` with the explicit bond order ``cb``."""
    for label in range(1, 9):
        if ring_atom[label] >= 0 and _can_close(label, cur, cb, ring_atom, ring_order, parent, partners, n_partners,
                                                cap, used, promised, aromatic):
            return True
    return False


@njit(cache=True)
def _ring_budget(n_open, todo, closable, more, future_atoms, need, steps_left, ring_steps):
    """The open rings can still all close. The current atom's ``todo`` ring digits
    (and up to ``more`` it may still add) close what they can (``closable``) and
    open the rest; every ring left must be closed by an atom still
    to come (up to three each), for ``ring_steps`` more productions than ``need``
    counts, within the ``steps_left``."""
    can = todo + (more if more > 0 else 0)
    closes = can if can < closable else closable
    if closes < 0:
        closes = 0
    opens = todo - closes if todo > closes else 0
    left = n_open - closes + opens
    return (n_open + opens <= 8 and left <= 3 * future_atoms
            and need + ring_steps * left <= steps_left)


@njit(cache=True)
def _kekulizable(n_atoms, aromatic, parent, porder, level, cl_u, cl_v, cl_o, n_cl, used, a_elem, a_charge, a_h,
                 val_table, elem_two):
    """Every aromatic atom lies on a ring, and the aromatic atoms that need a double
    bond can all get one over in-ring aromatic bonds (a perfect matching)."""
    if n_atoms == 0:
        return True
    in_ring = np.zeros(n_atoms, dtype=np.bool_)
    edge_in_ring = np.zeros(n_atoms, dtype=np.bool_)  # the bond from an atom to its parent
    for k in range(n_cl):
        u = cl_u[k]
        v = cl_v[k]
        in_ring[u] = True
        in_ring[v] = True
        while u != v:
            if level[u] >= level[v]:
                edge_in_ring[u] = True
                u = parent[u]
            else:
                edge_in_ring[v] = True
                v = parent[v]
            in_ring[u] = True
            in_ring[v] = True
    # Neighbours, and in-ring aromatic bonds, of every atom.
    degree = np.zeros(n_atoms, dtype=np.int64)
    aromatic_bonds = np.zeros(n_atoms, dtype=np.int64)
    for a in range(n_atoms):
        p = parent[a]
        if p >= 0:
            degree[a] += 1
            degree[p] += 1
            # Single ring bonds between aromatic atoms (``-``, ``/``) count here too.
            if porder[a] <= 1 and edge_in_ring[a] and aromatic[a] and aromatic[p]:
                aromatic_bonds[a] += 1
                aromatic_bonds[p] += 1
    for k in range(n_cl):
        degree[cl_u[k]] += 1
        degree[cl_v[k]] += 1
        if cl_o[k] <= 1 and aromatic[cl_u[k]] and aromatic[cl_v[k]]:
            aromatic_bonds[cl_u[k]] += 1
            aromatic_bonds[cl_v[k]] += 1
    demand = np.zeros(n_atoms, dtype=np.bool_)
    any_aromatic = False
    for a in range(n_atoms):
        if not aromatic[a]:
            continue
        any_aromatic = True
        # As in every ZINC molecule: two or three aromatic ring bonds, at most three
        # neighbours (hydrogens included), aromatic O and S with exactly two.
        if not in_ring[a] or aromatic_bonds[a] < 2 or aromatic_bonds[a] > 3 or degree[a] + a_h[a] > 3:
            return False
        if elem_two[a_elem[a]] and degree[a] + a_h[a] != 2:
            return False
        sigma = used[a] + a_h[a]
        v = -1
        for k in range(val_table.shape[2]):
            c = val_table[a_elem[a], a_charge[a] + 1, k]
            if c >= sigma:
                v = c
                break
        if v < 0:
            return False
        demand[a] = v - sigma >= 1
    if not any_aromatic:
        return True
    # Aromatic in-ring bonds between atoms that both need a double bond.
    eu = np.empty(n_atoms + n_cl, dtype=np.int64)
    ev = np.empty(n_atoms + n_cl, dtype=np.int64)
    m = 0
    for a in range(n_atoms):
        p = parent[a]
        if p >= 0 and porder[a] == 0 and edge_in_ring[a] and demand[a] and demand[p]:
            eu[m] = a
            ev[m] = p
            m += 1
    for k in range(n_cl):
        if cl_o[k] == 0 and demand[cl_u[k]] and demand[cl_v[k]]:
            eu[m] = cl_u[k]
            ev[m] = cl_v[k]
            m += 1
    return _perfect_matching(n_atoms, demand, eu[:m], ev[:m])


@njit(cache=True)
def _perfect_matching(n, demand, eu, ev):
    """Depth-first search for a matching that covers every ``demand`` atom (aromatic
    systems are small; the search is capped and a capped search counts as failure)."""
    deg = np.zeros(n + 1, dtype=np.int64)
    for k in range(eu.shape[0]):
        deg[eu[k] + 1] += 1
        deg[ev[k] + 1] += 1
    for a in range(n):
        deg[a + 1] += deg[a]
    adj = np.empty(max(1, deg[n]), dtype=np.int64)
    fill = deg[:n].copy()
    for k in range(eu.shape[0]):
        adj[fill[eu[k]]] = ev[k]
        fill[eu[k]] += 1
        adj[fill[ev[k]]] = eu[k]
        fill[ev[k]] += 1
    mate = np.full(n, -1, dtype=np.int64)
    for a in range(n):
        if demand[a] and deg[a + 1] == deg[a]:
            return False
    # Explicit stack of (atom, next neighbour index) choices.
    path = np.empty(n, dtype=np.int64)
    nxt = np.empty(n, dtype=np.int64)
    top = 0
    budget = 20000
    a = _first_free(n, demand, mate)
    if a < 0:
        return True
    path[0] = a
    nxt[0] = deg[a]
    while budget > 0:
        budget -= 1
        a = path[top]
        placed = False
        while nxt[top] < deg[a + 1]:
            b = adj[nxt[top]]
            nxt[top] += 1
            if mate[b] < 0 and b != a:
                mate[a] = b
                mate[b] = a
                placed = True
                break
        if placed:
            f = _first_free(n, demand, mate)
            if f < 0:
                return True
            top += 1
            path[top] = f
            nxt[top] = deg[f]
            continue
        # Backtrack: undo the previous choice and try its next neighbour.
        if top == 0:
            return False
        top -= 1
        p = path[top]
        mate[mate[p]] = -1
        mate[p] = -1
    return False


@njit(cache=True)
def _first_free(n, demand, mate):
    for a in range(n):
        if demand[a] and mate[a] < 0:
            return a
    return -1
