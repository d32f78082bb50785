"""The composition root: the one place that reads the settings, picks the
store, the clock, the rules and the agents' contracts, and wires the
application, the read models and the hash chain for one database.

Commands (adapters/commands.py) and queries (adapters/queries.py) are given
the ``Runtime`` built here and never assemble anything themselves."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

import sqlalchemy as sa

from ledger.application import LedgerApp
from ledger.contracts import Contracts
from ledger.months import Month
from ledger.rules import RuleSet
from projections.chain import ChainKeeper
from projections.entitlements import EntitlementsProjection
from projections.office_figures import OfficeFiguresProjection
from projections.payouts import PayoutsProjection
from projections.postings import PostingsProjection
from projections.runner import ProjectionRunner
from projections.write_offs import WriteOffsProjection
from projections.imports import ImportsProjection

from . import clock, progress
from .command_lock import CommandTurns, turns_for
from .gc_pause import without_cycle_collector
from .rulefiles import default_contracts, default_ruleset
from .settings import LedgerSettings, OfficeSettings
from .snapshots import SnapshotCodec, SnapshotLoader
from .store import EventFactsHistory, Store, open_store, raw_event_rows


def view_projections(rules: RuleSet, history) -> list:
    """Every read model, in the order they are folded; ``history`` gives the
    entitlements view people's earlier facts from the event store."""
    return [EntitlementsProjection(rules, history), PayoutsProjection(), PostingsProjection(),
            WriteOffsProjection(), ImportsProjection(),
            OfficeFiguresProjection()]


@dataclass(frozen=True)
class Runtime:
    """Everything one database's commands and queries work with, wired."""

    store: Store
    app: LedgerApp
    engine: sa.Engine
    loader: SnapshotLoader  # people from the event store and its snapshots: commands never read a view
    runner: ProjectionRunner
    chain: ChainKeeper
    rules: RuleSet
    contracts: Contracts
    office: OfficeSettings
    today: Callable[[], date]
    turns: CommandTurns  # one recording command at a time on this store (adapters/command_lock.py)
    signing_key_file: Path | None = None  # the office's key for signed checkpoints

    def this_month(self) -> Month:
        return Month.containing(self.today())

    @without_cycle_collector
    def catch_up(self, *, show_progress: bool = True) -> int:
        """Bring every read model up to the last recorded event (the events
        were sealed as they were written, by the recorder)."""
        pending = self.runner.pending()
        if not pending:
            return 0
        with progress.bar(pending, "projections", enabled=show_progress) as advance:
            return self.runner.catch_up(advance)

    def views_elsewhere(self, url: str) -> ProjectionRunner:
        """A runner folding this event log into fresh views on another store
        (never the live views); its engine is the caller's to dispose of."""
        runner = ProjectionRunner(open_store(url).engine(), self.app.recorder, self.app.mapper,
                                  view_projections(self.rules, self.history()))
        runner.create_tables()
        return runner

    def history(self) -> EventFactsHistory:
        return EventFactsHistory(self.store, self.engine, self.app.mapper)

    def close(self) -> None:
        self.turns.close()
        self.engine.dispose()
        self.app.close()


def build_runtime(url: str | None = None, rules: RuleSet | None = None,
                  contracts: Contracts | None = None, settings: LedgerSettings | None = None) -> Runtime:
    settings = settings or LedgerSettings.load()
    store = open_store(url or settings.database_url, cipher_key=settings.key())
    rules = rules or default_ruleset()
    app = LedgerApp(env=dict(store.env), rules=rules)
    engine = store.engine()
    loader = SnapshotLoader(store, engine, app.mapper)
    app.use_loader(loader, loader.all, SnapshotCodec(app.mapper).row)
    app.progress = lambda label, total: progress.bar(total, label)
    runner = ProjectionRunner(engine, app.recorder, app.mapper,
                              view_projections(rules, EventFactsHistory(store, engine, app.mapper)))
    runner.create_tables()
    chain = ChainKeeper(engine, raw_event_rows(store, engine))
    return Runtime(store=store, app=app, engine=engine, loader=loader, runner=runner, chain=chain, rules=rules,
                   contracts=contracts or default_contracts(), office=settings.office(),
                   today=clock.today, turns=turns_for(store, settings.lock_wait_seconds),
                   signing_key_file=settings.signing_key_file)


@contextmanager
def open_runtime(url: str | None = None, rules: RuleSet | None = None,
                 contracts: Contracts | None = None, settings: LedgerSettings | None = None) -> Iterator[Runtime]:
    runtime = build_runtime(url, rules, contracts, settings)
    try:
        yield runtime
    finally:
        runtime.close()
