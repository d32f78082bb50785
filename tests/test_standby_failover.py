"""A province's server and its streaming standby (pg_basebackup, with
synchronous_commit): the primary is killed (pg_ctl -m immediate) in the
middle of a payroll run, the standby is promoted, the history still
verifies, nothing the office was told was recorded is lost, and the payroll
run again on the promoted standby issues the month once: no month is paid
twice to anyone."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import pg_clusters  # noqa: E402
from province_month import Province, run_ledger  # noqa: E402

from adapters.bootstrap import open_runtime  # noqa: E402
from adapters.queries import Queries  # noqa: E402
from ledger.months import Month  # noqa: E402

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(not pg_clusters.available(), reason="no PostgreSQL binaries")]

JULY = Month.parse("2024-07")
PEOPLE = 2500  # enough for the payroll's transaction to last a while on a loaded machine


@pytest.fixture
def pair():
    primary = pg_clusters.Cluster.create("province-primary")
    standby = None
    try:
        standby = primary.standby("province-standby", application_name="standby1")
        # From now on a commit returns only once the standby has it on disk.
        primary.execute("ALTER SYSTEM SET synchronous_standby_names = 'standby1'", database="postgres")
        primary.execute("SELECT pg_reload_conf()", database="postgres")
        pg_clusters.wait_for(lambda: primary.execute(
            "SELECT 1 FROM pg_stat_replication WHERE application_name = 'standby1' AND sync_state = 'sync'",
            database="postgres"), 30, what="the standby streaming synchronously")
        yield primary, standby
    finally:
        for cluster in (primary, standby):
            if cluster is not None:
                cluster.remove()


def events(cluster) -> int:
    return cluster.execute("SELECT count(*) FROM ledger_events")[0][0]


def holding_the_events_lock(cluster) -> bool:
    """A transaction is writing events (the recorder's EXCLUSIVE lock)."""
    try:
        return bool(cluster.execute(
            "SELECT 1 FROM pg_locks WHERE relation = 'ledger_events'::regclass AND mode = 'ExclusiveLock' "
            "AND granted"))
    except Exception:  # noqa: BLE001 - the server going away while polling
        return False


def months_paid_twice(cluster) -> list:
    return cluster.execute(
        "SELECT citizen_id, m, count(*) FROM pay_lines, unnest(string_to_array(months, ';')) AS m "
        "GROUP BY citizen_id, m HAVING count(*) > 1")


def test_failover_during_a_payroll_run(pair, tmp_path):
    primary, standby = pair
    province = Province("051", primary.url(), tmp_path / "province", PEOPLE)
    province.register(JULY)
    acknowledged = events(primary)  # every event the office was told is recorded

    env = dict(os.environ, PYTHONPATH=str(REPO), LEDGER_ACTOR="officer")
    run = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--config", str(province.config), "payroll",
                            "run", "--month", str(JULY), "--out", str(tmp_path / "payroll"), "--json"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pg_clusters.wait_for(lambda: holding_the_events_lock(primary) or run.poll() is not None, 300, 0.01,
                             "the payroll writing its events")
        primary.kill()
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    killed_mid_run = run.returncode != 0
    assert killed_mid_run, f"the payroll finished before the kill: {stdout}"
    assert run.returncode == 75, stderr  # temporarily unable: the database went away
    assert "Traceback" not in stderr

    standby.promote()
    standby_db = ["--config", str(province.config), "--db", standby.url()]
    assert events(standby) >= acknowledged  # nothing committed is lost
    verified = run_ledger([*standby_db, "audit", "verify", "--json"])
    assert verified["ok"] and verified["checked"] == events(standby)

    retried = run_ledger([*standby_db, "--actor", "officer", "payroll", "run", "--month", str(JULY),
                          "--out", str(tmp_path / "payroll-retried"), "--json"])
    # Issued now, or (killed after its commit reached the standby but before
    # the answer reached the office) found issued: either way once.
    assert retried["lines"] > PEOPLE * 0.9
    again = run_ledger([*standby_db, "--actor", "officer", "payroll", "run", "--month", str(JULY),
                        "--out", str(tmp_path / "payroll-again"), "--json"])
    assert not again["issued_now"] and again["lines"] == retried["lines"]
    assert months_paid_twice(standby) == []
    assert standby.execute("SELECT count(*) FROM pay_lines WHERE payroll_month = '2024-07'")[0][0] \
        == retried["lines"] + retried["carried_lines"]
    assert run_ledger([*standby_db, "audit", "verify", "--json"])["ok"]


def test_a_commit_is_on_the_standby_before_it_is_acknowledged(pair, tmp_path):
    """synchronous_commit: whatever the primary acknowledged is on the
    standby, even when the primary dies the moment after. The national
    database, subscribed to the old primary, is pointed at the promoted
    standby and gets the month closed there."""
    primary, standby = pair
    national = pg_clusters.Cluster.create("national")
    try:
        province = Province("051", primary.url(), tmp_path / "province", 60)
        run_ledger(["--db", national.url(), "national", "init", "--json"])
        run_ledger(["--db", national.url(), "national", "add-province", "051", primary.url(),
                    "--public-key", province.public_key, "--json"])
        province.register(JULY)
        province.pay(JULY)
        acknowledged = events(primary)
        primary.kill()
        standby.promote()
        assert events(standby) == acknowledged
        assert run_ledger(["--db", standby.url(), "audit", "verify", "--json"])["ok"]

        accept = [a for key in _variance_keys(province, standby) for a in ("--accept", f"{key}=followed up")]
        closed = run_ledger(["--config", str(province.config), "--db", standby.url(), "--actor", "head",
                             "settlement", "close", "--month", str(JULY), "--checkpoint-out",
                             str(tmp_path / "checkpoints"), "--json", *accept])
        assert closed["closed"] and closed["published"]["published"]

        run_ledger(["--db", national.url(), "national", "add-province", "051", standby.url(),
                    "--public-key", province.public_key, "--json"])
        def complete():
            report = run_ledger(["--db", national.url(), "national", "report", "--month", str(JULY), "--json"])
            return report if report["complete"] else None
        report = pg_clusters.wait_for(complete, 90, 0.3, "July from the promoted standby at national")
        with open_runtime(standby.url(), settings=province.settings()) as runtime:
            own = Queries(runtime).district_summary(JULY)
        assert report["totals"]["disbursed"] == own.totals.disbursed > 0
        status = run_ledger(["--db", national.url(), "national", "status", "--json"])["provinces"]
        assert [p["url"] for p in status] == [standby.url()] and status[0]["running"]
    finally:
        national.remove()


def _variance_keys(province, standby) -> list[str]:
    with open_runtime(standby.url(), settings=province.settings()) as runtime:
        return [v.key(s.agent_code) for s in Queries(runtime).reconcile(JULY) for v in s.variances]
