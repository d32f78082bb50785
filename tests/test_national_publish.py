"""What a province publishes when it closes a month, on both stores: the
rows are written with the signed checkpoint and a signed statement of their
digests; publishing again replaces them; an altered figure no longer
verifies; an open month is not published; a ledger without a province code
publishes nothing."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from province_month import Province, run_ledger  # noqa: E402

from adapters.cli import main as ledger  # noqa: E402
from adapters.national import published  # noqa: E402
from adapters.national.report import check_province_month  # noqa: E402
from adapters.store import open_store  # noqa: E402
from ledger.months import Month  # noqa: E402

JULY, AUGUST = Month.parse("2024-07"), Month.parse("2024-08")


def published_rows(url: str) -> dict[str, list[dict]]:
    engine = open_store(url).engine()
    try:
        published.create_tables(engine)  # as the first publishing, or add-province, makes them
        with engine.connect() as conn:
            return {p.table.name: published.month_rows(conn, p, "051", "2024-07") for p in published.TABLES}
    finally:
        engine.dispose()


def verdict(url: str, key: str, month: str = "2024-07"):
    engine = open_store(url).engine()
    try:
        with engine.connect() as conn:
            return check_province_month(conn, "051", key, month)
    finally:
        engine.dispose()


def test_a_closed_month_is_published_and_verifies(store_url, tmp_path):
    province = Province("051", store_url, tmp_path / "province", 30)
    province.register(JULY)
    province.pay(JULY)
    closed = province.close(JULY)
    assert closed["published"]["published"] and closed["published"]["province"] == "051"

    rows = published_rows(store_url)
    summary = province.summary(JULY)
    close = rows["published_close"][0]
    assert close["disbursed"] == summary.totals.disbursed > 0
    assert len(rows["published_agent_settlement"]) == len(summary.agents)
    assert {r["commune_code"] for r in rows["published_commune_totals"]} == {c["commune_code"]
                                                                            for c in summary.communes}
    assert json.loads(close["checkpoint"])["position"] >= close["closed_at_position"] == summary.chain["position"]
    good = verdict(store_url, province.public_key)
    assert good.status == "ok" and good.figures["disbursed"] == summary.totals.disbursed

    # An altered figure: the rows no longer give the signed digest.
    engine = open_store(store_url).engine()
    with engine.begin() as conn:
        conn.execute(sa.update(published.agents).where(published.agents.c.province == "051")
                     .values(disbursed=published.agents.c.disbursed + 1))
    engine.dispose()
    altered = verdict(store_url, province.public_key)
    assert altered.status == "refused" and "published_agent_settlement" in altered.reason

    # Publishing again replaces the month's rows, with a new checkpoint.
    again = run_ledger(["--config", str(province.config), "national", "publish", "--month", "2024-07",
                        "--checkpoint-out", str(tmp_path / "checkpoints"), "--json"])
    assert again["rows"]["published_close"] == 1
    assert verdict(store_url, province.public_key).status == "ok"
    assert published_rows(store_url)["published_agent_settlement"] == rows["published_agent_settlement"]

    # Another province's key does not verify it; a month not published is missing.
    other = Province("052", store_url, tmp_path / "other", 1)
    assert verdict(store_url, other.public_key).status == "refused"
    assert verdict(store_url, province.public_key, "2024-08").status == "missing"


def test_an_open_month_is_not_published(store_url, tmp_path, capsys):
    province = Province("051", store_url, tmp_path / "province", 20)
    province.register(JULY)
    province.pay(JULY)
    code = ledger(["--config", str(province.config), "national", "publish", "--month", "2024-07",
                   "--checkpoint-out", str(tmp_path / "checkpoints")])
    assert code == 1 and "2024-07 is not closed" in capsys.readouterr().err
    assert not (tmp_path / "checkpoints").exists()
    assert published_rows(store_url)["published_close"] == []


def test_a_ledger_without_a_province_code_publishes_nothing(sqlite_url, tmp_path):
    province = Province("051", sqlite_url, tmp_path / "province", 20)
    province.config.write_text(province.config.read_text().replace('province_code = "051"\n', ""))
    province.register(JULY)
    province.pay(JULY)
    closed = province.close(JULY)
    assert closed["closed"] and closed["checkpoint"] and closed["published"] is None
    assert published_rows(sqlite_url)["published_close"] == []


def test_the_national_commands_say_what_is_wrong(postgres_url, capsys):
    """On the test server (wal_level = replica): a province that cannot
    publish by logical replication is refused with the setting to change;
    a database that is not a national one is named so."""
    db = ["--db", postgres_url, "national"]
    assert ledger([*db, "report", "--month", "2024-07"]) == 1
    assert "is not a national database" in capsys.readouterr().err
    assert ledger([*db, "init"]) == 0
    capsys.readouterr()
    assert ledger([*db, "add-province", "051", postgres_url, "--public-key", "ab"]) == 1
    assert "64 hex digits" in capsys.readouterr().err
    assert ledger([*db, "add-province", "051", postgres_url, "--public-key", "a" * 64]) == 1
    assert "wal_level = logical" in capsys.readouterr().err
    assert ledger([*db, "report", "--month", "2024-07", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["provinces"] == [] and not report["complete"] and report["totals"]["disbursed"] == 0


def test_a_close_from_the_web_signs_and_publishes_as_the_command_does(store_url, tmp_path):
    from adapters.bootstrap import open_runtime
    from adapters.queries import Queries
    from adapters.settings import LedgerSettings
    from adapters.web.app import create_app
    from tests.test_web import PASSWORD, csrf, login

    province = Province("051", store_url, tmp_path / "province", 20)
    province.register(JULY)
    province.pay(JULY)
    settings = LedgerSettings.load(province.config, checkpoint_dir=tmp_path / "web-checkpoints",
                                   web_files_dir=tmp_path / "files")
    with open_runtime(settings=settings) as runtime:
        keys = [v.key(s.agent_code) for s in Queries(runtime).reconcile(JULY) for v in s.variances]
        app = create_app(runtime, settings)
        app.state.users.add("lanhdao", "approver", PASSWORD)
        approver = login(app, "lanhdao")
        form = {"month": "2024-07", "csrf_token": csrf(approver, "/quyet-toan"), "variances": str(len(keys))}
        for i, key in enumerate(keys):
            form |= {f"key-{i}": key, f"reason-{i}": "đã đối chiếu với đại lý"}
        done = approver.post("/quyet-toan", data=form)
        assert done.status_code == 303, done.text
        page = approver.get(done.headers["location"]).text
    (checkpoint,) = (tmp_path / "web-checkpoints").glob("checkpoint-2024-07-*.json")
    assert checkpoint.name in page and "Đã công bố số liệu lên cơ sở dữ liệu quốc gia (tỉnh 051)" in page
    assert verdict(store_url, province.public_key).status == "ok"
    published_close = published_rows(store_url)["published_close"][0]
    assert json.loads(published_close["checkpoint"])["hash"] == json.loads(checkpoint.read_text())["hash"]
