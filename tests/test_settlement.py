"""The monthly settlement: balanced postings, agents' balances that equal
what they owe beneficiaries, closed months that never change, and every
injected variance found and classified. On SQLite and PostgreSQL."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings, strategies as st

from adapters import synthetic
from adapters.cli import main
from .helpers import cmd, open_ledger
from ledger.months import Month
from ledger.postings import DRAWN
from projections import postings as post_view
from projections import payouts as pay_view
from projections.payouts import lines as pay_lines

from .helpers import decisions_file

FIRST = Month.parse("2024-07")


def _cycle(ledger, month: Month, tmp_path, seed: int, dead: dict, report_shift: dict | None = None):
    """One month: deaths notified, payroll, agents' results (and reports)."""
    notices = synthetic.death_notices(dead, month)
    if notices:
        ledger.commands.import_deaths(synthetic.write_csv(tmp_path / f"deaths-{month}.csv", notices,
                                                 synthetic.DEATH_COLUMNS), "o")
    payroll = ledger.commands.run_payroll(month, tmp_path / "out", "o")
    for name in payroll.files:
        if not name.endswith(".csv"):
            continue
        rows = synthetic.read_payroll_csv(name)
        if "VNPOST" in name:
            results = synthetic.postoffice_results(rows, str(month), seed=seed, dead=dead)
            path = synthetic.write_csv(tmp_path / f"po-{month}.csv", results, synthetic.POSTOFFICE_RESULT_COLUMNS)
            ledger.commands.import_postoffice(path, "o")
        else:
            results = synthetic.bank_results(rows, str(month), seed=seed, dead=dead)
            path = synthetic.write_csv(tmp_path / f"bank-{name[-20:-4]}.csv", results, synthetic.BANK_RESULT_COLUMNS)
            ledger.commands.import_bank(path, "o")


def _district(ledger, tmp_path, people: int, seed: int):
    registered = synthetic.registrations(people, seed=seed, first=FIRST, months_count=1)
    ledger.commands.import_decisions(decisions_file(tmp_path / "reg.csv", registered), "o")
    return registered, synthetic.deaths(registered, seed=seed, first=FIRST, last=FIRST + 4, yearly_rate=0.6)


def _open_lines_by_agent(ledger) -> dict[str, int]:
    with ledger.runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(pay_lines.c.agent_code, sa.func.sum(pay_lines.c.amount_vnd))
                            .where(pay_lines.c.status.in_(["issued", "unpaid"]))
                            .group_by(pay_lines.c.agent_code)).all()
    return {agent: int(total) for agent, total in rows}


def _agents_in_payroll(ledger, month: Month) -> set[str]:
    with ledger.runtime.engine.connect() as conn:
        return {run["agent_code"] for run in pay_view.payroll_of(conn, str(month))}


def _check_books(ledger, month: Month) -> None:
    with ledger.runtime.engine.connect() as conn:
        whole, period = post_view.trial_balance(conn), post_view.trial_balance(conn, str(month))
    # Money moved: the budget was drawn on and every agent was advanced its lines.
    assert whole and period, "no postings at all"
    assert whole.get(DRAWN, 0) < 0
    assert sum(whole.values()) == 0
    assert sum(period.values()) == 0
    owed = _open_lines_by_agent(ledger)
    settlements = ledger.queries.reconcile(month)
    # Someone is settled, and every agent in the month's payroll (none silently missing).
    assert settlements, f"no settlement for {month}"
    assert {s.agent_code for s in settlements} >= _agents_in_payroll(ledger, month)
    for s in settlements:
        assert s.closing_balance == s.opening_balance + s.advance - s.disbursed - s.returned
        # What the agent holds is exactly what it still owes beneficiaries.
        assert s.closing_balance == owed.get(s.agent_code, 0), s.agent_code
    # and nobody else holds anything.
    assert sum(s.closing_balance for s in settlements) == sum(owed.values())


@pytest.mark.parametrize("fresh_store", ["sqlite", "postgresql"], indirect=True)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(1, 10_000), months_count=st.integers(2, 4))
@example(seed=3, months_count=4)
def test_books_balance_and_agents_hold_what_they_owe(fresh_store, tmp_path_factory, seed, months_count):
    """Catches: a returned (rejected or cancelled) line left in the agent's
    float, or carried cash advanced a second time: the agent's closing
    balance would then differ from the open lines it holds."""
    tmp_path = tmp_path_factory.mktemp("cycle")
    with open_ledger(fresh_store()) as ledger:
        _, dead = _district(ledger, tmp_path, 40, seed)
        for offset in range(months_count):
            _cycle(ledger, FIRST + offset, tmp_path, seed, dead)
            _check_books(ledger, FIRST + offset)


def test_a_closed_month_never_changes(store_url, tmp_path):
    with open_ledger(store_url) as ledger:
        registered, _ = _district(ledger, tmp_path, 40, seed=3)
        july = ledger.commands.run_payroll(FIRST, tmp_path / "out", "o")
        late_bank = []
        for name in july.files:  # the post office reports; the banks are late
            if not name.endswith(".csv"):
                continue
            rows = synthetic.read_payroll_csv(name)
            if "VNPOST" in name:
                results = synthetic.postoffice_results(rows, "2024-07", seed=3)
                ledger.commands.import_postoffice(synthetic.write_csv(tmp_path / "po.csv", results,
                                                             synthetic.POSTOFFICE_RESULT_COLUMNS), "o")
            else:
                late_bank.append(synthetic.write_csv(tmp_path / f"late-{len(late_bank)}.csv",
                                                     synthetic.bank_results(rows, "2024-07", seed=3),
                                                     synthetic.BANK_RESULT_COLUMNS))
        assert ledger.commands.close_month(FIRST, {}, "chief-officer") == []
        closed = [s.as_dict() for s in ledger.queries.reconcile(FIRST)]
        # July's bank results arrive after July was closed: they land in August.
        for path in late_bank:
            ledger.commands.import_bank(path, "o")
        late = [dict(notice_id="CR-LATE", citizen_id=registered[0]["citizen_id"], date_of_death="2024-07-02",
                     source="civil_registry", reported_on="2024-07-25")]  # reported in July, recorded now
        ledger.commands.import_deaths(synthetic.write_csv(tmp_path / "late.csv", late, synthetic.DEATH_COLUMNS), "o")
        assert [s.as_dict() for s in ledger.queries.reconcile(FIRST)] == closed
        ledger.runtime.runner.rebuild()  # replay from scratch
        assert [s.as_dict() for s in ledger.queries.reconcile(FIRST)] == closed
        _check_books(ledger, FIRST + 1)
        with ledger.runtime.engine.connect() as conn:
            corrections = conn.execute(sa.select(post_view.postings.c.period)
                                       .where(post_view.postings.c.natural_month == str(FIRST),
                                              post_view.postings.c.period != str(FIRST))).scalars().all()
        assert corrections and set(corrections) == {str(FIRST + 1)}


REPORT_FIELDS = ("balance_remaining", "fee_claimed", "paid_total", "advance_received")
KIND_OF = {"balance_remaining": "balance_differs", "fee_claimed": "fee_differs",
           "paid_total": "amount_differs", "advance_received": "advance_differs"}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(REPORT_FIELDS), delta=st.integers(-5_000_000, 5_000_000).filter(bool))
@example(field="balance_remaining", delta=-1)
@example(field="advance_received", delta=5_000_000)
def test_a_variance_injected_into_an_agent_report_is_found(sqlite_url, tmp_path_factory, field, delta):
    """Catches: a report differing by 1 VND taken as agreeing, or a variance
    reported under another kind."""
    tmp_path = tmp_path_factory.mktemp("report")
    with open_ledger(sqlite_url) as ledger:
        if ledger.runtime.app.calendar() is None:
            _district(ledger, tmp_path, 30, seed=5)
            _cycle(ledger, FIRST, tmp_path, 5, {})
        (s,) = [x for x in ledger.queries.reconcile(FIRST) if x.agent_code.startswith("VNPOST")]
        report = dict(agent_code=s.agent_code, month=str(FIRST), advance_received=s.advance,
                      paid_total=s.disbursed, unpaid_total=s.closing_balance, fee_claimed=s.fee,
                      balance_remaining=s.closing_balance)
        if report[field] + delta < 0:
            delta = -delta  # an agent's figures are never negative: the file would be refused
        report[field] += delta
        from adapters.formats.agent_report import parse_agent_report
        reports = parse_agent_report(synthetic.write_csv(tmp_path / "agent-report.csv", [report], list(report)))
        ledger.commands.command(lambda: ledger.runtime.app.record_agent_results([], "o", FIRST.last_day, reports))
        (after,) = [x for x in ledger.queries.reconcile(FIRST) if x.agent_code == s.agent_code]
        assert [(v.kind, v.amount) for v in after.variances] == [(KIND_OF[field], delta)]


EVIDENCE_CASES = {
    "not_in_payroll": lambda rows, cid: rows + [dict(rows[0], line_id=f"2024-07-{cid[:-1]}9")],
    "amount_differs": lambda rows, cid: [dict(rows[0], amount_paid=str(int(rows[0]["amount_paid"]) + 1000))] + rows[1:],
    "paid_twice": lambda rows, cid: rows + [rows[0]],
    "citizen_differs": lambda rows, cid: [dict(rows[0], citizen_id=rows[1]["citizen_id"])] + rows[1:],
}


@pytest.mark.parametrize("kind", sorted(EVIDENCE_CASES))
def test_a_variance_injected_into_result_lines_is_found(sqlite_url, tmp_path, kind):
    with open_ledger(sqlite_url) as ledger:
        _district(ledger, tmp_path, 30, seed=6)
        payroll = ledger.commands.run_payroll(FIRST, tmp_path / "out", "o")
        (po,) = [f for f in payroll.files if "VNPOST" in f and f.endswith(".csv")]
        rows = [dict(r, status="paid", paid_on="2024-07-12", amount_paid=r.get("amount_paid") or line["amount"],
                     received_by="beneficiary", at_home="n")
                for r, line in zip(synthetic.postoffice_results(synthetic.read_payroll_csv(po), "2024-07", seed=1),
                                   synthetic.read_payroll_csv(po))]
        clean = synthetic.write_csv(tmp_path / "clean.csv", rows, synthetic.POSTOFFICE_RESULT_COLUMNS)
        assert not [v for s in ledger.queries.reconcile(FIRST, evidence=[clean]) for v in s.variances]
        injected = EVIDENCE_CASES[kind](rows, rows[0]["citizen_id"])
        if kind == "paid_twice":  # a file may not repeat a key with the same content silently twice:
            injected[-1] = dict(injected[-1])  # identical rows are one row; recorded first, then paid again
            ledger.commands.import_postoffice(clean, "o")
            injected = [dict(rows[0], paid_on="2024-07-20")]
        bad = synthetic.write_csv(tmp_path / "bad.csv", injected, synthetic.POSTOFFICE_RESULT_COLUMNS)
        found = [v.kind for s in ledger.queries.reconcile(FIRST, evidence=[bad]) for v in s.variances]
        assert kind in found, found


def test_close_refuses_unexplained_variances_until_accepted(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-25")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")
    with open_ledger(store_url) as ledger:
        _district(ledger, tmp_path, 20, seed=7)
        _cycle(ledger, FIRST, tmp_path, 7, {})
        (s,) = [x for x in ledger.queries.reconcile(FIRST) if x.agent_code.startswith("VNPOST")]
    report = dict(agent_code=s.agent_code, month=str(FIRST), advance_received=s.advance, paid_total=s.disbursed,
                  unpaid_total=s.closing_balance, fee_claimed=s.fee + 100_000, balance_remaining=s.closing_balance)
    path = synthetic.write_csv(tmp_path / "agent-report.csv", [report], list(report))
    empty = synthetic.write_csv(tmp_path / "none.csv", [], synthetic.POSTOFFICE_RESULT_COLUMNS)
    assert main(["--db", store_url, "import", "postoffice", str(empty), "--report", str(path)]) == 0
    capsys.readouterr()
    assert main(["--db", store_url, "settlement", "reconcile", "--month", "2024-07", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert set(row) >= {"agent_code", "month", "opening_balance", "advance", "disbursed", "fee", "returned",
                            "closing_balance", "reported_balance", "variances"}
    (variance,) = [v for r in rows for v in r["variances"]]
    assert (variance["kind"], variance["amount"]) == ("fee_differs", 100_000)
    assert main(["--db", store_url, "settlement", "close", "--month", "2024-07"]) == 1
    err = capsys.readouterr().err
    key = f"{s.agent_code}/fee_differs/"
    assert key in err
    assert main(["--db", store_url, "--actor", "Trưởng phòng", "settlement", "close", "--month", "2024-07",
                 "--accept", f"{key}=fee per contract; agent agreed on 2024-08-20"]) == 0
    capsys.readouterr()
    assert main(["--db", store_url, "settlement", "reconcile", "--month", "2024-07", "--json"]) == 0
    assert all(r["closed"] for r in json.loads(capsys.readouterr().out))


def test_the_opening_balance_from_the_last_close_equals_the_whole_history(store_url, tmp_path):
    """The settlement starts from the closing balances recorded at the last
    close and sums only the months since (the page stays fast at 24 months);
    it must equal the sum over the whole history, month after month, with
    late results landing in the first open month."""
    with open_ledger(store_url) as ledger:
        _, dead = _district(ledger, tmp_path, 40, seed=5)
        for offset in range(4):
            month = FIRST + offset
            _cycle(ledger, month, tmp_path, 5, dead)
            with ledger.runtime.engine.connect() as conn:
                whole = post_view.agent_movements(conn, str(month))
            settlements = {s.agent_code: s for s in ledger.queries.reconcile(month)}
            assert whole and {code: settlements[code].opening_balance for code in whole} == \
                   {code: m["opening"] for code, m in whole.items()}, month
            missing = ledger.commands.close_month(month, {}, "chief-officer")
            if missing:
                accepted = {key: "checked with the agent" for key in missing}
                assert ledger.commands.close_month(month, accepted, "chief-officer") == []
            _check_books(ledger, month)


SETTLED = ("opening_balance", "advance", "disbursed", "fee", "returned", "closing_balance")


def _figures(settlements) -> dict[str, dict]:
    return {s.agent_code: {name: getattr(s, name) for name in SETTLED} for s in settlements}


def _recorded_at_close(ledger, month: Month) -> dict[str, dict]:
    """Each agent's figures as the month's MonthClosed event recorded them."""
    recorded = ledger.runtime.app.calendar().closed[str(month)]
    return {code: {"opening_balance": f["opening"], "advance": f["advance"], "disbursed": f["disbursed"],
                   "fee": f["fee"], "returned": f["returned"], "closing_balance": f["closing"]}
            for code, f in recorded.items()}


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_the_close_records_the_books_not_an_altered_postings_view(store_url, tmp_path, capsys, monkeypatch,
                                                                  encrypted):
    """Catches: a close that takes what it records from the postings view.
    Someone with write access to the database raises what the post office
    paid out in the month, in the view only: the settlement page shows it,
    but the close records the figures folded from the events (and says the
    view differs, naming the agent); the events are untouched, so
    ``ledger replay`` shows the altered view. Also with the store encrypted
    (the events read by the close are decrypted by the ledger's mapper)."""
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")
    if encrypted:
        from eventsourcing.cryptography import AESCipher

        monkeypatch.setenv("LEDGER_CIPHER_KEY", AESCipher.create_key(32))
    with open_ledger(store_url) as ledger:
        _, dead = _district(ledger, tmp_path, 40, seed=5)
        _cycle(ledger, FIRST, tmp_path, 5, dead)
        true = _figures(ledger.queries.reconcile(FIRST))
        keys = [v.key(s.agent_code) for s in ledger.queries.reconcile(FIRST) for v in s.variances]
        (post_office,) = [code for code in true if code.startswith("VNPOST")]
        assert true[post_office]["disbursed"] > 0
        p = post_view.postings
        with ledger.runtime.engine.begin() as conn:
            position = conn.execute(sa.select(sa.func.min(p.c.position)).where(
                p.c.agent_code == post_office, p.c.kind == "disbursed", p.c.period == str(FIRST))).scalar()
            conn.execute(sa.update(p).where(p.c.position == position, p.c.kind == "disbursed")
                         .values(amount_vnd=p.c.amount_vnd + 5_000_000))
        shown = _figures(ledger.queries.reconcile(FIRST))
        assert shown[post_office]["disbursed"] == true[post_office]["disbursed"] + 5_000_000  # the page is fooled
    accepted = [word for key in keys for word in ("--accept", f"{key}=checked with the agent")]
    code, _, err = cmd(capsys, store_url, "--actor", "chief-officer", "settlement", "close", "--month", str(FIRST),
                       *accepted)
    assert code == 0, err
    with open_ledger(store_url) as ledger:
        assert _recorded_at_close(ledger, FIRST) == true
        # The closed month's settlement (page, report, what is published) is what the close recorded.
        assert _figures(ledger.queries.reconcile(FIRST)) == true
    assert "ledger replay" in err and f"{post_office}: disbursed" in err, err
    assert f"{true[post_office]['disbursed'] + 5_000_000:,} in the view, {true[post_office]['disbursed']:,} in the books" in err
    other = [c for c in true if c != post_office]
    assert other and not any(f"{c}:" in err for c in other), err
    code, out, _ = cmd(capsys, store_url, "replay", "--json")
    assert code == 3 and "postings" in out


def _close_on_the_books(ledger, month: Month) -> None:
    """Close the month (its variances accepted); the views agree with the
    books, and the figures recorded are the view's over the whole history."""
    differs: list = []
    missing = ledger.commands.close_month(month, {}, "chief-officer", on_view_differs=differs.extend)
    if missing:
        assert ledger.commands.close_month(month, {k: "checked" for k in missing}, "chief-officer",
                                           on_view_differs=differs.extend) == []
    assert differs == []
    recorded = _recorded_at_close(ledger, month)
    assert recorded == _figures(ledger.queries.reconcile(month))
    with ledger.runtime.engine.connect() as conn:
        whole = post_view.agent_movements(conn, str(month))  # the view, summed over the whole history
    assert {c: f["closing_balance"] for c, f in recorded.items() if c in whole} == \
           {c: m["opening"] + m["advance"] - m["disbursed"] - m["returned"] for c, m in whole.items()}


def test_a_close_reads_the_events_from_where_the_last_close_left(store_url, tmp_path):
    """Catches: a close that folds only the events recorded after the last
    close (August's payroll and results, recorded before July was closed,
    would be left out of August), one that takes a late July cancellation
    recorded after July's close anywhere but August, or one that reads the
    whole history again every month."""
    from adapters.settlement_books import month_books

    with open_ledger(store_url) as ledger:
        registered, dead = _district(ledger, tmp_path, 40, seed=11)
        _cycle(ledger, FIRST, tmp_path, 11, dead)
        _cycle(ledger, FIRST + 1, tmp_path, 11, dead)  # August's money moves while July is still open
        _close_on_the_books(ledger, FIRST)
        calendar = ledger.runtime.app.calendar()
        # July's close marks where August's events start, before July's close.
        assert 0 < calendar.books_from[str(FIRST)] <= calendar.seals[str(FIRST)]["position"]
        # A death in July, noticed after July's close: August's line is cancelled,
        # in July's money (reported in July), which lands in August.
        with ledger.runtime.engine.connect() as conn:  # someone whose cash the post office still holds
            holding = set(conn.execute(sa.select(pay_lines.c.citizen_id).where(
                pay_lines.c.status.in_(["issued", "unpaid"]))).scalars())
        alive = next(r["citizen_id"] for r in registered if r["citizen_id"] not in dead and r["citizen_id"] in holding)
        late = [dict(notice_id="CR-LATE", citizen_id=alive, date_of_death="2024-07-02",
                     source="civil_registry", reported_on="2024-07-25")]
        ledger.commands.import_deaths(synthetic.write_csv(tmp_path / "late.csv", late, synthetic.DEATH_COLUMNS), "o")
        with ledger.runtime.engine.connect() as conn:
            p = post_view.postings
            corrections = conn.execute(sa.select(p.c.period).where(
                p.c.kind == "returned", p.c.natural_month == str(FIRST), p.c.period == str(FIRST + 1))).all()
        assert corrections
        _close_on_the_books(ledger, FIRST + 1)
        _cycle(ledger, FIRST + 2, tmp_path, 11, dead)
        _close_on_the_books(ledger, FIRST + 2)
        # October's books are read from September's mark, not from the first event.
        calendar = ledger.runtime.app.calendar()
        october = month_books(ledger.runtime, calendar, FIRST + 3, ledger.runtime.chain.head()[0])
        assert calendar.books_from[str(FIRST + 2)] > calendar.seals[str(FIRST + 1)]["position"]
        with ledger.runtime.engine.connect() as conn:
            float_events = conn.execute(sa.select(sa.func.count(sa.distinct(p.c.position)))
                                        .where(p.c.agent_code != "")).scalar()
        assert october.events_read < float_events / 2


def test_a_variance_hidden_in_the_payout_view_still_stops_the_close(store_url, tmp_path):
    """Catches: a close that takes the variances to accept from the payout
    view. The flag on a payment after a death is wiped from the view: the
    page shows no variance, but the close still refuses until it is
    accepted, naming it, and says the view differs."""
    with open_ledger(store_url) as ledger:
        _, dead = _district(ledger, tmp_path, 40, seed=27)
        _cycle(ledger, FIRST, tmp_path, 27, dead)  # seed 27: July has a payment after a death
        flagged = [(s.agent_code, v) for s in ledger.queries.reconcile(FIRST) for v in s.variances if v.line_id]
        assert flagged, "the month has a flagged payment"
        agent, variance = flagged[0]
        from adapters.settlement_books import month_books, view_differences

        books = month_books(ledger.runtime, ledger.runtime.app.calendar(), FIRST, ledger.runtime.chain.head()[0])
        assert view_differences(books.settlements, ledger.queries.reconcile(FIRST)) == []  # before: the same
        with ledger.runtime.engine.begin() as conn:
            conn.execute(sa.update(pay_lines).where(pay_lines.c.line_id == variance.line_id).values(flags=""))
        assert variance.key(agent) not in [v.key(s.agent_code) for s in ledger.queries.reconcile(FIRST)
                                           for v in s.variances]  # the page no longer shows it
        differs: list = []
        missing = ledger.commands.close_month(FIRST, {}, "chief-officer", on_view_differs=differs.extend)
        assert variance.key(agent) in missing
        assert not ledger.runtime.app.calendar().is_closed(FIRST)
        assert f"{agent}: variance {variance.key(agent)} in the books only" in map(str, differs), differs
