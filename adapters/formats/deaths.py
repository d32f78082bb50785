"""deaths.csv / .xlsx (formats.md, "deaths.csv"): who died, when, who
reported it and on what document; the ledger derives the consequences."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field

from ledger.decisions import DEATH_SOURCES, DeathNotice

from ..tabular import Layout
from .notices import CitizenRow, Parsed, parse_keyed


class DeathRow(CitizenRow):
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


DEATH_LAYOUT = Layout(
    required=("notice_id", "citizen_id", "date_of_death", "source", "reported_on"),
    optional=("document_no", "funeral_arranged_by", "corrects"),
    dates=("date_of_death", "reported_on"), text=("funeral_arranged_by",),
    zero_pad={"citizen_id": 12})

def parse(path: str | Path) -> Parsed:
    return parse_keyed(path, DeathRow, DEATH_LAYOUT, "notice_id", {})
