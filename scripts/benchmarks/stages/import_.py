"""The registrations file, as an office imports it.

Worker ``import``: ``ledger import decisions FILE`` (parse, validate,
decide, append, fold into the read models), then the same file again
(records nothing). Its process's peak memory is the import's.

Worker ``append``, in a process of its own afterwards: the bulk append and
the fold alone, which the command does not show apart. The import's events
are read back with the library's public ``recorder.select_notifications``
and decoded with the application's mapper (not timed), then saved into a
fresh database with the application's public ``save`` (map, encode, write;
timed), a page of events per save; then ``ledger init`` on that database
folds them into fresh read models (and seals them into the audit chain)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..ledger_cli import ledger
from ..measure import Figure, Meter, with_ratios
from ..stores import target_for
from ..worker import province_file

APPEND_PAGE_EVENTS = 5_000  # events per save, as the projection runner reads a page


def work_import(work, steps, out: dict[str, Any]) -> None:
    registrations = str(province_file(work, "registrations"))

    def import_decisions():
        summary = ledger(work.url, "import", "decisions", registrations)
        return "rows", summary["rows"], dict(recorded_events=summary["recorded_events"],
                                             unchanged_rows=summary["unchanged_rows"])

    steps.measure(out, "import", "import decisions", import_decisions)
    steps.measure(out, "reimport", "re-import (no-op)", import_decisions)


def _application(url: str):
    """The ledger's event-sourced application on ``url``, as its stores set it up."""
    from adapters.rulefiles import default_ruleset
    from adapters.store import open_store
    from ledger.application import LedgerApp

    return LedgerApp(env=dict(open_store(url).env), rules=default_ruleset())


def save_all(source, target) -> tuple[Figure, float]:
    """Every event of ``source`` saved into ``target``, a page per save; only
    the saves are timed. Returns the figure and the mean stored state size."""
    recorder, to_domain = source.recorder, source.mapper.to_domain_event
    last = recorder.max_notification_id() or 0
    meter, count, state_bytes, start = Meter(), 0, 0, 1
    while start <= last:
        page = recorder.select_notifications(start, APPEND_PAGE_EVENTS, stop=last)
        if not page:
            break
        events = [to_domain(notification) for notification in page]
        with meter.measure():
            target.save(*events)
        count += len(page)
        state_bytes += sum(len(notification.state) for notification in page)
        start = page[-1].id + 1
    return (meter.figure("events", count, page_events=APPEND_PAGE_EVENTS),
            round(state_bytes / max(1, count), 1))


def work_append(work, steps, out: dict[str, Any]) -> None:
    source = _application(work.url)
    try:
        with target_for(work.store, Path(work.folder), work.server_url).fresh_database("append") as url:
            target = _application(url)
            try:
                def append():
                    figure, out["mean_state_bytes"] = save_all(source, target)
                    return figure
                steps.measure(out, "append", "bulk append (save)", append)
            finally:
                target.close()
            events = out["append"]["count"]
            steps.measure(out, "fold", "fold (ledger init)",
                          lambda: ("events", events,
                                   {"events_in_store": ledger(url, "init")["events"]}))
    finally:
        source.close()


def collect(run, target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    baseline = done["baseline"]
    data = run.spawn(target, url, "import")
    ledger_figures = {key: data.pop(key) for key in ("import", "reimport") if key in data}
    if not data.get("failure"):
        apart = run.spawn(target, url, "append")
        ledger_figures.update({key: apart[key] for key in ("append", "fold") if key in apart})
        data.update(append_peak_rss_mib=apart.get("peak_rss_mib"), failure=apart.get("failure"),
                    mean_state_bytes=dict(
                        raw=baseline.get("read", {}).get("keyset", {}).get("mean_state_bytes"),
                        ledger=apart.get("mean_state_bytes")))
    raw = baseline.get("raw", {})
    for figure in ledger_figures.values():
        with_ratios(figure, raw)
    return dict(database=baseline.get("database"), raw_primary=target.primary_raw,
                raw_labels=target.raw_labels, raw=raw, ledger=ledger_figures, **data)
