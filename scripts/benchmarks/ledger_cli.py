"""The ``ledger`` command, run in-process through its own entry point
(``adapters.cli.main``) exactly as a user's argv would run it: the
benchmarks time what users run and nothing inside it."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

ACTOR = "bench"


class CommandFailed(Exception):
    """The command exited non-zero (its message went to stderr)."""


def ledger(url: str, *argv: str, ok_codes: tuple[int, ...] = (0,)) -> Any:
    """``ledger --db URL --actor bench ARGV... --json``: the decoded JSON it
    printed. Its progress bars, if any, go to stderr as usual. An exit code
    outside ``ok_codes`` raises CommandFailed (``replay`` exits 3 when a
    view differs from its rebuild, and still prints what it found)."""
    from adapters.cli import main

    words = ["--db", url, "--actor", ACTOR, *argv, "--json"]
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            code = main(words)
    except SystemExit as exc:  # a command that ends with an exit code of its own
        code = exc.code if isinstance(exc.code, int) else 1
    if code not in ok_codes:
        raise CommandFailed(f"ledger {' '.join(argv)}: exit code {code}")
    return json.loads(printed.getvalue())
