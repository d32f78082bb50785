"""The composition root: wires the store, the application, the projections
and the partner-file adapters for one database."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ledger.application import LedgerApp, Rejected
from ledger.rules import RuleSet
from projections.entitlements import EntitlementsProjection
from projections.runner import ProjectionRunner

from . import progress
from .decisions_file import parse_decisions
from .rulefiles import default_ruleset
from .store import BulkLoader, Store, open_store
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


class Ledger:
    def __init__(self, url: str | None = None, rules: RuleSet | None = None):
        self.store: Store = open_store(url)
        self.rules = rules or default_ruleset()
        self.app = LedgerApp(env=dict(self.store.env), rules=self.rules)
        self.loader = BulkLoader(self.store, self.app)
        self.app.use_loader(self.loader)
        self.engine = self.store.engine()
        self.runner = ProjectionRunner(
            self.engine, self.app.recorder, self.app.mapper,
            [EntitlementsProjection(self.rules)],
        )
        self.runner.create_tables()

    def close(self) -> None:
        self.loader.close()
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

    def import_decisions(self, path: str | Path, actor: str) -> ImportSummary:
        parsed = parse_decisions(path, self.rules.category_codes())
        try:
            outcome = self.app.record_decisions(parsed.decisions, actor)
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
