"""``ledger demo``: a synthetic district run month by month through the
ledger on the embedded SQLite store: decisions arrive, the payroll is
issued, post offices and banks report back, and the officer looks at the
figures, the unclaimed queue and one person's history."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ledger.months import Month, month_range
from ledger.rules import UNCLAIMED_SUSPENDED, UNCLAIMED_VERIFY

from . import demo_proxies, population_demo, synthetic
from .bootstrap import open_runtime
from .commands import Commands
from .queries import Queries
from .settings import LedgerSettings
from .store import open_store

DEMO_URL = "sqlite:///ledger-demo.db"
FIRST = Month.parse("2024-03")
LAST = Month.parse("2024-10")
# The population database is asked after this month's payroll; its reported deaths are held from the next.
POPULATION_CHECK = Month.parse("2024-07")


def _fresh_sqlite(url: str) -> None:
    store = open_store(url)
    if store.kind == "sqlite":
        path = Path(store.env["SQLITE_DBNAME"])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def _agent_results(commands: Commands, files: list[str], month: Month, out: Path, seed: int, actor: str,
                   dead: dict):
    """The agents pay their lists and report back; returns (paid, unpaid, rejected, suspended)."""
    counts = {"paid": 0, "unpaid": 0, "rejected": 0, "suspended": 0}
    for name in files:
        if not name.endswith(".csv"):
            continue
        rows = synthetic.read_payroll_csv(name)
        if "VNPOST" in name:
            results = synthetic.postoffice_results(rows, str(month), seed=seed, dead=dead)
            path = synthetic.write_csv(out / "results" / f"postoffice-result-{Path(name).stem}.csv",
                                       results, synthetic.POSTOFFICE_RESULT_COLUMNS)
            summary = commands.import_postoffice(path, actor)
        else:
            results = synthetic.bank_results(rows, str(month), seed=seed, dead=dead)
            path = synthetic.write_csv(out / "results" / f"bank-result-{Path(name).stem}.csv",
                                       results, synthetic.BANK_RESULT_COLUMNS)
            summary = commands.import_bank(path, actor)
        for r in results:
            counts[{"credited": "paid"}.get(r["status"], r["status"])] += 1
        counts["suspended"] += len(summary.suspended)
    return counts


def _close(commands: Commands, queries: Queries, month: Month) -> int:
    """The settlement: every variance is followed up and accepted by the
    head of the office, with a reason, and the month is closed."""
    keys = [v.key(s.agent_code) for s in queries.reconcile(month) for v in s.variances]
    reason = "đã đối chiếu với xã và đại lý; mở truy thu nơi chi thừa"  # as the office writes it
    missing = commands.close_month(month, {key: reason for key in keys}, APPROVER, four_eyes=True)
    assert not missing, missing
    return len(keys)


# The demo's web users, one per role; the officer and the approver are also
# the actors of the demo's history (the officer imports and prepares each
# payroll, the approver releases it and closes the month).
DEMO_USERS = (("canbo", "officer"), ("lanhdao", "approver"), ("kiemtoan", "auditor"), ("quantri", "admin"))
OFFICER, APPROVER = DEMO_USERS[0][0], DEMO_USERS[1][0]

DEMO_OFFICE = "Phòng Lao động - Thương binh và Xã hội huyện Bình Sơn"


# The demo district's account at the State Treasury (made up).
DEMO_TREASURY_ACCOUNT = "9527.1.1055555"


def run_demo(args: argparse.Namespace) -> None:
    url = args.db or DEMO_URL  # its own file: the demo never touches ledger.db
    # The district's own settings: the office's name unless one is set.
    settings = LedgerSettings.load(args.config, database_url=url)
    if "office_name" not in settings.model_fields_set:
        settings = settings.model_copy(update={"office_name": DEMO_OFFICE})
    if "treasury_account" not in settings.model_fields_set:
        settings = settings.model_copy(update={"treasury_account": DEMO_TREASURY_ACCOUNT})
    _fresh_sqlite(url)
    out = Path(args.out)
    actor = OFFICER
    area = synthetic.Area()
    seed = args.seed
    months = month_range(FIRST, LAST)
    print(f"Demo district: {args.people} beneficiaries, store {url}, files in {out}/\n")

    registered = synthetic.registrations(args.people, seed=seed, area=area, first=FIRST - 2,
                                         months_count=len(months) - 2)
    dead = synthetic.deaths(registered, seed=seed, first=FIRST, last=LAST)
    started = time.perf_counter()
    with open_runtime(settings=settings) as runtime:
        queries = Queries(runtime)
        commands = Commands(runtime, queries)
        proxies = confirmed = 0
        reported_dead: list = []  # who the population check reports dead (set in its month)
        print("month    decisions  deaths  lines    advance VND  carried  paid  unpaid  rejected  suspended  variances")
        for month in months:
            # Registrations reach the office in their effective month (the first
            # file also brings the two months before the first payroll).
            arriving = [r for r in registered if Month.parse(r["effective_month"]) == month
                        or (month == FIRST and Month.parse(r["effective_month"]) < month)]
            changes = synthetic.later_decisions(registered, seed=seed, month=month, area=area, share=0.01)
            changes = [c for c in changes if any(r["citizen_id"] == c["citizen_id"] for r in registered
                                                 if Month.parse(r["effective_month"]) < month)]
            path = synthetic.write_csv(out / "decisions" / f"decisions-{month}.csv", arriving + changes)
            decided = commands.import_decisions(path, actor)
            if month == FIRST + 1:  # some paid by bank authorise a proxy with the proxy's own account
                proxies = demo_proxies.authorise(commands, registered, month, out, seed, actor)
            if month >= FIRST + 3:
                confirmed += demo_proxies.confirm_some(commands, queries, month, out, seed, actor)
            notices = synthetic.death_notices(dead, month)
            if notices:
                commands.import_deaths(synthetic.write_csv(out / "deaths" / f"deaths-{month}.csv", notices,
                                                           synthetic.DEATH_COLUMNS), actor)
            # Four eyes, as in the web application: the officer prepares, the approver releases.
            commands.prepare_payroll(month, OFFICER)
            payroll = commands.release_payroll(month, out / "payroll", APPROVER, four_eyes=True)
            counts = _agent_results(commands, payroll.files, month, out, seed, actor, dead)
            variances = _close(commands, queries, month)
            if month == POPULATION_CHECK + 1:
                population_demo.review(commands, queries, reported_dead)
            print(f"{month}  {decided.recorded_events:>9}  {len(notices):>6}  {payroll.lines:>5}  {payroll.amount:>13,}  "
                  f"{payroll.carried_lines:>7}  {counts['paid']:>4}  {counts['unpaid']:>6}  "
                  f"{counts['rejected']:>8}  {counts['suspended']:>9}  {variances:>9}")
            if month == POPULATION_CHECK:
                reported_dead = population_demo.check(commands, registered, dead, month, out, seed)
        again = commands.release_payroll(LAST, out / "payroll", APPROVER, four_eyes=True)
        print(f"\nRunning the {LAST} payroll again: {'nothing new' if not again.issued_now else 'ISSUED AGAIN'}, "
              f"the same {len(again.files)} files rewritten.")

        queue = queries.unclaimed(LAST)
        print(f"\nUnclaimed queue after {LAST}: {sum(1 for q in queue if q.flag == UNCLAIMED_VERIFY)} to verify, "
              f"{sum(1 for q in queue if q.flag == UNCLAIMED_SUSPENDED)} suspended, "
              f"{sum(q.amount for q in queue):,} VND held by post offices")
        for row in queue[:5]:
            print(f"  {row.agent_code}  commune {row.commune_code}  {row.citizen_id}  "
                  f"{row.consecutive_months} months  {row.amount:>10,} VND  {row.flag}")

        owed = queries.recoveries()
        print(f"\nOverpayments after late death notices: {sum(1 for r in owed if r.open)} open, "
              f"{sum(r.open for r in owed):,} VND to recover; "
              f"{sum(len(r.paid_after_death) for r in owed)} payments made after a death flagged")
        for row in owed[:3]:
            print(f"  {row.citizen_id}  months {','.join(row.months)}  {row.open:>10,} VND  "
                  f"received by {', '.join(row.received_by)}")

        waiting = queries.proxy_queue(LAST)
        print(f"\nPaid into a proxy's own account: {proxies} people authorised a proxy with an account; "
              f"{confirmed} monthly payments confirmed by the communes, {len(waiting)} people waiting "
              f"2 months or more for a confirmation (ledger proxy queue)")
        cashless = queries.cashless_report(LAST, LAST).months[0].district.as_dict()
        print(f"Cashless share in {LAST}: {cashless['share_people']:.1%} of the people paid, "
              f"{cashless['share_amount']:.1%} of the amount (ledger report cashless)")
        population_demo.rates(queries)

        users = _demo_users(runtime)

        sample = next((q.citizen_id for q in queue if q.flag == UNCLAIMED_SUSPENDED), registered[0]["citizen_id"])
        report = queries.beneficiary_report(sample)
        print(f"\nOne person: {report.citizen_id} ({report.full_name}), "
              f"{', '.join(report.categories)}, status {report.status}:")
        print("  month    due        issued     disbursed  unclaimed")
        for m in report.months:
            if FIRST <= m.month <= LAST:  # the demo's months, whatever today is
                print(f"  {m.month}  {m.due:>9,}  {m.issued:>9,}  {m.disbursed:>9,}  {m.unclaimed:>9,}")
    print(f"\n{len(months)} months in {time.perf_counter() - started:.1f}s. "
          f"Try: ledger --db {url} beneficiary show {sample}")
    print("\nWeb users (one per role; passwords made for this demo):")
    for name, role, password in users:
        print(f"  {name:<10} {role:<9} {password}")
    print(f"Then: ledger --db {url} serve   (and open http://127.0.0.1:8000/)")




def _demo_users(runtime) -> list[tuple[str, str, str]]:
    import secrets

    from .web.users import UserStore

    store = UserStore(runtime.engine)
    made = []
    for name, role in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        store.add(name, role, password)
        made.append((name, role, password))
    return made
