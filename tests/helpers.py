"""Small helpers shared by the storage and end-to-end tests."""
from __future__ import annotations

import json
from contextlib import contextmanager

import sqlalchemy as sa

from adapters.synthetic import DECISION_COLUMNS, write_csv

REGISTER = dict(
    decision_no="1/QĐ-UBND", signed_on="2024-07-05", kind="register", citizen_id="051044001234",
    full_name="Nguyễn Văn A", birth_date="1944-03-02", sex="M", province_code="051",
    commune_code="20101", category="ELDERLY_80", effective_month="2024-07", channel="cash",
    agent_code="VNPOST-BS-01", home_delivery="n",
)
REGISTER_2 = dict(
    REGISTER, decision_no="2/QĐ-UBND", citizen_id="051319001235", full_name="Trần Thị B",
    birth_date="2019-11-20", sex="F", category="ORPHAN", channel="bank",
    agent_code="BANK-VBSP-QNG", bank_account="0123456789", home_delivery="",
)


def decisions_file(path, rows, columns=DECISION_COLUMNS):
    return write_csv(path, rows, columns)


def event_count(ledger) -> int:
    """Events stored. Not the last notification id: on PostgreSQL a killed
    transaction uses up sequence numbers without storing anything."""
    with ledger.runtime.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {ledger.runtime.store.events_table}")).scalar()


def dump_views(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every read-model table, in a stable order."""
    from projections.runner import metadata

    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "projection_tracking":
                continue
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted(tuple(r) for r in rows)
    return out


class OpenLedger:
    """What a test works with on one store: the wired runtime, the commands
    and the queries over it."""

    def __init__(self, runtime):
        from adapters.commands import Commands
        from adapters.queries import Queries

        self.runtime = runtime
        self.queries = Queries(runtime)
        self.commands = Commands(runtime, self.queries)


@contextmanager
def open_ledger(url, rules=None):
    from adapters.bootstrap import open_runtime

    with open_runtime(url, rules) as runtime:
        yield OpenLedger(runtime)


def cmd(capsys, url, *argv):
    """The ledger command on the store at ``url``: (exit code, stdout, stderr)."""
    from adapters.cli import main

    code = main(["--db", url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def ok_json(capsys, url, *argv):
    """The command's JSON output; it must succeed."""
    code, out, err = cmd(capsys, url, *argv, "--json")
    assert code == 0, err
    return json.loads(out)
