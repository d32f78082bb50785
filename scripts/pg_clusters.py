"""Throwaway PostgreSQL clusters on loopback, for the tests and benchmarks
that need several servers (provinces, the national database, a standby):
the machine's own binaries (Debian's /usr/lib/postgresql/*/bin, as
scripts/pg-tmp.sh), each cluster in its own temporary folder.

initdb refuses to run as root: as root, the servers run as the
unprivileged 'postgres' user, as pg-tmp.sh does."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def bindir() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise FileNotFoundError("no PostgreSQL binaries (apt-get install postgresql)")


def available() -> bool:
    try:
        bindir()
    except FileNotFoundError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> None:
    """As root: the 'postgres' user the servers run as (as pg-tmp.sh makes it)."""
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        "postgres"], check=True)


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(_as_server_user(argv), check=True, capture_output=True, text=True, **kwargs)


# Small servers (several run at once on a small machine), logical WAL for
# the publications, room for the apply and table-copy workers of a national
# database with several subscriptions. fsync is off: these servers never
# outlive the machine's uptime; a server killed (-m immediate) still
# recovers from its WAL, which is what the failover test needs.
BASE_SETTINGS = dict(
    listen_addresses="127.0.0.1", wal_level="logical", max_wal_senders=10, max_replication_slots=10,
    max_worker_processes=16, max_logical_replication_workers=12, max_sync_workers_per_subscription=2,
    shared_buffers="32MB", max_connections=40, fsync="off", full_page_writes="off",
    wal_sender_timeout="10s", wal_receiver_status_interval="1s",
)


class Cluster:
    """One server: its folder, port and URLs."""

    def __init__(self, folder: Path, port: int, name: str):
        self.folder, self.port, self.name = folder, port, name
        self.data = folder / "data"
        self.log = folder / "server.log"

    @classmethod
    def create(cls, name: str, database: str | None = "ledger", **settings) -> Cluster:
        folder = Path(tempfile.mkdtemp(prefix=f"ledger-{name}."))
        cluster = cls(folder, _free_port(), name)
        cluster._own_folder()
        _run([str(bindir() / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
              "--locale=C.UTF-8"])
        cluster.configure(**{**BASE_SETTINGS, **settings})
        cluster.start()
        if database:
            with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {database}")
        return cluster

    def _own_folder(self) -> None:
        if os.geteuid() == 0:
            _server_user()
            shutil.chown(self.folder, "postgres")
        self.folder.chmod(0o755)

    def configure(self, file: str = "postgresql.conf", **settings) -> None:
        settings = dict(settings, port=self.port, unix_socket_directories=str(self.folder))
        with (self.data / file).open("a", encoding="utf-8") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = '{value}'\n")

    def url(self, database: str = "ledger") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def ctl(self, *argv: str) -> None:
        _run([str(bindir() / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", *argv])

    def start(self) -> None:
        self.ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("stop", "-m", mode)

    def kill(self) -> None:
        """The server stops at once, as at a power cut: no checkpoint, no
        goodbye to its clients (pg_ctl -m immediate)."""
        self.stop("immediate")

    def running(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def standby(self, name: str, application_name: str = "standby1") -> Cluster:
        """A streaming standby of this server, made by pg_basebackup (with
        its recovery settings, -R), started."""
        folder = Path(tempfile.mkdtemp(prefix=f"ledger-{name}."))
        standby = Cluster(folder, _free_port(), name)
        standby._own_folder()
        _run([str(bindir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
              "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast"])
        # After the primary_conninfo pg_basebackup -R wrote there (the last one counts).
        standby.configure("postgresql.auto.conf", primary_conninfo=f"host=127.0.0.1 port={self.port} user=postgres "
                                           f"application_name={application_name}")
        standby.start()
        return standby

    def promote(self) -> None:
        _run([str(bindir() / "pg_ctl"), "-D", str(self.data), "-w", "-t", "120", "promote"])

    def execute(self, statement: str, database: str = "ledger", params=()) -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def remove(self) -> None:
        try:
            self.kill()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)


def wait_for(check, timeout: float = 60.0, pause: float = 0.1, what: str = "the condition"):
    """Poll ``check`` until it returns something true; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout} s")
        time.sleep(pause)
