"""The event log as an auditor reads it: a browser over the stored events
(filter by type, person, actor, recorded time, effective month; a page at a
time, each request's work bounded), and the bundle an inspection takes away
(the events as JSON lines with their seals, a signed checkpoint of the head,
a manifest with each file's SHA-256). Both read only; neither records."""
from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import orjson
import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger import audit
from ledger.beneficiary import Beneficiary
from ledger.payroll import PayrollCalendar
from projections import entitlements as ent_view

from .errors import CommandRefused
from .store import as_uuid

BUNDLE_FORMAT = "allowance-ledger inspection bundle 1"
WINDOW = 20_000  # log positions one SQL query looks at while browsing (the filters in SQL)
BATCH = 500  # rows fetched (and decoded, if they pass) at a time
SCAN_LIMIT = 200_000  # positions one browser request walks at most before offering "continue"


# Bases of the recorded kinds, never recorded themselves.
NEVER_RECORDED = {"Created", "DecisionEvent", "PayoutEvent", "StatusDecided"}


def _event_classes() -> dict[str, list[str]]:
    """Each event class's short name -> its stored topics."""
    found: dict[str, list[str]] = {}

    def walk(cls) -> None:
        for sub in cls.__subclasses__():
            name = sub.__qualname__.split(".")[-1]
            if name not in NEVER_RECORDED:
                found.setdefault(name, []).append(get_topic(sub))
            walk(sub)

    for aggregate in (Beneficiary, PayrollCalendar):
        walk(aggregate.Event)
    return {name: sorted(set(topics)) for name, topics in sorted(found.items())}


EVENT_TYPES = _event_classes()


@dataclass(frozen=True)
class EventFilter:
    type: str = ""
    citizen_id: str = ""
    actor: str = ""
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    effective: str = ""  # a month (YYYY-MM): events whose effective date falls in it

    def matches(self, event) -> bool:
        if self.actor and getattr(event, "actor", "") != self.actor:
            return False
        stamp = event.timestamp
        if self.recorded_from and stamp < self.recorded_from:
            return False
        if self.recorded_to and stamp > self.recorded_to:
            return False
        if self.effective and not audit.effective_of(event).startswith(self.effective):
            return False
        return True


@dataclass(frozen=True)
class EventRow:
    position: int
    recorded_at: datetime
    type: str
    citizen_id: str  # "" for the payroll calendar's events
    actor: str
    effective: str
    basis: str

    def as_dict(self) -> dict:
        return {"position": self.position, "recorded_at": self.recorded_at.isoformat(), "type": self.type,
                "citizen_id": self.citizen_id, "actor": self.actor, "effective": self.effective,
                "basis": self.basis}


@dataclass(frozen=True)
class EventPage:
    rows: tuple[EventRow, ...]
    after: int  # the position the page started after
    next_after: int | None  # where the next page starts (None: the log's end reached)
    scanned_to: int  # the last position looked at
    last_position: int

    def as_dict(self) -> dict:
        return {"rows": [r.as_dict() for r in self.rows], "after": self.after, "next_after": self.next_after,
                "scanned_to": self.scanned_to, "last_position": self.last_position}


def _position(store) -> str:
    return "rowid" if store.kind == "sqlite" else "notification_id"


def _last_position(runtime) -> int:
    with runtime.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT coalesce(max({_position(runtime.store)}), 0) "
                                    f"FROM {runtime.store.events_table}")).scalar()


def _decode(runtime, originator_id, version, topic, state):
    oid = as_uuid(originator_id)
    return oid, runtime.app.mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(state)))


def position_recorded_from(runtime, when: datetime) -> int:
    """The position just before the first event recorded at or after
    ``when``: commands take turns, so recorded times follow the log order,
    and a binary search over positions finds it in about log2(N) reads."""
    pos, table = _position(runtime.store), runtime.store.events_table
    query = sa.text(f"SELECT {pos}, originator_id, originator_version, topic, state FROM {table} "
                    f"WHERE {pos} >= :at ORDER BY {pos} LIMIT 1")
    low, high = 0, _last_position(runtime) + 1
    with runtime.engine.connect() as conn:
        while low < high:
            middle = (low + high) // 2
            row = conn.execute(query, {"at": middle}).first()
            if row is None:
                high = middle
                continue
            _, event = _decode(runtime, *row[1:])
            if event.timestamp < when:
                low = row[0] + 1
            else:
                high = middle
    return max(0, low - 1)


def browse(runtime, where: EventFilter, after: int = 0, page_size: int = 50,
           scan_limit: int = SCAN_LIMIT) -> EventPage:
    """A page of the events matching ``where`` after a log position. The
    type and the person are filtered by the database; actor, recorded time
    and effective month on the decoded events, a window of positions at a
    time, at most ``scan_limit`` positions a request (the page then says
    where to continue)."""
    store, pos = runtime.store, _position(runtime.store)
    last = _last_position(runtime)
    conditions, params = [f"{pos} > :after"], {}
    topics: list[str] = []
    if where.type:
        topics = EVENT_TYPES.get(where.type, [])
        if not topics:
            raise CommandRefused(f"no event type {where.type!r}")
        conditions.append("topic IN :topics")
        params["topics"] = topics
    if where.citizen_id:
        conditions.append("originator_id = :oid")
        params["oid"] = store.key(runtime.app.id_of(where.citizen_id))  # keyed when a cipher key is set
    if where.recorded_from and after == 0:
        after = position_recorded_from(runtime, where.recorded_from)
    windowed = not where.citizen_id  # one person's events are found by their index, not a window
    if windowed:
        conditions.append(f"{pos} <= :until")
    query = sa.text(f"SELECT {pos}, originator_id, originator_version, topic, state FROM {store.events_table} "
                    f"WHERE {' AND '.join(conditions)} ORDER BY {pos} LIMIT :limit")
    if topics:
        query = query.bindparams(sa.bindparam("topics", expanding=True))
    found: list[tuple[int, object]] = []
    cursor, start, ended = after, after, False
    with runtime.engine.connect() as conn:
        while len(found) < page_size and not ended and cursor < last and cursor - start < scan_limit:
            rows = conn.execute(query, dict(params, after=cursor, until=cursor + WINDOW, limit=BATCH)).all()
            for position, *rest in rows:
                _, event = _decode(runtime, *rest)
                if where.recorded_to and event.timestamp > where.recorded_to:
                    ended = True  # the log is in recorded order: nothing later matches
                    break
                if where.matches(event):
                    found.append((position, event))
                    if len(found) == page_size:
                        cursor = position
                        break
            else:
                if len(rows) == BATCH:
                    cursor = rows[-1][0]  # more in this window (or of this person)
                elif windowed:
                    cursor = min(cursor + WINDOW, last)
                else:
                    cursor = last  # the person's events are all read
        citizens = _citizen_ids(conn, {event.originator_id for _, event in found})
    next_after = cursor if not ended and cursor < last else None
    out = tuple(EventRow(position, event.timestamp, type(event).__qualname__.split(".")[-1],
                         citizens.get(event.originator_id, ""), getattr(event, "actor", ""),
                         audit.effective_of(event), getattr(event, "basis_text", "") or "")
                for position, event in found)
    return EventPage(out, start, next_after, cursor, last)


def _citizen_ids(conn, ids) -> dict:
    if not ids:
        return {}
    b = ent_view.beneficiaries.c
    rows = conn.execute(sa.select(b.aggregate_id, b.citizen_id).where(b.aggregate_id.in_([str(i) for i in ids])))
    return {as_uuid(a): c for a, c in rows}


# --- the inspection bundle -----------------------------------------------------------

BUNDLE_README = """Bộ hồ sơ kiểm tra sổ chi trả / Inspection bundle of the allowance ledger

events.jsonl     every stored event up to the head, one JSON object a line, in log order:
                 position, originator_id, originator_version, topic, stored (the bytes as
                 stored, base64), state (the event's fields, decoded) and seal (the hash chain
                 at that position).
checkpoint.json  the head signed with the office's Ed25519 key (when the office has one):
                 `ledger audit verify --against checkpoint.json` on the live ledger proves the
                 history still extends it.
manifest.json    what was exported, and the SHA-256 of each file above.

The seal of an event is SHA-256 over: the previous seal (64 zeros before the first), then
"|position|originator_id as 32 hex digits|originator_version|topic|", then the stored bytes.
"""


def _stored_rows(runtime, up_to: int, page: int = 5_000) -> Iterator[tuple]:
    pos, table = _position(runtime.store), runtime.store.events_table
    query = sa.text(f"SELECT e.{pos}, e.originator_id, e.originator_version, e.topic, e.state, c.hash "
                    f"FROM {table} e LEFT JOIN audit_chain c ON c.position = e.{pos} "
                    f"WHERE e.{pos} > :after AND e.{pos} <= :up_to ORDER BY e.{pos} LIMIT :limit")
    after = 0
    with runtime.engine.connect() as conn:
        while True:
            rows = conn.execute(query, {"after": after, "up_to": up_to, "limit": page}).all()
            if not rows:
                return
            yield from rows
            after = rows[-1][0]


def _plain_state(mapper, stored: bytes) -> bytes:
    if mapper.cipher:
        stored = mapper.cipher.decrypt(stored)
    if mapper.compressor:
        stored = mapper.compressor.decompress(stored)
    return stored


@dataclass(frozen=True)
class Bundle:
    path: str
    events: int
    head: dict
    signed: bool
    note: str
    files: dict

    def as_dict(self) -> dict:
        return {"path": self.path, "events": self.events, "head": self.head, "signed": self.signed,
                "note": self.note, "files": self.files}


def export_bundle(runtime, out: Path) -> Bundle:
    """Write the inspection bundle (a zip) to ``out``; records nothing."""
    from .checkpoints import load_signing_key, make_checkpoint

    checkpoint, note = None, ""
    if runtime.signing_key_file is not None:
        checkpoint = make_checkpoint(runtime, load_signing_key(runtime.signing_key_file))
        head = {"position": checkpoint["position"], "hash": checkpoint["hash"]}
    else:
        position, digest = runtime.chain.head()
        head = {"position": position, "hash": digest}
        note = ("no signing key (signing_key_file): the bundle has no signed checkpoint; "
                "make one with `ledger keygen --signing`")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    files: dict[str, dict] = {}
    count = 0
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        digest, size = hashlib.sha256(), 0
        with bundle.open("events.jsonl", "w") as events:
            for position, originator_id, version, topic, state, seal in _stored_rows(runtime, head["position"]):
                stored = bytes(state)
                line = orjson.dumps({
                    "position": position, "originator_id": as_uuid(originator_id).hex,
                    "originator_version": version, "topic": topic,
                    "stored": base64.b64encode(stored).decode(),
                    "state": orjson.loads(_plain_state(runtime.app.mapper, stored)),
                    "seal": seal}) + b"\n"
                events.write(line)
                digest.update(line)
                size += len(line)
                count += 1
        files["events.jsonl"] = {"sha256": digest.hexdigest(), "bytes": size}
        if checkpoint is not None:
            data = (json.dumps(checkpoint, indent=1) + "\n").encode()
            bundle.writestr("checkpoint.json", data)
            files["checkpoint.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        readme = BUNDLE_README.encode()
        bundle.writestr("README.txt", readme)
        files["README.txt"] = {"sha256": hashlib.sha256(readme).hexdigest(), "bytes": len(readme)}
        manifest = {"format": BUNDLE_FORMAT, "office": runtime.office.office_name,
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "events": count, "head": head, "signed": checkpoint is not None, "note": note,
                    "files": files}
        bundle.writestr("manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    partial.replace(out)
    return Bundle(str(out), count, head, checkpoint is not None, note, files)
