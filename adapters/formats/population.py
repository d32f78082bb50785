"""The population database's answer file (formats.md, "population check"),
CSV or XLSX, read through the shared row reader (adapters/tabular.py) and
validated row by row:

``citizen_id, full_name, birth_date, sex, status, date_of_death,
permanent_commune, checked_on``; ``status`` is ``alive``, ``deceased`` or
``not_found``; key ``citizen_id`` + ``checked_on``. ``sex`` is ``M``/``F``
(``Nam``/``Nữ`` are read as such). A ``deceased`` row needs its
``date_of_death``; any other row may not have one."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ledger import citizen_id as cid
from ledger.population import Answer

from ..tabular import Layout, Problem, Table, read_table, validated_rows

LAYOUT = Layout(
    required=("citizen_id", "status", "checked_on"),
    optional=("full_name", "birth_date", "sex", "date_of_death", "permanent_commune"),
    dates=("birth_date", "date_of_death", "checked_on"),
    text=("full_name", "sex"),
    zero_pad={"citizen_id": 12},
)

_SEX = {"m": "M", "nam": "M", "male": "M", "f": "F", "nữ": "F", "nu": "F", "female": "F"}


class AnswerRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    citizen_id: str
    status: Literal["alive", "deceased", "not_found"]
    checked_on: date
    full_name: str = ""
    birth_date: date | None = None
    sex: str = ""
    date_of_death: date | None = None
    permanent_commune: str = ""

    @field_validator("citizen_id")
    @classmethod
    def _id(cls, value: str) -> str:
        return cid.check_format(value)

    @field_validator("sex")
    @classmethod
    def _sex(cls, value: str) -> str:
        found = _SEX.get(value.casefold())
        if found is None:
            raise ValueError("sex must be M or F (or Nam, Nữ)")
        return found

    def problems(self, today: date) -> list[tuple[str, str]]:
        out = []
        if self.status == "deceased" and self.date_of_death is None:
            out.append(("date_of_death", "date_of_death is required when status is deceased"))
        if self.status != "deceased" and self.date_of_death is not None:
            out.append(("date_of_death", f"date_of_death is given but status is {self.status}"))
        if self.date_of_death is not None and self.date_of_death > self.checked_on:
            out.append(("date_of_death", "date_of_death is after checked_on"))
        if self.checked_on > today:
            out.append(("checked_on", f"checked_on {self.checked_on} is after today ({today})"))
        if self.birth_date is not None and self.birth_date > self.checked_on:
            out.append(("birth_date", "birth_date is after checked_on"))
        return out

    def to_domain(self) -> Answer:
        return Answer(self.citizen_id, self.status, self.checked_on, self.full_name, self.birth_date,
                      self.sex, self.date_of_death, self.permanent_commune)


@dataclass
class ParsedAnswers:
    table: Table
    items: list[Answer]
    lines: list[int]

    def problem(self, index: int, field: str, message: str) -> Problem:
        return self.table.problem(self.lines[index], field, message)

    def line_of(self, index: int) -> int:
        return self.lines[index]


def parse(path: str | Path, today: date) -> ParsedAnswers:
    """Every row checked; the file is refused (InputRejected, naming file,
    line and column) if any row is wrong. A row repeated exactly is read
    once; the same key with other content is an error."""
    table = read_table(path, LAYOUT)
    items, lines = [], []
    seen: dict[tuple[str, date], tuple[int, AnswerRow]] = {}
    for row, parsed in validated_rows(table, AnswerRow, default_column="citizen_id"):
        broken = parsed.problems(today)
        for column, message in broken:
            table.report(row.line, column, message)
        if broken:
            continue
        key = (parsed.citizen_id, parsed.checked_on)
        first_line, first = seen.setdefault(key, (row.line, parsed))
        if first != parsed:
            table.report(row.line, "citizen_id", f"duplicate key: {parsed.citizen_id} checked on "
                                                 f"{parsed.checked_on} is on line {first_line} with other content")
        elif first_line == row.line:
            items.append(parsed.to_domain())
            lines.append(row.line)
    table.reject_if_problems()
    return ParsedAnswers(table, items, lines)
