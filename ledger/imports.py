"""The office's record of each file it imported: one receipt per import
that recorded anything, written in the same transaction as the import's
events, so the history of imports is rebuilt from the events like every
other view (who, when, which file by its SHA-256, what it recorded)."""
from __future__ import annotations

from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate


class ImportReceipt(Aggregate):
    def __init__(self, kind: str, file_name: str, sha256: str, size_bytes: int, people: int, events: dict,
                 money: dict, actor: str) -> None:
        self.kind, self.file_name, self.sha256, self.size_bytes = kind, file_name, sha256, size_bytes
        self.people, self.events, self.money, self.actor = people, events, money, actor

    class Recorded(Aggregate.Created):
        kind: str  # decisions, deaths, postoffice, bank, recoveries
        file_name: str  # as the officer named it
        sha256: str  # of the file's bytes as read
        size_bytes: int
        people: int  # people the import recorded events for
        events: dict  # event type -> how many
        money: dict  # posting kind -> VND moved by those events (ledger/money.py)
        actor: str

    @classmethod
    def record(cls, kind: str, file_name: str, sha256: str, size_bytes: int, people: int, events: dict,
               money: dict, actor: str, receipt_id: UUID | None = None) -> ImportReceipt:
        return cls._create(cls.Recorded, id=receipt_id or uuid4(), kind=kind, file_name=file_name,
                           sha256=sha256, size_bytes=size_bytes, people=people, events=events, money=money,
                           actor=actor)
