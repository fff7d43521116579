"""More hostile shapes (issue 6): immortal containers, a 10**7-item list,
and graph mutation from __eq__/__hash__ while a collection runs."""

import gc
import sys

import pytest

import altgc
from conftest import run_python


@pytest.mark.skipif(sys.version_info < (3, 12), reason="immortal objects are 3.12+")
def test_immortal_container_is_held_from_outside():
    empty = ()                       # the immortal empty-tuple singleton
    assert gc.is_tracked(empty) in (False, True)
    before = sys.getrefcount(empty)
    altgc.track(empty)
    try:
        a = [empty]
        a.append(a)
        altgc.track(a)
        del a
        groups = altgc.find_unreachable()
        flat = [o for g in groups for o in g]
        assert all(o is not empty for o in flat)      # never garbage
        assert len(flat) == 1                         # the list is
        del groups, flat
        assert altgc.collect() == 1
        assert altgc.is_tracked(empty)                # survives, registered
        assert sys.getrefcount(empty) == before       # immortal: unchanged
    finally:
        altgc.untrack(empty)


@pytest.mark.slow
def test_list_of_ten_million_items_in_a_cycle():
    out = run_python("""
        import gc, altgc
        gc.disable(); altgc.disable()
        big = list(range(10**7))
        holder = [big]
        big.append(holder)
        altgc.track(big); altgc.track(holder)
        assert altgc.find_unreachable() == []
        del big, holder
        groups = altgc.find_unreachable()
        print(len(groups), sum(len(g) for g in groups))
        del groups
        print(altgc.collect(), altgc.stats().registry_size)
    """, timeout=600).stdout.split()
    assert out == ["1", "2", "2", "0"]


class Key:
    """A dict key whose __eq__ and __hash__ build and register new cycles
    (and drop registered objects) while the collector is running."""

    made = []

    def __init__(self, n):
        self.n = n

    def __hash__(self):
        c = []
        c.append(c)
        altgc.track(c)
        Key.made.append(c)
        return hash(self.n)

    def __eq__(self, other):
        if Key.made:
            Key.made.pop()           # a registered cycle loses its holder
        d = {}
        d["self"] = d
        altgc.track(d)
        return isinstance(other, Key) and other.n == self.n


class Mutator:
    """Garbage whose __del__ looks keys up in a dict of Key objects, so
    Key.__eq__/__hash__ run inside the collection's finalizer phase."""

    table = {}

    def __del__(self):
        for i in range(5):
            Mutator.table.pop(Key(i), None)
            Mutator.table[Key(i + 100)] = self.peer


def test_eq_and_hash_mutating_the_graph_during_a_collection():
    Mutator.table.clear()
    Key.made.clear()
    for i in range(5):
        Mutator.table[Key(i)] = [i]
    ms = []
    for _ in range(20):
        m = Mutator()
        m.peer = [m]                 # cycle: m -> list -> m
        altgc.track(m)
        altgc.track(m.peer)
        altgc.track(m.__dict__) if gc.is_tracked(getattr(m, "__dict__", None)) else None
        ms.append(m)
    del m
    ms.clear()
    n = altgc.collect()
    altgc._core._validate()
    # The peers are resurrected through Mutator.table (held from outside):
    # whatever was not resurrected was collected.
    assert n >= 0
    assert altgc.collect() >= 0          # the cycles __eq__/__hash__ made
    altgc._core._validate()
    Mutator.table.clear()
    Key.made.clear()
    altgc.collect()
    altgc._core._validate()
    # Nothing the test registered is left: everything died or was freed.
    assert not [o for o in altgc.get_objects()
                if isinstance(o, (Mutator, Key))]
