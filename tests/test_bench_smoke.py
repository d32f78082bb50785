"""scripts/bench.py at a tiny size: it runs end to end and writes the
figures it promises. Speeds are never checked here, only shapes and counts."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "scripts" / "bench.py"
REGISTRATIONS_COUNT = 200

LEDGER_STEPS = ("open", "parse", "record", "project", "first_import", "reimport")
FIGURE_KEYS = {"unit", "count", "seconds", "cpu_seconds", "per_second"}


def run_bench(tmp_path: Path, *options: str) -> dict:
    json_out = tmp_path / "import.json"
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--stages", "import", "--n", str(REGISTRATIONS_COUNT),
         "--no-progress", "--json-out", str(json_out), *options],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    assert "record" in completed.stdout  # the printed table
    return json.loads(json_out.read_text(encoding="utf-8"))


def check_store(report: dict, store: str, raw_keys: set[str]) -> None:
    data = report["stages"]["import"]["stores"][store]
    assert set(data["raw"]) == raw_keys
    assert data["raw_primary"] in raw_keys
    for figure in data["raw"].values():
        assert FIGURE_KEYS <= set(figure)
        assert figure["count"] == REGISTRATIONS_COUNT
    ledger = data["ledger"]
    assert set(LEDGER_STEPS) <= set(ledger)
    for step in LEDGER_STEPS:
        assert FIGURE_KEYS <= set(ledger[step])
    for step in ("parse", "record", "project", "first_import", "reimport"):
        assert set(ledger[step]["ratio_to_raw"]) == raw_keys
    assert ledger["parse"]["count"] == REGISTRATIONS_COUNT
    assert ledger["record"]["count"] == REGISTRATIONS_COUNT  # one event per registration
    assert ledger["record"]["unit"] == "events"
    assert ledger["project"]["count"] == REGISTRATIONS_COUNT
    assert ledger["reimport"]["recorded_events"] == 0
    assert ledger["reimport"]["unchanged_rows"] == REGISTRATIONS_COUNT
    assert data["mean_state_bytes"]["raw"] > 0 and data["mean_state_bytes"]["ledger"] > 0
    assert data["peak_rss_mib"] > 0
    assert data["failure"] is None


def test_import_stage_on_sqlite(tmp_path):
    report = run_bench(tmp_path, "--stores", "sqlite")
    assert {"stages": ["import"], "n": REGISTRATIONS_COUNT, "seed": 1,
            "stores": ["sqlite"]}.items() <= report["params"].items()
    assert {"cpu_count", "python", "sqlite"} <= set(report["machine"])
    assert report["stages"]["import"]["input"]["registrations"] == REGISTRATIONS_COUNT
    assert list(report["stages"]["import"]["stores"]) == ["sqlite"]
    check_store(report, "sqlite", {"executemany"})


def load_bench():
    """scripts/ is not a package: load the file (dataclasses need it registered)."""
    name = "ledger_bench_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_a_step_that_overruns_is_stopped():
    bench = load_bench()
    with pytest.raises(bench.StepTimedOut) as stopped:
        with bench.deadline(0.2, "sleep"):
            time.sleep(5)
    assert stopped.value.step == "sleep"
    with bench.deadline(5, "quick"):
        pass
    time.sleep(0.1)  # a disarmed deadline never fires later


def _postgres_url() -> str:
    url = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1":
            pytest.fail("LEDGER_REQUIRE_POSTGRES=1 but LEDGER_TEST_POSTGRES_URL is not set")
        pytest.skip("LEDGER_TEST_POSTGRES_URL is not set")
    return url


def _databases_and_tables(url: str) -> tuple[set[str], set[str]]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        databases = {name for (name,) in connection.execute("SELECT datname FROM pg_database")}
        tables = {name for (name,) in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    return databases, tables


def test_import_stage_on_postgresql(tmp_path):
    url = _postgres_url()
    databases_before, tables_before = _databases_and_tables(url)
    report = run_bench(tmp_path, "--stores", "postgresql", "--postgres-url", url)
    check_store(report, "postgresql", {"copy_binary", "executemany_pipelined"})
    assert report["machine"]["postgresql_server_version"]
    # The benchmark worked in a database of its own and dropped it.
    databases_after, tables_after = _databases_and_tables(url)
    assert databases_after == databases_before
    assert tables_after == tables_before
