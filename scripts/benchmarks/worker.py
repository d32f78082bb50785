"""One stage on one store, in a process of its own (so that its peak
resident memory, ``ru_maxrss``, is that stage's alone): the parent writes
what to do as JSON, the worker writes back what it measured."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .measure import StepTimedOut, Steps, describe_failure, peak_rss_mib

PACKAGE_PARENT = Path(__file__).resolve().parent.parent  # scripts/
REPO = PACKAGE_PARENT.parent


@dataclass
class Work:
    """What a worker is asked to do."""

    stage: str  # a stage's worker, by name (stages.WORKERS)
    store: str
    url: str  # the ledger's database
    server_url: str | None  # PostgreSQL: where to create more databases
    province: str  # the generated province's folder
    folder: str  # this store's scratch folder
    seed: int
    step_timeout: float | None
    show_progress: bool
    profile_dir: str | None
    result_path: str
    month: str | None = None  # the cycle's payroll month


def load_province(work: Work) -> dict[str, Any]:
    return json.loads((Path(work.province) / "province.json").read_text(encoding="utf-8"))


def province_file(work: Work, *keys: str) -> Path:
    """A file of the province, by its keys in province.json."""
    entry = load_province(work)
    for key in keys:
        entry = entry[key]
    return Path(work.province) / entry["file"]


def run_worker(spec_path: Path) -> int:
    """The worker's side: one stage on one store; what was measured is
    written also when a step overran or failed, with the peak memory."""
    from .stages import WORKERS

    work = Work(**json.loads(spec_path.read_text(encoding="utf-8")))
    if work.stage != "baseline":
        # The ledger's code is loaded before the first step, not timed in it
        # (a fixed second per command started, whatever N): the start size
        # below holds the interpreter and the libraries.
        import adapters.cli  # noqa: F401
    out: dict[str, Any] = dict(start_rss_mib=peak_rss_mib(), failure=None)
    label = work.store + (f" {work.month}" if work.month else "") + f" {work.stage}"
    steps = Steps(label, show=work.show_progress, timeout_seconds=work.step_timeout,
                  profile_dir=Path(work.profile_dir) if work.profile_dir else None)
    try:
        WORKERS[work.stage](work, steps, out)
    except (StepTimedOut, Exception) as exc:  # noqa: BLE001: reported, the run goes on
        out["failure"] = describe_failure(exc, steps.current)
        print(f"{label}: {out['failure']['message']}; stopped there. In:\n  "
              + "\n  ".join(out["failure"]["where"]), file=sys.stderr)
    finally:
        steps.close()
    out["peak_rss_mib"] = peak_rss_mib()
    if hasattr(os, "getloadavg"):
        # A stage keeps about one core busy (with the database server, more):
        # much above that, something else was running and the figures suffer.
        out["load_average_1m"] = round(os.getloadavg()[0], 2)
    Path(work.result_path).write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if out["failure"] else 0


def worker_env() -> dict[str, str]:
    """This checkout's code first on the path: the worker measures it, not
    an installed copy."""
    path = [str(PACKAGE_PARENT), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path))


def spawn(work: Work, time_limit: float | None) -> dict[str, Any]:
    """The parent's side: runs the worker and reads back what it measured."""
    result_path = Path(work.result_path)
    result_path.unlink(missing_ok=True)
    spec_path = result_path.with_name(result_path.name.replace(".result.json", ".spec.json"))
    spec_path.write_text(json.dumps(asdict(work)), encoding="utf-8")
    command = [sys.executable, "-m", "benchmarks", "--worker", str(spec_path)]
    # Without progress bars, stderr is passed on afterwards: not a terminal,
    # the ledger's own bars stay off too.
    stderr = None if work.show_progress else subprocess.PIPE
    try:
        completed = subprocess.run(command, timeout=time_limit, stdout=subprocess.DEVNULL,
                                   stderr=stderr, env=worker_env(), cwd=work.folder, text=True)
        if completed.stderr:
            sys.stderr.write(completed.stderr)
    except subprocess.TimeoutExpired:
        return dict(failure=dict(step="worker", kind="timeout", where=[],
                                 message=f"killed after {time_limit:g} s"), peak_rss_mib=None)
    if not result_path.exists():
        return dict(failure=dict(step="worker", kind="crash", where=[],
                                 message="the worker ended without writing its figures"),
                    peak_rss_mib=None)
    return json.loads(result_path.read_text(encoding="utf-8"))


@dataclass
class Run:
    """The parent's side of one benchmark run."""

    folder: Path  # temporary, removed at the end
    province: Path
    seed: int
    step_timeout: float | None
    show_progress: bool
    profile_dir: Path | None
    months: list[str]  # the payroll months the cycle runs

    def time_limit(self) -> float | None:
        """A worker enforces the step deadline itself; this only catches one
        that hangs between steps (a dozen steps at most, plus starting up)."""
        return self.step_timeout * 12 + 120 if self.step_timeout else None

    def spawn(self, target, url: str, stage: str, month: str | None = None) -> dict[str, Any]:
        """``stage``'s worker on ``target``'s database at ``url``."""
        store_folder = self.folder / target.name
        store_folder.mkdir(exist_ok=True)
        name = f"{stage}-{month}" if month else stage
        work = Work(stage=stage, store=target.name, url=url,
                    server_url=getattr(target, "server_url", None), province=str(self.province),
                    folder=str(store_folder), seed=self.seed, step_timeout=self.step_timeout,
                    show_progress=self.show_progress,
                    profile_dir=str(self.profile_dir) if self.profile_dir else None,
                    result_path=str(store_folder / f"{name}.result.json"), month=month)
        return spawn(work, self.time_limit())
