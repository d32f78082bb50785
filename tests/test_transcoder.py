"""The orjson transcoder writes what the library's own reads, and back."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder

from adapters.transcoder import OrjsonTranscoder
from ledger.months import Month


def _pair():
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

    from ledger.application import DateAsISO, MonthAsText

    fast, library = OrjsonTranscoder(), JSONTranscoder()
    for transcoder in (fast, library):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), MonthAsText(), DateAsISO()):
            transcoder.register(transcoding)
    return fast, library


STATE = {"timestamp": datetime(2024, 7, 1, 9, 30, tzinfo=timezone.utc), "effective": Month.parse("2024-07"),
         "signed_on": date(2024, 7, 2), "months": [Month.parse("2024-06"), Month.parse("2024-07")],
         "amounts": [360000, 500000], "name": "Nguyễn Thị Hoà", "flags": [], "nested": {"a": [1, {"b": True}]},
         "ratio": Decimal("2.5"), "none": None}


def test_both_transcoders_read_each_other():
    fast, library = _pair()
    assert fast.decode(fast.encode(STATE)) == STATE
    assert library.decode(fast.encode(STATE)) == STATE
    assert fast.decode(library.encode(STATE)) == STATE


def test_a_uuid_field_is_refused():
    fast, _ = _pair()
    with pytest.raises(TypeError):
        fast.encode({"other_id": uuid4()})
