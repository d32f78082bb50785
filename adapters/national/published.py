"""What a province publishes for the ministry: a small set of tables,
written once a month is closed and never read by the province itself.

The national database never reads a province's live views or events: it
subscribes (PostgreSQL logical replication) to the publication of these
tables only. Each row carries the province code in its primary key, so the
provinces' rows sit side by side in the national copy.

A published month is one row of ``published_close`` (the month's totals,
the signed checkpoint of the chain after the close, and a signed statement)
and the rows of the other tables for that province and month. The statement
names the checkpoint and a digest of each table's rows, and is signed with
the province's checkpoint key: the national side can tell figures that were
altered (in transit, or in its own copy) or only half replicated from the
figures the province closed on. A new table (the match rates, say) is one
more entry of ``TABLES`` with its rows: the statement then carries its
digest too.

The figures are the month's summary, the one the province's own settlement
report prints (``Queries.district_summary``): the published tables are a
report's copy, which no command ever reads back.

All of a month's rows are written in one transaction, after the close is
committed and its checkpoint signed (the checkpoint signs the close, so it
cannot be in the close's own transaction). Publishing again replaces the
month's rows: ``ledger national publish --month M`` after a failure."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa

from ..errors import CommandRefused

PUBLICATION = "ledger_national"
STATEMENT_FORMAT = "allowance-ledger published month 1"

metadata = sa.MetaData()
_money = sa.BigInteger


def _keyed(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(name, metadata,
                    sa.Column("province", sa.Text, primary_key=True),
                    sa.Column("month", sa.Text, primary_key=True), *columns)


# The month's totals, the checkpoint and the signed statement.
closes = _keyed(
    "published_close",
    sa.Column("office", sa.Text, nullable=False),
    sa.Column("published_at", sa.Text, nullable=False),
    sa.Column("advance", _money, nullable=False),
    sa.Column("disbursed", _money, nullable=False),
    sa.Column("fee", _money, nullable=False),
    sa.Column("returned", _money, nullable=False),
    sa.Column("closing_balance", _money, nullable=False),
    sa.Column("paid_cash_vnd", _money, nullable=False),
    sa.Column("paid_bank_vnd", _money, nullable=False),
    sa.Column("people_paid", sa.BigInteger, nullable=False),
    sa.Column("unclaimed_verify", sa.BigInteger, nullable=False),
    sa.Column("unclaimed_suspended", sa.BigInteger, nullable=False),
    sa.Column("unclaimed_held_vnd", _money, nullable=False),
    # Overpayments as they stood at the close (all months, not this one's only).
    sa.Column("overpayments_open_count", sa.BigInteger, nullable=False),
    sa.Column("overpayments_open_vnd", _money, nullable=False),
    sa.Column("recovered_vnd", _money, nullable=False),
    sa.Column("written_off_vnd", _money, nullable=False),
    sa.Column("closed_at_position", sa.BigInteger, nullable=False),  # the chain head the close recorded
    sa.Column("closed_at_hash", sa.Text, nullable=False),
    sa.Column("checkpoint", sa.Text, nullable=False),  # the signed checkpoint after the close (JSON)
    sa.Column("statement", sa.Text, nullable=False),  # what is signed: the checkpoint, each table's digest
    sa.Column("signature", sa.Text, nullable=False),
)

agents = _keyed(
    "published_agent_settlement",
    sa.Column("agent_code", sa.Text, primary_key=True),
    sa.Column("opening_balance", _money, nullable=False),
    sa.Column("advance", _money, nullable=False),
    sa.Column("disbursed", _money, nullable=False),
    sa.Column("fee", _money, nullable=False),
    sa.Column("returned", _money, nullable=False),
    sa.Column("closing_balance", _money, nullable=False),
    sa.Column("reported_balance", _money),
    sa.Column("variances", sa.Integer, nullable=False),
)

communes = _keyed(
    "published_commune_totals",
    sa.Column("commune_code", sa.Text, primary_key=True),
    sa.Column("paid_cash_vnd", _money, nullable=False),
    sa.Column("paid_bank_vnd", _money, nullable=False),
    sa.Column("people_paid", sa.BigInteger, nullable=False),
)

# The figures of the close row the statement's digest covers (not the
# checkpoint and statement themselves, nor when they were written).
CLOSE_FIGURES = tuple(c.name for c in closes.columns
                      if c.name not in ("published_at", "checkpoint", "statement", "signature"))


def _close_rows(summary, province: str) -> list[dict]:
    queue, owed = summary.unclaimed_queue, summary.overpayments
    totals = summary.totals
    return [dict(province=province, month=str(summary.month), office=summary.office,
                 advance=totals.advance, disbursed=totals.disbursed, fee=totals.fee, returned=totals.returned,
                 closing_balance=totals.closing_balance,
                 paid_cash_vnd=sum(c["paid_cash_vnd"] for c in summary.communes),
                 paid_bank_vnd=sum(c["paid_bank_vnd"] for c in summary.communes),
                 people_paid=sum(c["people_paid"] for c in summary.communes),
                 unclaimed_verify=queue.verify, unclaimed_suspended=queue.suspended,
                 unclaimed_held_vnd=queue.held_vnd, overpayments_open_count=owed.open_count,
                 overpayments_open_vnd=owed.open_vnd, recovered_vnd=owed.recovered_vnd,
                 written_off_vnd=owed.written_off_vnd,
                 closed_at_position=int(summary.chain["position"]), closed_at_hash=summary.chain["hash"])]


def _agent_rows(summary, province: str) -> list[dict]:
    return [dict(province=province, month=str(summary.month), agent_code=s.agent_code,
                 opening_balance=s.opening_balance, advance=s.advance, disbursed=s.disbursed, fee=s.fee,
                 returned=s.returned, closing_balance=s.closing_balance, reported_balance=s.reported_balance,
                 variances=len(s.variances)) for s in summary.agents]


def _commune_rows(summary, province: str) -> list[dict]:
    return [dict(province=province, month=str(summary.month), commune_code=c["commune_code"],
                 paid_cash_vnd=c["paid_cash_vnd"], paid_bank_vnd=c["paid_bank_vnd"],
                 people_paid=c["people_paid"]) for c in summary.communes]


@dataclass(frozen=True)
class PublishedTable:
    table: sa.Table
    figures: tuple[str, ...]  # the columns its digest covers, in order
    rows: Callable  # (DistrictSummary, province) -> the month's rows


def _all_columns(table: sa.Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns)


# Everything published, in the order written. Adding a table: one entry here.
TABLES = (
    PublishedTable(closes, CLOSE_FIGURES, _close_rows),
    PublishedTable(agents, _all_columns(agents), _agent_rows),
    PublishedTable(communes, _all_columns(communes), _commune_rows),
)


def digest(rows, figures: tuple[str, ...]) -> str:
    """SHA-256 over the rows' figures in key order, as canonical JSON: the
    same on the province that wrote them and in the national copy."""
    # Sorted by value, None first in its column (reported_balance may be None).
    values = sorted([[row[name] for name in figures] for row in rows],
                    key=lambda r: [(v is not None, v) for v in r])
    return hashlib.sha256(json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode()).hexdigest()


def month_rows(conn, published: PublishedTable, province: str, month: str) -> list[dict]:
    table = published.table
    query = sa.select(table).where(table.c.province == province, table.c.month == month)
    return [dict(row._mapping) for row in conn.execute(query)]


def canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def create_tables(engine: sa.Engine) -> None:
    """The published tables and, on PostgreSQL, the publication of them (a
    table added to ``TABLES`` is added to the publication too)."""
    metadata.create_all(engine, tables=[p.table for p in TABLES], checkfirst=True)
    if engine.dialect.name != "postgresql":
        return
    names = [p.table.name for p in TABLES]
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('ledger_national_publication'))"))
        exists = conn.execute(sa.text("SELECT 1 FROM pg_publication WHERE pubname = :p"),
                              {"p": PUBLICATION}).first()
        if not exists:
            conn.execute(sa.text(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {', '.join(names)}"))
            return
        have = set(conn.execute(sa.text("SELECT tablename FROM pg_publication_tables WHERE pubname = :p"),
                                {"p": PUBLICATION}).scalars())
        for name in names:
            if name not in have:
                conn.execute(sa.text(f"ALTER PUBLICATION {PUBLICATION} ADD TABLE {name}"))


@dataclass(frozen=True)
class PublishedMonth:
    province: str
    month: str
    checkpoint_position: int
    rows: dict  # table -> rows written

    def as_dict(self) -> dict:
        return dict(province=self.province, month=self.month, checkpoint_position=self.checkpoint_position,
                    rows=dict(self.rows))


def publish_month(runtime, summary, province: str, checkpoint: dict, key) -> PublishedMonth:
    """Write the closed month's published rows (``summary``: its
    DistrictSummary) with ``checkpoint``, the signed head after the close,
    and the statement signed with ``key``; all in one transaction."""
    from ..checkpoints import public_hex

    month = str(summary.month)
    if not summary.closed:
        raise CommandRefused(f"{month} is not closed: only closed months are published")
    if not summary.chain.get("at_close"):
        raise CommandRefused(f"{month} was closed without recording the chain head: close it again to publish")
    if int(checkpoint["position"]) < int(summary.chain["position"]):
        raise CommandRefused(f"the checkpoint at position {checkpoint['position']} is older than the close of "
                             f"{month} (position {summary.chain['position']})")
    if checkpoint["public_key"] != public_hex(key):
        raise CommandRefused("the checkpoint is signed with another key than the office's")
    create_tables(runtime.engine)
    made = {p.table.name: p.rows(summary, province) for p in TABLES}
    statement = dict(format=STATEMENT_FORMAT, province=province, month=month,
                     checkpoint=dict(position=checkpoint["position"], hash=checkpoint["hash"],
                                     signature=checkpoint["signature"]),
                     closed_at=dict(position=int(summary.chain["position"]), hash=summary.chain["hash"]),
                     tables={p.table.name: digest(made[p.table.name], p.figures) for p in TABLES})
    text = canonical(statement)
    made[closes.name][0].update(
        published_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        checkpoint=json.dumps(checkpoint, sort_keys=True, separators=(",", ":")),
        statement=text.decode(), signature=key.sign(text).hex())
    with runtime.engine.begin() as conn:
        for published in reversed(TABLES):
            table = published.table
            conn.execute(table.delete().where(table.c.province == province, table.c.month == month))
        for published in TABLES:
            if made[published.table.name]:
                conn.execute(published.table.insert(), made[published.table.name])
    return PublishedMonth(province, month, int(checkpoint["position"]),
                          {name: len(rows) for name, rows in made.items()})
