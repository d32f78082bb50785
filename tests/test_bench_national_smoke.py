"""scripts/bench-national at a tiny size: it runs end to end (a province's
server and the national one), every province's month verifies at national,
and it writes the figures docs/national.md quotes. Speeds are never checked
here, only that the figures are there."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import pg_clusters  # noqa: E402

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(not pg_clusters.available(), reason="no PostgreSQL binaries")]


def test_the_national_benchmark_runs_and_writes_its_figures(tmp_path):
    out = tmp_path / "national.json"
    subprocess.run([str(REPO / "scripts" / "bench-national"), "--people", "30", "--provinces", "1",
                    "--scale-provinces", "3", "--work", str(tmp_path / "work"), "--json-out", str(out)],
                   check=True, capture_output=True, text=True, timeout=600)
    result = json.loads(out.read_text())
    (province,) = result["per_province"]
    assert province["events_in_month"] >= 2 * 30 * 0.9 and province["wal_bytes_in_month"] > 0
    assert province["replication_lag_seconds"] > 0 and result["raw_replication_lag_seconds"] > 0
    assert result["national_report_complete"] and result["national_people_paid"] > 0
    assert result["at_scale"]["provinces"] == 3 and result["at_scale"]["report_seconds"] > 0
    assert set(result["ratios"]) == {"quiet_lag_vs_raw", "report_vs_raw_read"}
