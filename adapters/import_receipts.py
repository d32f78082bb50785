"""What an import records, seen as it is saved: for its receipt (the
history of imports, ledger/imports.py) and for a dry run, which decides
everything an import would record and writes nothing.

The file is identified by the SHA-256 of its bytes; it is hashed again just
before the import commits, and a file that changed meanwhile rolls the
import back, so what was recorded is exactly the file that was hashed."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ledger.audit import effective_of
from ledger.beneficiary import Beneficiary
from ledger.imports import ImportReceipt
from ledger.money import effect_of

from .errors import CommandRefused

SAMPLE = 200  # events shown one by one in a dry run; all are counted


def file_sha256(path: str | Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class ImportObserver:
    """Counts what a save records (people, events by type, money by posting
    kind) and, when real, adds the import's receipt as its last aggregate."""

    def __init__(self, kind: str, path: str | Path, file_name: str, actor: str, *, rehearsal: bool,
                 sha256: str, size_bytes: int) -> None:
        self.kind, self.path, self.file_name, self.actor = kind, Path(path), file_name, actor
        self.rehearsal, self.sha256, self.size_bytes = rehearsal, sha256, size_bytes
        self.begin()

    def begin(self) -> None:
        self.people: set = set()
        self.events: dict[str, int] = {}
        self.money: dict[str, int] = {}
        self.sample: list[dict] = []
        self.closed = False
        self.closing_events = 0  # the receipt's own event, not one the import recorded

    def seen(self, aggregate, events) -> None:
        if self.closed or not events:
            return
        citizen = aggregate.facts.citizen_id if isinstance(aggregate, Beneficiary) and aggregate.state else ""
        if citizen:
            self.people.add(citizen)
        for event in events:
            name = type(event).__qualname__.split(".")[-1]
            self.events[name] = self.events.get(name, 0) + 1
            effect = effect_of(event)
            for posting in effect.postings if effect is not None else ():
                self.money[posting.kind] = self.money.get(posting.kind, 0) + posting.amount_vnd
            if len(self.sample) < SAMPLE:
                self.sample.append(dict(citizen_id=citizen, type=name, effective=effective_of(event),
                                        basis=getattr(event, "basis_text", "") or "",
                                        amount=effect.amount_vnd if effect is not None else None))

    @property
    def recorded(self) -> int:
        return sum(self.events.values())

    def closing(self) -> list:
        """The receipt, saved with the import's events (none for a dry run
        or an import that records nothing); refused if the file changed."""
        self.closed = True
        if self.rehearsal or not self.recorded:
            return []
        if file_sha256(self.path)[0] != self.sha256:
            raise CommandRefused(f"{self.file_name} changed while it was being imported: nothing was recorded")
        self.closing_events = 1
        return [ImportReceipt.record(self.kind, self.file_name, self.sha256, self.size_bytes, len(self.people),
                                     dict(sorted(self.events.items())), dict(sorted(self.money.items())),
                                     self.actor)]


@dataclass(frozen=True)
class ImportPreview:
    """A dry run: what importing the file would record; nothing was."""

    kind: str
    file: str
    sha256: str
    size_bytes: int
    summary: dict  # what the import would print (its as_dict())
    people: int
    events: dict
    money: dict
    sample: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(dry_run=True, kind=self.kind, file=self.file, sha256=self.sha256, size_bytes=self.size_bytes,
                    people=self.people, events=self.events, money=self.money, summary=self.summary,
                    sample=self.sample)

    def outcome_digest(self) -> str:
        """What the confirmation must find again: the file and all it records."""
        import json

        shown = dict(self.as_dict(), summary={k: v for k, v in self.summary.items() if k != "file"})
        shown.pop("file")
        return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()


def preview_of(observer: ImportObserver, summary) -> ImportPreview:
    return ImportPreview(observer.kind, observer.file_name, observer.sha256, observer.size_bytes,
                         summary.as_dict(), len(observer.people), dict(sorted(observer.events.items())),
                         dict(sorted(observer.money.items())), observer.sample)
