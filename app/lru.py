"""A byte-bounded store of serialized bodies, least recently used out first."""

from collections import OrderedDict
from collections.abc import Hashable


class BytesLRU:
    """Bodies by key, within `max_bytes` in all (their bodies' lengths): putting one more
    drops the least recently read or put. A body larger than the whole is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0

    def get(self, key: Hashable) -> bytes | None:
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self._max:
            return
        replaced = self._bodies.pop(key, None)
        self._size += len(body) - (len(replaced) if replaced is not None else 0)
        self._bodies[key] = body
        while self._size > self._max:
            _, dropped = self._bodies.popitem(last=False)
            self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._bodies)
