"""The ledger command end to end, on files, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from adapters.cli import main

from .helpers import REGISTER, REGISTER_2, decisions_file


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-10-15")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_import_show_entitlements(store_url, tmp_path, capsys):
    path = decisions_file(tmp_path / "decisions.csv", [REGISTER, REGISTER_2])
    assert run(capsys, "--db", store_url, "init")[0] == 0
    assert run(capsys, "--db", store_url, "init", "--json")[0] == 0  # again: changes nothing

    code, out, err = run(capsys, "--db", store_url, "import", "decisions", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["recorded_events"] == 2
    code, out, _ = run(capsys, "--db", store_url, "import", "decisions", str(path), "--json")
    assert json.loads(out)["recorded_events"] == 0

    code, out, _ = run(capsys, "--db", store_url, "beneficiary", "show", REGISTER_2["citizen_id"], "--json")
    shown = json.loads(out)
    for key in ("citizen_id", "status", "categories", "monthly_amount", "months", "arrears_due",
                "overpayment_open", "recovered", "funeral_support"):
        assert key in shown
    assert shown["status"] == "active" and shown["categories"] == ["ORPHAN"]
    assert shown["monthly_amount"] == 750_000
    assert [m["month"] for m in shown["months"]] == ["2024-07", "2024-08", "2024-09", "2024-10"]
    first = shown["months"][0]
    assert {k: first[k] for k in ("due", "issued", "disbursed", "unclaimed", "cancelled")} == \
        {"due": 750_000, "issued": 0, "disbursed": 0, "unclaimed": 0, "cancelled": 0}

    code, out, _ = run(capsys, "--db", store_url, "entitlements", "--month", "2024-08", "--json")
    rows = json.loads(out)
    assert {r["citizen_id"]: r["amount"] for r in rows} == {REGISTER["citizen_id"]: 500_000,
                                                             REGISTER_2["citizen_id"]: 750_000}
    assert set(rows[0]) >= {"citizen_id", "status", "categories", "amount", "channel", "agent_code"}

    code, out, _ = run(capsys, "--db", store_url, "entitlements", "--month", "2024-08")
    assert "2 people, 1.250.000 ₫ due" in out  # Vietnamese grouping in text; JSON stays integers


def test_rejected_file_exit_code_and_message(store_url, tmp_path, capsys):
    path = decisions_file(tmp_path / "bad.csv", [REGISTER, dict(REGISTER_2, category="NOPE")])
    code, out, err = run(capsys, "--db", store_url, "import", "decisions", str(path))
    assert code == 1 and out == ""
    assert f"{path}:3:10: unknown category 'NOPE'" in err
    assert "nothing was recorded" in err
    code, _, err = run(capsys, "--db", store_url, "beneficiary", "show", REGISTER["citizen_id"])
    assert code == 1 and "not registered" in err


def test_show_human_output_and_replay(sqlite_url, tmp_path, capsys):
    path = decisions_file(tmp_path / "d.csv", [REGISTER])
    run(capsys, "--db", sqlite_url, "import", "decisions", str(path))
    code, out, _ = run(capsys, "--db", sqlite_url, "beneficiary", "show", REGISTER["citizen_id"])
    assert code == 0 and "ELDERLY_80" in out and "500.000 ₫" in out
    code, out, _ = run(capsys, "--db", sqlite_url, "replay", "--json")
    replayed = json.loads(out)
    # The registration and the import's receipt (ledger/imports.py).
    assert code == 0 and replayed["events"] == 2 and replayed["matches"] is True


def test_console_script_and_environment_url(tmp_path):
    """The installed `ledger` command, with the store from LEDGER_DATABASE_URL."""
    path = decisions_file(tmp_path / "d.csv", [REGISTER])
    env = {"LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}", "LEDGER_TODAY": "2024-08-01",
           "LEDGER_ACTOR": "officer-test",
           "PATH": __import__("os").environ["PATH"]}
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "import", "decisions", str(path)],
                          env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "env.db").exists()


def test_demo_runs(tmp_path, capsys, monkeypatch):
    """The demo's printed figures are the store's: eight months, every line
    on the lists answered, each month closed, the second run issuing
    nothing, the queue and the overpayments as the ledger computes them."""
    import re

    from .helpers import open_ledger
    from ledger.months import Month, month_range
    from projections import payouts as pay_view

    monkeypatch.chdir(tmp_path)
    code = main(["demo", "--people", "300", "--out", str(tmp_path / "out")])
    out, _ = capsys.readouterr()
    assert code == 0
    months = [str(m) for m in month_range(Month.parse("2024-03"), Month.parse("2024-10"))]
    table = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and re.fullmatch(r"\d{4}-\d{2}", cells[0]) and len(cells) == 11:
            table[cells[0]] = dict(zip(("decisions", "deaths", "lines", "advance", "carried", "paid", "unpaid",
                                        "rejected", "suspended", "variances"),
                                       (int(c.replace(",", "")) for c in cells[1:])))
    assert list(table) == months
    for month, row in table.items():
        assert row["lines"] > 0 and row["advance"] > 0, month
        # Every line on the agents' lists (new and carried) got exactly one result.
        assert row["paid"] + row["unpaid"] + row["rejected"] == row["lines"] + row["carried"], month
    assert "Running the 2024-10 payroll again: nothing new, the same" in out
    assert "ISSUED AGAIN" not in out
    queue = re.search(r"Unclaimed queue after 2024-10: (\d+) to verify, (\d+) suspended, ([\d,]+) VND", out)
    owed = re.search(r"Overpayments after late death notices: (\d+) open, ([\d,]+) VND to recover", out)
    assert queue and owed
    with open_ledger("sqlite:///ledger-demo.db") as ledger:
        calendar = ledger.runtime.app.calendar()
        assert sorted(calendar.months) == months
        assert sorted(calendar.closed) == months
        # Four eyes: each payroll prepared by the officer, released by the approver.
        assert {calendar.prepared_by[m] for m in months} == {"canbo"}
        assert {calendar.issued_by[m] for m in months} == {"lanhdao"}
        with ledger.runtime.engine.connect() as conn:
            for month in months:
                runs = pay_view.payroll_of(conn, month)
                assert sum(r["lines_count"] for r in runs) == table[month]["lines"], month
                assert sum(r["advance_vnd"] for r in runs) == table[month]["advance"], month
        rows = [r.as_dict() for r in ledger.queries.unclaimed(Month.parse("2024-10"))]
        assert (int(queue[1]), int(queue[2]), int(queue[3].replace(",", ""))) == (
            sum(1 for r in rows if r["flag"] == "verify"), sum(1 for r in rows if r["flag"] == "suspended"),
            sum(r["amount"] for r in rows))
        recoveries = [r.as_dict() for r in ledger.queries.recoveries()]
        assert (int(owed[1]), int(owed[2].replace(",", ""))) == (
            sum(1 for r in recoveries if r["open"]), sum(r["open"] for r in recoveries))
        # Some paid into a proxy's own account, a few confirmed by the communes, the rest queued.
        proxies = re.search(r"Paid into a proxy's own account: (\d+) people .*?; (\d+) monthly payments confirmed "
                            r"by the communes, (\d+) people waiting", out)
        assert proxies and int(proxies[1]) > 0 and int(proxies[2]) > 0, out
        from projections import office_figures
        with ledger.runtime.engine.connect() as conn:
            payments = office_figures.payments_of(conn, "2024-03", "2024-10")
        assert 0 < len({p["citizen_id"] for p in payments}) <= int(proxies[1])
        assert len({(p["citizen_id"], p["payroll_month"]) for p in payments if p["confirmed_on"]}) == int(proxies[2])
        assert len(ledger.queries.proxy_queue(Month.parse("2024-10"))) == int(proxies[3])
