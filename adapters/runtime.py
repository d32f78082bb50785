"""The composition root: wires the store, the application, the projections
and the partner-file adapters for one database."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from eventsourcing.persistence import IntegrityError

from ledger.application import LedgerApp, Rejected
from ledger.rules import RuleSet
from projections.entitlements import EntitlementsProjection
from projections.runner import ProjectionRunner

from . import progress
from .decisions_file import parse_decisions
from .rulefiles import default_ruleset
from .store import StateLoader, Store, open_store
from .tabular import InputRejected


@dataclass(frozen=True)
class ImportSummary:
    file: str
    rows: int
    recorded_events: int
    unchanged_rows: int

    def as_dict(self) -> dict:
        return dict(file=self.file, rows=self.rows, recorded_events=self.recorded_events,
                    unchanged_rows=self.unchanged_rows)


T = TypeVar("T")


class Ledger:
    RETRIES = 3

    def __init__(self, url: str | None = None, rules: RuleSet | None = None):
        self.store: Store = open_store(url)
        self.rules = rules or default_ruleset()
        self.app = LedgerApp(env=dict(self.store.env), rules=self.rules)
        self.engine = self.store.engine()
        self.app.use_loader(StateLoader(self.engine))
        self.runner = ProjectionRunner(
            self.engine, self.app.recorder, self.app.mapper,
            [EntitlementsProjection(self.rules)],
        )
        self.runner.create_tables()

    def close(self) -> None:
        self.engine.dispose()
        self.app.close()

    # --- projections ----------------------------------------------------------

    def catch_up(self, *, show_progress: bool = True) -> int:
        """Bring every read model up to the last recorded event."""
        pending = self.runner.pending()
        if not pending:
            return 0
        with progress.bar(pending, "projections", enabled=show_progress) as advance:
            return self.runner.catch_up(advance)

    # --- imports --------------------------------------------------------------

    def command(self, run: Callable[[], T]) -> T:
        """Run a command on caught-up read models (aggregates are restored
        from them); if another writer got in first, catch up and run it again."""
        for attempt in range(self.RETRIES):
            self.catch_up()
            try:
                return run()
            except IntegrityError:
                if attempt == self.RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def import_decisions(self, path: str | Path, actor: str) -> ImportSummary:
        parsed = parse_decisions(path, self.rules.category_codes())
        try:
            outcome = self.command(lambda: self.app.record_decisions(parsed.decisions, actor))
        except Rejected as exc:
            raise InputRejected([parsed.problem(p.row, p.field, p.message)
                                 for p in exc.problems]) from None
        self.catch_up()
        return ImportSummary(str(path), outcome.rows, outcome.recorded_events, outcome.unchanged_rows)


@contextmanager
def open_ledger(url: str | None = None, rules: RuleSet | None = None) -> Iterator[Ledger]:
    ledger = Ledger(url, rules)
    try:
        yield ledger
    finally:
        ledger.close()
