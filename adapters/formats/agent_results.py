"""What an agent sends back about the lines it was given (formats.md,
"postoffice-result.csv", "bank-result.csv"): the parts the post office's and the bank's result files
share. Rows are validated with pydantic and become domain AgentResults;
any problem rejects the whole file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ledger.payouts import AgentResult

from ..tabular import Problem, Table, validated_rows


class ResultRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payroll_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}/\d{4}-(0[1-9]|1[0-2])$")
    # 35 characters: the most an ISO 20022 end-to-end id holds.
    line_id: str = Field(min_length=1, max_length=35)


@dataclass
class ParsedResults:
    table: Table
    results: list[AgentResult]
    lines: list[int]
    # The domain names the amount "amount"; a post office file calls it amount_paid.
    columns: dict[str, str]

    def problem(self, index: int, field: str, message: str) -> Problem:
        return self.table.problem(self.lines[index], self.columns.get(field, field), message)


def parse_results(table: Table, model: type[ResultRow], aliases: dict[str, str]) -> ParsedResults:
    document = Path(table.path).name
    results, lines = [], []
    first_seen: dict[tuple[str, str], tuple[int, AgentResult]] = {}
    for row, parsed in validated_rows(table, model, default_column="line_id"):
        broken = parsed.kind_problems()
        for column, message in broken:
            table.report(row.line, column, message)
        if broken:
            continue
        result = parsed.to_result(document)
        key = (result.payroll_id, result.line_id)
        seen_line, seen = first_seen.setdefault(key, (row.line, result))
        if seen != result:
            table.report(row.line, "line_id", f"duplicate key: line {result.line_id} is on line "
                                              f"{seen_line} with different content")
            continue
        if seen_line != row.line:
            continue  # the same line twice: once is enough
        results.append(result)
        lines.append(row.line)
    table.reject_if_problems()
    return ParsedResults(table, results, lines, aliases)
