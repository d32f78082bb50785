"""Storage fixtures: every storage test runs on SQLite and on a real
PostgreSQL (LEDGER_TEST_POSTGRES_URL, started by scripts/test.sh)."""
from __future__ import annotations

import os
import uuid
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles. "ci", the default: every property with a fixed seed,
# so a run is repeatable (the model test, tests/test_ledger_model.py, then
# takes about a minute). "long": fresh random sequences, thousands of them
# for the model test (scripts/model-test.sh). Pick with --hypothesis-profile.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("long", derandomize=False, deadline=None, print_blob=True,
                          max_examples=int(os.environ.get("MODEL_SEQUENCES", "2000")),
                          stateful_step_count=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Bank files are refused without the office's treasury account: the tests'
# office has one (a test about the refusal removes it).
os.environ.setdefault("LEDGER_TREASURY_ACCOUNT", "3761201000123")

POSTGRES_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1"


def _with_database(url: str, dbname: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{dbname}"))


def _require_postgres() -> None:
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("LEDGER_TEST_POSTGRES_URL is not set but PostgreSQL is required")
        pytest.skip("no PostgreSQL (run scripts/test.sh)")


def _create_database() -> str:
    """A fresh, empty database on the test server; returns its name."""
    dbname = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
    return dbname


def _drop_databases(names: list[str]) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for dbname in names:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    _require_postgres()
    dbname = _create_database()
    yield _with_database(POSTGRES_URL, dbname)
    _drop_databases([dbname])


@pytest.fixture
def fresh_store(request, tmp_path_factory):
    """A factory of fresh, empty stores of the parametrised kind, for
    property tests that need one database per example."""
    kind = request.param if hasattr(request, "param") else "sqlite"
    made: list[str] = []

    def make() -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('store') / 'ledger.db'}"
        _require_postgres()
        made.append(_create_database())
        return _with_database(POSTGRES_URL, made[-1])

    yield make
    if made:
        _drop_databases(made)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """Each storage test runs once per store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("postgres_url")
