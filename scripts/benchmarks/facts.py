"""What a result must say about where it was measured: the machine, the
code (commit, changes, changes during the run) and the library's settings."""
from __future__ import annotations

import hashlib
import os
import platform
import sqlite3
import subprocess
from importlib import metadata
from typing import Any

from .worker import REPO

# Settings read from the environment by the library (and LEDGER_CIPHER_KEY by
# the store): they change what is measured, so a result must say which were
# set. Secrets are recorded as set, never by value.
SETTING_PREFIXES = ("PERSISTENCE_", "POSTGRES_", "SQLITE_", "LEDGER_POSTGRES_", "LEDGER_SQLITE_",
                    "LEDGER_CIPHER", "CIPHER_", "COMPRESSOR_", "IS_SNAPSHOTTING")
SECRET_MARKS = ("PASSWORD", "KEY")
CODE_FOLDERS = ("ledger", "projections", "adapters")


def library_settings() -> dict[str, str]:
    return {name: "(set)" if any(mark in name for mark in SECRET_MARKS) else value
            for name, value in sorted(os.environ.items()) if name.startswith(SETTING_PREFIXES)}


def code_digests() -> dict[str, str]:
    """A digest of every file of the measured code as it is on disk now."""
    return {path.relative_to(REPO).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in CODE_FOLDERS for path in sorted((REPO / folder).rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def code_changed_since(digests: dict[str, str]) -> list[str]:
    """The code files that changed, appeared or went since the digests were
    taken: a worker starts a fresh interpreter, so code edited during a run
    is measured from then on."""
    now = code_digests()
    return sorted(path for path in digests.keys() | now.keys() if digests.get(path) != now.get(path))


def code_facts() -> dict[str, Any]:
    """Which code was measured: the commit, the files changed since, and a
    digest of those changes."""
    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout
    try:
        # "XY path" lines: the two status letters may be blanks, so nothing is stripped.
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
        return dict(commit=git("rev-parse", "HEAD").strip(), uncommitted_changes=bool(changed),
                    changed_files=sorted(line[3:] for line in changed),
                    changes_sha256=hashlib.sha256(git("diff", "HEAD").encode()).hexdigest())
    except (OSError, subprocess.CalledProcessError):
        return {}


def load_average() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = dict(
        cpu_count=os.cpu_count(), python=platform.python_version(),
        implementation=platform.python_implementation(), platform=platform.platform(),
        sqlite=sqlite3.sqlite_version,
        # Another busy process skews every figure: say how idle the machine was.
        load_average_1m_at_start=load_average())
    if hasattr(os, "sched_getaffinity"):
        facts["usable_cpu_count"] = len(os.sched_getaffinity(0))
    for package in ("eventsourcing", "psycopg", "sqlalchemy", "pydantic"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            facts["memory_mib"] = int(meminfo.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return facts
