"""The two stores, with the baselines each is read against (the primary
one first: the goals' ratios are to it)."""
from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import pg

STORES = ("sqlite", "postgresql")


@dataclass
class SqliteTarget:
    folder: Path
    name: str = "sqlite"
    primary_raw: str = "executemany"
    raw_labels: dict[str, str] = field(default_factory=lambda: {"executemany": "raw executemany"})
    primary_read: str = "keyset"
    read_labels: dict[str, str] = field(default_factory=lambda: {"keyset": "raw keyset read+JSON"})

    def facts(self) -> dict[str, Any]:
        return {"sqlite_version": sqlite3.sqlite_version}

    @contextmanager
    def fresh_database(self, purpose: str = "run") -> Iterator[str]:
        path = self.folder / f"ledger-{purpose}-{os.getpid()}-{time.time_ns()}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


@dataclass
class PostgresTarget:
    server_url: str  # any database on the server: only used to create ours
    name: str = "postgresql"
    primary_raw: str = "copy_binary"
    raw_labels: dict[str, str] = field(default_factory=lambda: {
        "copy_binary": "raw COPY", "executemany_pipelined": "raw executemany"})
    primary_read: str = "copy_to"
    read_labels: dict[str, str] = field(default_factory=lambda: {
        "copy_to": "raw COPY TO+JSON", "keyset": "raw keyset read+JSON"})

    def facts(self) -> dict[str, Any]:
        return pg.server_facts(self.server_url)

    @contextmanager
    def fresh_database(self, purpose: str = "run") -> Iterator[str]:
        with pg.fresh_database(self.server_url, purpose) as url:
            yield url


Target = SqliteTarget | PostgresTarget


def target_for(store: str, folder: Path, server_url: str | None) -> Target:
    return SqliteTarget(folder) if store == "sqlite" else PostgresTarget(server_url)
