"""The PostgreSQL the benchmark runs on: the given server, or a durable
throwaway one started with scripts/pg-tmp.sh; databases of its own on it,
dropped at the end."""
from __future__ import annotations

import os
import shlex
import subprocess
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse, urlunparse

import psycopg

PG_TMP = Path(__file__).resolve().parent.parent / "pg-tmp.sh"


def psycopg_url(url: str) -> str:
    """The URL as libpq accepts it (no SQLAlchemy driver suffix)."""
    return urlunparse(urlparse(url)._replace(scheme="postgresql"))


def with_database(url: str, dbname: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


def pg_connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(psycopg_url(url), connect_timeout=10, **kwargs)


def server_facts(url: str) -> dict[str, Any]:
    """Version and the settings that decide how fast a commit can be."""
    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes",
             "shared_buffers", "wal_level", "max_wal_size")
    with pg_connect(url) as connection:
        return {name: connection.execute(f"SHOW {name}").fetchone()[0] for name in names}


def parse_exports(text: str) -> dict[str, str]:
    """The variables of ``export A=1 B=2`` lines, as pg-tmp.sh prints them."""
    found = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if words[:1] != ["export"]:
            continue
        for word in words[1:]:
            name, _, value = word.partition("=")
            found[name] = value
    return found


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """The given server, or a durable throwaway one for the length of the run
    (durable: benchmarks must pay for fsync as production does)."""
    if url:
        yield url
        return
    env = dict(os.environ, PGTMP_DURABLE="1")
    started = subprocess.run([str(PG_TMP), "start"], env=env, check=True,
                             stdout=subprocess.PIPE, text=True)
    exports = parse_exports(started.stdout)
    try:
        yield exports["LEDGER_TEST_POSTGRES_URL"]
    finally:
        subprocess.run([str(PG_TMP), "stop", exports["PGTMP_DIR"]], check=False)


@contextmanager
def fresh_database(server_url: str, purpose: str) -> Iterator[str]:
    """A database of our own on the server, dropped at the end whatever
    happens, so runs never see each other's rows."""
    dbname = f"ledger_bench_{purpose}_{datetime.now():%Y%m%d_%H%M%S}_{os.getpid()}"
    with pg_connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield with_database(server_url, dbname)
    finally:
        with pg_connect(server_url, autocommit=True) as admin:
            # FORCE (PostgreSQL 13+) also ends sessions a stopped step left open.
            force = " WITH (FORCE)" if admin.info.server_version >= 130000 else ""
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}"{force}')
