"""What distributed mode keeps in Redis: the keys of an installation and its sources, and requests as JSON."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["HEARTBEAT_TTL", "STATS_TTL", "Keys", "RequestJSON", "dumps", "loads"]

HEARTBEAT_TTL = 10  # a worker silent this long is dead: its pages in flight are given up (the next round finds them)
STATS_TTL = 7 * 24 * 3600  # a round's figures stay this long in Redis


@dataclass(frozen=True)
class Keys:
    """Every Redis key of one installation (`prefix`) and source: sources never share a queue, even with one spider."""

    prefix: str
    source: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:source:{self.source}"

    @property
    def requests(self) -> str:  # sorted set: the source's pending requests (scrapy-redis PriorityQueue)
        return f"{self.base}:requests"

    @property
    def seen(self) -> str:  # set: fingerprints of the requests of this round (scrapy-redis RFPDupeFilter)
        return f"{self.base}:seen"

    @property
    def start(self) -> str:  # list: the round's start URLs, not taken yet
        return f"{self.base}:start"

    @property
    def round(self) -> str:  # integer: the current round
        return f"{self.base}:round"

    @property
    def busy(self) -> str:  # hash: worker id → requests it took since it was last idle
        return f"{self.base}:busy"

    def stats(self, round_number: int) -> str:  # hash: the round's crawl figures, summed over workers
        return f"{self.base}:stats:{round_number}"

    @staticmethod
    def workers(prefix: str) -> str:  # set: ids of workers that have beaten once
        return f"{prefix}:workers"

    @staticmethod
    def worker(prefix: str, worker_id: str) -> str:  # string with a TTL: a live worker's heartbeat
        return f"{prefix}:worker:{worker_id}"


# -- the request serializer: JSON, not pickle (whoever can write to Redis must not run code in every worker)


def _pack(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _pack(v) for k, v in value.items()}
        return {"$d": [[_pack(k), _pack(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_pack(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"a request for the shared queue carries a {type(value).__name__}, which JSON cannot hold")


def _unpack(value: Any) -> Any:
    if isinstance(value, dict):
        if "$b" in value:
            return base64.b64decode(value["$b"])
        if "$d" in value:
            return {_unpack(k): _unpack(v) for k, v in value["$d"]}
        return {k: _unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    return value


def dumps(request_dict: dict) -> bytes:
    """A request (as `Request.to_dict(spider=…)` gives it: callbacks by name) as JSON bytes."""
    return json.dumps(_pack(request_dict), separators=(",", ":")).encode("utf-8")


def loads(data: bytes) -> dict:
    return _unpack(json.loads(data))


class RequestJSON:
    """dumps/loads as scrapy-redis takes a serializer (its `SCHEDULER_SERIALIZER`)."""

    dumps = staticmethod(dumps)
    loads = staticmethod(loads)
