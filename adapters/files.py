"""Files handed to partners, written so that no one ever reads half of one:
each is written beside its target, flushed to disk and renamed over it."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO


class Staging:
    """Files written beside their targets, renamed over them together at the
    end, or removed if anything failed before."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temporary, target)
        self.scratch: list[Path] = []  # drafts, never renamed

    def __enter__(self) -> Staging:
        return self

    def add(self, target: Path) -> Path:
        temporary = self.draft(target)
        self.scratch.remove(temporary)
        self.pending.append((temporary, target))
        return temporary

    def draft(self, target: Path) -> Path:
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        self.scratch.append(temporary)
        return temporary

    def commit(self) -> list[Path]:
        for temporary, _ in self.pending:
            fsync(temporary)
        done = []
        while self.pending:
            temporary, target = self.pending[0]
            os.replace(temporary, target)
            self.pending.pop(0)
            done.append(target)
        return done

    def __exit__(self, *exc) -> None:
        for temporary in [t for t, _ in self.pending] + self.scratch:
            temporary.unlink(missing_ok=True)


def fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def open_new(path: Path, mode: str = "wb", **kwargs):
    # os.open with 0o666 keeps the usual umask-based permissions, which a
    # NamedTemporaryFile (always 0o600) would not: agents' sync jobs read these.
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), mode, **kwargs)


def stable_xlsx(source: Path | BinaryIO, target: BinaryIO, created_at: datetime) -> None:
    """The workbook library stamps the save time into docProps/core.xml and
    into every zip entry; both are set to ``created_at`` instead, so
    re-running a month's payroll rewrites the very same file."""
    stamp = created_at
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    w3cdtf = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    zip_time = max(stamp, datetime(1980, 1, 1)).timetuple()[:6]  # zip dates start in 1980
    with zipfile.ZipFile(source) as reading, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as writing:
        for info in reading.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=zip_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                                 rb"\g<1>" + w3cdtf.encode() + rb"\g<2>", reading.read(info.filename))
                writing.writestr(entry, content)
                continue
            with reading.open(info) as reader, \
                    writing.open(entry, "w", force_zip64=info.file_size > zipfile.ZIP64_LIMIT) as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)



def write_atomically(path: Path, data: bytes) -> Path:
    """One file, staged and renamed: readers see the old file or the whole
    new one, never a half-written list."""
    with Staging() as staging:
        with open_new(staging.add(Path(path))) as handle:
            handle.write(data)
        staging.commit()
    return Path(path)
