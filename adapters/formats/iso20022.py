"""What every ISO 20022 file the ledger writes shares: the tree built and
serialised the same way each time, Vietnam's time zone, the id and text
limits, and the character set bank systems take."""
from __future__ import annotations

import hashlib
import re
import unicodedata
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

# Asia/Ho_Chi_Minh: no daylight saving, always seven hours ahead of UTC.
VIETNAM_TIME = timezone(timedelta(hours=7))
# ISO 20022 Max35Text / Max140Text limits on identifiers and texts.
MAX_ID = 35
MAX_TEXT = 140


def vietnam_time(moment: datetime) -> str:
    """An ISO 20022 date-time at +07:00; a naive time is taken as Vietnam's."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM_TIME)
    return moment.astimezone(VIETNAM_TIME).isoformat(timespec="seconds")


def max35(text: str) -> str:
    """An ISO 20022 Max35Text id: the readable text when it fits, otherwise
    a shortened prefix and a digest of the whole, still deterministic."""
    if len(text) <= MAX_ID:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{text[:MAX_ID - 13]}-{digest}"


def ascii_text(text: str) -> str:
    """Vietnamese without diacritics (đ -> d): remittance text passes through
    bank systems that only take the SWIFT character set."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^A-Za-z0-9/\-?:().,'+ ]", " ", plain.encode("ascii", "ignore").decode())


def xml_path(parent: ET.Element, path: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append the ``A/B/C`` chain under parent; text goes on the last one."""
    element = parent
    for tag in path.split("/"):
        element = ET.SubElement(element, tag)
    for name, value in attrs.items():
        element.set(name, value)
    if text is not None:
        element.text = text
    return element


def xml_bytes(document: ET.Element) -> bytes:
    """Indented UTF-8 with a declaration; attributes keep their insertion
    order, so the same tree always gives the same bytes."""
    ET.indent(document)
    body = ET.tostring(document, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")
