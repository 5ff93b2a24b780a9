"""The startup heap is frozen out of full collections; what comes later is not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from radio.heap import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    """The test process's heap is thawed again, so later tests collect as usual."""
    yield
    gc.unfreeze()


def cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


@pytest.mark.usefixtures("thawed")
def test_startup_garbage_is_collected_and_what_lives_is_frozen() -> None:
    garbage = weakref.ref(cycle())  # unreachable already, kept alive by its cycle alone
    kept = cycle()
    assert garbage() is not None
    frozen = freeze_startup_heap()
    assert garbage() is None  # collected before the freeze, not frozen for good
    assert frozen == gc.get_freeze_count() > 0
    later = cycle()
    tracked = {id(one) for one in gc.get_objects()}  # what a full collection walks
    assert id(kept) not in tracked and id(kept.other) not in tracked
    assert id(later) in tracked


@pytest.mark.usefixtures("thawed")
def test_garbage_made_after_the_freeze_is_still_collected() -> None:
    freeze_startup_heap()
    garbage = weakref.ref(cycle())
    gc.collect()
    assert garbage() is None
