"""A chemist's filters for molecule campaigns: size, synthetic accessibility,
structural alerts (RDKit's FilterCatalog: PAINS, Brenk, NIH, ...), required and
forbidden substructures, charges and radicals. A decode that fails a filter counts
like an invalid one (by reason, e.g. ``filtered_pains``): the GP never sees a score
for it.

Settings come as a table (``[bo] filters = {max_sa = 4.5, alerts = "pains,brenk"}``) or
``--filter KEY=VALUE`` on the command line; see :data:`FILTER_KEYS`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from latentbo.errors import ConfigError

#: RDKit FilterCatalog names accepted by ``alerts`` (lower case), e.g. ``pains,brenk``.
ALERT_CATALOGS = ("pains", "pains_a", "pains_b", "pains_c", "brenk", "nih", "zinc", "chembl")

#: Every key a filter table may set, with what it means.
FILTER_KEYS = {
    "min_heavy_atoms": "fewest heavy atoms (integer)",
    "max_heavy_atoms": "most heavy atoms (integer; ZINC250k's largest molecule has 38)",
    "max_sa": "largest SA score (1 easy .. 10 hard)",
    "alerts": f"structural-alert catalogues that reject a match, comma-separated: {', '.join(ALERT_CATALOGS)}",
    "require": "SMARTS every molecule must contain (several: separate with spaces)",
    "forbid": "SMARTS no molecule may contain (several: separate with spaces)",
    "charged": "allow atoms with a formal charge (true/false; default false)",
    "radicals": "allow radical electrons (true/false; default false)",
}


@dataclass(frozen=True)
class MoleculeFilter:
    """Which molecules a campaign may propose. Charges and radicals are refused unless
    allowed (``charged``, ``radicals``).

    Raises:
        ConfigError: an unknown key, a value of the wrong type, an unknown alert
            catalogue or an unparsable SMARTS (from :meth:`from_table`).
    """

    min_heavy_atoms: int | None = None
    max_heavy_atoms: int | None = None
    max_sa: float | None = None
    alerts: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    charged: bool = False
    radicals: bool = False

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> MoleculeFilter:
        """A filter from a ``{key: value}`` table (TOML or parsed ``--filter`` options);
        ``alerts``, ``require`` and ``forbid`` take a list or one string (alerts split at
        commas, SMARTS at spaces)."""
        unknown = set(table) - set(FILTER_KEYS)
        if unknown:
            raise ConfigError(f"unknown filter key {sorted(unknown)[0]!r}; known: {', '.join(FILTER_KEYS)}")
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key in ("alerts", "require", "forbid"):
                if isinstance(value, str):
                    items = value.replace(",", " ").split() if key == "alerts" else value.split()
                else:
                    items = value
                if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
                    raise ConfigError(f"filter {key} must be a string or a list of strings, got {value!r}")
                values[key] = tuple(x.lower() for x in items) if key == "alerts" else tuple(items)
            elif key in ("charged", "radicals"):
                if not isinstance(value, bool):
                    raise ConfigError(f"filter {key} must be true or false, got {value!r}")
                values[key] = value
            elif key == "max_sa":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 10:
                    raise ConfigError(f"filter max_sa must be a number from 1 to 10, got {value!r}")
                values[key] = float(value)
            else:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"filter {key} must be a positive integer, got {value!r}")
                values[key] = value
        made = cls(**values)
        made.check()
        return made

    def check(self) -> None:
        """Refuse unknown catalogues, bad SMARTS and an empty heavy-atom range now, not mid-campaign."""
        bad = [a for a in self.alerts if a not in ALERT_CATALOGS]
        if bad:
            raise ConfigError(f"unknown alert catalogue {bad[0]!r}; known: {', '.join(ALERT_CATALOGS)}")
        if self.min_heavy_atoms and self.max_heavy_atoms and self.min_heavy_atoms > self.max_heavy_atoms:
            raise ConfigError(f"filter min_heavy_atoms {self.min_heavy_atoms} > max_heavy_atoms "
                              f"{self.max_heavy_atoms}: no molecule could pass")
        self._patterns  # noqa: B018  (compiles every SMARTS)

    def table(self) -> dict[str, Any]:
        """The settings that differ from the defaults (how campaign.json records them)."""
        return {f.name: list(v) if isinstance(v, tuple) else v for f in dataclasses.fields(self)
                if (v := getattr(self, f.name)) != f.default}

    @cached_property
    def _patterns(self) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        from rdkit import Chem

        def compile_all(patterns: tuple[str, ...]) -> list[tuple[str, Any]]:
            out = []
            for p in patterns:
                query = Chem.MolFromSmarts(p)
                if query is None:
                    raise ConfigError(f"filter SMARTS {p!r} does not parse")
                out.append((p, query))
            return out
        return compile_all(self.require), compile_all(self.forbid)

    def reason(self, mol: Any) -> str | None:
        """Why an RDKit molecule fails the filter (``filtered_<what>``), or ``None``."""
        heavy = mol.GetNumHeavyAtoms()
        if self.min_heavy_atoms is not None and heavy < self.min_heavy_atoms:
            return "filtered_too_small"
        if self.max_heavy_atoms is not None and heavy > self.max_heavy_atoms:
            return "filtered_too_large"
        if not self.charged and any(a.GetFormalCharge() for a in mol.GetAtoms()):
            return "filtered_charged"
        if not self.radicals and any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
            return "filtered_radical"
        required, forbidden = self._patterns
        if any(not mol.HasSubstructMatch(q) for _, q in required):
            return "filtered_required_smarts"
        if any(mol.HasSubstructMatch(q) for _, q in forbidden):
            return "filtered_forbidden_smarts"
        for name in self.alerts:
            if _catalog(name).HasMatch(mol):
                return f"filtered_{name}"
        if self.max_sa is not None:
            from latentbo.objectives.molecules import sascorer

            if sascorer().calculateScore(mol) > self.max_sa:
                return "filtered_sa"
        return None


@cache
def _catalog(name: str) -> Any:
    from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

    params = FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name.upper()))
    return FilterCatalog(params)


def parse_filter_options(options: list[str]) -> dict[str, Any]:
    """``["max_sa=4.5", "alerts=pains,brenk", "charged=true"]`` -> a filter table: numbers
    and booleans are read as such, the rest kept as strings.

    Raises:
        ConfigError: an option without ``=``.
    """
    table: dict[str, Any] = {}
    for option in options:
        key, sep, text = option.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--filter takes KEY=VALUE, got {option!r}; keys: {', '.join(FILTER_KEYS)}")
        text = text.strip()
        value: Any = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    pass
        table[key.strip()] = value
    return table
