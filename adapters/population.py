"""The population database check, for the CLI and the web alike: the
commands (import an answer file, resolve a review) as thin services over
ledger/population_app.py, and the typed answers of its queries (the review
queue, the match rates), which ``Queries`` serves."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Sequence

from ledger import population as pop
from ledger import population_app
from ledger.application import Rejected
from projections import population as pop_view

from .commands import Commands, receipted, recording
from .errors import CommandRefused
from .formats import registry


# --- the commands' typed summaries -----------------------------------------------------

@dataclass(frozen=True)
class PopulationImportSummary:
    file: str
    rows: int
    recorded_events: int
    unchanged_rows: int
    results: dict[str, int]
    held: list[str]
    not_in_ledger: list[dict] = field(default_factory=list)  # {"line", "citizen_id"}

    def as_dict(self) -> dict:
        return dict(file=self.file, rows=self.rows, recorded_events=self.recorded_events,
                    unchanged_rows=self.unchanged_rows, results=self.results, held=self.held,
                    not_in_ledger=self.not_in_ledger)


@dataclass(frozen=True)
class ResolveSummary:
    citizen_id: str
    resolved_as: str
    recorded_events: int
    changed: bool
    consequences: dict

    def as_dict(self) -> dict:
        return dict(citizen_id=self.citizen_id, resolved_as=self.resolved_as,
                    recorded_events=self.recorded_events, changed=self.changed, **self.consequences)


class PopulationCommands:
    """The recording commands of the check; they take the store's turn as
    every recording command does (``recording``)."""

    def __init__(self, commands: Commands):
        self.commands = commands
        self.runtime = commands.runtime

    def _committed_since(self, before: int) -> int | None:
        return self.commands._committed_since(before)

    @recording("import population")
    @receipted("population")
    def import_population(self, path: str | Path, actor: str, document: str = "") -> PopulationImportSummary:
        """``document`` names the file in the history (default: its name;
        the web gives the name it was uploaded under)."""
        app = self.runtime.app
        parsed = registry.read("population", path, today=self.runtime.today())
        document = document or Path(path).name
        try:
            outcome = self.commands.command(
                lambda: population_app.record_checks(app, parsed.items, document, actor))
        except Rejected as exc:
            from .tabular import InputRejected

            raise InputRejected([parsed.problem(p.row, p.field, p.message) for p in exc.problems]) from None
        self.runtime.catch_up()
        missing = [{"line": parsed.line_of(i), "citizen_id": parsed.items[i].citizen_id}
                   for i in outcome.not_in_ledger]
        return PopulationImportSummary(parsed.table.path, outcome.rows, outcome.recorded_events,
                                       outcome.unchanged_rows, outcome.results, outcome.held, missing)

    @recording("population resolve")
    def resolve(self, resolution: pop.Resolution, actor: str) -> ResolveSummary:
        app = self.runtime.app
        try:
            outcome = self.commands.command(lambda: population_app.resolve(app, resolution, actor))
        except Rejected as exc:
            raise CommandRefused("; ".join(p.message for p in exc.problems)) from None
        self.runtime.catch_up()
        return ResolveSummary(outcome.citizen_id, outcome.outcome, outcome.recorded_events, outcome.changed,
                              outcome.consequences)


# --- the queries' typed answers --------------------------------------------------------

@dataclass(frozen=True)
class ReviewItem:
    """One open review: what the ledger holds, what the database said."""

    citizen_id: str
    full_name: str
    commune_code: str
    awaiting: str  # deceased, not_found, differs
    checked_on: str
    checked_by: str
    differences: tuple[str, ...]
    held: bool  # payment held until the officer decides
    ledger: dict  # full_name, birth_date, sex, commune_code
    population_db: dict  # status, full_name, birth_date, sex, permanent_commune, date_of_death
    document: str

    def as_dict(self) -> dict:
        return {"citizen_id": self.citizen_id, "full_name": self.full_name, "commune_code": self.commune_code,
                "status": self.awaiting, "checked_on": self.checked_on, "checked_by": self.checked_by,
                "differences": list(self.differences), "held": self.held, "ledger": self.ledger,
                "population_db": self.population_db, "document": self.document}


def review_item(row: dict) -> ReviewItem:
    return ReviewItem(
        citizen_id=row["citizen_id"], full_name=row["full_name"], commune_code=row["commune_code"],
        awaiting=row["awaiting"], checked_on=row["checked_on"], checked_by=row["checked_by"],
        differences=tuple(d for d in row["differences"].split(";") if d),
        held=row["death_reported"] is not None,
        ledger={"full_name": row["full_name"], "birth_date": row["birth_date"], "sex": row["sex"],
                "commune_code": row["commune_code"], "status": row["ledger_status"]},
        population_db={"status": row["db_status"], "full_name": row["db_full_name"],
                       "birth_date": row["db_birth_date"], "sex": row["db_sex"],
                       "permanent_commune": row["db_commune"],
                       "date_of_death": row["death_reported"] or row["db_date_of_death"]},
        document=row["document"])


@dataclass(frozen=True)
class MatchRateRow:
    """People checked in a commune (or the whole district: ``level``), by
    the result of their latest check; ``match_rate`` = matched / checked."""

    level: str  # commune or district
    area: str
    checked: int
    matched: int
    not_found: int
    differs: int
    deceased: int

    @property
    def match_rate(self) -> float:
        return self.matched / self.checked if self.checked else 0.0

    def as_dict(self) -> dict:
        return {"level": self.level, "area": self.area, "checked": self.checked, "matched": self.matched,
                "not_found": self.not_found, "differs": self.differs, "deceased": self.deceased,
                "match_rate": round(self.match_rate, 4)}


DISTRICT = "district"


def match_rate_rows(results: Sequence[tuple[str, str]]) -> list[MatchRateRow]:
    rates = pop.match_rates(results, DISTRICT)
    return [MatchRateRow("commune" if i < len(rates) - 1 else "district", r.area, r.checked, r.matched,
                         r.not_found, r.differs, r.deceased) for i, r in enumerate(rates)]


QUEUE_STATUSES = (pop.DECEASED, pop.NOT_FOUND, pop.DIFFERS)


def read_queue(conn, statuses: Sequence[str] = (), commune: str | None = None) -> list[ReviewItem]:
    return [review_item(r) for r in pop_view.queue(conn, statuses, commune)]


def read_rates(conn) -> list[MatchRateRow]:
    return match_rate_rows(pop_view.latest_results(conn))


def resolution_from(citizen_id: str, outcome: str, reason: str, today: date, *, decision_no: str = "",
                    full_name: str = "", birth_date: date | None = None, sex: str = "",
                    population_citizen_id: str = "", date_of_death: date | None = None) -> pop.Resolution:
    """A resolution as typed at the command line or in the web form."""
    return pop.Resolution(citizen_id, outcome, reason.strip(), today, decision_no.strip(), full_name.strip(),
                          birth_date, sex.strip(), population_citizen_id.strip(), date_of_death)
