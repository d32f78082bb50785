"""Writing many read-model rows at once, through the driver.

A catch-up writes tens of thousands of rows per batch. SQLAlchemy's
executemany compiles parameters row by row; here the rows go straight to the
driver on the same connection, and so in the same transaction as the
projection's position: COPY on PostgreSQL, a prepared executemany on SQLite.
"""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .personal import Personal, cipher_of, stored_row_converter


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict]) -> None:
    if not rows:
        return
    columns = [c.name for c in table.columns]
    stored = stored_row_converter(table, conn.dialect)  # personal columns encrypted, if so configured
    values = [stored(row) for row in rows]
    driver = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
    else:
        marks = ", ".join("?" * len(columns))
        driver.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", values)


def update_rows(conn: Connection, table: sa.Table, key: str, columns: Sequence[str],
                rows: Sequence[dict]) -> None:
    """Set ``columns`` of the rows whose ``key`` matches, one row per dict."""
    if not rows:
        return
    rows = list({row[key]: row for row in rows}.values())  # the last change of a row wins
    cipher = cipher_of(conn.dialect)
    if cipher is not None:  # as stored: personal columns encrypted
        kinds = {c: table.c[c].type for c in (key, *columns) if isinstance(table.c[c].type, Personal)}
        rows = [{c: v if c not in kinds or v is None else kinds[c].to_stored(v, cipher) for c, v in row.items()}
                for row in rows]
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        # One COPY into a scratch table and one joined UPDATE: far fewer round
        # trips than an UPDATE per row.
        scratch = f"_bulk_{table.name}"
        types = ", ".join(f"{c} {table.c[c].type.compile(conn.dialect)}" for c in (key, *columns))
        sets = ", ".join(f"{c} = s.{c}" for c in columns)
        with driver.cursor() as cursor:
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {scratch} ({types}) ON COMMIT DELETE ROWS")
            cursor.execute(f"TRUNCATE {scratch}")
            with cursor.copy(f"COPY {scratch} ({key}, {', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[key], *(row[c] for c in columns)])
            cursor.execute(f"UPDATE {table.name} t SET {sets} FROM {scratch} s WHERE t.{key} = s.{key}")
    else:
        sets = ", ".join(f"{c} = ?" for c in columns)
        driver.executemany(f"UPDATE {table.name} SET {sets} WHERE {key} = ?",
                           [(*(row[c] for c in columns), row[key]) for row in rows])
