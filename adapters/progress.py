"""Progress bars for long work (imports, payroll, replay), on stderr so
that --json output on stdout stays clean."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from tqdm import tqdm


@contextmanager
def bar(total: int | None, label: str, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    # Shown on a terminal, or when LEDGER_PROGRESS=1 asks for it in logs.
    show = enabled and (sys.stderr.isatty() or os.environ.get("LEDGER_PROGRESS") == "1")
    with tqdm(total=total, desc=label, unit="ev" if label in ("projections", "replay") else "", disable=not show, file=sys.stderr,
              leave=False, dynamic_ncols=True) as meter:
        yield meter.update
