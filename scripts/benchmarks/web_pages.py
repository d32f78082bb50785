"""Every page's time, measured with httpx against a running ``ledger serve``
on a populated store (scripts/benchmarks/web_district.py makes one), beside
raw baselines measured in the same run: a static file from the same server
(what HTTP, the session and the security middleware cost alone) and, for
the pages whose main read is one SQL query, that query run raw with psycopg
on the same database. Prints p50/p99 per page, the ratio of each page's p50
to its baseline, and the goals (p99 <= 150 ms a page, search <= 100 ms).

    PYTHONPATH=scripts:. python3 -m benchmarks.web_pages --db postgresql://... \\
        --requests 100 --json-out bench-results/web-pages.json

Requests are sequential from one client over loopback, bounded in count;
the server is started and stopped by the script."""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg

from .web_district import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
PAGE_GOAL_MS = 150.0
SEARCH_GOAL_MS = 100.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _summary(times_ms: list[float]) -> dict:
    return {"count": len(times_ms), "p50_ms": round(statistics.median(times_ms), 2),
            "p99_ms": round(_percentile(times_ms, 0.99), 2), "max_ms": round(max(times_ms), 2)}


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def sample(url: str, seed: int) -> dict:
    """What the pages are asked about: people, a commune, a name, the last month."""
    rng = random.Random(seed)
    with psycopg.connect(_psycopg_url(url)) as conn:
        ids = [r[0] for r in conn.execute("SELECT citizen_id FROM ent_beneficiaries ORDER BY citizen_id")]
        communes = [r[0] for r in conn.execute("SELECT DISTINCT commune_code FROM ent_beneficiaries")]
        months = [r[0] for r in conn.execute("SELECT DISTINCT month FROM payroll_runs ORDER BY 1")]
        people = conn.execute("SELECT count(*) FROM ent_beneficiaries").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0]
        # "As known at" the time the middle of the history was recorded.
        state = conn.execute("SELECT state FROM ledger_events WHERE notification_id >= "
                             "(SELECT max(notification_id) / 2 FROM ledger_events) "
                             "ORDER BY notification_id LIMIT 1").fetchone()[0]
        middle = json.loads(bytes(state))["timestamp"]["_data_"][:16]
        # The commune with the most overpayments, for the overpayments page's filter.
        owed = conn.execute("SELECT b.commune_code, count(*) FROM overpayments o JOIN ent_beneficiaries b "
                            "USING (citizen_id) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
        overpayments = conn.execute("SELECT count(*) FROM overpayments").fetchone()[0]
    return {"citizen_ids": rng.sample(ids, min(200, len(ids))), "commune": sorted(communes)[len(communes) // 2],
            "months": months, "people": people, "events": events, "middle": middle,
            "owed_commune": owed[0] if owed else "", "overpayments": overpayments}


def start_server(url: str, today: date, files: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    from adapters.demo import DEMO_OFFICE, DEMO_TREASURY_ACCOUNT

    env = dict(os.environ, PYTHONPATH=str(ROOT), LEDGER_DATABASE_URL=url, LEDGER_WEB_FILES_DIR=str(files),
               LEDGER_TODAY=today.isoformat(), LEDGER_OFFICE_NAME=DEMO_OFFICE,
               LEDGER_TREASURY_ACCOUNT=DEMO_TREASURY_ACCOUNT)
    env.pop("LEDGER_ACTOR", None)
    server = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)],
                              cwd=files, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise SystemExit(f"the server did not start: {server.stderr.read().decode(errors='replace')}")
            time.sleep(0.3)


def login(client: httpx.Client, name: str) -> None:
    page = client.get("/dang-nhap")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/dang-nhap", data={"username": name, "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text


def timed_get(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    r = client.get(path)
    took = (time.perf_counter() - started) * 1000
    # As known at a time before their registration, a person's page says so (404).
    if r.status_code != 200 and not (r.status_code == 404 and "biet_luc=" in path):
        raise SystemExit(f"GET {path}: {r.status_code} {r.text[:500]}")
    return took


def raw_query_ms(url: str, sql: str, params_list: list[tuple], count: int) -> list[float]:
    """The page's main read as one raw SQL query, rows fetched, on one connection."""
    out = []
    with psycopg.connect(_psycopg_url(url)) as conn:
        for i in range(count):
            started = time.perf_counter()
            conn.execute(sql, params_list[i % len(params_list)]).fetchall()
            out.append((time.perf_counter() - started) * 1000)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a populated PostgreSQL store (web_district.py)")
    parser.add_argument("--requests", type=int, default=100, help="requests per page")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json-out")
    parser.add_argument("--files", help="the server's files folder: web_district.py's --out, where the "
                        "payroll files already are (else a fresh folder, and the payroll page's first "
                        "visit writes the month's files: minutes at 100,000 people)")
    parser.add_argument("--skip-actions", action="store_true",
                        help="leave out the one-off actions (verifying the chain takes minutes at full size)")
    args = parser.parse_args(argv)

    facts = sample(args.db, args.seed)
    ids = facts["citizen_ids"]
    last = facts["months"][-1] if facts["months"] else str(date.today())[:7]
    today = date.fromisoformat(f"{last}-01") + timedelta(days=44)
    n = args.requests
    # Search terms: a common name, a rarer full name, a citizen id's first digits, a commune.
    pages = {
        "static file (baseline)": ["/static/style.css"],
        "this month": [f"/thang-nay?thang={last}"],
        "search: name 'nguyen van'": ["/doi-tuong?q=nguyen+van"],
        "search: full name": ["/doi-tuong?q=tran+thi+lan", "/doi-tuong?q=le+van+hung", "/doi-tuong?q=pham+duc+nam"],
        "search: citizen id": [f"/doi-tuong?q={cid[:9]}" for cid in ids[:50]],
        "search: commune": [f"/doi-tuong?xa={facts['commune']}"],
        "person": [f"/doi-tuong/{cid}" for cid in ids],
        "person as known at": [f"/doi-tuong/{cid}?biet_luc={facts['middle']}" for cid in ids[:20]],
        "payroll": [f"/chi-tra?thang={last}"],
        "settlement": [f"/quyet-toan?thang={last}"],
        "unclaimed queue": [f"/chua-nhan?thang={last}"],
        "unclaimed follow-up": [f"/chua-nhan/{cid}?thang={last}" for cid in ids],
        "overpayments": ["/truy-thu"],
        "overpayments: every status, page 2": ["/truy-thu?trang_thai=tat-ca&trang=2"],
        "overpayments: a commune": [f"/truy-thu?trang_thai=tat-ca&xa={facts['owed_commune']}"],
        "reports": [f"/bao-cao?thang={last}"],
        "audit": ["/kiem-toan"],
        "event browser": ["/kiem-toan/su-kien"],
        "event browser: type": ["/kiem-toan/su-kien?loai=DeathNotified"],
        "event browser: person": [f"/kiem-toan/su-kien?cccd={cid}" for cid in ids],
        "what-if form": ["/gia-dinh"],
        "imports": ["/nhap-tep"],
    }
    raw = {  # the main read of a page as one raw query (same database, same run)
        "search: name 'nguyen van'": ("SELECT citizen_id, full_name FROM ent_beneficiaries", [()]),
        "search: citizen id": ("SELECT * FROM ent_beneficiaries WHERE citizen_id LIKE %s ORDER BY citizen_id LIMIT 200",
                               [(cid[:9] + "%",) for cid in ids[:50]]),
        "search: commune": ("SELECT * FROM ent_beneficiaries WHERE commune_code = %s ORDER BY citizen_id",
                            [(facts["commune"],)]),
        "person": ("SELECT e.* FROM ledger_events e JOIN ent_beneficiaries b ON b.aggregate_id::uuid = e.originator_id "
                   "WHERE b.citizen_id = %s ORDER BY e.notification_id", [(cid,) for cid in ids]),
    }
    print(f"store: {facts['people']:,} people, {facts['events']:,} events, last payroll month {last}; "
          f"{n} requests a page", file=sys.stderr)
    results: dict = {"people": facts["people"], "events": facts["events"], "last_month": last,
                     "months": len(facts["months"]), "overpayments": facts["overpayments"],
                     "load_average": os.getloadavg(),
                     "requests_per_page": n, "pages": {}}
    with tempfile.TemporaryDirectory() as scratch:
        server, base = start_server(args.db, today, Path(args.files).resolve() if args.files else Path(scratch))
        try:
            with httpx.Client(base_url=base, follow_redirects=False, timeout=120) as client:
                login(client, "kiemtoan")
                for name, paths in pages.items():
                    # Warm: templates compiled, caches filled, connections opened. The first
                    # request is kept apart: what a page costs before anything is kept for it.
                    first = [timed_get(client, path) for path in paths[:3]][0]
                    times = [timed_get(client, paths[i % len(paths)]) for i in range(n)]
                    results["pages"][name] = dict(_summary(times), first_ms=round(first, 1))
                    print(f"  {name:<36} p50 {results['pages'][name]['p50_ms']:>8.1f} ms  "
                          f"p99 {results['pages'][name]['p99_ms']:>8.1f} ms  first {first:>8.1f} ms",
                          file=sys.stderr, flush=True)
                actions = {"verify the chain": "/kiem-toan?kiem_tra=1",
                           "what-if, level 600,000 over 12 months": f"/gia-dinh?muc=600000&tu={last}"}
                results["actions"] = {} if args.skip_actions else {
                    name: round(timed_get(client, path), 1) for name, path in actions.items()}
        finally:
            server.terminate()
            server.wait(timeout=30)
    static = results["pages"]["static file (baseline)"]["p50_ms"]
    for name, (sql, params) in raw.items():
        results["pages"][name]["raw_query"] = _summary(raw_query_ms(args.db, sql, params, n))
    goals = []
    for name, figure in results["pages"].items():
        if name.startswith("static"):
            continue
        baseline = figure.get("raw_query", {}).get("p50_ms")
        figure["ratio_to_static"] = round(figure["p50_ms"] / static, 1) if static else None
        figure["ratio_to_raw_query"] = round(figure["p50_ms"] / baseline, 1) if baseline else None
        limit = SEARCH_GOAL_MS if name.startswith("search") else PAGE_GOAL_MS
        goals.append({"page": name, "goal": f"p99 <= {limit:.0f} ms", "p99_ms": figure["p99_ms"],
                      "status": "PASS" if figure["p99_ms"] <= limit else "MISS"})
    results["goals"] = goals
    results["load_average_after"] = os.getloadavg()
    print(f"\n{'page':<38}{'p50 ms':>9}{'p99 ms':>9}{'first':>9}{'x static':>10}{'raw p50':>9}{'x raw':>7}  goal")
    for goal in goals:
        f = results["pages"][goal["page"]]
        raw_p50 = f.get("raw_query", {}).get("p50_ms")
        print(f"{goal['page']:<38}{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}{f['first_ms']:>9.1f}"
              f"{f['ratio_to_static']:>10}"
              f"{(f'{raw_p50:.1f}' if raw_p50 else '-'):>9}{(f['ratio_to_raw_query'] or '-'):>7}  "
              f"{goal['goal']}: {goal['status']}")
    print(f"static file (baseline): p50 {static:.1f} ms; actions (one request each): "
          + ", ".join(f"{k} {v:.0f} ms" for k, v in results["actions"].items()))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
