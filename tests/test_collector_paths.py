"""Collector fast paths whose answers must be those of the plain algorithm
(src/collector.c):

* the young index: a young collection uses a private index of the young set
  when it is a small part of the registry.  Its answers must be the registry
  table's: the same young graph, collected with and without a large
  unrelated old generation, gives the same result;
* captured edges: the subtract pass captures young-to-young edges (`cap_*`),
  which the reachability pass and the garbage's components then read instead
  of traversing again.  The capture stops part-way when a young set has more
  than CAPTURE_PER_OBJECT (8) young referents per object on average; the
  objects after that point are traversed as before.  These tests build graphs
  on both sides of that limit, with the young set served by a young index
  (small) and by the registry's table (over 2**15 objects), and check the
  results against the builtin gc and a Python SCC computation.
"""

import gc
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import builtin_unreachable, find_groups_ids

import altgc

# ---------------------------------------------------------------------------
# The young index
# ---------------------------------------------------------------------------


class Obj:
    pass


def build_young(seed, n):
    rnd = random.Random(seed)
    objs = []
    for _ in range(n):
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
    found = sorted(
        sorted(type(o).__name__ for o in g) for g in groups if any(id(o) in ids for o in g)
    )
    del groups
    n_collected = altgc.collect(0)
    info = altgc.last_collection()
    del roots
    return found, n_collected, info.examined


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 60))
def test_young_result_same_under_large_old_generation(seed, n):
    gc.collect()
    small = young_result(seed, n, old=None)
    altgc.collect()
    # A large, unrelated, registered old generation: the young set is now
    # under a quarter of the registry.  Both runs use the young lookup
    # (header marks; a young set of at most 2**15 objects), and the old
    # referents the second one meets must read as not young.
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


def test_old_referrer_keeps_young_alive_with_young_lookup():
    old = [[] for _ in range(2000)]
    for o in old:
        altgc.track(o)
    altgc.collect()
    altgc.collect()
    young = []
    young.append(young)  # a young self-cycle ...
    old[7].append(young)  # ... held by an old (untraversed) list
    altgc.track(young)
    del young
    assert altgc.find_unreachable(0) == []
    assert altgc.collect(0) == 0
    old[7].clear()  # now it is garbage, in generation 1
    assert altgc.collect(1) == 1
    for o in old:
        altgc.untrack(o)


# ---------------------------------------------------------------------------
# Captured edges
# ---------------------------------------------------------------------------


class Node:
    __slots__ = ("__weakref__", "refs")


def build(n, degree, garbage_fraction, seed):
    """n lists, each holding `degree` references to random lists: the first
    (1 - garbage_fraction) * n ("live") only to live lists, the others to
    any list.  The live lists are held by the returned root (not
    registered); the others only by lists, so they are garbage.  A few
    lists also hold an instance (another tp_traverse) with a list of
    references of its own.  Everything is registered.  Returns (root, ids
    of every registered object)."""
    rng = random.Random(seed)
    nodes = [[] for _ in range(n)]
    live = int(n * (1 - garbage_fraction))
    for i, node in enumerate(nodes):
        pool = nodes[:live] if i < live and live else nodes
        node.extend(rng.choice(pool) for _ in range(degree))
    for k in range(0, n, 97):
        inst = Node()
        inst.refs = nodes[k][:]
        nodes[k].append(inst)
    root = nodes[:live]
    ids = set()
    for x in nodes:
        altgc.track(x)
        ids.add(id(x))
        for r in x:
            if isinstance(r, Node):
                for o in (r, r.refs):
                    altgc.track(o)
                    ids.add(id(o))
    return root, ids


@pytest.mark.parametrize(
    "n, degree",
    [
        (300, 3),  # captured completely (young index)
        (300, 20),  # capture stops part-way (young index)
        (2000, 40),  # stops early
    ],
)
@pytest.mark.parametrize("garbage_fraction", [0.0, 0.3, 1.0])
def test_find_unreachable_matches_builtin(n, degree, garbage_fraction):
    root, ids = build(n, degree, garbage_fraction, seed=n * degree)
    got, expected = find_groups_ids()
    flat = set().union(*got) if got else set()
    builtin_ids, builtin_objs = builtin_unreachable(ids)
    del builtin_objs
    assert flat == builtin_ids
    assert got == expected
    if garbage_fraction == 0.0:
        assert flat == set()
    del root


@pytest.mark.parametrize("degree", [3, 20])
def test_collect_frees_exactly_the_garbage(degree):
    root, _ids = build(500, degree, 0.5, seed=degree)
    before = len(altgc.get_objects())
    groups = altgc.find_unreachable()
    expected = sum(len(g) for g in groups)
    del groups
    assert expected > 0
    assert altgc.collect() == expected
    assert len(altgc.get_objects()) == before - expected
    # what is left is all reachable from the root
    assert altgc.find_unreachable() == []
    assert altgc.collect() == 0
    del root


def test_young_collection_over_large_old_generation():
    # Old generation big enough that the young set is served by the young
    # index; the young lists point into the old generation and at each
    # other densely.
    old = [[] for _ in range(5000)]
    for x in old:
        altgc.track(x)
    altgc.collect()
    altgc.collect()  # now in generation 2
    rng = random.Random(7)
    young = [[] for _ in range(400)]
    for y in young:
        y.extend(rng.choice(young) for _ in range(30))
        y.extend(rng.choice(old) for _ in range(5))
        altgc.track(y)
    ids = {id(y) for y in young}
    del young, y
    got, expected = find_groups_ids()
    assert set().union(*got) == ids
    assert got == expected
    assert altgc.collect(0) == len(ids)
    assert len(altgc.get_objects()) == len(old)


@pytest.mark.slow
@pytest.mark.parametrize("degree", [4, 12])
def test_large_young_set_through_the_registry_table(degree):
    # Over 2**15 young objects: no young index; the batched lookups capture
    # the edges (and stop part-way with degree 12).
    root, ids = build(40000, degree, 0.25, seed=degree)
    groups = altgc.find_unreachable()
    flat = {id(o) for g in groups for o in g}
    del groups
    builtin_ids, builtin_objs = builtin_unreachable(ids)
    del builtin_objs
    assert flat == builtin_ids
    assert len(flat) > 0
    assert altgc.collect() == len(flat)
    assert altgc.find_unreachable() == []
    gc.collect()
    del root


@pytest.mark.parametrize("padding", [0, 40000])
def test_repeated_referent_across_sources(padding):
    # Registry order A, B, X.  A = [X, A, X] is garbage (a self-cycle),
    # B = [X, X, X] is held from outside, so X is reachable only through B.
    # A's last visit and B's first are both X (in either traversal order):
    # runs of one referent are merged in
    # the lookups (and kept once in the captured edges), but only within
    # one source -- merged across A and B, X would look reachable only from
    # garbage.  padding > 2**15 registered lists takes the registry-table
    # path instead of the young index.
    pad = [[] for _ in range(padding)]
    for p in pad:
        altgc.track(p)
    a, b, x = [], [], []
    a += [x, a, x]
    b += [x] * 3
    for o in (a, b, x):
        altgc.track(o)
    aid, xid = id(a), id(x)
    del a, x, o  # X is held by A and B only
    groups = altgc.find_unreachable()
    assert [[id(o) for o in g] for g in groups] == [[aid]]
    del groups
    assert altgc.collect() == 1
    assert id(b[0]) == xid and altgc.is_tracked(b[0])
    assert b == [[]] * 3


@pytest.mark.parametrize("garbage", [False, True])
def test_gc_traversal_shape(garbage):
    # pyperformance's gc_traversal heap: level k holds k references to
    # level k-1 (runs of one referent), 1000 levels.
    current = []
    levels = [current]
    for n in range(1000):
        current = [current] * n
        levels.append(current)
    for lv in levels:
        altgc.track(lv)
    del levels, lv
    if garbage:
        # The top level refers to itself; it reaches the 1000 levels made
        # in the loop (the first list, [] * 0 dropped it, died with
        # `levels`).
        current.append(current)
        del current
        assert altgc.collect() == 1000
    else:
        assert altgc.find_unreachable() == []
        assert altgc.collect() == 0
        del current


def test_last_collection_groups_computed_on_demand():
    # The garbage's groups are recorded with the subgraph among them and
    # computed when last_collection() is first asked; asking again gives
    # the same answer, and a collection in between replaces them.
    rings = []
    for size in (1, 2, 5):
        nodes = [[] for _ in range(size)]
        for i, x in enumerate(nodes):
            x.append(nodes[(i + 1) % size])
            altgc.track(x)
        rings.append(sorted(id(x) for x in nodes))
    del nodes, x
    assert altgc.collect() == 8
    first = altgc.last_collection()
    got = sorted(sorted(i for _, i in g) for g in first.cycles)
    assert got == sorted(rings)
    assert all(name == "list" for g in first.cycles for name, _ in g)
    assert altgc.last_collection().cycles == first.cycles
    assert altgc.collect() == 0
    assert altgc.last_collection().cycles == []


# ---------------------------------------------------------------------------
# Which lookup a collection of 2**15 to 2**16 objects uses
# ---------------------------------------------------------------------------


def _mixed_heap(n, seed):
    """n registered lists, each holding two strings, an int and two
    other lists (so about half of the referents are not containers, as in
    a program's heap); the last tenth refer only among themselves and are
    garbage.  Returns the other lists (the root, not registered)."""
    rng = random.Random(seed)
    nodes = [[] for _ in range(n)]
    live = n - n // 10
    for i, node in enumerate(nodes):
        pool = nodes[:live] if i < live else nodes[live:]
        node.extend((f"s{i}", f"t{i}", i * 7919, rng.choice(pool), rng.choice(pool)))
    for x in nodes:
        altgc.track(x)
    return nodes[:live]


def _cut_loose_and_collect(root, n=4000):
    """Cuts the first n root lists of a _mixed_heap or an _interleaved_heap
    loose (each refers to itself where it referred to registered lists:
    garbage unless another list holds it) and checks that altgc collects
    exactly what the builtin gc finds unreachable."""
    for x in root[:n]:
        x[3] = x[4] = x
    del x
    root[:n] = []
    builtin_ids, builtin_objs = builtin_unreachable({id(o) for o in altgc.get_objects()})
    del builtin_objs
    assert len(builtin_ids) > 100
    assert altgc.collect() == len(builtin_ids)


@pytest.mark.slow
def test_lookup_follows_the_share_of_young_referents():
    # Between 2**15 and 2**16 young objects the collector builds a young
    # index only if the last big collection found at most 70% of its
    # referents young (lookup.h, ytab_wanted): a heap of containers referring
    # to containers takes the registry's table, a program-like heap the
    # young lookup (header marks) -- and both find exactly the garbage.
    root, ids = build(40000, 4, 0.0, seed=3)
    altgc.collect()
    altgc.collect()
    info = altgc._core._collector_info()
    assert info["young_share"] >= 990  # every referent a young list
    assert info["young_lookup"] is False
    for x in list(altgc.get_objects()):
        altgc.untrack(x)
    del root, ids, x

    root = _mixed_heap(40000, seed=5)
    builtin_ids, builtin_objs = builtin_unreachable({id(o) for o in altgc.get_objects()})
    del builtin_objs
    assert len(builtin_ids) > 1000
    assert altgc.collect() == len(builtin_ids)  # registry table (last share high)
    info = altgc._core._collector_info()
    assert info["young_lookup"] is False
    assert info["header_marks"] is False
    assert 300 <= info["young_share"] <= 600  # 2 of 5 referents are lists
    assert altgc.collect() == 0  # now through the young lookup
    info = altgc._core._collector_info()
    assert info["young_lookup"] is True
    assert info["header_marks"] is True
    _cut_loose_and_collect(root)
    assert altgc._core._collector_info()["young_lookup"] is True
    assert altgc.find_unreachable() == []
    del root


@pytest.mark.parametrize("young", [700, 2000])
def test_prefetching_only_for_full_collections_and_large_young_sets(young):
    # A young collection of fewer than 2**16 objects reads objects made
    # since the last collection, which the caches still hold: it does not
    # prefetch (lookup.h, AGC_PREFETCH_MIN); a full collection, and a
    # young set of 2**16 objects or more, do.  Each finds exactly the
    # garbage either way.
    def half_garbage(n):
        keep = [[] for _ in range(n // 2)]
        for _ in range(n // 4):
            a, b = [], []
            a.append(b)
            b.append(a)
            altgc.track(a)
            altgc.track(b)
        for x in keep:
            altgc.track(x)
        return keep

    altgc.collect()
    keep = half_garbage(young)
    assert altgc.collect(0) == young // 2
    assert altgc._core._collector_info()["prefetched"] is False
    keep += half_garbage(young)
    assert altgc.collect(2) == young // 2
    assert altgc._core._collector_info()["prefetched"] is True
    big = half_garbage(1 << 17)
    assert altgc.collect(0) == 1 << 16
    assert altgc._core._collector_info()["prefetched"] is True
    for x in keep + big:
        altgc.untrack(x)


def _interleaved_heap(n, seed):
    """n registered lists, each holding three lists that are not registered
    and two registered ones (the last tenth only among themselves:
    garbage).  The registered and unregistered lists are made alternately,
    so that the unregistered referents lie among the registered ones under
    any allocator (with PYTHONMALLOC=malloc, strings and ints lie outside
    the registry's address range and never reach its table).  Returns the
    live registered lists (the root) and the unregistered ones, neither
    registered."""
    rng = random.Random(seed)
    made = [[] for _ in range(2 * n)]
    nodes, unreg = made[0::2], made[1::2]
    del made
    live = n - n // 10
    for i, node in enumerate(nodes):
        pool = nodes[:live] if i < live else nodes[live:]
        u = (unreg[i], unreg[(i + 1) % n], unreg[(i + 2) % n])
        node.extend((*u, rng.choice(pool), rng.choice(pool)))
    for x in nodes:
        altgc.track(x)
    return nodes[:live], unreg


@pytest.mark.slow
def test_batched_probes_skip_the_tag_filter_only_where_it_saves_nothing():
    # The batched probes of the registry's table skip the tag filter when
    # the last big batched collection found at most 20% of its referents
    # unregistered (lookup.h, batch_skip_filter).  Registered lists
    # referring only to registered lists turn it off; a heap where 3 of 5
    # referents are unregistered turns it back on -- and every collection
    # finds exactly the garbage.
    for x in list(altgc.get_objects()):
        altgc.untrack(x)
    root, ids = build(90000, 4, 0.25, seed=11)  # over 2**16 registered
    builtin_ids, builtin_objs = builtin_unreachable(ids)
    del builtin_objs
    assert len(builtin_ids) > 1000
    assert altgc.collect() == len(builtin_ids)  # measures: all registered
    info = altgc._core._collector_info()
    assert info["young_lookup"] is False
    assert info["batch_absent"] is not None and info["batch_absent"] <= 50
    for x in root[:4000]:
        x[:] = [x]  # cut loose: garbage unless another list holds it
    del x
    root[:4000] = []
    builtin_ids, builtin_objs = builtin_unreachable({id(o) for o in altgc.get_objects()})
    del builtin_objs
    assert len(builtin_ids) > 50
    assert altgc.collect() == len(builtin_ids)  # without the filter
    assert altgc._core._collector_info()["tag_filter"] is False
    assert altgc.find_unreachable() == []
    for x in list(altgc.get_objects()):
        altgc.untrack(x)
    del root, ids, x

    # over 2**16: the table whatever the share
    root, unreg = _interleaved_heap(70000, seed=13)
    builtin_ids, builtin_objs = builtin_unreachable({id(o) for o in altgc.get_objects()})
    del builtin_objs
    assert len(builtin_ids) > 1000
    assert altgc.collect() == len(builtin_ids)  # still without the filter
    info = altgc._core._collector_info()
    assert info["tag_filter"] is False
    assert info["batch_absent"] > 200  # 3 of 5 referents unregistered
    assert altgc.collect() == 0
    assert altgc._core._collector_info()["tag_filter"] is True
    _cut_loose_and_collect(root)
    assert altgc.find_unreachable() == []
    del root, unreg


def test_scratch_kept_between_collections_is_bounded():
    # A collection's scratch arrays are kept for the next one (lookup.h,
    # scratch pool): beyond what the last collection needed, each up to
    # 2 MiB and to 64 bytes per registered object plus 64 KiB, and
    # released once the registry shrinks.  Eight kinds.
    cap = 8 * (2 << 20)
    lists = [[x, x] for x in ([] for _ in range(10000))]
    for x in lists:
        altgc.track(x)
        altgc.track(x[0])
    altgc.collect()
    kept = altgc._core._collector_info()["scratch_bytes"]
    assert 16 * 20000 <= kept <= min(cap, 8 * (64 * 20000 + (64 << 10)))
    assert altgc.collect() == 0  # a second collection reuses them
    # (and may cut buffers that earlier tests' collections left)
    assert 16 * 20000 <= altgc._core._collector_info()["scratch_bytes"] <= kept
    for x in lists:
        altgc.untrack(x[0])
        altgc.untrack(x)
    del lists, x
    altgc.collect()
    # The empty collection took and dropped what it could use; the young
    # index (128 KiB) it did not build is trimmed all the same.
    assert altgc._core._collector_info()["scratch_bytes"] <= 64 << 10


def test_big_collection_arrays_kept_for_the_next_and_given_back_after():
    # Above 2 MiB a buffer is kept only as long as collections need it
    # (scratch_trim): a second full collection of 200,000 lists finds the
    # first one's nodes (3.2 MB) warm, and a run of young collections that
    # need a few KiB gives them back, a 32nd of the recent need forgotten
    # per collection.
    nodes = [[] for _ in range(200_000)]
    for i, x in enumerate(nodes):
        x.append(nodes[i - 1])
        altgc.track(x)
    assert altgc.collect() == 0
    kept = altgc._core._collector_info()["scratch_bytes"]
    assert kept >= 200_000 * 16  # the nodes at least, above the 2 MiB cap
    assert altgc.collect() == 0
    assert 200_000 * 16 <= altgc._core._collector_info()["scratch_bytes"] <= kept
    for _ in range(150):
        young = [[], []]
        young[0].append(young)
        for x in young:
            altgc.track(x)
        altgc.collect(0)
    assert altgc._core._collector_info()["scratch_bytes"] <= 256 << 10
    assert altgc.collect() == 0  # the full collection grows them again
    assert altgc._core._collector_info()["scratch_bytes"] >= 200_000 * 16
    for x in nodes:
        altgc.untrack(x)
    del nodes, x, young


# ---------------------------------------------------------------------------
# Header marks (lookup.h): a young collection marks the young objects' GC
# headers while no Python code runs, and writes every word back
# ---------------------------------------------------------------------------


def _adjacent_pairs(objs):
    """Indices k whose objs[k - 1] is objs[k]'s predecessor on the builtin
    gc's list (its _gc_next points at objs[k]'s header)."""
    from altgc import _testobjs

    heads = [_testobjs.gc_header(o) for o in objs]
    return [k for k in range(1, len(objs)) if heads[k - 1][0] & ~3 == id(objs[k]) - 16]


class _Resurrects:
    kept: list["_Resurrects"] = []  # noqa: RUF012 (what __del__ resurrects)

    def __del__(self):
        _Resurrects.kept.append(self)


@pytest.mark.parametrize("garbage", [0, 200])
def test_header_words_restored_after_young_collection(garbage):
    from altgc import _testobjs

    was = gc.isenabled()
    gc.disable()  # the builtin gc must not relink them meanwhile
    try:
        # One object the builtin gc's FINALIZED flag is set on: a finalizer
        # ran (and resurrected it), so its _gc_prev has bit 0 set.
        r = _Resurrects()
        r.self = r
        altgc.track(r)
        del r
        altgc.collect()
        (r,) = _Resurrects.kept
        _Resurrects.kept.clear()
        flags_before = _testobjs.gc_header(r)[1] & 3
        assert flags_before & 1  # FINALIZED
        chain = [[] for _ in range(400)]
        for a, b in itertools.pairwise(chain):
            a.append(b)
        for o in chain:
            altgc.track(o)
        for _ in range(garbage):
            c = [None]
            c[0] = c
            altgc.track(c)
            del c
        pairs = _adjacent_pairs(chain)
        assert len(pairs) > 350  # made one after another: neighbours
        # _gc_prev, the word the marks use (_gc_next is never written).
        before = {k: _testobjs.gc_header(chain[k])[1] for k in pairs}
        assert altgc.collect(0) == garbage
        assert altgc._core._collector_info()["header_marks"] is True
        after = {k: _testobjs.gc_header(chain[k])[1] for k in pairs}
        assert after == before
        for k in pairs:  # the back links still point at the neighbours
            assert after[k] & ~3 == id(chain[k - 1]) - 16
        assert _testobjs.gc_header(r)[1] & 3 == flags_before
        # The builtin gc walks its lists through these links.
        gc.collect()
        assert gc.is_tracked(chain[0]) and gc.is_tracked(r)
    finally:
        if was:
            gc.enable()
    for o in [*chain, r]:
        altgc.untrack(o)


def test_header_marks_not_used_when_recorded():
    x = [[] for _ in range(100)]
    for o in x:
        altgc.track(o)
    altgc.trace(generation=0)
    assert altgc._core._collector_info()["header_marks"] is False
    altgc.collect(0)
    assert altgc._core._collector_info()["header_marks"] is True
    for o in x:
        altgc.untrack(o)
