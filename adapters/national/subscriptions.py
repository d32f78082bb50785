"""The national database: a copy of every province's published tables, fed
by PostgreSQL logical replication (one subscription per province), and the
register of the provinces with the public key each one signs with.

Nothing here reaches into a province's ledger: ``add-province`` connects to
the province once, to make sure its published tables and publication exist,
and the subscription then streams those tables only. ``status`` asks each
province (briefly, with a short timeout) how far the national side has
confirmed its WAL; a province that cannot be reached is shown so, with the
time of the last message received from it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlparse, urlunparse

import psycopg
import sqlalchemy as sa
from psycopg import sql

from ..errors import CommandRefused
from . import published

provinces = sa.Table(
    "national_provinces", published.metadata,
    sa.Column("province", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),  # as given: the subscription's connection
    sa.Column("public_key", sa.Text, nullable=False),  # Ed25519, hex: the province's checkpoint key
    sa.Column("subscription", sa.Text, nullable=False),
    sa.Column("added_at", sa.Text, nullable=False),
)

CODE = re.compile(r"^[A-Za-z0-9_]{1,16}$")
PROBE_TIMEOUT_SECONDS = 3


def libpq_url(url: str) -> str:
    """A PostgreSQL URL as libpq takes it (no SQLAlchemy driver suffix)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise CommandRefused(f"{masked(url)}: the national database and the provinces are PostgreSQL "
                             "(postgresql://user@host:port/dbname)")
    return urlunparse(parsed._replace(scheme="postgresql"))


def masked(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":****@")
        return urlunparse(parsed._replace(netloc=netloc))
    return url


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine("postgresql+psycopg://" + libpq_url(url).split("://", 1)[1], future=True)


def subscription_name(code: str) -> str:
    return f"ledger_province_{code.lower()}"


def _public_key(text: str) -> str:
    key = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise CommandRefused("--public-key: the province's Ed25519 public key, 64 hex digits "
                             "(printed by `ledger keygen --signing`)")
    return key


@dataclass(frozen=True)
class NationalStatus:
    database: str
    provinces: list[dict]

    def as_dict(self) -> dict:
        return dict(database=self.database, provinces=list(self.provinces))


def init(url: str) -> NationalStatus:
    """The national tables (the same published tables, and the register);
    running it again changes nothing."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            level = conn.execute(sa.text("SHOW server_version_num")).scalar()
        if int(level) < 150000:
            raise CommandRefused("the national database needs PostgreSQL 15 or later")
        published.metadata.create_all(engine, checkfirst=True)
    finally:
        engine.dispose()
    return status(url, probe=False)


def add_province(url: str, code: str, province_url: str, public_key: str) -> NationalStatus:
    """Register a province and subscribe to its publication. The province's
    published tables and publication are made if missing (its database must
    run with wal_level=logical); rows it published before are copied first.
    Given a registered province at a new address (its standby promoted, its
    database restored elsewhere), subscribe there instead."""
    if not CODE.match(code):
        raise CommandRefused(f"{code!r}: a province code is 1 to 16 letters, digits or _ (its province_code)")
    key = _public_key(public_key)
    source = libpq_url(province_url)
    init(url)
    with psycopg.connect(source, connect_timeout=PROBE_TIMEOUT_SECONDS, autocommit=True) as conn:
        level = conn.execute("SHOW wal_level").fetchone()[0]
    if level != "logical":
        raise CommandRefused(f"province {code} ({masked(province_url)}) runs with wal_level={level}: set "
                             "wal_level = logical in its postgresql.conf and restart it")
    province_engine = engine_for(province_url)
    try:
        published.create_tables(province_engine)
    finally:
        province_engine.dispose()
    name = subscription_name(code)
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            known = conn.execute(sa.select(provinces).where(provinces.c.province == code)).first()
            if known is not None and known.public_key != key:
                raise CommandRefused(f"province {code} is registered with another public key: a key is "
                                     "changed by a person, not by add-province")
            moved = known is not None and known.url != masked(province_url)
            if known is None:
                conn.execute(provinces.insert().values(
                    province=code, url=masked(province_url), public_key=key, subscription=name,
                    added_at=datetime.now(timezone.utc).isoformat(timespec="seconds")))
            elif moved:
                conn.execute(provinces.update().where(provinces.c.province == code)
                             .values(url=masked(province_url)))
    finally:
        engine.dispose()
    # CREATE SUBSCRIPTION cannot run inside a transaction block.
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_subscription WHERE subname = %s", (name,)).fetchone()
        if exists and moved:
            _drop_moved(conn, code, name)
            exists = None
        if exists:
            conn.execute(sql.SQL("ALTER SUBSCRIPTION {} REFRESH PUBLICATION").format(sql.Identifier(name)))
        else:
            conn.execute(sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {}").format(
                sql.Identifier(name), sql.Literal(source), sql.Identifier(published.PUBLICATION)))
    return status(url, probe=False)


def _drop_moved(conn, code: str, name: str) -> None:
    """The province moved (its standby promoted, or restored elsewhere): its
    replication slot stayed on the old server (PostgreSQL 15 and 16 do not
    carry logical slots to a standby), so the subscription is dropped without
    touching the old server, the province's copied rows with it, and the new
    subscription copies the published tables afresh (they are small)."""
    ident = sql.Identifier(name)
    conn.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(ident))
    conn.execute(sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(ident))
    conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(ident))
    with conn.transaction():
        for p in reversed(published.TABLES):
            conn.execute(sql.SQL("DELETE FROM {} WHERE province = %s").format(sql.Identifier(p.table.name)),
                         (code,))


def _province_lag(province_url_text: str | None, slot: str) -> dict:
    """From the province: its WAL position and how much of it the national
    side has not yet confirmed (bytes), or why it cannot tell."""
    if province_url_text is None:
        return dict(reachable=None, lag_bytes=None)
    try:
        with psycopg.connect(libpq_url(province_url_text), connect_timeout=PROBE_TIMEOUT_SECONDS,
                             autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, active "
                "FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
    except psycopg.Error as exc:
        return dict(reachable=False, lag_bytes=None, problem=str(exc).strip().splitlines()[0])
    if row is None:
        return dict(reachable=True, lag_bytes=None, problem=f"no replication slot {slot} on the province")
    return dict(reachable=True, lag_bytes=int(row[0]) if row[0] is not None else None, slot_active=row[1])


def require_national(engine: sa.Engine, url: str) -> None:
    if not sa.inspect(engine).has_table(provinces.name):
        raise CommandRefused(f"{masked(url)} is not a national database: run `ledger --db URL national init`")


def status(url: str, probe: bool = True, urls: dict[str, str] | None = None) -> NationalStatus:
    """Each province: its subscription's state, the lag, the last closed
    month replicated. ``urls`` gives the provinces' connections with their
    passwords (the register keeps them masked); without it the register's."""
    engine = engine_for(url)
    try:
        require_national(engine, url)
        with engine.connect() as conn:
            registered = conn.execute(sa.select(provinces).order_by(provinces.c.province)).all()
            last = dict(conn.execute(sa.select(published.closes.c.province, sa.func.max(published.closes.c.month))
                                     .group_by(published.closes.c.province)).all())
            subs = {r.subname: r for r in conn.execute(sa.text(
                "SELECT s.subname, s.subenabled, st.pid, st.received_lsn::text AS received_lsn, "
                "st.last_msg_receipt_time, st.latest_end_time, "
                "(SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate <> 'r') "
                "AS tables_syncing "
                "FROM pg_subscription s LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL "
                "WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"))}
    finally:
        engine.dispose()
    now = datetime.now(timezone.utc)
    shown = []
    for p in registered:
        sub = subs.get(p.subscription)
        row = dict(province=p.province, subscription=p.subscription, url=p.url,
                   last_closed_month=last.get(p.province),
                   running=bool(sub is not None and sub.pid is not None),
                   tables_syncing=int(sub.tables_syncing) if sub is not None else None,
                   received_lsn=sub.received_lsn if sub is not None else None,
                   seconds_since_last_message=(round((now - sub.last_msg_receipt_time).total_seconds(), 1)
                                               if sub is not None and sub.last_msg_receipt_time else None))
        if probe:
            given = (urls or {}).get(p.province)
            row.update(_province_lag(given or (p.url if "****" not in p.url else None), p.subscription))
        shown.append(row)
    return NationalStatus(masked(url), shown)
