"""Three provinces, each on its own PostgreSQL server, and a national
database fed by logical replication, all on loopback: each province runs
and closes a month (of a different size), and the national report is the
sum of the provinces' own reports; a province whose server is down is shown
as missing (never as zero) while the others close and report, and catches
up once restarted; a replicated figure altered on the national side, or a
province registered with another key, is refused."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import pg_clusters  # noqa: E402
from province_month import Province, run_ledger  # noqa: E402

from ledger.months import Month  # noqa: E402

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(not pg_clusters.available(), reason="no PostgreSQL binaries")]

JULY, AUGUST = Month.parse("2024-07"), Month.parse("2024-08")
SIZES = {"001": 40, "051": 130, "079": 260}  # people per province
REPLICATION_WAIT = 90  # seconds; the apply workers usually take well under one


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    made = {}
    try:
        for code in SIZES:
            made[code] = pg_clusters.Cluster.create(f"province-{code}")
        made["national"] = pg_clusters.Cluster.create("national")
        yield made
    finally:
        for cluster in made.values():
            cluster.remove()


@pytest.fixture(scope="module")
def provinces(servers, tmp_path_factory):
    root = tmp_path_factory.mktemp("provinces")
    made = {code: Province(code, servers[code].url(), root / code, people) for code, people in SIZES.items()}
    for province in made.values():
        province.register(JULY)
    return made


def national(servers, *argv: str) -> dict:
    return run_ledger(["--db", servers["national"].url(), "national", *argv, "--json"])


def report_when(servers, month: Month, done, what: str) -> dict:
    """The national report, once ``done(report)`` holds (replication is
    asynchronous: the national side receives a close a moment after it)."""
    last = {}

    def check():
        last["report"] = national(servers, "report", "--month", str(month))
        return done(last["report"])

    try:
        pg_clusters.wait_for(check, REPLICATION_WAIT, 0.3, what)
    except TimeoutError:
        raise AssertionError(f"{what}: {last.get('report')}") from None
    return last["report"]


def by_province(report: dict) -> dict:
    return {p["province"]: p for p in report["provinces"]}


def own_figures(summary) -> dict:
    """A province's own report, in the national report's terms."""
    communes = summary.communes
    paid_cash = sum(c["paid_cash_vnd"] for c in communes)
    paid_bank = sum(c["paid_bank_vnd"] for c in communes)
    totals = summary.totals
    return dict(advance=totals.advance, disbursed=totals.disbursed, fee=totals.fee, returned=totals.returned,
                closing_balance=totals.closing_balance, paid_cash_vnd=paid_cash, paid_bank_vnd=paid_bank,
                people_paid=sum(c["people_paid"] for c in communes),
                unclaimed_verify=summary.unclaimed_queue.verify,
                unclaimed_suspended=summary.unclaimed_queue.suspended,
                unclaimed_held_vnd=summary.unclaimed_queue.held_vnd,
                overpayments_open_count=summary.overpayments.open_count,
                overpayments_open_vnd=summary.overpayments.open_vnd,
                recovered_vnd=summary.overpayments.recovered_vnd,
                written_off_vnd=summary.overpayments.written_off_vnd,
                agents=len(summary.agents), communes=len(communes),
                cashless_share=paid_bank / (paid_cash + paid_bank) if paid_cash + paid_bank else 0.0)


def test_the_national_report_is_the_sum_of_the_provinces_own(servers, provinces):
    national(servers, "init")
    first = provinces["001"]
    # One province subscribed before it closes (its close streams in), the
    # others after (their published rows are copied when they subscribe).
    national(servers, "add-province", "001", first.url, "--public-key", first.public_key)
    for province in provinces.values():
        assert province.pay(JULY) > 0
        closed = province.close(JULY)
        assert closed["published"]["published"], closed
    for code in ("051", "079"):
        national(servers, "add-province", code, provinces[code].url, "--public-key", provinces[code].public_key)

    report = report_when(servers, JULY, lambda r: r["complete"], "all three provinces' July in the national report")

    own = {code: own_figures(p.summary(JULY)) for code, p in provinces.items()}
    shown = by_province(report)
    for code, figures in own.items():
        assert shown[code]["status"] == "ok"
        assert shown[code]["figures"] == pytest.approx(figures), code
    for name in ("advance", "disbursed", "fee", "returned", "closing_balance", "people_paid",
                 "unclaimed_held_vnd", "overpayments_open_vnd", "paid_cash_vnd", "paid_bank_vnd"):
        assert report["totals"][name] == sum(f[name] for f in own.values()), name
    assert report["totals"]["people_paid"] > 300  # three months' worth of real figures, not zeros
    paid = report["totals"]["paid_cash_vnd"] + report["totals"]["paid_bank_vnd"]
    assert report["totals"]["cashless_share"] == pytest.approx(report["totals"]["paid_bank_vnd"] / paid)

    status = national(servers, "status")
    assert {p["province"]: p["last_closed_month"] for p in status["provinces"]} == dict.fromkeys(SIZES, "2024-07")
    assert all(p["running"] and p["reachable"] and p["lag_bytes"] is not None for p in status["provinces"])


def test_a_province_down_is_missing_and_catches_up(servers, provinces):
    down = "079"
    servers[down].stop()
    try:
        for code in ("001", "051"):
            provinces[code].pay(AUGUST)
            provinces[code].close(AUGUST)
        report = report_when(servers, AUGUST, lambda r: r["provinces_counted"] == 2,
                             "the two running provinces' August")
        shown = by_province(report)
        assert shown[down]["status"] == "missing" and shown[down]["figures"] is None
        assert report["provinces_missing"] == [down] and not report["complete"]
        own = [own_figures(provinces[c].summary(AUGUST)) for c in ("001", "051")]
        assert report["totals"]["disbursed"] == sum(f["disbursed"] for f in own)
        status = {p["province"]: p for p in national(servers, "status")["provinces"]}
        assert status[down]["reachable"] is False and status[down]["last_closed_month"] == "2024-07"
        assert status["001"]["last_closed_month"] == "2024-08"
    finally:
        servers[down].start()

    # The national server down while the restarted province closes: its close
    # waits in the province's replication slot and arrives afterwards.
    servers["national"].stop()
    try:
        provinces[down].pay(AUGUST)
        provinces[down].close(AUGUST)
    finally:
        servers["national"].start()
    report = report_when(servers, AUGUST, lambda r: r["complete"], "the restarted province's August")
    assert by_province(report)[down]["figures"] == pytest.approx(own_figures(provinces[down].summary(AUGUST)))


def test_altered_or_foreign_figures_are_refused(servers, provinces):
    # A figure altered in the national copy: that province is refused, not counted.
    servers["national"].execute(
        "UPDATE published_commune_totals SET paid_cash_vnd = paid_cash_vnd + 1000 "
        "WHERE province = '051' AND month = '2024-07' AND commune_code = "
        "(SELECT min(commune_code) FROM published_commune_totals WHERE province = '051' AND month = '2024-07')")
    report = national(servers, "report", "--month", "2024-07")
    shown = by_province(report)
    assert shown["051"]["status"] == "refused" and "published_commune_totals" in shown["051"]["reason"]
    assert report["provinces_refused"] == ["051"]
    assert report["totals"]["disbursed"] == sum(shown[c]["figures"]["disbursed"] for c in ("001", "079"))

    # Publishing again from the province replaces the month's rows: it verifies again.
    run_ledger(["--config", str(provinces["051"].config), "national", "publish", "--month", "2024-07",
                "--checkpoint-out", str(provinces["051"].folder / "checkpoints"), "--json"])
    report_when(servers, JULY, lambda r: r["complete"], "051's July published again")

    # The register holds a province's key: a checkpoint signed with another one is refused.
    servers["national"].execute("UPDATE national_provinces SET public_key = %s WHERE province = '001'",
                                params=(provinces["051"].public_key,))
    shown = by_province(national(servers, "report", "--month", "2024-07"))
    assert shown["001"]["status"] == "refused" and "key" in shown["001"]["reason"]


def test_a_province_restored_from_its_dump_verifies_against_its_last_checkpoint(servers, provinces, tmp_path):
    """docs/national.md's restore: pg_dump, pg_restore into a fresh database,
    `ledger audit verify --against` the last checkpoint the close wrote."""
    import subprocess

    province, cluster = provinces["051"], servers["051"]
    dump = tmp_path / "province-051.dump"
    bindir = pg_clusters.bindir()
    subprocess.run([str(bindir / "pg_dump"), "-Fc", "-f", str(dump), province.url], check=True)
    cluster.execute("CREATE DATABASE restored", database="postgres")
    subprocess.run([str(bindir / "pg_restore"), "--no-owner", "-d", cluster.url("restored"), str(dump)],
                   check=True)
    checkpoints = sorted((province.folder / "checkpoints").glob("checkpoint-*.json"),
                         key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    verdict = run_ledger(["--config", str(province.config), "--db", cluster.url("restored"), "audit", "verify",
                          "--against", *map(str, checkpoints), "--json"])
    assert verdict["ok"] and all(a["ok"] for a in verdict["against"]) and len(verdict["against"]) >= 2
    # A dump taken before the last close does not extend it: found, not passed.
    cluster.execute("DELETE FROM audit_chain WHERE position > (SELECT max(position) - 5 FROM audit_chain)",
                    database="restored")
    cluster.execute("DELETE FROM ledger_events WHERE notification_id > (SELECT max(position) FROM audit_chain)",
                    database="restored")
    code = __import__("adapters.cli", fromlist=["main"]).main(
        ["--config", str(province.config), "--db", cluster.url("restored"), "audit", "verify",
         "--against", str(checkpoints[-1])])
    assert code == 2
