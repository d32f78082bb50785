"""decisions.csv / .xlsx: validated row by row with pydantic, then handed to
the ledger as domain decisions. Any problem rejects the whole file."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger import citizen_id as cid
from ledger.decisions import CHANNELS, KINDS, Decision
from ledger.months import Month

from ..tabular import Layout, Problem, Table, read_table, validated_rows

REQUIRED_COLUMNS = ("decision_no", "signed_on", "kind", "citizen_id")
OPTIONAL_COLUMNS = (
    "full_name", "birth_date", "sex", "province_code", "commune_code", "category",
    "children_count", "effective_month", "channel", "agent_code", "bank_account",
    "proxy_name", "proxy_citizen_id", "home_delivery", "reason", "proxy_bank_account",
)

LAYOUT = Layout(
    required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS,
    dates=("signed_on", "birth_date"), months=("effective_month",), counts=("children_count",),
    text=("full_name", "proxy_name", "reason"),
    zero_pad={"citizen_id": 12, "proxy_citizen_id": 12, "province_code": 3},
    # A decision takes effect within a year of its signing; further is a mistyped year.
    month_within={"effective_month": ("signed_on", 12)},
)

# Which cells each kind needs beyond the key (formats.md).
NEEDS = {
    "register": ("full_name", "birth_date", "sex", "province_code", "commune_code",
                 "category", "channel"),
    "change_category": ("category",),
    "reassess_disability": ("category",),
    "relocate_in": ("province_code", "commune_code", "channel"),
    "change_channel": ("channel",),
    "authorize_proxy": ("proxy_name",),
    "suspend": ("reason",),
    "resume": ("reason",),
    "terminate": ("reason",),
}


# The columns each kind records, beyond the key, signed_on and
# effective_month: any other column filled in is an error (it would be
# dropped without a word).
COMMON_COLUMNS = ("decision_no", "signed_on", "kind", "citizen_id", "effective_month")
CHANNEL_COLUMNS = ("channel", "agent_code", "bank_account", "home_delivery")
USES = {
    "register": ("full_name", "birth_date", "sex", "province_code", "commune_code", "category",
                 "children_count", *CHANNEL_COLUMNS, "proxy_name", "proxy_citizen_id", "proxy_bank_account"),
    "change_category": ("category", "children_count"),
    "reassess_disability": ("category", "children_count"),
    "relocate_out": (),
    "relocate_in": ("province_code", "commune_code", *CHANNEL_COLUMNS),
    "change_channel": CHANNEL_COLUMNS,
    "authorize_proxy": ("proxy_name", "proxy_citizen_id", "proxy_bank_account"),
    "revoke_proxy": (),
    "suspend": ("reason",),
    "resume": ("reason",),
    "terminate": ("reason",),
}


class DecisionRow(BaseModel):
    """One row, types checked; which cells a kind needs is checked after."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision_no: str = Field(min_length=1, max_length=64)
    signed_on: date
    kind: str
    citizen_id: str
    full_name: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    province_code: str | None = Field(default=None, pattern=r"^\d{3}$")
    commune_code: str | None = Field(default=None, pattern=r"^[0-9A-Za-z-]{1,16}$")
    category: list[str] | None = None
    children_count: int | None = Field(default=None, ge=1, le=30)
    effective_month: str | None = None
    channel: str | None = None
    agent_code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    bank_account: str | None = Field(default=None, pattern=r"^[0-9A-Za-z-]{4,34}$")
    proxy_name: str | None = None
    proxy_citizen_id: str | None = None
    home_delivery: bool | None = None
    reason: str | None = None
    proxy_bank_account: str | None = Field(default=None, pattern=r"^[0-9A-Za-z-]{4,34}$")

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"unknown kind {value!r}; expected one of {', '.join(KINDS)}")
        return value

    @field_validator("citizen_id", "proxy_citizen_id")
    @classmethod
    def _citizen_id(cls, value: str | None) -> str | None:
        return None if value is None else cid.check_format(value)

    @field_validator("sex")
    @classmethod
    def _sex(cls, value: str | None) -> str | None:
        if value is not None and value not in ("M", "F"):
            raise ValueError("sex must be M or F")
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and value not in CHANNELS:
            raise ValueError("channel must be cash or bank")
        return value

    @field_validator("category", mode="before")
    @classmethod
    def _split_categories(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [code.strip() for code in value.split(";") if code.strip()]
        return value

    @field_validator("effective_month")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is not None:
            Month.parse(value)
        return value

    @field_validator("home_delivery", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lower() not in ("y", "n"):
                raise ValueError("home_delivery must be y or n")
            return value.lower() == "y"
        return value


def _row_problems(row: DecisionRow, known_categories: set[str]) -> list[tuple[str, str]]:
    """Kind-dependent rules: (column, message) for each one broken."""
    problems = [(name, f"{name} is required for kind {row.kind}")
                for name in NEEDS.get(row.kind, ()) if getattr(row, name) in (None, [])]
    used = (*COMMON_COLUMNS, *USES[row.kind])
    problems += [(name, f"{name} is not used by kind {row.kind}: leave it empty")
                 for name in OPTIONAL_COLUMNS if name not in used and name in row.model_fields_set]
    if row.proxy_citizen_id is not None and row.proxy_name is None and "proxy_name" in used:
        problems.append(("proxy_name", "proxy_name is required with proxy_citizen_id"))
    if row.proxy_bank_account is not None and row.proxy_name is None and "proxy_name" in used:
        problems.append(("proxy_name", "proxy_name is required with proxy_bank_account"))
    for code in row.category or []:
        if code not in known_categories:
            problems.append(("category", f"unknown category {code!r}"))
    if row.category and "SINGLE_PARENT" in row.category and row.children_count is None:
        problems.append(("children_count", "children_count is required with SINGLE_PARENT"))
    if row.channel is not None and row.agent_code is None:
        problems.append(("agent_code", "agent_code is required with channel"))
    if row.channel == "bank" and row.bank_account is None:
        problems.append(("bank_account", "bank_account is required when channel is bank"))
    if row.channel == "bank" and row.home_delivery:
        problems.append(("home_delivery", "home delivery is for cash only"))
    if row.kind == "register" and row.birth_date and row.sex:
        if row.birth_date > row.signed_on:
            problems.append(("birth_date", "birth_date is after signed_on"))
        try:
            cid.check_consistent(row.citizen_id, row.birth_date, row.sex)
        except cid.CitizenIdError as exc:
            problems.append(("citizen_id", str(exc)))
    return problems


def to_decision(row: DecisionRow) -> Decision:
    effective = Month.parse(row.effective_month) if row.effective_month else Month.containing(row.signed_on)
    return Decision(
        decision_no=row.decision_no, signed_on=row.signed_on, kind=row.kind,
        citizen_id=row.citizen_id, effective=effective,
        full_name=row.full_name or "", birth_date=row.birth_date, sex=row.sex or "",
        province_code=row.province_code or "", commune_code=row.commune_code or "",
        categories=tuple(row.category or ()), children_count=row.children_count or 0,
        channel=row.channel or "", agent_code=row.agent_code or "",
        bank_account=row.bank_account or "", proxy_name=row.proxy_name or "",
        proxy_citizen_id=row.proxy_citizen_id or "", home_delivery=bool(row.home_delivery),
        reason=row.reason or "", proxy_bank_account=row.proxy_bank_account or "",
    )


@dataclass
class ParsedDecisions:
    table: Table
    decisions: list[Decision]
    lines: list[int]  # the file line of each decision

    def problem(self, index: int, column: str, message: str) -> Problem:
        return self.table.problem(self.lines[index], column, message)


def parse_decisions(path: str | Path, known_categories: set[str]) -> ParsedDecisions:
    """The file's decisions in order, or InputRejected listing the problems
    (at most MAX_PROBLEMS of them)."""
    table = read_table(path, LAYOUT)
    decisions: list[Decision] = []
    lines: list[int] = []
    first_seen: dict[tuple[str, str, str], tuple[int, str]] = {}
    for row, parsed in validated_rows(table, DecisionRow, default_column="decision_no"):
        broken = _row_problems(parsed, known_categories)
        for column, message in broken:
            table.report(row.line, column, message)
        if broken:
            continue
        decision = to_decision(parsed)
        key = (decision.decision_no, decision.kind, decision.citizen_id)
        seen = first_seen.setdefault(key, (row.line, decision.fingerprint()))
        if seen[1] != decision.fingerprint():
            table.report(
                row.line, "decision_no",
                f"duplicate key: decision {decision.decision_no} ({decision.kind}) for "
                f"{decision.citizen_id} is on line {seen[0]} with different content")
            continue
        decisions.append(decision)
        lines.append(row.line)
    table.reject_if_problems()
    return ParsedDecisions(table, decisions, lines)
