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


def _load(path: str | Path, model):
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleFileError(f"{path}: {exc}") from None
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
