"""The goals, judged on figures of the same run (ratios to the raw
baseline of the same run): PASS, MISS, or n/a where a goal does not apply
to the store, the N or the stages run (the figure then says why)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

GOAL_N = 100_000
GOAL_BIG_N = 1_000_000
GUESS_FROM_N = 10_000  # below, the fixed costs hide how memory grows with N
MIB_PER_GIB = 1024

REPLAY = "replay: rebuild all projections >= 0.5x raw read+decode of the same events"
FOLD = "projection fold >= 50,000 events/s (SQLite)"
CYCLE = "month cycle at 100,000 people <= 30 s (PostgreSQL)"
MEMORY = "import peak memory <= 1 GiB at 1,000,000"
LINEAR = "linear in N: 1,000,000 cycle <= 11x the 100,000 cycle"
APPEND = "bulk append >= 0.35x raw write (COPY on PostgreSQL)"
GOAL_NAMES = (REPLAY, FOLD, CYCLE, MEMORY, LINEAR, APPEND)


@dataclass
class Goal:
    goal: str
    store: str
    figure: str
    status: str  # PASS, MISS or n/a


def _judge(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _stage(report: dict[str, Any], stage: str, store: str) -> dict[str, Any]:
    return report["stages"].get(stage, {}).get("stores", {}).get(store) or {}


def _not_run(name: str, store: str, stage: str) -> Goal:
    return Goal(name, store, f"not measured (the {stage} stage did not run or stopped)", "n/a")


def goal_replay(report: dict[str, Any], store: str) -> Goal:
    data = _stage(report, "replay", store)
    replay = data.get("replay")
    if not replay:
        return _not_run(REPLAY, store, "replay")
    primary = data["read_primary"]
    ratio = replay["ratio_to_raw_read"].get(primary, 0.0)
    return Goal(REPLAY, store, f"{ratio:.3f}x {data['read_labels'][primary]} ({replay['per_second']:,.0f} vs "
                f"{data['read'][primary]['per_second']:,.0f} events/s)", _judge(ratio >= 0.5))


def goal_fold(report: dict[str, Any], store: str) -> Goal:
    fold = _stage(report, "import", store).get("ledger", {}).get("fold")
    if not fold:
        return _not_run(FOLD, store, "import")
    figure = f"{fold['per_second']:,.0f} events/s ({fold['count']:,} events, ledger init)"
    return Goal(FOLD, store, figure, _judge(fold["per_second"] >= 50_000) if store == "sqlite" else "n/a")


def _cycles(report: dict[str, Any] | None, store: str) -> dict[str, dict[str, Any]]:
    months = _stage(report, "cycle", store).get("months", {}) if report else {}
    return {month: data["cycle"] for month, data in months.items() if data.get("cycle")}


def goal_cycle(report: dict[str, Any], store: str) -> Goal:
    cycles = _cycles(report, store)
    if not cycles:
        return _not_run(CYCLE, store, "cycle")
    month, cycle = max(cycles.items(), key=lambda mc: mc[1]["seconds"])
    n = report["params"]["n"]
    figure = f"{cycle['seconds']:.1f} s (slowest month, {month}, N={n:,})"
    if store != "postgresql" or n != GOAL_N:
        return Goal(CYCLE, store, figure + ("" if store == "postgresql" else "; PostgreSQL only")
                    + ("" if n == GOAL_N else f"; at N={GOAL_N:,} only, not scaled"), "n/a")
    return Goal(CYCLE, store, figure, _judge(cycle["seconds"] <= 30))


def goal_memory(report: dict[str, Any], store: str) -> Goal:
    data = _stage(report, "import", store)
    peak = data.get("peak_rss_mib")
    if not peak or "import" not in data.get("ledger", {}):
        return _not_run(MEMORY, store, "import")
    n = report["params"]["n"]
    figure = f"{peak:,.0f} MiB peak of the import's process (N={n:,})"
    if n == GOAL_BIG_N:
        return Goal(MEMORY, store, figure, _judge(peak <= MIB_PER_GIB))
    if n >= GUESS_FROM_N:
        # What grows with N is the peak above the interpreter and the libraries.
        start = data.get("start_rss_mib") or 0.0
        figure += f"; if it grows linearly, {start + (peak - start) * GOAL_BIG_N / n:,.0f} MiB at 1,000,000"
    return Goal(MEMORY, store, figure + f"; judged at N={GOAL_BIG_N:,} only", "n/a")


def goal_linear(report: dict[str, Any], store: str, earlier: dict[str, Any] | None) -> Goal:
    mine, theirs = _cycles(report, store), _cycles(earlier, store)
    if not mine:
        return _not_run(LINEAR, store, "cycle")
    if not theirs:
        return Goal(LINEAR, store, "needs --scale-against a run at another N", "n/a")
    # The same payroll month in both runs when they share one (the first
    # month has no carried lines, the second has): like with like.
    common = [m for m in mine if m in theirs]
    if common:
        month = max(common, key=lambda m: mine[m]["seconds"] / max(theirs[m]["seconds"], 1e-9))
        pair = (mine[month], theirs[month])
    else:
        month = "slowest months"
        pair = (max(mine.values(), key=lambda c: c["seconds"]), max(theirs.values(), key=lambda c: c["seconds"]))
    n, earlier_n = report["params"]["n"], earlier["params"]["n"]
    (small_n, small), (big_n, big) = sorted([(n, pair[0]["seconds"]), (earlier_n, pair[1]["seconds"])])
    if small_n == big_n:
        return Goal(LINEAR, store, f"both runs at N={n:,}", "n/a")
    allowed = 1.1 * big_n / small_n  # 11x for ten times as many people
    times = big / small if small else float("inf")
    return Goal(LINEAR, store, f"{times:.1f}x the time for {big_n / small_n:g}x the people ({month}: "
                f"{small:.1f} s at {small_n:,}, {big:.1f} s at {big_n:,}; allowed {allowed:.1f}x)",
                _judge(times <= allowed))


def goal_append(report: dict[str, Any], store: str) -> Goal:
    data = _stage(report, "import", store)
    append = data.get("ledger", {}).get("append")
    if not append:
        return _not_run(APPEND, store, "import")
    primary = data["raw_primary"]
    ratio = append["ratio_to_raw"].get(primary, 0.0)
    return Goal(APPEND, store, f"{ratio:.3f}x {data['raw_labels'][primary]} ({append['per_second']:,.0f} vs "
                f"{data['raw'][primary]['per_second']:,.0f} /s)", _judge(ratio >= 0.35))


def evaluate(report: dict[str, Any], stores: Sequence[str], earlier: dict[str, Any] | None) -> list[dict]:
    """Every goal on every store, goal by goal."""
    goals = []
    for judge in (goal_replay, goal_fold, goal_cycle, goal_memory, goal_linear, goal_append):
        for store in stores:
            goals.append(judge(report, store, earlier) if judge is goal_linear else judge(report, store))
    return [asdict(goal) for goal in goals]
