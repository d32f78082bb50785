"""``ledger replay``: every projection rebuilt from the event log into a
fresh SQLite file and checked against the live views (the command computes
the live checksums, rebuilds, checksums the rebuilt views: all timed, as a
user waits for it). Just before it, the same event rows are read raw (the
baseline's reads, on the ledger's own events table) for the ratio."""
from __future__ import annotations

from typing import Any

from ..baseline import measure_reads
from ..ledger_cli import ledger
from ..measure import with_ratios


def events_table(url: str) -> str:
    from adapters.store import open_store

    return open_store(url).events_table


def work(work, steps, out: dict[str, Any]) -> None:
    measure_reads(steps, out, work.store, work.url, events_table(work.url))

    def replay():
        found = ledger(work.url, "replay", ok_codes=(0, 3))  # 3: a view differs
        return "events", found["events"], dict(
            checksums_match=found["matches"], projections=len(found["projections"]),
            mismatched=[p["name"] for p in found["projections"] if not p["matches"]])
    steps.measure(out, "replay", "replay", replay)


def collect(run, target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    data = run.spawn(target, url, "replay")
    baseline_read = done["baseline"].get("read", {})
    if "replay" in data:
        with_ratios(data["replay"], data.get("read", {}), "ratio_to_raw_read")
        with_ratios(data["replay"], baseline_read, "ratio_to_baseline_read")
    data.update(read_primary=target.primary_read, read_labels=target.read_labels,
                baseline_read=baseline_read)
    return data
