"""Column types for the personal data in the views.

With a cipher key configured, the composition root hangs a cipher on the
engine's dialect (adapters/personal_cipher.py) and these columns hold
ciphertext; without one they hold the text as given. Either way every
SQLAlchemy statement reads and writes them in clear, so the views' code and
queries are the same with or without a key (``bulk`` applies the same
conversion to the rows it hands the driver).

- ``Sealed``: randomized encryption (a name, a bank account): never compared
  in SQL, only read back.
- ``Keyed``: deterministic encryption (a citizen id, a line id naming one):
  equal values give equal ciphertexts, so the column stays a key for joins,
  ``=`` and ``IN`` look-ups. It reveals which rows name the same person,
  which a keyed HMAC column kept for look-ups would reveal too; it does not
  keep the order, so queries sort such values after reading them.
"""
from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

DIALECT_ATTRIBUTE = "ledger_personal_cipher"


class PersonalCipher(Protocol):
    def seal(self, text: str) -> str: ...

    def open(self, text: str) -> str: ...

    def token(self, text: str) -> str: ...

    def untoken(self, text: str) -> str: ...


def cipher_of(dialect) -> PersonalCipher | None:
    return getattr(dialect, DIALECT_ATTRIBUTE, None)


class Personal(TypeDecorator):
    impl = sa.Text
    cache_ok = True

    def to_stored(self, value, cipher: PersonalCipher):
        raise NotImplementedError

    def from_stored(self, value, cipher: PersonalCipher):
        raise NotImplementedError

    def process_bind_param(self, value, dialect):
        cipher = cipher_of(dialect)
        return value if cipher is None or value is None else self.to_stored(value, cipher)

    def process_result_value(self, value, dialect):
        cipher = cipher_of(dialect)
        return value if cipher is None or value is None else self.from_stored(value, cipher)


class Sealed(Personal):
    cache_ok = True

    def to_stored(self, value, cipher):
        return cipher.seal(value)

    def from_stored(self, value, cipher):
        return cipher.open(value)


class Keyed(Personal):
    cache_ok = True

    def to_stored(self, value, cipher):
        return cipher.token(value)

    def from_stored(self, value, cipher):
        return cipher.untoken(value)


def stored_row_converter(table: sa.Table, dialect):
    """A function giving a row's values as stored (in the table's column
    order), for writers that bypass SQLAlchemy's parameter processing."""
    columns = list(table.columns)
    cipher = cipher_of(dialect)
    personal = [isinstance(c.type, Personal) for c in columns]
    if cipher is None or not any(personal):
        return lambda row: tuple(row[c.name] for c in columns)
    steps = [(c.name, c.type if p else None) for c, p in zip(columns, personal)]

    def convert(row: dict) -> tuple:
        return tuple(row[name] if kind is None or row[name] is None else kind.to_stored(row[name], cipher)
                     for name, kind in steps)
    return convert
