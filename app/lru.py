"""A bounded store, least recently used out first."""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


def _one(_: object) -> int:
    return 1


class LRU(Generic[V]):
    """Values by key, within `max_weight` in all (each value weighs `weigh(value)`, by default
    1: a count): putting one more drops the least recently read or put. A value heavier than
    the whole is not kept."""

    def __init__(self, max_weight: int, weigh: Callable[[V], int] = _one) -> None:
        self._max = max_weight
        self._weigh = weigh
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._weight = 0

    def get(self, key: Hashable) -> V | None:
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        weight = self._weigh(value)
        if weight > self._max:
            return
        replaced = self._values.pop(key, None)
        self._weight += weight - (self._weigh(replaced) if replaced is not None else 0)
        self._values[key] = value
        while self._weight > self._max:
            _, dropped = self._values.popitem(last=False)
            self._weight -= self._weigh(dropped)

    def clear(self) -> None:
        self._values.clear()
        self._weight = 0

    def __len__(self) -> int:
        return len(self._values)
