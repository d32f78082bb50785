"""Who may log in to the web application, kept in the ``web_users`` table of
the ledger's own database (not as events: access rights are not ledger facts,
and a password hash must be replaceable and erasable, which an append-only,
hash-chained log would not allow). Passwords are hashed with Argon2id.

A name that fails to log in ``MAX_FAILURES`` times in a row is locked for
``LOCK_MINUTES``; the count lives in the table, so it holds across restarts
and workers."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("officer", "approver", "auditor", "admin")
MAX_FAILURES = 5
LOCK_MINUTES = 15
NAME_MAX = 64
PASSWORD_MIN = 8

metadata = sa.MetaData()

web_users = sa.Table(
    "web_users", metadata,
    sa.Column("name", sa.String(NAME_MAX), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

web_settings = sa.Table(
    "web_settings", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


class UserRefused(ValueError):
    """A user cannot be added or changed as asked."""


@dataclass(frozen=True)
class WebUser:
    name: str
    role: str
    disabled: bool
    locked_until: datetime | None
    created_at: datetime

    def as_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "disabled": self.disabled,
                "locked_until": self.locked_until.isoformat() if self.locked_until else None,
                "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class LoginResult:
    user: WebUser | None
    locked: bool = False  # refused because the name is locked (even with the right password)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:  # SQLite gives naive datetimes back
        return moment.replace(tzinfo=timezone.utc)
    return moment


def _user(row) -> WebUser:
    return WebUser(row.name, row.role, bool(row.disabled), _utc(row.locked_until), _utc(row.created_at))


class UserStore:
    def __init__(self, engine: sa.Engine, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.engine = engine
        self.now = now
        self.hasher = PasswordHasher()
        metadata.create_all(engine)
        # Hashing an unknown name's password too keeps the time of a refusal the same.
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    def add(self, name: str, role: str, password: str) -> WebUser:
        name = name.strip()
        if not name or len(name) > NAME_MAX or any(c.isspace() for c in name):
            raise UserRefused(f"a user name is 1 to {NAME_MAX} characters without spaces: {name!r}")
        if role not in ROLES:
            raise UserRefused(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if len(password) < PASSWORD_MIN:
            raise UserRefused(f"a password has at least {PASSWORD_MIN} characters")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(web_users.c.name).where(web_users.c.name == name)).first():
                raise UserRefused(f"user {name} exists")
            conn.execute(web_users.insert().values(name=name, role=role, password_hash=self.hasher.hash(password),
                                                   disabled=False, failed_logins=0, created_at=self.now()))
        return self.get(name)

    def get(self, name: str) -> WebUser | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(web_users).where(web_users.c.name == name)).first()
        return _user(row) if row else None

    def list(self) -> list[WebUser]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(sa.select(web_users).order_by(web_users.c.name))]

    def disable(self, name: str) -> WebUser:
        with self.engine.begin() as conn:
            done = conn.execute(web_users.update().where(web_users.c.name == name).values(disabled=True))
        if not done.rowcount:
            raise UserRefused(f"no user {name}")
        return self.get(name)

    def authenticate(self, name: str, password: str) -> LoginResult:
        """The user if the password is right and the name neither disabled
        nor locked; every failure counts towards the lock."""
        now = self.now()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(web_users).where(web_users.c.name == name)).first()
            if row is None:
                self._verify(self._dummy, password)
                return LoginResult(None)
            locked_until = _utc(row.locked_until)
            if locked_until is not None and locked_until > now:
                return LoginResult(None, locked=True)
            ok = self._verify(row.password_hash, password) and not row.disabled
            if ok:
                conn.execute(web_users.update().where(web_users.c.name == name)
                             .values(failed_logins=0, locked_until=None))
                return LoginResult(_user(row))
            failures = (0 if locked_until is not None else row.failed_logins) + 1
            lock = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
            conn.execute(web_users.update().where(web_users.c.name == name)
                         .values(failed_logins=0 if lock else failures, locked_until=lock))
            return LoginResult(None, locked=lock is not None)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def secret_key(self) -> str:
        """The key that signs sessions when none is set: made once, kept in the database."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(web_settings.c.value).where(web_settings.c.key == "session_key")).first()
            if row:
                return row.value
            key = secrets.token_urlsafe(48)
            conn.execute(web_settings.insert().values(key="session_key", value=key))
            return key
