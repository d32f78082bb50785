"""What a run prints (a table per stage and store, then the goals) and
writes (--json-out)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

HEADER = f"  {'step':<26}{'count':>17}{'seconds':>10}{'per second':>20}{'cpu':>6}  vs baseline"
NO_RATE_UNITS = ("views", "ledgers")  # counted, but not a throughput


def _database_line(facts: dict[str, Any] | None) -> str:
    if not facts:
        return ""
    if "sqlite_version" in facts:
        return f"SQLite {facts['sqlite_version']}"
    return (f"PostgreSQL {facts['server_version']}, fsync={facts['fsync']}, "
            f"synchronous_commit={facts['synchronous_commit']}")


def _figure_line(label: str, figure: dict[str, Any], versus: str = "", indent: str = "  ") -> str:
    count = f"{figure['count']:,} {figure['unit']}"
    rate = "" if figure["unit"] in NO_RATE_UNITS else f"{figure['per_second']:,.0f} {figure['unit']}/s"
    cpu = figure["cpu_seconds"] / figure["seconds"] if figure["seconds"] else 0.0
    return (f"{indent}{label:<{28 - len(indent)}}{count:>17}{figure['seconds']:>10.2f}{rate:>20}"
            f"{cpu:>6.0%}  {versus}").rstrip()


def _order(primary: str, labels: dict[str, str], present: Iterable[str]) -> list[str]:
    # The primary baseline first: the one the goals read the ratios against.
    present = set(present)
    return [k for k in dict.fromkeys([primary, *labels]) if k in present]


def _versus(figure: dict[str, Any], key: str, labels: dict[str, str], order: Sequence[str]) -> str:
    found = figure.get(key, {})
    return ", ".join(f"{found[k]:.2g}x {labels[k]}" for k in order if k in found)


def _profile_lines(figure: dict[str, Any], count: int = 5) -> list[str]:
    profile = figure.get("profile")
    if not profile or figure["seconds"] < 0.05:
        return []
    return ["      own code, cumulative s: " + "; ".join(
                f"{e['where']} {e['cumulative_seconds']:.2f}" for e in profile["own_code_by_cumulative"][:count]),
            "      hot spots, own s: " + "; ".join(
                f"{e['where']} {e['own_seconds']:.2f}" for e in profile["all_by_own_time"][:count])]


def _memory_line(data: dict[str, Any], what: str = "this stage's process") -> str:
    peak, start = data.get("peak_rss_mib"), data.get("start_rss_mib")
    if peak is None:
        return "  peak memory: not known (the worker did not report)"
    load = data.get("load_average_1m")
    load_text = f"; machine load average at the end {load:.2f}" if load is not None else ""
    return f"  peak memory ({what}): {peak:,.0f} MiB (started at {start or 0:,.0f} MiB){load_text}"


def _failure_lines(data: dict[str, Any]) -> list[str]:
    failure = data.get("failure")
    if not failure:
        return []
    where = f"; in {failure['where'][-1]}" if failure.get("where") else ""
    return [f"  STOPPED at {failure['step']}: {failure['message']}{where}"]


def _rows(data: dict[str, Any], group: str, primary: str, labels: str, suffix: str = "") -> list[str]:
    figures = data.get(group, {})
    return [_figure_line(data[labels][key] + suffix, figures[key])
            for key in _order(data[primary], data[labels], figures)]


def format_baseline(store: str, data: dict[str, Any]) -> str:
    lines = [f"{store}  ({_database_line(data.get('database'))})", HEADER]
    lines += _rows(data, "raw", "raw_primary", "raw_labels")
    lines += _rows(data, "read", "read_primary", "read_labels")
    return "\n".join(lines + _failure_lines(data) + [_memory_line(data)])


IMPORT_ROWS = (("import", "import decisions"), ("reimport", "re-import (no-op)"),
               ("append", "bulk append (save)*"), ("fold", "fold (ledger init)*"))


def format_import(store: str, data: dict[str, Any]) -> str:
    labels = data["raw_labels"]
    order = _order(data["raw_primary"], labels, data.get("raw", {}))
    lines = [f"{store}  ({_database_line(data.get('database'))})", HEADER]
    lines += _rows(data, "raw", "raw_primary", "raw_labels")
    for key, label in IMPORT_ROWS:
        figure = data["ledger"].get(key)
        if figure is not None:
            lines.append(_figure_line(label, figure, _versus(figure, "ratio_to_raw", labels, order)))
            lines += _profile_lines(figure)
    reimport = data["ledger"].get("reimport")
    if reimport is not None:
        lines.append(f"  re-import recorded {reimport['recorded_events']:,} events, "
                     f"{reimport['unchanged_rows']:,} rows unchanged")
    lines.append("  * the import's events again, apart, in a process of its own: the application's "
                 "save into a fresh database, then ledger init on it")
    state_bytes = data.get("mean_state_bytes") or {}
    if state_bytes.get("ledger") is not None:
        lines.append(f"  state bytes per event: raw {state_bytes['raw'] or 0:,.0f}, "
                     f"ledger {state_bytes['ledger']:,.0f}")
    lines += _failure_lines(data)
    lines.append(_memory_line(data, "the import's process"))
    if data.get("append_peak_rss_mib"):
        lines.append(f"  peak memory (the append and fold process): {data['append_peak_rss_mib']:,.0f} MiB")
    return "\n".join(lines)


CYCLE_ROWS = (("decisions", "month's decisions*"), ("payroll", "payroll run"),
              ("postoffice", "post office results"), ("bank", "bank results"),
              ("deaths", "death notices*"), ("reconcile", "settlement reconcile"),
              ("close", "settlement close*"))


def _cycle_facts(steps: dict[str, Any]) -> str:
    facts = []
    payroll = steps.get("payroll")
    if payroll:
        facts.append(f"{payroll['new_lines']:,} lines issued ({payroll['advance_vnd']:,} VND), "
                     f"{payroll['carried_lines']:,} carried")
    for key, name in (("postoffice", "post office"), ("bank", "bank")):
        result = steps.get(key)
        if result:
            facts.append(f"{name}: {', '.join(f'{n:,} {s}' for s, n in result['statuses'].items())}"
                         f"; {result['suspended']:,} suspended")
    deaths = steps.get("deaths")
    if deaths:
        facts.append(f"{deaths['count']:,} deaths ({deaths['recorded_events']:,} events)")
    reconcile = steps.get("reconcile")
    if reconcile:
        facts.append(f"{reconcile['agents']} agents, {reconcile['variances']:,} variances")
    return "; ".join(facts)


def format_cycle(store: str, data: dict[str, Any]) -> str:
    labels = data["raw_labels"]
    order = _order(data["raw_primary"], labels, data.get("raw", {}))
    lines = [store, HEADER] + _rows(data, "raw", "raw_primary", "raw_labels")
    for month, month_data in data["months"].items():
        lines.append(f"  month {month}")
        steps = month_data.get("steps", {})
        for key, label in CYCLE_ROWS:
            figure = steps.get(key)
            if figure is not None:
                lines.append(_figure_line(label, figure, _versus(figure, "ratio_to_raw", labels, order), "    "))
                lines += _profile_lines(figure)
        cycle = month_data.get("cycle")
        if cycle:
            lines.append(f"    whole cycle: {cycle['seconds']:.1f} s for {cycle['count']:,} payroll lines"
                         f" (payroll, results, reconcile; * not in it)")
        lines.append(f"    {_cycle_facts(steps)}")
        lines += [f"  {line}" for line in _failure_lines(month_data)]
        lines.append("  " + _memory_line(month_data, "this month's process"))
    return "\n".join(lines)


def format_replay(store: str, data: dict[str, Any]) -> str:
    labels = data["read_labels"]
    order = _order(data["read_primary"], labels, data.get("read", {}))
    lines = [store, HEADER] + _rows(data, "read", "read_primary", "read_labels", "*")
    figure = data.get("replay")
    if figure:
        lines.append(_figure_line("ledger replay", figure, _versus(figure, "ratio_to_raw_read", labels, order)))
        lines += _profile_lines(figure)
        lines.append(f"      {figure['projections']} views rebuilt; checksums "
                     + ("match the live views" if figure["checksums_match"]
                        else "DIFFER: " + ", ".join(figure["mismatched"])))
    lines.append("  * the ledger's own event rows, read just before the replay")
    return "\n".join(lines + _failure_lines(data) + [_memory_line(data)])


def format_whatif(store: str, data: dict[str, Any]) -> str:
    labels = data["read_labels"]
    lines = [store, HEADER]
    figure = data.get("whatif")
    if figure:
        order = _order(data["read_primary"], labels, figure.get("ratio_to_baseline_read", {}))
        lines.append(_figure_line(f"what-if {figure['first']}..{figure['last']}", figure,
                                  _versus(figure, "ratio_to_baseline_read", labels, order)))
        lines += _profile_lines(figure)
        lines.append(f"  level {figure['level_vnd']:,} VND: {figure['changed_people']:,} people change in "
                     f"{figure['changed_months']:,} months, {figure['difference_vnd']:+,} VND")
    return "\n".join(lines + _failure_lines(data) + [_memory_line(data)])


FORMATS = {"baseline": format_baseline, "import": format_import, "cycle": format_cycle,
           "replay": format_replay, "whatif": format_whatif}


def format_stage(stage: str, store: str, data: dict[str, Any]) -> str:
    if "skipped" in data:
        return f"{store}: skipped ({data['skipped']})"
    return FORMATS[stage](store, data)


def format_goals(goals: Sequence[dict[str, str]]) -> str:
    width = max(len(g["goal"]) for g in goals)
    status_width = max(len(g["status"]) for g in goals)
    lines = [f"  {'goal':<{width}}  {'store':<11} {'status':<{status_width}}  figure"]
    lines += [f"  {g['goal']:<{width}}  {g['store']:<11} {g['status']:<{status_width}}  {g['figure']}".rstrip()
              for g in goals]
    return "\n".join(lines)


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
