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


_interrupted = False


def _during_command(signum, frame) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def started() -> None:
    """From here on ``main`` turns an interrupt into its own message.

    The interrupt is also remembered: a KeyboardInterrupt raised inside a C
    library's callback can come out as another exception (orjson turns one
    raised while encoding an event into "TypeError: Type is not JSON
    serializable"), and that must still read as an interrupt, not a failure."""
    global _interrupted
    _interrupted = False
    if signal.getsignal(signal.SIGINT) in (_before_start, signal.default_int_handler):
        signal.signal(signal.SIGINT, _during_command)


def interrupted() -> bool:
    """Whether Ctrl-C was pressed since ``started``."""
    return _interrupted


def run() -> int:
    """The ``ledger`` executable (pyproject's console script)."""
    interrupt_quietly()
    from .cli import main

    return main()
