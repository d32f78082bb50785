"""The people search (``Queries.search_people``: by citizen id prefix or by
the words of a name, diacritics ignored) over N people, with the views in
clear and with a cipher key (names and ids encrypted in the view, decrypted
and filtered by the query), beside a raw baseline measured in the same run:
the driver reading the same two columns of the clear view, no decoding.

    PYTHONPATH=scripts:. python3 -m benchmarks.people_search [--n 100000] [--repeat 5]

SQLite, in a temporary folder. The view rows are written directly (the
search reads only the view); each search is one that matches nobody, so
every row is read and tested; writing the rows is timed too. "again": the next search in the same process
(the web application), which scans the names kept since the view last moved."""
from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from eventsourcing.cryptography import AESCipher

from adapters import synthetic
from adapters.bootstrap import open_runtime
from adapters.queries import Queries
from adapters.settings import LedgerSettings
from projections import bulk
from projections.entitlements import beneficiaries

SEARCHES = {"name": "nguyen xyz", "citizen id": "099"}


def view_rows(count: int) -> list[dict]:
    rows = []
    for n, person in enumerate(synthetic.registrations(count, seed=3)):
        rows.append(dict(citizen_id=person["citizen_id"], aggregate_id=f"{n:036d}", full_name=person["full_name"],
                         birth_date=person["birth_date"], sex=person["sex"], province_code=person["province_code"],
                         commune_code=person["commune_code"], status="active", categories=person["category"],
                         channel=person["channel"], agent_code=person["agent_code"],
                         bank_account=person.get("bank_account") or "", home_delivery=False, proxy_name="",
                         proxy_citizen_id="", first_month=person["effective_month"], date_of_death=None))
    return rows


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(folder: Path, rows: list[dict], key: str | None, repeat: int) -> tuple[dict[str, float], Path]:
    path = folder / ("encrypted.db" if key else "clear.db")
    settings = LedgerSettings(database_url=f"sqlite:///{path}", cipher_key=key)
    with open_runtime(settings=settings) as runtime:
        runtime.runner.pending()  # the views' positions exist: the rows below are not reset
        started = time.perf_counter()
        with runtime.engine.begin() as conn:
            bulk.insert_rows(conn, beneficiaries, rows)
        out = {"writing the view rows": time.perf_counter() - started}
        for label, text in SEARCHES.items():
            # A new Queries each time: the first search of a process, which reads the view.
            out[label] = best_of(repeat, lambda: Queries(runtime).search_people(text))
            queries = Queries(runtime)
            queries.search_people(text)
            out[f"{label}, again"] = best_of(repeat, lambda: queries.search_people(text))
        return out, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = view_rows(args.n)
    with tempfile.TemporaryDirectory(prefix="people-search-") as tmp:
        clear, clear_path = measure(Path(tmp), rows, None, args.repeat)
        encrypted, _ = measure(Path(tmp), rows, AESCipher.create_key(32), args.repeat)
        with sqlite3.connect(clear_path) as conn:
            raw = best_of(args.repeat, lambda: conn.execute(
                "SELECT citizen_id, full_name FROM ent_beneficiaries").fetchall())
    print(f"people search over {args.n} people (best of {args.repeat}); raw read of ids and names: "
          f"{raw * 1000:.0f} ms")
    for label in clear:
        if label.startswith("writing"):
            print(f"  {label}: clear {clear[label] * 1000:.0f} ms, encrypted {encrypted[label] * 1000:.0f} ms "
                  f"({encrypted[label] / clear[label]:.1f}x)")
            continue
        print(f"  by {label}: clear view {clear[label] * 1000:.0f} ms ({clear[label] / raw:.1f}x raw), "
              f"encrypted view {encrypted[label] * 1000:.0f} ms ({encrypted[label] / raw:.1f}x raw, "
              f"{encrypted[label] / clear[label]:.1f}x clear)")


if __name__ == "__main__":
    main()
