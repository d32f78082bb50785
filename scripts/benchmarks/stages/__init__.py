"""The stages, in the order they run: each has a worker (what one process
measures) and a ``collect`` (the parent's side: spawn, add the ratios)."""
from __future__ import annotations

from typing import Any

from .. import baseline
from . import cycle, import_, replay, whatif

STAGE_ORDER = ("baseline", "import", "cycle", "replay", "whatif")
LEDGER_STAGES = ("import", "cycle", "replay", "whatif")  # they need the baseline and the import

WORKERS = {
    "baseline": baseline.work, "import": import_.work_import, "append": import_.work_append,
    "cycle": cycle.work, "replay": replay.work, "whatif": whatif.work,
}


def collect_baseline(run, target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    data = run.spawn(target, url, "baseline")
    data.update(database=target.facts(), raw_primary=target.primary_raw, raw_labels=target.raw_labels,
                read_primary=target.primary_read, read_labels=target.read_labels)
    return data


COLLECT = {"baseline": collect_baseline, "import": import_.collect, "cycle": cycle.collect,
           "replay": replay.collect, "whatif": whatif.collect}
