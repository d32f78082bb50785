"""The composition root: wires the store, the application, the projections
and the partner-file adapters for one database."""
from __future__ import annotations

import functools
import gc
from contextlib import contextmanager
from datetime import datetime
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

from eventsourcing.persistence import IntegrityError

from ledger.application import LedgerApp, Rejected
from ledger.rules import RuleSet
from projections.entitlements import EntitlementsProjection
from projections.payouts import PayoutsProjection
from projections.chain import ChainKeeper, Verdict
from projections.postings import PostingsProjection
from projections.runner import ProjectionRunner, checksums

from eventsourcing.persistence import StoredEvent

from ledger import audit, settlement, whatif
from ledger.beneficiary import beneficiary_id
from ledger.contracts import Contracts
from ledger.months import Month, month_range
from ledger.clawback import open_overpayment_vnd
from ledger.entitlement import due_for_month
from ledger.payroll import CALENDAR_ID, PayrollOutOfOrder, list_digest, list_entry, owed_months
from ledger.settlement import AgentSettlement
from projections import entitlements as ent_view
from projections import payouts as pay_view
from projections import postings as post_view

from . import agent_results, clock, notices_file, payroll_files, progress
from .settings import OfficeSettings
from .decisions_file import parse_decisions
from .rulefiles import default_contracts, default_ruleset
from .snapshots import SnapshotAudit, SnapshotCodec, SnapshotLoader
from .store import EventFactsHistory, Store, open_store, raw_event_rows, raw_event_rows_of
from .tabular import InputRejected, Problem


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


T = TypeVar("T")


def without_cycle_collector(method):
    """Run a bulk step with Python's cyclic garbage collector paused.

    A command or a catch-up builds hundreds of thousands of small, acyclic,
    immutable values (states, events, rows) that reference counting frees;
    the cyclic collector would walk them again at every generation threshold,
    which measured a fifth of a payroll's time at 20,000 beneficiaries."""
    @functools.wraps(method)
    def run(*args, **kwargs):
        if not gc.isenabled():
            return method(*args, **kwargs)
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            gc.enable()
    return run


def view_projections(rules: RuleSet, history) -> list:
    """Every read model, in the order they are folded; ``history`` gives the
    entitlements view people's earlier facts from the event store."""
    return [EntitlementsProjection(rules, history), PayoutsProjection(), PostingsProjection()]


class Ledger:
    RETRIES = 3

    def __init__(self, url: str | None = None, rules: RuleSet | None = None,
                 contracts: Contracts | None = None):
        self.store: Store = open_store(url)
        self.rules = rules or default_ruleset()
        self.contracts = contracts or default_contracts()
        self.app = LedgerApp(env=dict(self.store.env), rules=self.rules)
        self.engine = self.store.engine()
        # Commands load people from the event store (with its write-side
        # snapshots), never from a view.
        self.loader = SnapshotLoader(self.store, self.engine, self.app.mapper)
        self.app.use_loader(self.loader, self.loader.all, SnapshotCodec(self.app.mapper).row)
        self.runner = ProjectionRunner(
            self.engine, self.app.recorder, self.app.mapper,
            self._projections(),
        )
        self.runner.create_tables()
        self.chain = ChainKeeper(self.engine, raw_event_rows(self.store, self.engine))

    def close(self) -> None:
        self.engine.dispose()
        self.app.close()

    # --- projections ----------------------------------------------------------

    @without_cycle_collector
    def catch_up(self, *, show_progress: bool = True) -> int:
        """Seal the events recorded since the last seal, and bring every read
        model up to the last recorded event."""
        self.chain.extend()
        pending = self.runner.pending()
        if not pending:
            return 0
        with progress.bar(pending, "projections", enabled=show_progress) as advance:
            return self.runner.catch_up(advance)

    # --- imports --------------------------------------------------------------

    @without_cycle_collector
    def command(self, run: Callable[[], T]) -> T:
        """Run a command (it loads people from the event store, never from a
        view); if another writer got in first, run it again on what that
        writer recorded."""
        for attempt in range(self.RETRIES):
            self.chain.extend()
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
        return ImportSummary(str(path), outcome.rows, outcome.recorded_events, outcome.unchanged_rows,
                             outcome.changes)

    # --- payroll and agents' results ----------------------------------------------

    def run_payroll(self, month: Month, out_dir: str | Path, actor: str) -> PayrollSummary:
        """Issue the month's payroll (once) and write every agent's files
        from what was recorded, so a second run rewrites the same files."""
        try:
            outcome = self.command(lambda: self.app.run_payroll(month, actor))
        except PayrollOutOfOrder as exc:
            raise CommandRefused(str(exc)) from None
        self.catch_up()
        files = self.write_payroll_files(month, Path(out_dir))
        agents = outcome.agents.values()
        return PayrollSummary(str(month), [str(p) for p in files], outcome.lines_count,
                              outcome.amount_vnd, sum(len(a["carried"]) for a in agents),
                              sum(a["carried_vnd"] for a in agents), outcome.issued_now)

    @without_cycle_collector
    def write_payroll_files(self, month: Month, out_dir: Path) -> list[Path]:
        """Each agent's files for a month, as the payroll recorded them: the
        agents, totals and list digests come from the payroll calendar (the
        event store); the lines are streamed from the payout view, and a list
        whose lines do not give the recorded digest is refused (the view was
        altered: ``ledger replay`` shows it), its files removed."""
        settings = OfficeSettings.from_env()
        calendar = self.app.calendar()
        recorded = calendar.months.get(str(month), {}) if calendar else {}
        written: list[Path] = []
        with self.engine.connect() as conn:
            for code, run in sorted(recorded.items()):
                entries: list[str] = []
                rows = _entered(pay_view.lines_in_file_order(conn, run["lines"], run["carried"]), entries)
                totals = payroll_files.ListTotals(len(run["lines"]), run["advance_vnd"],
                                                  len(run["carried"]), run["carried_vnd"])
                altered = (f"the payout view does not match the payroll recorded for {code} in {month}: "
                           "no file written for it; run `ledger replay` to see which view was altered")
                try:
                    files = payroll_files.write_payroll_files(
                        out_dir, code, str(month), run["channel"], map(_file_line, rows),
                        debtor_name=settings.office_name, debtor_account=settings.treasury_account,
                        created_at=calendar.issued_at[str(month)], totals=totals)
                except payroll_files.TotalsDiffer as exc:
                    raise CommandRefused(f"{altered} ({exc})") from None
                if "digest" in run and list_digest(entries) != run["digest"]:
                    for path in files:
                        Path(path).unlink(missing_ok=True)
                    raise CommandRefused(altered)
                written += files
        return written

    def _import_results(self, parsed, actor: str, report: str | Path | None) -> ResultsSummary:
        reports = agent_results.parse_agent_report(report) if report else []
        try:
            outcome = self.command(lambda: self.app.record_agent_results(
                parsed.results, actor, clock.today(), reports))
        except Rejected as exc:
            raise InputRejected([
                parsed.problem(p.row, p.field, p.message) if p.row >= 0
                else Problem(str(report), 2, 2, p.message) for p in exc.problems]) from None
        self.catch_up()
        return ResultsSummary(parsed.table.path, outcome.rows, outcome.recorded, outcome.unchanged,
                              outcome.suspended, outcome.flagged)

    def _import_items(self, parsed, record) -> ImportSummary:
        try:
            outcome = self.command(lambda: record(parsed.items))
        except Rejected as exc:
            raise InputRejected([parsed.problem(p.row, p.field, p.message)
                                 for p in exc.problems]) from None
        self.catch_up()
        return ImportSummary(parsed.table.path, outcome.rows, outcome.recorded_events, outcome.unchanged_rows,
                             outcome.changes)

    def import_deaths(self, path: str | Path, actor: str) -> ImportSummary:
        return self._import_items(notices_file.parse_deaths(path),
                                  lambda items: self.app.record_deaths(items, actor))

    def import_recoveries(self, path: str | Path, actor: str) -> ImportSummary:
        return self._import_items(notices_file.parse_recoveries(path),
                                  lambda items: self.app.record_recoveries(items, actor))

    def import_postoffice(self, path: str | Path, actor: str, report: str | Path | None = None) -> ResultsSummary:
        return self._import_results(agent_results.parse_postoffice(path), actor, report)

    def import_bank(self, path: str | Path, actor: str, report: str | Path | None = None) -> ResultsSummary:
        return self._import_results(agent_results.parse_bank(path), actor, report)

    # --- the monthly settlement ---------------------------------------------------

    @without_cycle_collector
    def reconcile(self, month: Month, agent: str | None = None,
                  evidence: Sequence[str | Path] = ()) -> list[AgentSettlement]:
        """Each agent's settlement for the month, with the variances found in
        the books (reports, flagged payments) and in any result files given
        as evidence."""
        self.catch_up()
        calendar = self.app.calendar()
        closed = calendar.closed.get(str(month)) if calendar else None
        reports = calendar.reports if calendar else {}
        with self.engine.connect() as conn:
            movements = post_view.agent_movements(conn, str(month))
            for run in pay_view.payroll_of(conn, str(month)):
                movements.setdefault(run["agent_code"], post_view.empty_movement())
            flagged = pay_view.flagged_payments(conn, str(month))
            evidence_variances = self._evidence_variances(conn, evidence)
        settlements = []
        for code, m in sorted(movements.items()):
            if agent and code != agent:
                continue
            if closed is not None and code in closed:
                fee = closed[code]["fee"]
            else:
                fee = self.contracts.fee_vnd(code, month, m["paid_vnd"], m["persons_paid"])
            result = settlement.settle(code, month, opening=m["opening"], advance=m["advance"],
                                       disbursed=m["disbursed"], returned=m["returned"], fee=fee,
                                       report=reports.get(f"{code}/{month}"))
            result.closed = closed is not None
            lines = [x for x in flagged if x["agent_code"] == code]
            result.variances += [settlement.flagged_variance(x, x["other_paid_months"]) for x in lines]
            result.variances += evidence_variances.get(code, [])
            settlement.mark_accepted(result, calendar.acceptances(month) if calendar else {})
            settlements.append(result)
        return settlements

    EVIDENCE_PAGE = 5000

    @staticmethod
    def _evidence_variances(conn, evidence: Sequence[str | Path]) -> dict[str, list]:
        """The variances in the agents' result files, by agent, compared with
        the payroll a page of lines at a time (the files may be long)."""
        found: dict[str, list] = {}
        seen: dict[str, set[str]] = {}  # line ids paid so far, by agent
        for path in evidence:
            rows = agent_results.evidence_lines(path)
            for start in range(0, len(rows), Ledger.EVIDENCE_PAGE):
                page = rows[start:start + Ledger.EVIDENCE_PAGE]
                issued = pay_view.lines_by_id(conn, [r["line_id"] for r in page])
                deaths = ent_view.dates_of_death(conn, {r["citizen_id"] for r in page if r["citizen_id"]}
                                                 | {line["citizen_id"] for line in issued.values()})
                by_agent: dict[str, list[dict]] = {}
                for r in page:
                    by_agent.setdefault(r["payroll_id"].split("/")[0], []).append(r)
                for code, results in by_agent.items():
                    found.setdefault(code, []).extend(settlement.compare_result_lines(
                        results, issued, deaths, seen.setdefault(code, set())))
        return found

    # --- audit -----------------------------------------------------------------------

    def timeline(self, citizen_id: str) -> list[dict]:
        """Every event about a person, in recorded order, with its money consequence."""
        aggregate_id = beneficiary_id(citizen_id)
        rows = raw_event_rows_of(self.store, self.engine, aggregate_id)
        if not rows:
            raise CommandRefused(f"{citizen_id} is not registered")
        state, out = None, []
        for position, originator_id, version, topic, blob in rows:
            event = self.app.mapper.to_domain_event(StoredEvent(originator_id, version, topic, blob))
            after = event.fold(state)
            out.append({"position": position, "recorded_at": event.timestamp.isoformat(),
                        "effective": audit.effective_of(event), "type": type(event).__name__,
                        "actor": event.actor, "basis": event.basis_text,
                        "amount": audit.money_consequence(event, state, after, self.rules),
                        "detail": audit.detail_of(event, after)})
            state = after
        return out

    def verify(self) -> Verdict:
        """The hash chain over the stored events, then every write-side
        snapshot against the fold of the events it summarises."""
        verdict = self.chain.verify()
        if not verdict.ok:
            return verdict
        snapshots = SnapshotAudit(self.store, self.engine, self.app.mapper, self.rules).verify()
        return replace(verdict, ok=snapshots.ok, problem=snapshots.problem,
                       snapshots_checked=snapshots.checked, first_bad_snapshot=snapshots.first_bad)

    def _projections(self) -> list:
        return view_projections(self.rules, EventFactsHistory(self.store, self.engine, self.app.mapper))

    @without_cycle_collector
    def rebuild_into(self, url: str, *, until: datetime | None = None,
                     show_progress: bool = True) -> tuple[int, dict[str, str]]:
        """Fold the event log from scratch into the views of another store
        (never the live views); returns the events read and the checksums."""
        target = open_store(url).engine()
        try:
            runner = ProjectionRunner(target, self.app.recorder, self.app.mapper, self._projections())
            runner.create_tables()
            total = self.app.recorder.max_notification_id() or 0
            with progress.bar(total, "replay", enabled=show_progress) as advance:
                count = runner.rebuild(advance) if until is None else _rebuild_until(runner, until, advance)
            return count, checksums(target, runner.projections)
        finally:
            target.dispose()

    def live_checksums(self) -> dict[str, str]:
        self.catch_up()
        return checksums(self.engine, self.runner.projections)

    def state_as_known_at(self, citizen_id: str, when: datetime):
        """One person's state from the events recorded up to ``when``."""
        state = None
        for position, originator_id, version, topic, blob in raw_event_rows_of(
                self.store, self.engine, beneficiary_id(citizen_id)):
            event = self.app.mapper.to_domain_event(StoredEvent(originator_id, version, topic, blob))
            if event.timestamp <= when:
                state = event.fold(state)
        return state

    def last_payroll_month_as_known_at(self, when: datetime) -> Month | None:
        months = []
        for position, originator_id, version, topic, blob in raw_event_rows_of(
                self.store, self.engine, CALENDAR_ID):
            event = self.app.mapper.to_domain_event(StoredEvent(originator_id, version, topic, blob))
            if event.timestamp <= when and hasattr(event, "agents") and hasattr(event, "rules_id"):
                months.append(event.month)
        return max(months, default=None)

    def whatif(self, candidate: RuleSet, first: Month, last: Month) -> "whatif.WhatIf":
        """Everyone's schedule under the candidate rules beside the current
        ones; reads the views, records nothing."""
        return whatif.compare((person.facts for person in self.loader.all()), self.rules, candidate, first, last)

    # --- queries ----------------------------------------------------------------------

    def beneficiary_report(self, citizen_id: str, as_known_at: datetime | None = None) -> dict:
        """One person: status, categories, the month-by-month schedule with
        what was issued, disbursed, left unclaimed and cancelled (cli.md keys);
        with ``as_known_at``, from the events recorded up to then."""
        if as_known_at is None:
            self.catch_up()
            person = self.app.beneficiary(citizen_id)
            state = person.state if person else None
            with self.engine.connect() as conn:
                last_payroll = pay_view.last_payroll_month(conn)
        else:
            state = self.state_as_known_at(citizen_id, as_known_at)
            month = self.last_payroll_month_as_known_at(as_known_at)
            last_payroll = str(month) if month else None
        if state is None:
            raise CommandRefused(f"{citizen_id} is not registered"
                                 + (f" as known at {as_known_at.isoformat()}" if as_known_at else ""))
        facts = state.facts
        now = clock.this_month()
        last_payroll_month = Month.parse(last_payroll) if last_payroll else None
        last = max(now, facts.first_month, last_payroll_month or now)
        months = [due_for_month(facts, self.rules, m) for m in month_range(facts.first_month, last)]
        figures = {d.month: state.book.figures(d.month) for d in months}
        arrears = sum(a for _, a in owed_months(state, self.rules, last_payroll_month)) \
            if last_payroll_month else 0
        current = due_for_month(facts, self.rules, now)
        channel = facts.channels.latest()
        residence = facts.residences.latest()
        proxy = facts.proxies.latest()
        return {
            "citizen_id": facts.citizen_id,
            "full_name": facts.full_name,
            "birth_date": facts.birth_date.isoformat(),
            "status": facts.current_status(),
            "categories": list(current.categories or (facts.categories.latest().categories)),
            "monthly_amount": current.amount_vnd,
            "province_code": residence.province_code if residence else "",
            "commune_code": residence.commune_code if residence else "",
            "channel": channel.channel if channel else "",
            "agent_code": channel.agent_code if channel else "",
            "proxy_name": proxy.proxy_name if proxy else "",
            "date_of_death": facts.death.date_of_death.isoformat() if facts.death else None,
            "months": [
                {"month": str(d.month), "due": d.amount_vnd, "status": d.status,
                 "categories": list(d.paying), "issued": figures[d.month].issued,
                 "disbursed": figures[d.month].disbursed, "unclaimed": figures[d.month].unclaimed,
                 "cancelled": figures[d.month].cancelled}
                for d in months
            ],
            "lines": [{"line_id": x.line_id, "payroll_id": x.payroll_id, "kind": x.kind,
                       "months": [str(m) for m in x.months], "amount": x.amount_vnd, "status": x.status,
                       "settled_on": x.settled_on.isoformat() if x.settled_on else None}
                      for x in state.book.lines],
            "holds": [code for _, code in state.book.holds],
            "arrears_due": arrears,
            "overpayment_open": open_overpayment_vnd(state, self.rules),
        "as_known_at": as_known_at.isoformat() if as_known_at else None,
            "recovered": state.book.recovered_vnd(),
            "funeral_support": state.book.funeral.amount_vnd if state.book.funeral else 0,
        }


    def unclaimed(self, month: Month) -> list[dict]:
        """The unclaimed-month queue: who has not collected for the rule's
        number of rounds, by agent and commune (cli.md keys)."""
        self.catch_up()
        with self.engine.connect() as conn:
            rows = pay_view.unclaimed(conn, str(month))
            status = ent_view.statuses_in(conn, {r["citizen_id"]: str(Month.parse(r["last_payroll_month"]) + 1)
                                                 for r in rows})
        rule = self.rules.unclaimed_rule(month)
        out = []
        for r in rows:
            if r["consecutive_months"] < rule.verify_after_months:
                continue
            suspended = status.get(r["citizen_id"]) == "suspended" \
                or r["consecutive_months"] >= rule.suspend_after_months
            out.append({"citizen_id": r["citizen_id"], "agent_code": r["agent_code"],
                        "commune_code": r["commune_code"], "consecutive_months": r["consecutive_months"],
                        "amount": r["amount_vnd"], "flag": "suspended" if suspended else "verify"})
        return out

    def recoveries(self) -> list[dict]:
        """Open and closed overpayments with what was recovered (cli.md keys)."""
        self.catch_up()
        with self.engine.connect() as conn:
            rows = ent_view.recoveries(conn)
        return [{"citizen_id": r["citizen_id"], "months": [m for m in r["months"].split(";") if m],
                 "amount": r["amount_vnd"], "recovered": r["recovered_vnd"], "open": r["open_vnd"],
                 "status": r["status"], "written_off": r["written_off_vnd"],
                 "received_by": [x for x in r["received_by"].split(";") if x],
                 "paid_after_death": r["paid_after_death"]} for r in rows]

    def district_summary(self, month: Month) -> dict:
        """What the settlement reports show: each agent's settlement and the
        district's figures for the month (see adapters/reports.py)."""
        settlements = [s.as_dict() for s in self.reconcile(month)]
        totals = {key: sum(s[key] for s in settlements)
                  for key in ("advance", "disbursed", "fee", "returned", "closing_balance")}
        with self.engine.connect() as conn:
            communes = pay_view.paid_by_commune(conn, str(month))
            trend = pay_view.unclaimed_trend(conn, str(month))
        owed = self.recoveries()
        paid = sum(c["paid_cash_vnd"] + c["paid_bank_vnd"] for c in communes)
        queue = self.unclaimed(month)
        return {
            "month": str(month),
            "office": OfficeSettings.from_env().office_name,
            "closed": bool(settlements) and all(s["closed"] for s in settlements),
            "agents": settlements,
            "totals": totals,
            "cashless_share": (sum(c["paid_bank_vnd"] for c in communes) / paid) if paid else 0.0,
            "communes": communes,
            "unclaimed_trend": trend,
            "unclaimed_queue": {"verify": sum(1 for q in queue if q["flag"] == "verify"),
                                "suspended": sum(1 for q in queue if q["flag"] == "suspended"),
                                "held_vnd": sum(q["amount"] for q in queue)},
            "overpayments": {"open_count": sum(1 for r in owed if r["open"] > 0),
                             "open_vnd": sum(r["open"] for r in owed),
                             "recovered_vnd": sum(r["recovered"] - r["written_off"] for r in owed),
                             "written_off_vnd": sum(r["written_off"] for r in owed)},
        }

    def close_month(self, month: Month, acceptances: dict[str, str], actor: str) -> list[str]:
        """Close the month unless a variance in the books is unexplained;
        returns the unexplained ones (then nothing is recorded)."""
        def run() -> list[str]:
            settlements = self.reconcile(month)
            keys = [v.key(s.agent_code) for s in settlements for v in s.variances]
            settled = {s.agent_code: dict(opening=s.opening_balance, advance=s.advance, disbursed=s.disbursed,
                                          fee=s.fee, returned=s.returned, closing=s.closing_balance)
                       for s in settlements}
            return self.app.close_month(month, settled, keys, acceptances, actor)
        try:
            missing = self.command(run)
        except (PayrollOutOfOrder, settlement.UnknownVariance) as exc:
            raise CommandRefused(str(exc)) from None
        self.catch_up()
        return missing


class CommandRefused(Exception):
    """A command the ledger refuses as a whole (message for the officer)."""


def _file_line(row: dict) -> payroll_files.PayrollFileLine:
    return payroll_files.PayrollFileLine(
        payroll_id=row["payroll_id"], line_id=row["line_id"], citizen_id=row["citizen_id"],
        full_name=row["full_name"], commune_code=row["commune_code"],
        months=tuple(row["months"].split(";")), kind=row["kind"], amount=row["amount_vnd"],
        receiver=row["receiver"], bank_account=row["bank_account"],
        home_delivery=row["home_delivery"], carried=row["carried"])


def _entered(rows, entries: list[str]):
    """The rows, each noted as a list entry (see ledger.payroll.list_entry)."""
    for row in rows:
        entries.append(list_entry(
            row["line_id"], row["payroll_id"], row["months"].split(";"), row["amount_vnd"],
            carried=bool(row["carried"]), citizen_id=row["citizen_id"], full_name=row["full_name"],
            commune_code=row["commune_code"], receiver=row["receiver"], bank_account=row["bank_account"],
            home_delivery=row["home_delivery"]))
        yield row


def _rebuild_until(runner: ProjectionRunner, until: datetime, advance) -> int:
    with runner.engine.begin() as conn:
        for projection in runner.projections:
            runner._reset(conn, projection)
    return runner.catch_up(advance, until=until)


@dataclass(frozen=True)
class PayrollSummary:
    month: str
    files: list[str]
    lines: int  # new lines issued for the month
    amount: int  # VND advanced with them
    carried_lines: int
    carried_amount: int
    issued_now: bool

    def as_dict(self) -> dict:
        return dict(month=self.month, files=self.files, lines=self.lines, amount=self.amount,
                    carried_lines=self.carried_lines, carried_amount=self.carried_amount,
                    issued_now=self.issued_now)


@dataclass(frozen=True)
class ResultsSummary:
    file: str
    rows: int
    recorded: int
    unchanged: int
    suspended: list[str]
    flagged: list[tuple[str, str]]

    def as_dict(self) -> dict:
        return dict(file=self.file, rows=self.rows, recorded_events=self.recorded,
                    unchanged_rows=self.unchanged, suspended=self.suspended,
                    paid_after_death=[{"citizen_id": c, "line_id": l} for c, l in self.flagged])


@contextmanager
def open_ledger(url: str | None = None, rules: RuleSet | None = None) -> Iterator[Ledger]:
    ledger = Ledger(url, rules)
    try:
        yield ledger
    finally:
        ledger.close()
