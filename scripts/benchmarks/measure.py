"""Timing, peak memory, step deadlines, progress and profiles of one worker."""
from __future__ import annotations

import cProfile
import pstats
import resource
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tqdm import tqdm

MIB = 1024 * 1024


@dataclass
class Figure:
    """How long one step took for ``count`` items of ``unit``."""

    unit: str  # "rows", "events", "lines", "people"
    count: int
    seconds: float
    cpu_seconds: float  # this process only: the rest is waiting on the database
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(unit=self.unit, count=self.count, seconds=round(self.seconds, 4),
                    cpu_seconds=round(self.cpu_seconds, 4),
                    per_second=round(self.per_second, 1), **self.extra)


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Wall and CPU seconds of the block, filled in when it ends."""
    result: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - wall
        result["cpu_seconds"] = time.process_time() - cpu


class Meter:
    """Adds up the seconds of the measured parts only, so work done between
    them (making the raw rows, reading the events to append) is not counted."""

    def __init__(self) -> None:
        self.seconds = self.cpu_seconds = 0.0

    @contextmanager
    def measure(self) -> Iterator[None]:
        with stopwatch() as took:
            yield
        self.seconds += took["seconds"]
        self.cpu_seconds += took["cpu_seconds"]

    def figure(self, unit: str, count: int, **extra: Any) -> Figure:
        return Figure(unit, count, self.seconds, self.cpu_seconds, extra)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (it never goes down)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (MIB if sys.platform == "darwin" else 1024), 1)


class StepTimedOut(BaseException):
    """A step overran --step-timeout. A BaseException, as Ctrl-C is, so that
    broad ``except Exception`` blocks on the way up do not swallow it."""

    def __init__(self, step: str, timeout_seconds: float):
        super().__init__(f"{step}: not finished after {timeout_seconds:g} s")
        self.step = step


@contextmanager
def deadline(timeout_seconds: float | None, step: str) -> Iterator[None]:
    """Raises StepTimedOut inside the block once it has run too long, so a
    hung step ends that store's run with a report instead of hanging the
    benchmark. SIGALRM is delivered to the main thread, and libpq waits in
    psycopg check for signals, so the exception surfaces where it is stuck."""
    usable = (timeout_seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    armed = True

    def expire(_signum, _frame) -> None:
        if armed:
            raise StepTimedOut(step, timeout_seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def describe_failure(exc: BaseException, step: str | None = None) -> dict[str, Any]:
    """Which step overran or failed and where it was (innermost frames)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.name != "expire"][-5:]
    return dict(step=getattr(exc, "step", step), message=str(exc) or type(exc).__name__,
                kind="timeout" if isinstance(exc, StepTimedOut) else type(exc).__name__,
                where=[f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames])


# The project's own packages, to pick their functions out of a profile.
OWN_PACKAGES = ("ledger", "projections", "adapters")
CALL_CHAIN_SHARE = 0.9  # a function with this share of the step is on the way in, not a cost


def _where(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name  # a built-in
    path = Path(filename)
    shown = f"{path.parent.name}/{path.name}" if path.parent.name in OWN_PACKAGES else path.name
    return f"{shown}:{line}:{name}"


def profile_summary(profile: cProfile.Profile, path: Path, top_count: int = 8) -> dict[str, Any]:
    """Saves the profile and returns its top entries: the project's own
    functions by cumulative time (the chain of calls leading into the step
    left out), its own functions by their own time, and every function by
    its own time (library code included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile.dump_stats(path)
    stats = pstats.Stats(profile).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}

    def entry(key, value) -> dict[str, Any]:
        return dict(where=_where(*key), calls=value[1], own_seconds=round(value[2], 3),
                    cumulative_seconds=round(value[3], 3))

    own = [(k, v) for k, v in stats.items()
           if Path(k[0]).parent.name in OWN_PACKAGES and "site-packages" not in k[0]]
    step_seconds = max((v[3] for _, v in own), default=0.0)
    costs = [(k, v) for k, v in own if v[3] < CALL_CHAIN_SHARE * step_seconds]
    by_cumulative = sorted(costs, key=lambda kv: -kv[1][3])[:top_count]
    own_by_own_time = sorted(own, key=lambda kv: -kv[1][2])[:top_count]
    everything = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top_count]
    return dict(file=str(path), own_code_by_cumulative=[entry(k, v) for k, v in by_cumulative],
                own_code_by_own_time=[entry(k, v) for k, v in own_by_own_time],
                all_by_own_time=[entry(k, v) for k, v in everything])


class Steps:
    """One worker's steps in order: each is timed, shown on a progress bar
    (stderr), bounded by the step deadline, optionally profiled, and logged
    when done, so a long run shows where it is."""

    def __init__(self, label: str, *, show: bool, timeout_seconds: float | None,
                 profile_dir: Path | None = None):
        self.label = label
        self.timeout_seconds = timeout_seconds
        self.profile_dir = profile_dir
        self.current: str | None = None  # the step under way, named in a failure
        self.bar = tqdm(desc=label, unit="step", file=sys.stderr, disable=not show,
                        leave=False, dynamic_ncols=True)

    def measure(self, out: dict[str, Any], key: str, label: str, run) -> Any:
        """Runs one step: ``run()`` returns (unit, count, extra), timed here,
        or a Figure it timed itself (leaving out what is not the step); the
        figure, its profile and the peak memory so far go to ``out[key]``.
        Returns the extra's "value", if any (what the step made)."""
        self.bar.set_description(f"{self.label}: {label}")
        self.current = label
        profile = cProfile.Profile() if self.profile_dir else None
        with deadline(self.timeout_seconds, label), stopwatch() as took:
            if profile:
                profile.enable()
            try:
                result = run()
            finally:
                if profile:
                    profile.disable()
        if isinstance(result, Figure):
            figure, value = result, None
        else:
            unit, count, extra = result
            value = extra.pop("value", None)
            figure = Figure(unit, count, **took, extra=extra)
        entry = figure.as_dict()
        if profile:
            name = f"{self.label}-{label}".replace(" ", "_").replace("/", "_") + ".prof"
            entry["profile"] = profile_summary(profile, self.profile_dir / name)
        entry["peak_rss_mib"] = peak_rss_mib()
        out[key] = entry
        self.done(label, figure)
        return value

    def done(self, label: str, figure: Figure | None = None) -> None:
        text = f"{self.label}: {label}"
        if figure is not None:
            text += (f": {figure.count:,} {figure.unit} in {figure.seconds:.2f} s"
                     f" = {figure.per_second:,.0f} {figure.unit}/s")
        tqdm.write(text, file=sys.stderr)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def with_ratios(figure: dict[str, Any], bases: dict[str, dict[str, Any]],
                key: str = "ratio_to_raw") -> dict[str, Any]:
    """``figure`` with its rate divided by each baseline's, under ``key``."""
    figure[key] = {name: round(figure["per_second"] / base["per_second"], 4) if base.get("per_second")
                   else 0.0 for name, base in bases.items()}
    return figure
