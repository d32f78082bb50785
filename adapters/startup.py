"""The first moments of the ``ledger`` program. Loading the command's
libraries takes a second or more on a busy machine; a Ctrl-C then would
print a Python traceback from some import. Until ``main`` starts, an
interrupt says that nothing was recorded (nothing can have been) and
exits 130, like an interrupt later on."""
from __future__ import annotations

import signal
import sys

from .errors import EXIT_INTERRUPTED


def _before_start(signum, frame) -> None:
    print("ledger: interrupted before the command started; nothing was recorded.", file=sys.stderr)
    raise SystemExit(EXIT_INTERRUPTED)


def interrupt_quietly() -> None:
    signal.signal(signal.SIGINT, _before_start)


def started() -> None:
    """From here on ``main`` turns an interrupt into its own message."""
    if signal.getsignal(signal.SIGINT) is _before_start:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run() -> int:
    """The ``ledger`` executable (pyproject's console script)."""
    interrupt_quietly()
    from .cli import main

    return main()
