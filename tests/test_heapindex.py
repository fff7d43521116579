"""The heap index behind explain(): its shortest paths equal a pure-Python
breadth-first search, paths run through untracked containers to leaves, a
stale index never gives a wrong path, objects being deallocated are never
revived, and its memory is accounted for."""

import gc
import itertools
import sys
import types
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import run_python

import altgc
from altgc import _core


def _referents(obj):
    return gc.get_referents(obj)


def _is_chain(objs):
    """Whether each object refers to the next (checked by identity)."""
    return all(any(r is b for r in _referents(a)) for a, b in itertools.pairwise(objs))


def _bfs_distance(root, target):
    """References from dict `root` to `target` through the lists of the
    graph, or None."""
    dist = {id(root): 0}
    queue = deque([root])
    while queue:
        cur = queue.popleft()
        for nxt in cur.values() if isinstance(cur, dict) else cur:
            if id(nxt) not in dist:
                dist[id(nxt)] = dist[id(cur)] + 1
                queue.append(nxt)
    return dist.get(id(target))


def _build(extra, exclude):
    gens = [gc.get_objects(g) for g in range(3)]
    try:
        return _core._hg_build(gens, extra, exclude)
    finally:
        gens.clear()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 25),
    edges=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=70),
    roots=st.sets(st.integers(0, 24), max_size=4),
    t=st.integers(0, 24),
)
def test_shortest_path_equals_a_python_bfs(n, edges, roots, t):
    nodes = [[] for _ in range(n)]
    for a, b in edges:
        nodes[a % n].append(nodes[b % n])
    root = {f"r{i % n}": nodes[i % n] for i in roots}
    target = nodes[t % n]
    want = _bfs_distance(root, target)
    try:
        _build([root, target], [nodes])
        paths, _stale, _anon, _reachable, indeg, _gen = _core._hg_paths(target, [root], 1)
        if want is None:
            assert paths == []
        else:
            [(pos, objs)] = paths
            assert pos == 0 and objs[0] is root and objs[-1] is target
            assert len(objs) == want + 1
            assert _is_chain(objs)
        # every graph edge into the target is counted (the test's own
        # references may add more)
        assert indeg >= sum(1 for x in nodes for y in x if y is target)
        del paths
    finally:
        _core._hg_clear()
        for x in nodes:
            x.clear()  # no cycles left for the next example


def test_paths_run_through_untracked_containers_to_a_leaf():
    m = types.ModuleType("altgc_test_heapindex_mod")
    sys.modules[m.__name__] = m
    try:
        # a bytearray has no tp_traverse: a leaf, no node; a dict or tuple
        # that holds no container is one the builtin gc stops tracking
        # (the dict at once until 3.13, both after a collection)
        m.x = [{"k": bytearray(1000)}, (bytearray(1000),)]
        gc.collect()
        pos = next((k for k in (0, 1) if not gc.is_tracked(m.x[k])), None)
        if pos is None:  # pragma: no cover - depends on the version
            pytest.skip("this Python tracks both containers")
        key = "k" if pos == 0 else 0
        e = altgc.explain(m.x[pos][key])
        assert [p.expr for p in e.paths] == [f"altgc_test_heapindex_mod.x[{pos}][{key!r}]"]
        m.x = [m.x[pos]]
        e = altgc.explain(m.x)
        # the list, the container and the bytearray only it holds
        assert e.retained_objects == 3
        assert e.retained_bytes == sum(sys.getsizeof(o) for o in (m.x, m.x[0], m.x[0][key]))
    finally:
        del sys.modules[m.__name__]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kill=st.lists(st.integers(0, 149), max_size=80),
    fresh=st.integers(0, 60),
    shape=st.sampled_from(["list", "dict", "tuple"]),
)
def test_a_stale_index_never_gives_a_wrong_path(kill, fresh, shape):
    """Objects freed and their addresses reused between the build and the
    query: every path given is a true chain of references, to the object
    asked about."""
    m = types.ModuleType("altgc_test_heapindex_stale")
    sys.modules[m.__name__] = m
    make = {
        "list": lambda i: [i, []],
        "dict": lambda i: {"i": i, "l": []},
        "tuple": lambda i: (i, []),
    }[shape]
    try:
        m.nodes = [make(i) for i in range(150)]
        m.chain = {"a": m.nodes[:50]}
        altgc.heap_index()
        for k in kill:
            m.nodes[k] = None  # freed: its memory goes back to a free list
        m.chain.clear()
        m.new = [make(-i) for i in range(fresh)]  # reuses those addresses
        alive = [*m.new, *(x for x in m.nodes if x is not None)]
        for obj in alive:
            r = _core._hg_paths(obj, [m.__dict__], 3) if _core._hg_contains(obj) else None
            for _pos, objs in r[0] if r is not None else ():
                assert objs[0] is m.__dict__ and objs[-1] is obj
                assert _is_chain(objs)
            del r
        for obj in alive[:3] + alive[-3:]:
            e = altgc.explain(obj, refresh=False)
            for p in e.paths:
                if p.root == "name" and p.expr.startswith(m.__name__):
                    assert eval(p.expr, {m.__name__: m}) is obj
    finally:
        _core._hg_clear()
        del sys.modules[m.__name__]


def test_the_last_answer_is_followed_again_not_trusted():
    m = types.ModuleType("altgc_test_heapindex_last")
    sys.modules[m.__name__] = m
    try:
        m.a = [[1], [2]]
        t = m.a[1]
        assert [p.expr for p in altgc.explain(t).paths if p.root == "name"] == [
            "altgc_test_heapindex_last.a[1]"
        ]
        # same object, same reference count, a different place
        m.a.reverse()
        e = altgc.explain(t, refresh=False)
        assert [p.expr for p in e.paths if p.root == "name"] == ["altgc_test_heapindex_last.a[0]"]
        # a holder removed: the count changed, the answer is worked out again
        m.b = m.a
        del m.a
        e = altgc.explain(t, refresh=False)
        assert [p.expr for p in e.paths if p.root == "name"] == ["altgc_test_heapindex_last.b[0]"]
    finally:
        del sys.modules[m.__name__]


def test_follow_compares_addresses_before_reading_them():
    a = [[1]]
    inner = a[0]
    assert _core._hg_follow(a, [id(a), id(inner)]) == [a, inner]
    dead = [2]
    addr = id(dead)
    del dead  # on the list free list now (reference count 0)
    assert _core._hg_follow(a, [id(a), addr]) is None
    assert _core._hg_follow(a, [id(inner)]) is None  # not the root
    with pytest.raises(TypeError):
        _core._hg_follow(a, [id(a), "x"])
    with pytest.raises(ValueError):
        _core._hg_follow(a, [])


def test_dead_objects_on_a_free_list_are_never_revived():
    """explain() from a weakref callback, while the object dies (reference
    count 0, its memory about to go to a free list), and from finalizers
    during a collection: the dying objects die once, nothing is revived."""
    out = run_python(
        """
        import gc, sys, types, weakref, altgc
        m = types.ModuleType("deadmod"); sys.modules["deadmod"] = m
        m.keep = [[i] for i in range(1000)]
        class Obj:
            pass
        deaths = []
        def cb(wr):
            deaths.append(1)
            for o in (m.keep, m.keep[3]):
                e = altgc.explain(o)
                assert e.alive and e.paths, e
                altgc.explain(o, refresh=False)
            altgc.heap_index()
        objs = [Obj() for _ in range(20)]
        for o in objs:
            o.items = [[o], {"o": o}]
            o.me = o  # a cycle: dies in the collection
        refs = [weakref.ref(o, cb) for o in objs]
        plain = Obj(); plain.items = [[1]]
        refs.append(weakref.ref(plain, cb))
        del plain  # dies now: callback with its count at 0
        del objs, o
        gc.collect()
        assert len(deaths) == 21 and all(r() is None for r in refs), deaths
        assert not [o for o in gc.get_objects() if type(o) is Obj]
        for _ in range(3):
            altgc.explain(m.keep[5], refresh=False)
        print("ok", len(deaths))
        """,
        timeout=300,
    )
    assert out.stdout.split() == ["ok", "21"]


def test_a_frozen_heap_is_indexed_like_a_live_one():
    # What gc.freeze() moved to the builtin gc's permanent generation (a
    # fork server's preloaded heap) may be reachable from nothing in
    # generations 0-2: the index takes it from the permanent generation
    # itself, as tracked nodes, not as untracked containers found late
    # (16-24 bytes more each).  tools/refleak.py freezes its own heap too.
    holder = {"items": [[1, 2] for _ in range(50_000)]}
    target = holder["items"][-1]
    gc.collect()
    gc.freeze()
    try:
        frozen = _core._builtin_frozen_objects()
        assert any(o is holder for o in frozen)
        assert len(frozen) == gc.get_freeze_count()
        del frozen
        # gc.get_referrers() does not look at the frozen objects
        assert not any(r is holder for r in gc.get_referrers(holder["items"]))
        referrers = _core._builtin_frozen_referrers(holder["items"], target)
        assert sum(r is holder for r in referrers) == 1
        assert sum(r is holder["items"] for r in referrers) == 1
        del referrers
        idx = altgc.heap_index()
        assert idx.nodes >= 50_000
        assert idx.bytes_per_object <= 18
        text = str(altgc.explain(target, refresh=False))
        assert "frozen" in text
        assert "holder['items']" in text  # the path goes through the frozen holder
    finally:
        gc.unfreeze()
        _core._hg_clear()
    del holder, target


def test_index_memory_is_accounted_and_small():
    # Measured on a heap nobody froze (tools/refleak.py freezes its own
    # between tests): the index takes tracked objects from generations 0-2
    # only, and frozen ones it reaches become late nodes.
    gc.unfreeze()
    before = altgc.heap_index().nodes  # what earlier tests left (untracked containers too)
    keep = [[i, None] for i in range(200_000)]
    for i, x in enumerate(keep):
        x[1] = keep[(i * 7919) % len(keep)]
    try:
        idx = altgc.heap_index()
        nodes, edges, nbytes, _ns = _core._hg_stats()
        assert (idx.nodes, idx.edges, idx.bytes) == (nodes, edges, nbytes)
        # the ints are leaves, not nodes; every list is one
        assert len(keep) <= idx.nodes - before < len(keep) + len(keep) // 4
        assert idx.edges >= 2 * len(keep)
        # one offset byte, one meta byte, 4 bytes of referrer offsets and
        # 4 per reference, the page tables, and 16-24 bytes per untracked
        # container (a few percent of the nodes): about 15 bytes per node
        # here (PYTHONMALLOC=malloc spreads objects over more pages)
        assert idx.bytes < idx.nodes * 6 + idx.edges * 4 + 8 * 2**20
        assert idx.bytes_per_object <= 18
    finally:
        _core._hg_clear()
        del keep


def test_a_long_build_shows_progress_on_stderr(monkeypatch, capsys):
    from altgc._explain import index

    monkeypatch.setattr(index, "_PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(index, "ipython_shell", lambda: None)
    idx = altgc.heap_index()
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("altgc: indexing ") and err[0].endswith("for explain() ...")
    assert err[1] == f"altgc: {idx}"
    monkeypatch.setattr(index, "_PROGRESS_SECONDS", 3600.0)
    altgc.heap_index()
    assert capsys.readouterr().err == ""


def test_a_long_build_in_a_notebook_updates_one_display(monkeypatch, capsys):
    display_mod = pytest.importorskip("IPython.display")
    from altgc._explain import index

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj.data))

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(("display", obj.data))
        return Handle()

    monkeypatch.setattr(display_mod, "display", display)
    monkeypatch.setattr(index, "_PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(index, "ipython_shell", lambda: types.SimpleNamespace(kernel=object()))
    idx = altgc.heap_index()
    assert capsys.readouterr().err == ""  # no stderr line in a notebook
    assert [k for k, _ in shown] == ["display", "update"]
    assert '<progress value="10" max="100"' in shown[0][1]
    assert (
        '<progress value="100" max="100"' in shown[1][1] and f"{idx.nodes} objects" in shown[1][1]
    )
