"""Commands take turns: one recording command at a time per store, for the
whole command (its reads, its transaction, its files), so two payroll runs
or an import during a payroll never race each other; unique-key collisions
are then a last line of defence, not the design.

- PostgreSQL: a session advisory lock on a connection of its own, held for
  the command. The server releases it if the process dies. Who holds it is
  kept in a one-row ``command_lock`` table, for the ones waiting.
- SQLite: ``fcntl.flock`` on a lock file beside the database
  (``ledger.db.lock``), whose content says who holds it; the kernel releases
  it if the process dies. Not ``BEGIN IMMEDIATE`` on a connection of its
  own: that would hold SQLite's one write lock for the whole command, and the
  command's own writes, on the library's connections, would then wait on it.

A reading command takes no turn and never waits (WAL on SQLite; MVCC on
PostgreSQL). Turns are re-entrant within a process: a command that runs
another inside it does not wait on itself."""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

LOCK_KEY = 0x4C6564676572  # "Ledger": the advisory lock's key, the same for every ledger database
POLL_SECONDS = 0.1


class LedgerBusy(Exception):
    """Another command held the ledger for longer than this one would wait."""


def _holder_text(holder: dict | None) -> str:
    if not holder:
        return "another command (who, not known yet)"
    return (f"`{holder.get('command', '?')}` by {holder.get('actor', '?')} "
            f"(process {holder.get('pid', '?')}) since {holder.get('since', '?')}")


class CommandTurns:
    """The store's lock for recording commands; ``hold(command, actor)``
    waits up to ``wait_seconds`` and raises LedgerBusy naming the holder."""

    def __init__(self, wait_seconds: float = 60.0):
        self.wait_seconds = wait_seconds
        self._depth = 0

    # what each store provides
    def _try_acquire(self) -> bool:
        raise NotImplementedError

    def _note_holder(self, holder: dict) -> None:
        raise NotImplementedError

    def _read_holder(self) -> dict | None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def hold(self, command: str, actor: str) -> "_Turn":
        return _Turn(self, command, actor)

    def _acquire(self, command: str, actor: str) -> None:
        if self._depth:
            self._depth += 1
            return
        deadline = time.monotonic() + max(0.0, self.wait_seconds)
        told = False
        while not self._try_acquire():
            holder = self._read_holder()
            if time.monotonic() >= deadline:
                raise LedgerBusy(f"the ledger is busy: {_holder_text(holder)} is recording; waited "
                                 f"{self.wait_seconds:g} s (--wait). Nothing of this command was recorded: "
                                 "run it again when that one has finished")
            if not told:
                print(f"ledger: waiting for {_holder_text(holder)} to finish (up to {self.wait_seconds:g} s)",
                      file=sys.stderr, flush=True)
                told = True
            time.sleep(POLL_SECONDS)
        self._depth = 1
        self._note_holder(dict(command=command, actor=actor, pid=os.getpid(),
                               since=datetime.now(timezone.utc).isoformat(timespec="seconds")))

    def _leave(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._release()

    def close(self) -> None:
        if self._depth:
            self._depth = 0
            self._release()


class _Turn:
    def __init__(self, turns: CommandTurns, command: str, actor: str):
        self.turns, self.command, self.actor = turns, command, actor

    def __enter__(self) -> None:
        self.turns._acquire(self.command, self.actor)

    def __exit__(self, *exc) -> None:
        self.turns._leave()


class FileTurns(CommandTurns):
    """SQLite: an exclusive flock on ``<database>.lock``."""

    def __init__(self, database_path: str, wait_seconds: float = 60.0):
        super().__init__(wait_seconds)
        self.path = Path(database_path + ".lock")
        self._file = None

    def _try_acquire(self) -> bool:
        import fcntl

        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def _note_holder(self, holder: dict) -> None:
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps(holder))
        self._file.flush()

    def _read_holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None

    def _release(self) -> None:
        import fcntl

        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()  # nobody holds it now
            self._file.flush()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class AdvisoryTurns(CommandTurns):
    """PostgreSQL: ``pg_try_advisory_lock`` on a connection kept for the
    command (the lock belongs to the session)."""

    def __init__(self, env: Mapping[str, str], wait_seconds: float = 60.0):
        super().__init__(wait_seconds)
        self.env = env
        self._conn = None

    def _connection(self):
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                host=self.env["POSTGRES_HOST"], port=self.env["POSTGRES_PORT"], dbname=self.env["POSTGRES_DBNAME"],
                user=self.env["POSTGRES_USER"], password=self.env.get("POSTGRES_PASSWORD") or None,
                connect_timeout=int(self.env.get("POSTGRES_CONNECT_TIMEOUT", "10")), autocommit=True)
        return self._conn

    def _try_acquire(self) -> bool:
        return bool(self._connection().execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0])

    def _note_holder(self, holder: dict) -> None:
        # Created here, under the lock: two first commands never race on CREATE TABLE.
        conn = self._connection()
        conn.execute("CREATE TABLE IF NOT EXISTS command_lock (id int PRIMARY KEY, holder text NOT NULL)")
        conn.execute("INSERT INTO command_lock VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET holder = "
                     "EXCLUDED.holder", (json.dumps(holder),))

    def _read_holder(self) -> dict | None:
        import psycopg

        try:
            row = self._connection().execute("SELECT holder FROM command_lock WHERE id = 1").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
        return json.loads(row[0]) if row else None

    def _release(self) -> None:
        import psycopg

        if self._conn is None or self._conn.closed:
            return  # the session ended: the server released the lock with it
        try:
            self._conn.execute("DELETE FROM command_lock WHERE id = 1")
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        except psycopg.Error:
            pass  # the connection broke: the server ends the session, and its lock with it
        finally:
            self._conn.close()
            self._conn = None


def turns_for(store, wait_seconds: float) -> CommandTurns:
    if store.kind == "sqlite":
        return FileTurns(store.env["SQLITE_DBNAME"], wait_seconds)
    return AdvisoryTurns(store.env, wait_seconds)
