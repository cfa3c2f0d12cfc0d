"""settle_heap: the start-up objects leave the garbage collector's view."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.runtime import settle_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the test process's objects back to the collector afterwards."""
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_the_objects_there_at_start_up_are_frozen_and_later_ones_are_not() -> None:
    settle_heap()
    frozen = gc.get_freeze_count()
    later = [[n] for n in range(100)]
    assert frozen > 10_000
    assert gc.is_tracked(later[0])
    assert gc.get_freeze_count() == frozen
