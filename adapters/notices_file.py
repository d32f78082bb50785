"""deaths.csv (death notices) and recoveries.csv (repayments, offsets and
write-offs of overpayments), validated row by row with pydantic."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ledger import citizen_id as cid
from ledger.decisions import DEATH_SOURCES, DeathNotice
from ledger.payouts import Recovery

from .tabular import Layout, Problem, Table, read_table, validated_rows


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    citizen_id: str

    @field_validator("citizen_id")
    @classmethod
    def _id(cls, value: str) -> str:
        return cid.check_format(value)


class DeathRow(_Row):
    notice_id: str = Field(min_length=1, max_length=64)
    date_of_death: date
    source: Literal[DEATH_SOURCES]  # type: ignore[valid-type]
    reported_on: date
    document_no: str = ""
    funeral_arranged_by: str = ""
    corrects: str = ""  # the notice whose date of death this one corrects

    def problems(self) -> list[tuple[str, str]]:
        if self.reported_on < self.date_of_death:
            return [("reported_on", "reported_on is before date_of_death")]
        return []

    def to_domain(self) -> DeathNotice:
        return DeathNotice(self.notice_id, self.citizen_id, self.date_of_death, self.source,
                           self.reported_on, self.document_no, self.funeral_arranged_by, self.corrects)


class RecoveryRow(_Row):
    receipt_no: str = Field(min_length=1, max_length=64)
    amount: int = Field(gt=0)
    paid_on: date
    paid_by: str = Field(min_length=1)
    method: Literal["cash", "bank", "offset", "write_off"]
    decision_no: str = ""  # required for offset and write_off
    reason: str = ""  # required for write_off

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if self.method in ("offset", "write_off") and not self.decision_no:
            out.append(("decision_no", f"decision_no is required for method {self.method}"))
        if self.method == "write_off" and not self.reason:
            out.append(("reason", "reason is required for method write_off"))
        return out

    def to_domain(self) -> tuple[str, Recovery]:
        return self.citizen_id, Recovery(self.receipt_no, self.amount, self.paid_on, self.paid_by,
                                         self.method, self.decision_no, self.reason)


DEATH_LAYOUT = Layout(
    required=("notice_id", "citizen_id", "date_of_death", "source", "reported_on"),
    optional=("document_no", "funeral_arranged_by", "corrects"),
    dates=("date_of_death", "reported_on"), text=("funeral_arranged_by",),
    zero_pad={"citizen_id": 12})
RECOVERY_LAYOUT = Layout(
    required=("receipt_no", "citizen_id", "amount", "paid_on", "paid_by", "method"),
    optional=("decision_no", "reason"),
    dates=("paid_on",), money=("amount",), text=("paid_by", "reason"),
    zero_pad={"citizen_id": 12})


@dataclass
class Parsed:
    table: Table
    items: list
    lines: list[int]
    columns: dict[str, str]

    def problem(self, index: int, field: str, message: str) -> Problem:
        return self.table.problem(self.lines[index], self.columns.get(field, field), message)


def _parse(path, model, layout: Layout, key: str, aliases: dict[str, str]) -> Parsed:
    table = read_table(path, layout)
    items, lines = [], []
    seen: dict[str, tuple[int, object]] = {}
    for row, parsed in validated_rows(table, model, default_column=key):
        broken = parsed.problems()
        for column, message in broken:
            table.report(row.line, column, message)
        if broken:
            continue
        first_line, first = seen.setdefault(getattr(parsed, key), (row.line, parsed))
        if first != parsed:
            table.report(row.line, key, f"duplicate key: {key} {getattr(parsed, key)} "
                                        f"is on line {first_line} with different content")
        elif first_line == row.line:
            items.append(parsed.to_domain())
            lines.append(row.line)
    table.reject_if_problems()
    return Parsed(table, items, lines, aliases)


def parse_deaths(path: str | Path) -> Parsed:
    return _parse(path, DeathRow, DEATH_LAYOUT, "notice_id", {})


def parse_recoveries(path: str | Path) -> Parsed:
    return _parse(path, RecoveryRow, RECOVERY_LAYOUT, "receipt_no", {})
