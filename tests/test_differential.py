"""Differential tests: on random object graphs, altgc's unreachable set must
equal the builtin gc's (docs/DESIGN.md, "Semantics we test against"), its
groups must be the strongly connected components of the unreachable
subgraph, and altgc.collect() must free exactly those objects with CPython's
weakref / finalizer semantics."""

import weakref

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import (
    Inst,
    L,
    altgc_unreachable,
    builtin_unreachable,
    register_closure,
    registered_ids,
    sccs,
    untrack_everything,
)

import altgc
from altgc import _core, _testobjs

# ---------------------------------------------------------------------------
# Node kinds
# ---------------------------------------------------------------------------


class SlotsInst:
    __slots__ = ("__weakref__", "s0", "s1", "s2", "s3")


DEL_CALLS = []
WR_CALLS = []


class DelInst:
    def __del__(self):
        DEL_CALLS.append(id(self))


WATCHABLE = (Inst, SlotsInst, DelInst, L, _testobjs.Hostile)


def wr_callback(wr):
    WR_CALLS.append((id(wr), wr() is None))


KINDS = ["list", "dict", "tuple", "inst", "slots", "delinst", "L", "set", "weakref", "hostile"]
WEAKREFABLE = {"inst", "slots", "delinst", "L", "hostile"}
HASHABLE = {"inst", "slots", "delinst"}
MAX_SLOTS = 4


@st.composite
def graphs(draw, max_nodes=14):
    n = draw(st.integers(1, max_nodes))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(n)]
    # fix impossible nodes
    for i, k in enumerate(kinds):
        if k == "weakref" and not any(kinds[j] in WEAKREFABLE for j in range(n) if j != i):
            kinds[i] = "list"
    for i, k in enumerate(kinds):
        if k == "tuple":
            # a tuple holds already-existing objects: non-tuples, or tuples
            # with a lower index
            allowed = [j for j in range(n) if kinds[j] != "tuple" or j < i]
            if not any(kinds[j] != "tuple" for j in allowed):
                kinds[i] = "list"
    edges = []
    for i, k in enumerate(kinds):
        if k == "weakref":
            targets = [
                draw(st.sampled_from([j for j in range(n) if kinds[j] in WEAKREFABLE and j != i]))
            ]
            # always with a callback: a callback-less weakref.ref(x) would
            # be shared with the test's own observer weakrefs
            edges.append((targets, True))
            continue
        if k == "tuple":
            cand = [j for j in range(n) if kinds[j] != "tuple" or j < i]
            targets = draw(st.lists(st.sampled_from(cand), min_size=1, max_size=4))
            if not any(kinds[j] != "tuple" for j in targets):
                targets.append(draw(st.sampled_from([j for j in cand if kinds[j] != "tuple"])))
        elif k == "set":
            cand = [j for j in range(n) if kinds[j] in HASHABLE]
            targets = draw(st.lists(st.sampled_from(cand), max_size=4)) if cand else []
        else:
            targets = draw(st.lists(st.integers(0, n - 1), max_size=4))
        if k == "slots":
            targets = targets[:MAX_SLOTS]
        if k == "hostile":
            # extra = how many times each referent is held and visited
            edges.append((targets, draw(st.integers(1, 4))))
            continue
        edges.append((targets, False))
    roots = draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True))
    return kinds, edges, roots


def build(spec):
    """Build the graph; returns the list of node objects (all of them)."""
    kinds, edges, _roots = spec
    n = len(kinds)
    nodes = [None] * n
    factories = {
        "list": list,
        "dict": dict,
        "inst": Inst,
        "slots": SlotsInst,
        "delinst": DelInst,
        "L": L,
        "set": set,
    }
    for i, k in enumerate(kinds):
        if k in factories:
            nodes[i] = factories[k]()
        elif k == "hostile":
            nodes[i] = _testobjs.Hostile(repeat=edges[i][1])
    for i, k in enumerate(kinds):
        if k == "weakref":
            (t,), cb = edges[i]
            nodes[i] = weakref.ref(nodes[t], wr_callback if cb else None)
    for i, k in enumerate(kinds):
        if k == "tuple":
            nodes[i] = tuple(nodes[j] for j in edges[i][0])
    for i, k in enumerate(kinds):
        targets = edges[i][0]
        o = nodes[i]
        if k in ("list", "L"):
            o.extend(nodes[j] for j in targets)
        elif k == "dict":
            for pos, j in enumerate(targets):
                o[pos] = nodes[j]
        elif k in ("inst", "delinst"):
            for pos, j in enumerate(targets):
                setattr(o, "a%d" % pos, nodes[j])
        elif k == "slots":
            for pos, j in enumerate(targets):
                setattr(o, "s%d" % pos, nodes[j])
        elif k == "set":
            for j in targets:
                o.add(nodes[j])
        elif k == "hostile":
            o.set_refs(*(nodes[j] for j in targets))
    return nodes


def register_graph(nodes):
    """Register every node and every instance __dict__ (the only containers
    reachable from the nodes that are not nodes themselves; classes and
    callbacks are not followed)."""
    node_ids = {id(o) for o in nodes}

    def allowed(r):
        return id(r) in node_ids or type(r) is dict

    register_closure(nodes, allowed)


def make_garbage(spec):
    """Build, register, drop everything but the roots. Returns roots."""
    nodes = build(spec)
    register_graph(nodes)
    roots = [nodes[i] for i in spec[2]]
    del nodes
    return roots


# Each example starts by untracking everything; the autouse isolation fixture
# only brackets the whole test.
SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
COMMON = settings(max_examples=100, deadline=None, suppress_health_check=SUPPRESS)


@COMMON
@given(graphs())
def test_unreachable_set_matches_builtin_gc(spec):
    untrack_everything()
    roots = make_garbage(spec)

    groups = altgc.find_unreachable()
    flat = [o for g in groups for o in g]
    got_groups = {frozenset(id(o) for o in g) for g in groups}
    expected_groups = sccs(flat)
    found = {id(o) for o in flat}
    assert len(found) == len(flat)
    del groups, flat
    assert got_groups == expected_groups

    universe = registered_ids()
    builtin, objs = builtin_unreachable(universe)
    assert found == builtin, (sorted(found), sorted(builtin), spec)
    del objs
    untrack_everything()
    del roots

    # the same graph, built afresh: collect() returns the number found
    roots = make_garbage(spec)
    size = len(altgc.get_objects())
    assert altgc.collect() == len(found)
    assert len(altgc.get_objects()) == size - len(found)
    untrack_everything()
    del roots
    DEL_CALLS.clear()
    WR_CALLS.clear()


@COMMON
@given(graphs())
def test_collect_frees_exactly_the_unreachable(spec):
    untrack_everything()
    DEL_CALLS.clear()
    roots = make_garbage(spec)

    groups = altgc.find_unreachable()
    flat = [o for g in groups for o in g]
    found = {id(o) for o in flat}
    # observers: weakrefs to weakref-able objects, garbage or not
    live = altgc.get_objects()
    garbage_watch = [weakref.ref(o) for o in live if id(o) in found and type(o) in WATCHABLE]
    alive_watch = [weakref.ref(o) for o in live if id(o) not in found and type(o) in WATCHABLE]
    # graph weakrefs with callbacks: which must be called?
    # (only the weakrefs that are not garbage themselves may be kept:
    # holding a garbage one would make it reachable)
    graph_wrs = [o for o in live if type(o) is weakref.ref and id(o) not in found]
    expect_called = {
        id(w)
        for w in graph_wrs
        if w.__callback__ is not None and w() is not None and id(w()) in found
    }
    expect_dead = {id(w) for w in graph_wrs if w() is not None and id(w()) in found}
    n_del_garbage = sum(1 for o in flat if type(o) is DelInst)
    size = len(live)
    del live, groups, flat

    WR_CALLS.clear()
    DEL_CALLS.clear()
    n = altgc.collect()
    assert n == len(found)
    assert all(w() is None for w in garbage_watch)
    assert all(w() is not None for w in alive_watch)
    # callbacks: exactly the live weakrefs to garbage, once each, and they
    # saw a cleared reference
    assert sorted(i for i, _ in WR_CALLS) == sorted(expect_called)
    assert all(cleared for _, cleared in WR_CALLS)
    assert len(DEL_CALLS) == n_del_garbage
    for w in graph_wrs:
        if id(w) in expect_dead:
            assert w() is None
    del graph_wrs
    assert len(altgc.get_objects()) == size - n
    assert altgc.find_unreachable() == []
    _core._validate()
    untrack_everything()
    del roots


@settings(max_examples=60, deadline=None, suppress_health_check=SUPPRESS)
@given(graphs(), st.integers(0, 2))
def test_generational_collect_is_consistent_with_full_analysis(spec, gen):
    # after promoting half the graph to older generations, a collection of
    # `gen` only finds unreachable objects all of whose unreachable
    # referrers are also young; in particular its result is a subset of the
    # full analysis and equals it for gen 2.
    untrack_everything()
    nodes = build(spec)
    half = nodes[: len(nodes) // 2]
    register_graph(half)
    altgc.collect(1)  # everything registered so far -> gen 2 (none garbage:
    # the nodes list holds them all)
    register_graph(nodes)
    roots = [nodes[i] for i in spec[2]]
    del nodes, half
    full = altgc_unreachable()
    young = {id(o) for g in altgc.find_unreachable(gen) for o in g}
    assert young <= full
    if gen == 2:
        assert young == full
    n = altgc.collect(gen)
    assert n == len(young)
    # objects only held by freed young garbage may have died too
    assert altgc_unreachable() <= full - young
    untrack_everything()
    del roots
    DEL_CALLS.clear()
    WR_CALLS.clear()
