"""The event store's JSON transcoder, encoding on orjson: the same format as
the library's JSONTranscoder (custom types as {"_type_": name, "_data_": ...}),
so either reads what the other wrote.

orjson writes a UUID as a plain string, where the library would tag it; no
ledger event carries a UUID field (aggregate ids travel beside the state),
and encode() refuses one rather than store it ambiguously."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


class OrjsonTranscoder(JSONTranscoder):
    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, dict) and UUID in set(map(type, obj.values())):
            raise TypeError("a UUID in an event's state would not come back as a UUID")
        return orjson.dumps(obj, default=self._encode_obj, option=_OPTIONS)

    # Decoding stays the library's: its object hook runs inside the C JSON
    # scanner, faster than walking orjson's result for the tagged values.
