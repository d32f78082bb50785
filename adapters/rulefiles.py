"""Loading rule sets from TOML files, validated with pydantic."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

import ledger
from ledger.contracts import Contracts
from ledger.rules import RuleSet

RULESETS_DIR = Path(ledger.__file__).parent / "rulesets"
DEFAULT_RULESET = RULESETS_DIR / "vn-social-assistance.toml"


class RuleFileError(ValueError):
    pass


DEFAULT_CONTRACTS = RULESETS_DIR / "agent-contracts.toml"


LISTS = ("levels", "coefficient_tables", "age_conventions", "unclaimed", "funeral")


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RuleFileError(f"{path}: {exc}") from None


def _extend(path: Path, data: dict) -> dict:
    """A rule file may extend another (``extends = "file.toml"``, beside it or
    among the shipped rule sets): its dated entries are added to the base's,
    and a coefficient table marked ``inherit = true`` starts from the base
    table in force before it, so a new decree states only what it changes."""
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    base_path = path.parent / base_name
    if not base_path.exists():
        base_path = RULESETS_DIR / base_name
    base = _extend(base_path, _read(base_path))
    merged = {**base, **{k: v for k, v in data.items() if k not in LISTS}}
    for key in LISTS:
        merged[key] = list(base.get(key, [])) + list(data.get(key, []))
    tables = sorted(merged["coefficient_tables"], key=lambda t: t["effective_from"])
    for index, table in enumerate(tables):
        if table.pop("inherit", False) and index > 0:
            table["categories"] = {**tables[index - 1]["categories"], **table.get("categories", {})}
    merged["coefficient_tables"] = tables
    return merged


def _load(path: str | Path, model):
    path = Path(path)
    data = _extend(path, _read(path))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise RuleFileError(f"{path}: {problems}") from None


def load_ruleset(path: str | Path) -> RuleSet:
    return _load(path, RuleSet)


def load_contracts(path: str | Path) -> Contracts:
    return _load(path, Contracts)


@lru_cache(maxsize=1)
def default_ruleset() -> RuleSet:
    return load_ruleset(DEFAULT_RULESET)


@lru_cache(maxsize=1)
def default_contracts() -> Contracts:
    return load_contracts(DEFAULT_CONTRACTS)
