"""What the screens' route modules share with the application that
includes them (adapters/web/app.py makes one): the runtime, the commands
and queries, and its helpers for sessions, CSRF, roles and rendering."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Web:
    runtime: Any
    settings: Any
    queries: Any
    commands: Any
    files_dir: Path
    viewer: Callable  # (request, roles=READERS) -> WebUser, or LoginRequired / Forbidden
    posted: Callable  # async (request, action) -> (user, form), once session, CSRF and role allow it
    render: Callable  # (request, template, status=200, **context) -> HTMLResponse
    flash: Callable  # (request, message, kind="ok")
    ledger: Callable  # (call) -> its result, one ledger call at a time
    run: Callable  # async (call) -> its result: ledger(call) in a worker thread (for commands)
