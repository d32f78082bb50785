"""The write side: thin application services over ``LedgerApp``. Each
command parses its file (adapters), lets ``ledger/application.py`` decide
and record, brings the read models up to date and returns a typed summary
(``as_dict()`` with the keys of cli.md)."""
from __future__ import annotations

import functools
import inspect
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from eventsourcing.persistence import IntegrityError

from ledger.application import Rejected
from ledger.errors import Refused, SamePersonRefused
from ledger.months import Month
from ledger.settlement import UnknownVariance
from ledger.payroll import PayrollOutOfOrder, SamePerson, list_digest, list_entry
from projections import entitlements as people_view
from projections import payouts as pay_view
from projections.chain import NotHistoryBeforeTheChain

from . import payroll_files, progress
from .bootstrap import Runtime
from .errors import CommandInterrupted, CommandRefused, NotPermitted, is_connection_failure
from .formats import bank_profiles, pain001, printable_list, registry
from .formats.payroll_list import ListTotals, PayrollFileLine, TotalsDiffer
from .gc_pause import without_cycle_collector
from .import_receipts import ImportObserver, file_sha256, preview_of
from .queries import Queries, StoreStatus
from .settlement_books import ViewDiffers, month_books, view_differences
from .store import last_position
from .tabular import InputRejected, Problem

T = TypeVar("T")
log = logging.getLogger(__name__)


class FieldsRejected(CommandRefused):
    """A typed-in decision or notice refused: (field, message) for each problem."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportSummary:
    file: str
    rows: int
    recorded_events: int
    unchanged_rows: int
    changes: dict = field(default_factory=dict)  # what the file changed (ledger.application.RecordOutcome)

    def as_dict(self) -> dict:
        return dict(file=self.file, rows=self.rows, recorded_events=self.recorded_events,
                    unchanged_rows=self.unchanged_rows, **self.changes)


@dataclass(frozen=True)
class PayrollSummary:
    month: str
    files: list[str]
    lines: int  # new lines issued for the month
    amount: int  # VND advanced with them
    carried_lines: int
    carried_amount: int
    issued_now: bool
    prepared_by: str = ""
    released_by: str = ""

    def as_dict(self) -> dict:
        return dict(month=self.month, files=self.files, lines=self.lines, amount=self.amount,
                    carried_lines=self.carried_lines, carried_amount=self.carried_amount,
                    issued_now=self.issued_now, prepared_by=self.prepared_by, released_by=self.released_by)


@dataclass(frozen=True)
class PreparationSummary:
    """A month's prepared payroll (nothing issued yet), or a month released before."""

    month: str
    preparation: int
    prepared_by: str
    prepared_now: bool
    released: bool
    digest: str
    agents: list[dict]  # per agent: channel, lines, amount, arrears_lines, arrears_amount, carried_*

    def as_dict(self) -> dict:
        return dict(month=self.month, preparation=self.preparation, prepared_by=self.prepared_by,
                    prepared_now=self.prepared_now, released=self.released, digest=self.digest,
                    lines=sum(a["lines"] for a in self.agents), amount=sum(a["amount"] for a in self.agents),
                    arrears_lines=sum(a["arrears_lines"] for a in self.agents),
                    arrears_amount=sum(a["arrears_amount"] for a in self.agents),
                    carried_lines=sum(a["carried_lines"] for a in self.agents),
                    carried_amount=sum(a["carried_amount"] for a in self.agents), agents=self.agents)


def agent_figures(agents: dict) -> list[dict]:
    """Each agent's list as the calendar recorded it, in plain figures."""
    return [dict(agent_code=code, channel=run["channel"], lines=len(run["lines"]), amount=run["advance_vnd"],
                 arrears_lines=run.get("arrears_lines", 0), arrears_amount=run.get("arrears_vnd", 0),
                 carried_lines=len(run["carried"]), carried_amount=run["carried_vnd"])
            for code, run in sorted(agents.items())]


@dataclass(frozen=True)
class SealSummary:
    sealed: int  # events stored before the chain, sealed now
    first_position: int | None
    last_position: int | None
    rechained: int  # seals after them, chained on anew
    head_position: int
    head_hash: str

    def as_dict(self) -> dict:
        return dict(sealed=self.sealed, first_position=self.first_position, last_position=self.last_position,
                    rechained=self.rechained, head={"position": self.head_position, "hash": self.head_hash})


@dataclass(frozen=True)
class ResultsSummary:
    file: str
    rows: int
    recorded: int
    unchanged: int
    suspended: list[str]
    flagged: list[tuple[str, str]]
    ignored: list[str] = field(default_factory=list)  # bank entries that are not payroll transfers

    def as_dict(self) -> dict:
        shown = dict(file=self.file, rows=self.rows, recorded_events=self.recorded,
                     unchanged_rows=self.unchanged, suspended=self.suspended,
                     paid_after_death=[{"citizen_id": c, "line_id": l} for c, l in self.flagged])
        if self.ignored:
            shown["ignored_entries"] = self.ignored
        return shown


@dataclass(frozen=True)
class WriteOffSummary:
    citizen_id: str
    receipt_no: str
    amount: int
    status: str  # proposed, approved, rejected
    recorded_now: bool  # False: it was so before, nothing recorded
    proposed_by: str = ""
    decided_by: str = ""

    def as_dict(self) -> dict:
        return dict(citizen_id=self.citizen_id, receipt_no=self.receipt_no, amount=self.amount,
                    status=self.status, recorded_now=self.recorded_now, proposed_by=self.proposed_by,
                    decided_by=self.decided_by)


def recording(name: str):
    """A recording command: it takes the store's turn for its whole run
    (reads, transaction, files; adapters/command_lock.py), and if the
    database fails under it, says whether what it wrote was committed."""
    def wrap(method):
        signature = inspect.signature(method)

        @functools.wraps(method)
        def run(self: Commands, *args, **kwargs):
            known = {k: v for k, v in kwargs.items() if k in signature.parameters}  # not a wrapper's own options
            actor = signature.bind_partial(self, *args, **known).arguments.get("actor", "")
            with self.runtime.turns.hold(name, actor):
                before = last_position(self.runtime.store, self.runtime.engine)
                try:
                    return method(self, *args, **kwargs)
                except Exception as exc:
                    if is_connection_failure(exc):
                        raise CommandInterrupted(name, exc, self._committed_since(before)) from exc
                    raise
        return run
    return wrap


class PreviewDiffers(CommandRefused):
    """A confirmed import that is not what its dry run showed (another file,
    or the ledger changed since): nothing recorded."""


def receipted(kind: str):
    """An import that leaves a receipt (ledger/imports.py) in its own
    transaction, and can be rehearsed: ``dry_run=True`` returns an
    ``ImportPreview`` of all it would record, recording nothing.
    ``expect_sha256`` refuses a file other than the one previewed;
    ``expect_outcome`` (a preview's ``outcome_digest()``) refuses an import
    that would now record anything else than was previewed (checked by a
    rehearsal while this command holds the store's turn)."""
    def wrap(method):
        @functools.wraps(method)
        def run(self: Commands, path, actor, *args, dry_run: bool = False, file_name: str | None = None,
                expect_sha256: str | None = None, expect_outcome: str | None = None, **kwargs):
            sha, size = file_sha256(path)
            name = file_name or Path(path).name
            if expect_sha256 is not None and sha != expect_sha256:
                raise PreviewDiffers(f"{name} is not the file that was previewed (its SHA-256 is {sha}, "
                                     f"not {expect_sha256}): nothing was recorded; run the dry run again")

            def attempt(rehearsal: bool):
                observer = ImportObserver(kind, path, name, actor, rehearsal=rehearsal, sha256=sha, size_bytes=size)
                with self.runtime.app.observed(observer, rehearse=rehearsal):
                    summary = method(self, path, actor, *args, **kwargs)
                return observer, summary

            if dry_run or expect_outcome is not None:
                preview = preview_of(*attempt(True))
                if dry_run:
                    return preview
                if preview.outcome_digest() != expect_outcome:
                    raise PreviewDiffers(f"importing {name} would now record other than its dry run showed "
                                         "(the ledger changed since): nothing was recorded; run the dry run again")
            return attempt(False)[1]
        return run
    return wrap


class Commands:
    RETRIES = 3
    RECONNECT_ATTEMPTS = 5
    RECONNECT_PAUSE_SECONDS = 1.0

    def __init__(self, runtime: Runtime, queries: Queries | None = None):
        self.runtime = runtime
        self.queries = queries or Queries(runtime)  # close_month settles on the books first

    # --- running a command ----------------------------------------------------------

    def catch_up(self, *, show_progress: bool = True) -> int:
        return self.runtime.catch_up(show_progress=show_progress)

    @without_cycle_collector
    def command(self, run: Callable[[], T]) -> T:
        """Run a command (it loads people from the event store, never from a
        view); if another writer got in first, run it again on what that
        writer recorded."""
        for attempt in range(self.RETRIES):
            try:
                return run()
            except IntegrityError:
                if attempt == self.RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _committed_since(self, before: int) -> int | None:
        """After the database failed mid-command: reconnect and count the
        events recorded after ``before`` (while this command held the turn,
        only its own); None if the database cannot be reached to tell."""
        for attempt in range(self.RECONNECT_ATTEMPTS):
            self.runtime.engine.dispose()  # the pooled connections died with the server
            try:
                store = self.runtime.store
                position = "rowid" if store.kind == "sqlite" else "notification_id"
                import sqlalchemy as sa

                with self.runtime.engine.connect() as conn:
                    return conn.execute(sa.text(f"SELECT count(*) FROM {store.events_table} "
                                                f"WHERE {position} > :before"), {"before": before}).scalar()
            except Exception as exc:  # noqa: BLE001 - any failure to reconnect is "cannot tell yet"
                if not is_connection_failure(exc):
                    return None
                time.sleep(self.RECONNECT_PAUSE_SECONDS)
        return None

    def init(self) -> StoreStatus:
        """Create the stores (done on opening) and bring the views up to date."""
        self.runtime.catch_up()
        return self.queries.store_status()

    # --- imports ---------------------------------------------------------------------

    @recording("import decisions")
    @receipted("decisions")
    def import_decisions(self, path: str | Path, actor: str) -> ImportSummary:
        app = self.runtime.app
        parsed = registry.read("decisions", path, known_categories=self.runtime.rules.category_codes())
        try:
            outcome = self.command(lambda: app.record_decisions(parsed.decisions, actor))
        except Rejected as exc:
            raise InputRejected([parsed.problem(p.row, p.field, p.message)
                                 for p in exc.problems]) from None
        self.runtime.catch_up()
        return ImportSummary(str(path), outcome.rows, outcome.recorded_events, outcome.unchanged_rows,
                             outcome.changes)

    def _import_items(self, parsed, record) -> ImportSummary:
        try:
            outcome = self.command(lambda: record(parsed.items))
        except Rejected as exc:
            raise InputRejected([parsed.problem(p.row, p.field, p.message)
                                 for p in exc.problems]) from None
        self.runtime.catch_up()
        return ImportSummary(parsed.table.path, outcome.rows, outcome.recorded_events, outcome.unchanged_rows,
                             outcome.changes)

    @recording("import deaths")
    @receipted("deaths")
    def import_deaths(self, path: str | Path, actor: str) -> ImportSummary:
        app = self.runtime.app
        return self._import_items(registry.read("deaths", path), lambda items: app.record_deaths(items, actor))

    @recording("import confirmations")
    @receipted("confirmations")
    def import_confirmations(self, path: str | Path, actor: str) -> ImportSummary:
        app = self.runtime.app
        return self._import_items(registry.read("confirmations", path),
                                  lambda items: app.record_confirmations(items, actor))

    @recording("import recoveries")
    @receipted("recoveries")
    def import_recoveries(self, path: str | Path, actor: str, four_eyes: bool = False) -> ImportSummary:
        """Repayments, offsets and write-offs; with ``four_eyes`` each
        write-off is recorded as proposed, for another person to approve."""
        app = self.runtime.app
        return self._import_items(registry.read("recoveries", path),
                                  lambda items: app.record_recoveries(items, actor, four_eyes))

    # --- write-offs (four eyes) -------------------------------------------------------

    @recording("write-off propose")
    def propose_write_off(self, citizen_id: str, amount_vnd: int, decision_no: str, reason: str, actor: str,
                          receipt_no: str | None = None) -> WriteOffSummary:
        """Propose writing off an open overpayment; nothing moves until
        another person approves it."""
        from ledger.payouts import Recovery

        receipt = (receipt_no or decision_no).strip()
        recovery = Recovery(receipt, amount_vnd, self.runtime.today(), "", "write_off", decision_no.strip(),
                            reason.strip())
        app = self.runtime.app

        def run() -> bool:
            person = app.beneficiary(citizen_id)
            if person is None:
                raise Refused("citizen_id", f"{citizen_id} is not registered")
            changed = person.propose_write_off(recovery, app.rules, actor)
            if changed:
                app.save(person)
            return changed
        try:
            changed = self.command(run)
        except Refused as exc:
            raise CommandRefused(f"{exc.field}: {exc.message}") from None
        self.runtime.catch_up()
        return WriteOffSummary(citizen_id, receipt, amount_vnd, "proposed", changed, proposed_by=actor)

    @recording("write-off decide")
    def decide_write_off(self, citizen_id: str, receipt_no: str, actor: str, approve: bool = True,
                         reason: str = "", four_eyes: bool = True) -> WriteOffSummary:
        """Approve (the money moves now) or reject a proposed write-off;
        never by the person who proposed it when ``four_eyes``."""
        app = self.runtime.app
        person = app.beneficiary(citizen_id)
        proposal = person.state.book.proposal(receipt_no) if person is not None else None
        try:
            changed = self.command(lambda: app.decide_write_off(citizen_id, receipt_no, actor, approve=approve,
                                                                on=self.runtime.today(), reason=reason,
                                                                four_eyes=four_eyes))
        except SamePersonRefused as exc:
            raise NotPermitted(exc.message) from None
        except Refused as exc:
            raise CommandRefused(f"{exc.field}: {exc.message}") from None
        self.runtime.catch_up()
        return WriteOffSummary(citizen_id, receipt_no, proposal.amount_vnd if proposal else 0,
                               "approved" if approve else "rejected", changed,
                               proposed_by=proposal.proposed_by if proposal else "", decided_by=actor)

    # --- one decision or notice, typed in (the unclaimed queue's follow-up) ------------

    @recording("record decision")
    def record_decision(self, fields: dict[str, str], actor: str) -> ImportSummary:
        """One decision given as a decisions file's cells (formats.md), checked
        as a file's row is, then recorded as an import of it would."""
        from pydantic import ValidationError

        from .formats.decisions import DecisionRow, _row_problems, to_decision
        from .tabular import month_window

        cells = {name: value for name, value in fields.items() if value not in (None, "")}
        try:
            row = DecisionRow(**cells)
        except ValidationError as exc:
            raise FieldsRejected([(".".join(str(x) for x in e["loc"]) or "decision_no", e["msg"])
                                  for e in exc.errors()]) from None
        problems = _row_problems(row, self.runtime.rules.category_codes())
        if row.effective_month:
            late = month_window(row.effective_month, row.signed_on.isoformat(), "signed_on", 12)
            if late:
                problems.append(("effective_month", late))
        if problems:
            raise FieldsRejected(problems)
        app = self.runtime.app
        try:
            outcome = self.command(lambda: app.record_decisions([to_decision(row)], actor))
        except Rejected as exc:
            raise FieldsRejected([(p.field, p.message) for p in exc.problems]) from None
        self.runtime.catch_up()
        return ImportSummary("", outcome.rows, outcome.recorded_events, outcome.unchanged_rows, outcome.changes)

    @recording("record death")
    def record_death(self, fields: dict[str, str], actor: str) -> ImportSummary:
        """One death notice given as a notices file's cells, checked as a
        file's row is, then recorded as an import of it would."""
        from pydantic import ValidationError

        from .formats.deaths import DeathRow

        try:
            row = DeathRow(**{k: v for k, v in fields.items() if v not in (None, "")})
        except ValidationError as exc:
            raise FieldsRejected([(".".join(str(x) for x in e["loc"]) or "notice_id", e["msg"])
                                  for e in exc.errors()]) from None
        if row.problems():
            raise FieldsRejected(row.problems())
        app = self.runtime.app
        try:
            outcome = self.command(lambda: app.record_deaths([row.to_domain()], actor))
        except Rejected as exc:
            raise FieldsRejected([(p.field, p.message) for p in exc.problems]) from None
        self.runtime.catch_up()
        return ImportSummary("", outcome.rows, outcome.recorded_events, outcome.unchanged_rows, outcome.changes)

    def _import_results(self, parsed, actor: str, report: str | Path | None) -> ResultsSummary:
        app, today = self.runtime.app, self.runtime.today
        reports = registry.read("agent_report", report) if report else []
        try:
            outcome = self.command(lambda: app.record_agent_results(parsed.results, actor, today(), reports))
        except Rejected as exc:
            raise InputRejected([
                parsed.problem(p.row, p.field, p.message) if p.row >= 0
                else Problem(str(report), 2, 2, p.message) for p in exc.problems]) from None
        self.runtime.catch_up()
        return ResultsSummary(parsed.table.path, outcome.rows, outcome.recorded, outcome.unchanged,
                              outcome.suspended, outcome.flagged, list(getattr(parsed.table, "ignored", [])))

    @recording("import postoffice")
    @receipted("postoffice")
    def import_postoffice(self, path: str | Path, actor: str, report: str | Path | None = None) -> ResultsSummary:
        return self._import_results(registry.read("postoffice", path), actor, report)

    @recording("import bank")
    @receipted("bank")
    def import_bank(self, path: str | Path, actor: str, report: str | Path | None = None) -> ResultsSummary:
        def payroll_ids(line_ids: set[str]) -> dict[str, str]:
            with self.runtime.engine.connect() as conn:
                return pay_view.payroll_ids_of(conn, line_ids)
        return self._import_results(registry.read("bank", path, payroll_ids=payroll_ids), actor, report)

    # --- the payroll -----------------------------------------------------------------

    @recording("payroll run")
    def run_payroll(self, month: Month, out_dir: str | Path, actor: str, four_eyes: bool = False) -> PayrollSummary:
        """Prepare and release the month's payroll at once, by one person
        (refused when four eyes are on), and write every agent's files from
        what was recorded, so a second run rewrites the same files."""
        if four_eyes:
            raise NotPermitted("four eyes are on (four_eyes): a payroll is prepared by one person "
                               f"(`ledger payroll prepare --month {month}`) and released by another "
                               f"(`ledger payroll release --month {month} --out DIR`)")
        self._check_debtor_account()
        try:
            outcome = self.command(lambda: self.runtime.app.run_payroll(month, actor))
        except PayrollOutOfOrder as exc:
            raise CommandRefused(str(exc)) from None
        self.runtime.catch_up()
        return self._issued(month, outcome, Path(out_dir))

    @recording("payroll prepare")
    def prepare_payroll(self, month: Month, actor: str) -> PreparationSummary:
        """Record the month's payroll as planned now, for another person to
        release; nothing goes to the agents (no line issued, no file)."""
        self._check_debtor_account()
        try:
            outcome = self.command(lambda: self.runtime.app.prepare_payroll(month, actor))
        except PayrollOutOfOrder as exc:
            raise CommandRefused(str(exc)) from None
        self.runtime.catch_up()
        from ledger.payroll import prepared_digest

        return PreparationSummary(str(month), outcome.number, outcome.prepared_by, outcome.prepared_now,
                                  outcome.released, prepared_digest(outcome.agents), agent_figures(outcome.agents))

    @recording("payroll release")
    def release_payroll(self, month: Month, out_dir: str | Path, actor: str, four_eyes: bool = False,
                        preparation: int | None = None) -> PayrollSummary:
        """Issue the prepared payroll (with ``four_eyes``, never by the
        person who prepared it; with ``preparation``, only that one) and
        write every agent's files, digest-checked. Released before: the
        same files are written again."""
        self._check_debtor_account()
        try:
            outcome = self.command(lambda: self.runtime.app.release_payroll(month, actor, four_eyes, preparation))
        except SamePerson as exc:
            raise NotPermitted(str(exc)) from None
        except PayrollOutOfOrder as exc:
            raise CommandRefused(str(exc)) from exc  # the cause says which refusal (the web words each)
        self.runtime.catch_up()
        return self._issued(month, outcome, Path(out_dir))

    def _issued(self, month: Month, outcome, out_dir: Path) -> PayrollSummary:
        files = self.write_payroll_files(month, out_dir)
        calendar = self.runtime.app.calendar()
        agents = outcome.agents.values()
        return PayrollSummary(str(month), [str(p) for p in files], outcome.lines_count,
                              outcome.amount_vnd, sum(len(a["carried"]) for a in agents),
                              sum(a["carried_vnd"] for a in agents), outcome.issued_now,
                              calendar.prepared_by.get(str(month), ""), calendar.issued_by.get(str(month), ""))

    def _check_debtor_account(self) -> None:
        """Before anything is recorded: no payroll with bank transfers
        without the office's real debtor account."""
        if self.runtime.office.treasury_account != pain001.PLACEHOLDER_DEBTOR_ACCOUNT:
            return
        with self.runtime.engine.connect() as conn:
            if people_view.anyone_paid_by_bank(conn):
                raise CommandRefused(pain001.missing_treasury_account())

    @without_cycle_collector
    def write_payroll_files(self, month: Month, out_dir: Path) -> list[Path]:
        """Each agent's files for a month, as the payroll recorded them: the
        agents, totals and list digests come from the payroll calendar (the
        event store); the lines are streamed from the payout view, and a list
        whose lines do not give the recorded digest is refused (the view was
        altered: ``ledger replay`` shows it), its files removed."""
        office = self.runtime.office
        calendar = self.runtime.app.calendar()
        recorded = calendar.months.get(str(month), {}) if calendar else {}
        written: list[Path] = []
        total = sum(len(run["lines"]) + len(run["carried"]) for run in recorded.values())
        with self.runtime.engine.connect() as conn, progress.bar(total, "payroll files") as advance:
            for code, run in sorted(recorded.items()):
                entries: list[str] = []
                printed: list[PayrollFileLine] = []
                rows = _entered(pay_view.lines_in_file_order(conn, run["lines"], run["carried"]), entries,
                                advance)
                file_lines = map(_file_line, rows)
                if run["channel"] == "cash":
                    file_lines = _kept(file_lines, printed)
                totals = ListTotals(len(run["lines"]), run["advance_vnd"],
                                                  len(run["carried"]), run["carried_vnd"])
                altered = (f"the payout view does not match the payroll recorded for {code} in {month}: "
                           "no file written for it; run `ledger replay` to see which view was altered")
                try:
                    files = payroll_files.write_payroll_files(
                        out_dir, code, str(month), run["channel"], file_lines,
                        debtor_name=office.office_name, debtor_account=office.treasury_account,
                        created_at=calendar.issued_at[str(month)], totals=totals,
                        profile=self._bank_profile(code, month) if run["channel"] == "bank" else None)
                except pain001.NoDebtorAccount as exc:
                    raise CommandRefused(f"{exc}; the payroll of {month} is recorded: run it again "
                                         "once the account is set to write its files") from None
                except TotalsDiffer as exc:
                    raise CommandRefused(f"{altered} ({exc})") from None
                if "digest" in run and list_digest(entries) != run["digest"]:
                    for path in files:
                        Path(path).unlink(missing_ok=True)
                    raise CommandRefused(altered)
                written += files
                if run["channel"] == "cash":
                    written += self._write_printable_list(conn, out_dir, code, month, printed,
                                                          calendar.issued_at[str(month)])
        return written

    # --- the settlement ----------------------------------------------------------------

    @recording("audit seal --existing")
    def seal_existing(self, actor: str) -> SealSummary:
        """Seal, once, the events stored before the hash chain existed, and
        record who did: refused when an unsealed row comes after sealed ones
        (appended outside the ledger) or a seal does not match its row."""
        chain = self.runtime.chain
        try:
            found = chain.unsealed_history()
        except NotHistoryBeforeTheChain as exc:
            raise CommandRefused(f"nothing sealed: {exc} (see `ledger audit verify`); only the events stored "
                                 "before the first seal are history from before the chain") from exc
        if found.count:
            self.runtime.app.seal_existing_history(actor, found.count, found.first_position, found.last_position,
                                                   found.seals_after, chain.head())
        position, digest = chain.head()
        return SealSummary(found.count, found.first_position, found.last_position,
                           found.seals_after if found.count else 0, position, digest)

    @recording("settlement close")
    def close_month(self, month: Month, acceptances: dict[str, str], actor: str,
                    four_eyes: bool = False, on_view_differs: Callable[[list[ViewDiffers]], None] | None = None
                    ) -> list[str]:
        """Close the month unless a variance in the books is unexplained;
        returns the unexplained ones (then nothing is recorded). With
        ``four_eyes``, refused to the person who ran the month's payroll.

        What it records (each agent's figures, the variances to accept) is
        folded from the event store (adapters/settlement_books.py), never
        read from a view. The settlement the views show is then set beside
        it: where they differ (only a view altered makes them), the close
        stands on the books, and ``on_view_differs`` gets each difference
        (by default they are logged as a warning)."""
        app = self.runtime.app
        differs: list[ViewDiffers] = []

        def run() -> list[str]:
            calendar = app.calendar()
            # The head the month is closed on (stable: this command holds the turn).
            head = self.runtime.chain.head()
            settled, keys, books_from = {}, [], 0
            if calendar is not None and calendar.has_run(month) and not calendar.is_closed(month):
                stored = last_position(self.runtime.store, self.runtime.engine)
                books = month_books(self.runtime, calendar, month, stored)
                settled, keys = books.settled(), books.variance_keys()
                # The next close reads from this mark and takes the head's position as this
                # close's; a head short of the last event (history not sealed yet) leaves it to
                # read from the first event instead.
                books_from = books.books_from if head[0] == stored else 0
                differs[:] = view_differences(books.settlements, self.queries.reconcile(month))
            return app.close_month(month, settled, keys, acceptances, actor, four_eyes, head, books_from)
        try:
            missing = self.command(run)
        except SamePerson as exc:
            raise NotPermitted(str(exc)) from None
        except (PayrollOutOfOrder, UnknownVariance) as exc:
            raise CommandRefused(str(exc)) from None
        finally:  # closed or refused: an altered view is said either way
            if differs and on_view_differs is not None:
                on_view_differs(differs)
            elif differs:
                log.warning("%s: the settlement in the views differs from the books (run `ledger replay`): %s",
                            month, "; ".join(map(str, differs)))
        self.runtime.catch_up()
        return missing

    def _bank_profile(self, agent_code: str, month: Month):
        """The profile the bank's contract names (the default one if none)."""
        name = self.runtime.contracts.bank_profile(agent_code, month) or bank_profiles.DEFAULT_PROFILE
        try:
            return bank_profiles.load_profile(name)
        except ValueError as exc:
            raise CommandRefused(f"{agent_code}: {exc}") from None

    def _write_printable_list(self, conn, out_dir: Path, agent_code: str, month: Month,
                              lines: list[PayrollFileLine], issued_at) -> list[Path]:
        """The post office's printable payment list (PDF and .xlsx), with
        each person's birth year and categories from the register."""
        people = {row["citizen_id"]: printable_list.Person(
                      row["birth_date"][:4], tuple(c for c in row["categories"].split(";") if c))
                  for row in people_view.people_by_id(conn, {line.citizen_id for line in lines})}
        content = printable_list.payment_list(
            lines, people, office=self.runtime.office.office_name, agent_code=agent_code,
            month=str(month), created_at=issued_at)
        try:
            return printable_list.write_printable_lists(out_dir, content, issued_at)
        except printable_list.NoFont as exc:
            raise CommandRefused(str(exc)) from None


def _kept(lines, kept: list):
    """The lines, each also kept for the printable list."""
    for line in lines:
        kept.append(line)
        yield line


def _entered(rows, entries: list[str], advance):
    """The rows, each noted as a list entry (see ledger.payroll.list_entry)."""
    for row in rows:
        advance(1)
        entries.append(list_entry(
            row["line_id"], row["payroll_id"], row["months"].split(";"), row["amount_vnd"],
            carried=bool(row["carried"]), citizen_id=row["citizen_id"], full_name=row["full_name"],
            commune_code=row["commune_code"], receiver=row["receiver"], bank_account=row["bank_account"],
            home_delivery=row["home_delivery"]))
        yield row


def _file_line(row: dict) -> PayrollFileLine:
    return PayrollFileLine(
        payroll_id=row["payroll_id"], line_id=row["line_id"], citizen_id=row["citizen_id"],
        full_name=row["full_name"], commune_code=row["commune_code"],
        months=tuple(row["months"].split(";")), kind=row["kind"], amount=row["amount_vnd"],
        receiver=row["receiver"], bank_account=row["bank_account"],
        home_delivery=row["home_delivery"], carried=row["carried"])
