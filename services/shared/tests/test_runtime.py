"""settle_heap: the start-up objects leave the garbage collector's view, later ones do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.runtime import settle_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """No automatic collection during the test; the process's objects given back after it."""
    gc.disable()
    yield
    gc.enable()
    gc.unfreeze()


def _in_view(target: object) -> bool:
    return any(obj is target for obj in gc.get_objects())


@pytest.mark.usefixtures("unfrozen")
def test_the_objects_there_at_start_up_are_frozen_and_later_ones_are_not() -> None:
    earlier = [[1], [2]]
    assert _in_view(earlier)
    settle_heap()
    later = [[3], [4]]
    assert gc.get_freeze_count() > 10_000
    assert not _in_view(earlier)
    assert _in_view(later)
