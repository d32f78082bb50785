"""The national database's benchmark: provinces, each on its own durable
PostgreSQL server, and a national server subscribed to them (logical
replication), all on loopback.

    scripts/bench-national --people 100000            # the full size: three provinces of 100,000
    scripts/bench-national --people 20000 --json-out bench-results/national-20k.json

Each province registers its people, runs a month (payroll, the agents'
results) and closes it, which publishes the month. Measured per province:
the events and WAL of the month, bytes per event, the close, and the
replication lag: from the moment ``settlement close`` returns (its published
rows committed) to the moment the national report verifies that province's
month. The raw baseline, in the same run: a one-row table published and
subscribed between the same two servers, a row inserted, the time until the
national side has it. Then ``ledger national report`` is timed (median of
five) against a raw baseline, a plain SELECT of the same published rows.
It measures and reports; it never fails because of a figure."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

import pg_clusters  # noqa: E402
from province_month import Province, run_ledger  # noqa: E402

from ledger.months import Month  # noqa: E402

MONTH = Month.parse("2024-07")
CODES = ("001", "051", "079", "048", "031", "092", "075", "068", "038", "089")
DURABLE = dict(fsync="on", full_page_writes="on", synchronous_commit="on")
REPEATS = 5


def wal_lsn(cluster) -> int:
    return int(cluster.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")[0][0])


def events_count(cluster) -> int:
    return int(cluster.execute("SELECT count(*) FROM ledger_events")[0][0])


def stored_bytes(cluster) -> dict:
    row = cluster.execute("SELECT avg(octet_length(state))::float, pg_total_relation_size('ledger_events'), "
                          "count(*) FROM ledger_events")[0]
    return dict(state_bytes_per_event=round(row[0], 1), table_bytes_per_event=round(row[1] / row[2], 1))


def timed(step):
    started = time.perf_counter()
    value = step()
    return value, time.perf_counter() - started


def verified(national_url: str, code: str) -> bool:
    from adapters.national.report import national_report

    return any(p.province == code and p.status == "ok" for p in national_report(national_url, str(MONTH)).provinces)


def arrived(national, code: str, checkpoint: str) -> bool:
    """The national side has applied the publishing transaction that carries
    ``checkpoint`` (it applies a transaction whole)."""
    return bool(national.execute("SELECT 1 FROM published_close WHERE province = %s AND month = %s AND "
                                 "checkpoint = %s", params=(code, str(MONTH), checkpoint)))


def published_checkpoint(cluster, code: str) -> str:
    """The checkpoint the province last published for the month (signed
    with its time to the second: each publishing's differs)."""
    return cluster.execute("SELECT checkpoint FROM published_close WHERE province = %s AND month = %s",
                           params=(code, str(MONTH)))[0][0]


def raw_replication_lag(province, national, samples: int = REPEATS) -> float:
    """One row inserted into a published scratch table on the province, the
    time until the national side's subscription has applied it (median)."""
    province.execute("CREATE TABLE bench_ping (id int PRIMARY KEY, at text)")
    province.execute("CREATE PUBLICATION bench_ping FOR TABLE bench_ping")
    national.execute("CREATE TABLE bench_ping (id int PRIMARY KEY, at text)")
    national.execute(f"CREATE SUBSCRIPTION bench_ping CONNECTION '{province.url()}' PUBLICATION bench_ping")
    pg_clusters.wait_for(lambda: national.execute(
        "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel r JOIN pg_subscription s "
        "ON s.oid = r.srsubid WHERE s.subname = 'bench_ping'")[0][0], 120, what="the scratch subscription")
    lags = []
    for i in range(samples):
        province.execute("INSERT INTO bench_ping VALUES (%s, now()::text)", params=(i,))
        started = time.perf_counter()
        pg_clusters.wait_for(lambda: national.execute("SELECT 1 FROM bench_ping WHERE id = %s", params=(i,)),
                             120, 0.005, "the scratch row")
        lags.append(time.perf_counter() - started)
    national.execute("DROP SUBSCRIPTION bench_ping")
    province.execute("DROP PUBLICATION bench_ping")
    return statistics.median(lags)


def raw_report_read(national) -> float:
    started = time.perf_counter()
    for table in ("published_close", "published_agent_settlement", "published_commune_totals"):
        national.execute(f"SELECT * FROM {table} WHERE month = %s", params=(str(MONTH),))
    return time.perf_counter() - started


def report_at_scale(national, provinces: int, communes: int, agents: int) -> dict:
    """The national report over ``provinces`` provinces of realistic shape
    (Vietnam: about 10,600 communes before the 2025 merger, so ~170 a
    province; ~100 agents a province), each month signed as a province signs
    it, with a checkpoint of a full set of marks. The rows are written
    straight into a database of the national server (not replicated): this
    times the report's reading and checking only."""
    import random

    import sqlalchemy as sa

    from adapters.checkpoints import FORMAT, MARKS, public_hex
    from adapters.national import published
    from adapters.national.report import national_report
    from adapters.national.subscriptions import engine_for, init, provinces as register
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    national.execute("CREATE DATABASE national_scale", database="postgres")
    url = national.url("national_scale")
    init(url)
    rng = random.Random(1)
    engine = engine_for(url)
    with engine.begin() as conn:
        for index in range(provinces):
            code, key = f"{index + 1:03d}", Ed25519PrivateKey.generate()
            events = 150_000 * 12
            step = events // MARKS
            body = dict(format=FORMAT, position=events, events=events, hash=f"{rng.getrandbits(256):064x}",
                        time="2024-08-05T03:00:00+00:00", office=f"Sở {code}", public_key=public_hex(key),
                        step=step, marks=[[step * (i + 1), f"{rng.getrandbits(256):064x}"] for i in range(MARKS)])
            checkpoint = dict(body, signature=key.sign(published.canonical(body)).hex())
            base = dict(province=code, month=str(MONTH))
            money = lambda: rng.randrange(10**8, 10**10)  # noqa: E731
            rows = {
                published.agents.name: [dict(base, agent_code=f"AGENT-{a:03d}", opening_balance=0, advance=money(),
                                             disbursed=money(), fee=money() // 100, returned=0, closing_balance=0,
                                             reported_balance=None, variances=0) for a in range(agents)],
                published.communes.name: [dict(base, commune_code=f"{index:03d}{c:03d}", paid_cash_vnd=money(),
                                               paid_bank_vnd=money(), people_paid=rng.randrange(100, 900))
                                          for c in range(communes)],
            }
            close = dict(base, office=f"Sở {code}", **{n: money() for n in (
                "advance", "disbursed", "fee", "returned", "closing_balance", "paid_cash_vnd", "paid_bank_vnd",
                "unclaimed_held_vnd", "overpayments_open_vnd", "recovered_vnd", "written_off_vnd")},
                people_paid=55_000, unclaimed_verify=10, unclaimed_suspended=3, overpayments_open_count=40,
                closed_at_position=events - 5, closed_at_hash="0" * 64)
            rows[published.closes.name] = [close]
            statement = dict(format=published.STATEMENT_FORMAT, province=code, month=str(MONTH),
                             checkpoint=dict(position=events, hash=body["hash"], signature=checkpoint["signature"]),
                             closed_at=dict(position=events - 5, hash="0" * 64),
                             tables={p.table.name: published.digest(rows[p.table.name], p.figures)
                                     for p in published.TABLES})
            text = published.canonical(statement)
            close.update(published_at="2024-08-05T03:00:00+00:00", checkpoint=json.dumps(checkpoint),
                         statement=text.decode(), signature=key.sign(text).hex())
            for p in published.TABLES:
                conn.execute(p.table.insert(), rows[p.table.name])
            conn.execute(sa.insert(register).values(province=code, url="-", public_key=public_hex(key),
                                                     subscription="-", added_at="-"))
    engine.dispose()
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        report = national_report(url, str(MONTH))
        times.append(time.perf_counter() - started)
    raw = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for table in ("published_close", "published_agent_settlement", "published_commune_totals"):
            national.execute(f"SELECT * FROM {table} WHERE month = %s", database="national_scale",
                             params=(str(MONTH),))
        raw.append(time.perf_counter() - started)
    size = int(national.execute("SELECT pg_database_size('national_scale')", database="postgres")[0][0])
    checkpoint_bytes = int(national.execute("SELECT avg(octet_length(checkpoint)) FROM published_close",
                                            database="national_scale")[0][0])
    if report.as_dict()["provinces_counted"] != provinces:
        raise RuntimeError(f"the synthetic provinces did not verify: {report.as_dict()['provinces'][:2]}")
    return dict(provinces=provinces, communes_per_province=communes, agents_per_province=agents,
                report_seconds=round(statistics.median(times), 4), raw_read_seconds=round(statistics.median(raw), 4),
                report_vs_raw_read=round(statistics.median(times) / statistics.median(raw), 2),
                database_bytes=size, checkpoint_bytes=checkpoint_bytes)


def run(args: argparse.Namespace) -> dict:
    import tempfile

    folder = Path(args.work or tempfile.mkdtemp(prefix="bench-national-")).resolve()
    servers = {}
    if args.scale_only:
        try:
            servers["national"] = pg_clusters.Cluster.create("bench-national", **DURABLE)
            return dict(at_scale=report_at_scale(servers["national"], args.scale_provinces, 170, 100))
        finally:
            servers["national"].remove()
    result = dict(people_per_province=args.people, provinces=args.provinces, month=str(MONTH),
                  started=datetime.now().isoformat(timespec="seconds"), per_province=[])
    try:
        codes = CODES[:args.provinces]
        for code in codes:
            servers[code] = pg_clusters.Cluster.create(f"bench-{code}", **DURABLE)
        national = servers["national"] = pg_clusters.Cluster.create("bench-national", **DURABLE)
        provinces = {c: Province(c, servers[c].url(), folder / c, args.people, seed=int(c)) for c in codes}
        nat = ["--db", national.url(), "national"]
        run_ledger([*nat, "init", "--json"])
        for code, province in provinces.items():
            run_ledger([*nat, "add-province", code, province.url, "--public-key", province.public_key, "--json"])
        for code, province in provinces.items():
            cluster = servers[code]
            print(f"province {code}: registering {args.people} people", flush=True)
            _, register_s = timed(lambda: province.register(MONTH))
            events_before, wal_before = events_count(cluster), wal_lsn(cluster)
            lines, pay_s = timed(lambda: province.pay(MONTH))
            closed, close_s = timed(lambda: province.close(MONTH))
            closed_at = time.perf_counter()
            if not closed["published"]["published"]:
                raise RuntimeError(f"province {code} did not publish: {closed['published']}")
            # The month's WAL and events: payroll, results and close (not the registrations).
            month_events, month_wal = events_count(cluster) - events_before, wal_lsn(cluster) - wal_before
            checkpoint = published_checkpoint(cluster, code)
            pg_clusters.wait_for(lambda: arrived(national, code, checkpoint), 600, 0.005, f"{code}'s month at national")
            lag = time.perf_counter() - closed_at
            if not verified(national.url(), code):
                raise RuntimeError(f"province {code}'s month arrived but does not verify")
            figures = dict(province=code, people=args.people, register_seconds=round(register_s, 2),
                           payroll_and_results_seconds=round(pay_s, 2), close_seconds=round(close_s, 2),
                           lines=lines, events_in_month=month_events, wal_bytes_in_month=month_wal,
                           wal_bytes_per_event=round(month_wal / month_events, 1),
                           events_total=events_count(cluster), replication_lag_seconds=round(lag, 3),
                           **stored_bytes(cluster))
            print(json.dumps(figures), flush=True)
            result["per_province"].append(figures)
        # A quiet province's month published again: the lag without a payroll's WAL in front of it.
        quiet = []
        for code, province in provinces.items():
            time.sleep(1.1)  # a checkpoint of another second than the close's
            run_ledger(["--config", str(province.config), "national", "publish", "--month", str(MONTH),
                        "--checkpoint-out", str(province.folder / "checkpoints"), "--json"])
            published_at = time.perf_counter()
            checkpoint = published_checkpoint(servers[code], code)
            pg_clusters.wait_for(lambda: arrived(national, code, checkpoint), 120, 0.005, "the republished month")
            quiet.append(time.perf_counter() - published_at)
        raw_lag = raw_replication_lag(servers[codes[0]], national)
        report_times, raw_times = [], []
        for _ in range(REPEATS):
            report, seconds = timed(lambda: run_ledger([*nat, "report", "--month", str(MONTH), "--json"]))
            report_times.append(seconds)
            raw_times.append(raw_report_read(national))
        status, status_s = timed(lambda: run_ledger([*nat, "status", "--json"]))
        published_bytes = int(national.execute(
            "SELECT sum(pg_total_relation_size(t)) FROM unnest(ARRAY['published_close', "
            "'published_agent_settlement', 'published_commune_totals']::regclass[]) AS t")[0][0])
        result.update(
            raw_replication_lag_seconds=round(raw_lag, 4),
            quiet_republish_lag_seconds=round(statistics.median(quiet), 4),
            lag_after_close_seconds_max=max(p["replication_lag_seconds"] for p in result["per_province"]),
            national_report_seconds=round(statistics.median(report_times), 4),
            raw_read_seconds=round(statistics.median(raw_times), 4),
            status_seconds=round(status_s, 3),
            national_report_complete=report["complete"],
            national_people_paid=report["totals"]["people_paid"],
            national_published_bytes=published_bytes,
            status_lag_bytes=[p.get("lag_bytes") for p in status["provinces"]],
        )
        result["at_scale"] = report_at_scale(national, args.scale_provinces, 170, 100)
        result["ratios"] = dict(
            quiet_lag_vs_raw=round(result["quiet_republish_lag_seconds"] / raw_lag, 2),
            report_vs_raw_read=round(result["national_report_seconds"] / result["raw_read_seconds"], 2))
        return result
    finally:
        if not args.keep:
            for cluster in servers.values():
                cluster.remove()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench-national", description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000, help="beneficiaries per province (default 100000)")
    parser.add_argument("--provinces", type=int, default=3, help="provinces (default 3)")
    parser.add_argument("--work", help="folder for the provinces' files (default: a temporary folder)")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--keep", action="store_true", help="leave the servers running (their folders printed)")
    parser.add_argument("--scale-provinces", type=int, default=63,
                        help="then time the report over this many provinces of signed synthetic rows (default 63)")
    parser.add_argument("--scale-only", action="store_true", help="only that (one server, a minute)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    scale = result["at_scale"]
    print(f"\nnational report over {scale['provinces']} synthetic provinces: {scale['report_seconds']} s = "
          f"{scale['report_vs_raw_read']}x a raw read of the same rows ({scale['raw_read_seconds']} s)")
    if args.scale_only:
        return 0
    print(f"replication lag after a close: max {result['lag_after_close_seconds_max']} s; quiet "
          f"{result['quiet_republish_lag_seconds']} s = {result['ratios']['quiet_lag_vs_raw']}x the raw "
          f"one-row lag ({result['raw_replication_lag_seconds']} s)\nnational report: "
          f"{result['national_report_seconds']} s = {result['ratios']['report_vs_raw_read']}x a raw read of "
          f"the same rows ({result['raw_read_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
