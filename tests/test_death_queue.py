"""The registry's death queue (src/registry.h, "Deaths wait in a queue",
invariant I8): deaths reported outside a collection are looked up a batch
at a time, and every query sees the registry as if each death had been
handled when it happened.  `_core._death_queue()` reads (queued, capacity)
without settling anything."""

import pytest
from support import Inst

import altgc
from altgc import _core


def queued():
    return _core._death_queue()[0]


def count0():
    return altgc.get_count()[0]


def test_a_death_waits_in_the_queue_until_a_query_settles_it():
    objs = [Inst() for _ in range(5)]
    for o in objs:
        altgc.track(o)
    before = count0()
    assert queued() == 0  # get_count() settled it
    del o
    objs.clear()  # five deaths, reported by the free hook
    assert 1 <= queued() <= _core._death_queue()[1]
    # The query settles the queue and counts each death once.
    assert count0() == before - 5
    assert queued() == 0
    assert altgc.get_objects() == []


@pytest.mark.parametrize("n", [1, 31, 32, 33, 1000])
def test_more_deaths_than_the_queue_holds_are_all_counted(n):
    capacity = _core._death_queue()[1]
    objs = [[] if i % 2 else Inst() for i in range(n)]
    for o in objs:
        altgc.track(o)
    keep = [[] for _ in range(3)]
    for k in keep:
        altgc.track(k)
    before = count0()
    del o
    while objs:
        objs.pop()
        assert queued() <= capacity
    assert count0() == before - n
    assert sorted(map(id, altgc.get_objects())) == sorted(map(id, keep))
    _core._validate()
    del keep


def reuse_while_queued(make, register):
    """An object from `make` that took the address of a registered one
    (registered only if `register`) whose death still waits in the queue,
    and that address; skips the test if the free list does not oblige."""
    for _ in range(20):
        x = make()
        altgc.track(x)
        address = id(x)
        del x
        y = make()
        if id(y) == address and queued() > 0:
            if register:
                altgc.track(y)
            return y, address
        del y
    pytest.skip("the free list did not hand the address out again")


@pytest.mark.parametrize(
    "make", [lambda: [], lambda: {}, lambda: ([],)], ids=["list", "dict", "tuple"]
)
def test_registering_a_reused_address_settles_the_old_death_first(make):
    # x's death waits in the queue while y takes x's address from the free
    # list; registering y must first remove x's entry, or y would look
    # registered already and then lose its entry when x's death settles.
    y, address = reuse_while_queued(make, register=True)
    assert queued() == 0
    before = count0()
    assert altgc.is_tracked(y)
    assert before >= 1
    assert [id(o) for o in altgc.get_objects()] == [address]
    del y
    assert count0() == before - 1
    assert altgc.get_objects() == []


def test_an_untracked_object_at_a_queued_address_is_not_untracked_again():
    # x dies (queued); y reuses its address unregistered: untrack(y) must
    # answer False, not remove x's stale entry and call that y's.
    y, _ = reuse_while_queued(lambda: [], register=False)
    assert altgc.untrack(y) is False
    assert not altgc.is_tracked(y)


def test_a_collection_settles_the_queue_before_reading_the_registry():
    a, b = [], []
    a.append(b)
    b.append(a)
    for o in (a, b):
        altgc.track(o)
    dead = [Inst() for _ in range(10)]
    for o in dead:
        altgc.track(o)
    del o
    dead.clear()
    assert queued() > 0
    del a, b
    assert altgc.collect() == 2
    assert queued() == 0
    assert altgc.get_objects() == []
