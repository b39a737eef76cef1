"""The library's JSON format for stored events, written and read with orjson.

Why: the library's `JSONTranscoder` runs the standard `json` module with a Python hook
for every object; on posting and projecting that was a tenth of the time. The bytes
stay in the library's format (non-JSON values tagged `{"_type_": ..., "_data_": ...}`),
so rows written by either transcoder read back the same with the other.

What this relies on: a book's events and snapshots hold plain JSON values apart from
their datetimes (ledger/book.py keeps its state so): orjson writes a UUID as plain
text, where the library tags it. Datetimes, Decimals and dataclasses reach the
library's tagging. An event's only tagged value, its timestamp, sits at the top
level, where `decode` restores it without a walk; anything tagged deeper (a
snapshot's state) is decoded the library's way.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

_TAG = b'"_type_"'
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonTranscoder(JSONTranscoder):
    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self._encode_obj, option=_PASSTHROUGH)
        except orjson.JSONEncodeError:  # e.g. a non-text key: the library's encoder says what is wrong
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        obj = orjson.loads(data)
        tagged = data.count(_TAG)
        if not tagged:
            return obj
        restored = 0
        if type(obj) is dict:
            for key, value in obj.items():
                if type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
                    obj[key] = self._decode_obj(value)
                    restored += 1
        return obj if restored == tagged else super().decode(data)
