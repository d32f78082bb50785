"""The event store's JSON transcoder, on orjson: the same format as the
library's JSONTranscoder (custom types as {"_type_": name, "_data_": ...}),
so either can read what the other wrote, several times faster both ways.

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
        if isinstance(obj, dict) and any(isinstance(v, UUID) for v in obj.values()):
            raise TypeError("a UUID in an event's state would not come back as a UUID")
        return orjson.dumps(obj, default=self._encode_obj, option=_OPTIONS)

    def decode(self, data: bytes) -> Any:
        return self._untag(orjson.loads(data))

    def _untag(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._decode_obj({"_type_": value["_type_"], "_data_": self._untag(value["_data_"])})
            return {k: self._untag(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._untag(v) for v in value]
        return value

