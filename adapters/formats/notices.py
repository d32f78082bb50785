"""What the notice files share (deaths.py, recoveries.py): one row per
notice or receipt about a citizen, keyed by its own number; the same
number twice with different content is refused."""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, field_validator

from ledger import citizen_id as cid

from ..tabular import Layout, Problem, Table, read_table, validated_rows


class CitizenRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    citizen_id: str

    @field_validator("citizen_id")
    @classmethod
    def _id(cls, value: str) -> str:
        return cid.check_format(value)


@dataclass
class Parsed:
    table: Table
    items: list
    lines: list[int]
    columns: dict[str, str]

    def problem(self, index: int, field: str, message: str) -> Problem:
        return self.table.problem(self.lines[index], self.columns.get(field, field), message)


def parse_keyed(path, model, layout: Layout, key: str, aliases: dict[str, str]) -> Parsed:
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
