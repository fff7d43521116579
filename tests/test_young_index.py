"""Young collections use a private index of the young set when it is a small
part of the registry (collector.c, "young index").  Its answers must be the
registry table's: the same young graph, collected with and without a large
unrelated old generation, gives the same result."""

import gc
import random

import pytest
from hypothesis import given, settings, strategies as st

import altgc


class Obj:
    pass


def build_young(seed, n):
    rnd = random.Random(seed)
    objs = []
    for i in range(n):
        kind = rnd.randrange(3)
        o = [] if kind == 0 else ({} if kind == 1 else Obj())
        objs.append(o)
    for o in objs:
        for _ in range(rnd.randrange(4)):
            t = objs[rnd.randrange(n)]
            if isinstance(o, list):
                o.append(t)
            elif isinstance(o, dict):
                o[len(o)] = t
            else:
                setattr(o, "a%d" % rnd.randrange(3), t)
    roots = [objs[rnd.randrange(n)] for _ in range(rnd.randrange(n // 4 + 1))]
    return objs, roots


def track_all(objs):
    for o in objs:
        altgc.track(o)
        for r in gc.get_referents(o):
            if type(r) is dict and gc.is_tracked(r) and r is not o:
                altgc.track(r)


def young_result(seed, n, old):
    objs, roots = build_young(seed, n)
    ids = {id(o) for o in objs}
    track_all(objs)
    del objs
    groups = altgc.find_unreachable(0)
    found = sorted(sorted(type(o).__name__ for o in g) for g in groups
                   if any(id(o) in ids for o in g))
    del groups
    n_collected = altgc.collect(0)
    info = altgc.last_collection()
    del roots
    return found, n_collected, info.examined


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 60))
def test_young_index_agrees_with_registry_table(seed, n):
    gc.collect()
    small = young_result(seed, n, old=None)
    altgc.collect()
    # A large, unrelated, registered old generation: the young set is now
    # under a quarter of the registry, so the young index is used.
    old = [[] for _ in range(4 * n + 256)]
    for o in old:
        altgc.track(o)
    altgc.collect()
    altgc.collect()
    assert altgc.stats().generations[2].size >= len(old)
    big = young_result(seed, n, old=old)
    assert big[0] == small[0]
    assert big[1] == small[1]
    for o in old:
        altgc.untrack(o)


def test_old_referrer_keeps_young_alive_with_young_index():
    old = [[] for _ in range(2000)]
    for o in old:
        altgc.track(o)
    altgc.collect()
    altgc.collect()
    young = []
    young.append(young)               # a young self-cycle ...
    old[7].append(young)              # ... held by an old (untraversed) list
    altgc.track(young)
    del young
    assert altgc.find_unreachable(0) == []
    assert altgc.collect(0) == 0
    old[7].clear()                    # now it is garbage, in generation 1
    assert altgc.collect(1) == 1
    for o in old:
        altgc.untrack(o)
