"""Bank profiles as data (adapters/formats/banks/<profile>.toml): which
pain.001 version a bank takes, whether names lose their diacritics, the
execution day of the month, the BIC and the file name. An agent's contract
(ledger/rulesets/agent-contracts.toml, ``bank_profile``) names its profile;
nothing is guessed from an agent code."""
from __future__ import annotations

import tomllib
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FOLDER = Path(__file__).with_name("banks")
DEFAULT_PROFILE = "vbsp"


class BankProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    bank_code: str = Field(pattern=r"^[A-Z0-9]{2,16}$")
    pain_version: Literal["pain.001.001.09"] = "pain.001.001.09"
    transliterate: bool = False
    execution_day: int = Field(default=10, ge=1, le=28)
    file_name: str = "payroll-{agent_code}-{month}.pain.001.xml"
    bic: str | None = Field(default=None, pattern=r"^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$")

    def execution_date(self, month: str) -> date:
        year, number = (int(part) for part in month.split("-"))
        return date(year, number, self.execution_day)

    def pain_file_name(self, agent_code: str, month: str) -> str:
        return self.file_name.format(agent_code=agent_code, month=month)


@cache
def bic_table() -> dict[str, str]:
    return dict(tomllib.loads((FOLDER / "bic.toml").read_text(encoding="utf-8"))["bic"])


@cache
def load_profile(name: str) -> BankProfile:
    path = FOLDER / f"{name}.toml"
    if not name.replace("-", "").replace("_", "").isalnum() or not path.is_file():
        known = ", ".join(sorted(p.stem for p in FOLDER.glob("*.toml") if p.stem != "bic"))
        raise ValueError(f"no bank profile {name!r} (known: {known})")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    profile = BankProfile(**data)
    if profile.bic is None and profile.bank_code in bic_table():
        profile = profile.model_copy(update={"bic": bic_table()[profile.bank_code]})
    return profile
