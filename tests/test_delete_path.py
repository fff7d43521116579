"""The deletion of the garbage (collector.c delete_garbage) and its deaths.

delete_garbage holds every garbage object while it calls the tp_clears, then
drops its references in index order, announcing each death it causes to the
registry (agc_registry_expect) so the death hooks need no table probe.
These tests drive Python code into the middle of that: finalizers of objects
that only the garbage held (they die during the clearing or during an
announced death) which resurrect garbage, untrack and re-track it, register
new objects (re-using the addresses of freed garbage) and validate the
registry.  Afterwards the registry must hold exactly the objects that are
alive and registered, and its invariants must hold (`_core._validate()`,
which the ALTGC_DEBUG build also runs after every collection).
"""

import gc

from hypothesis import given, settings
from hypothesis import strategies as st
from support import registered_ids, run_python, untrack_everything

import altgc
from altgc import _core


class Node:
    """A registered garbage object.  Each test uses its own subclass
    (node_class), by which it finds its garbage again through the builtin
    gc's list of objects: weakrefs to garbage are cleared first, and the
    clearing empties the instances' dicts."""

    def __init__(self):
        self.ref = None


def node_class():
    return type("N", (Node,), {})


class Hook:
    """Not registered: dies when the garbage that alone holds it is
    cleared, and runs `action` from its __del__."""

    def __init__(self, action):
        self.action = action

    def __del__(self):
        self.action()


def track_node(n):
    """Register a Node (its attribute values live in the instance: no
    separate __dict__ is materialised here)."""
    altgc.track(n)


def find_nodes(cls):
    return [o for o in gc.get_objects() if type(o) is cls]


def test_resurrection_during_clearing_keeps_the_object_registered():
    saved = []

    N = node_class()

    def resurrect():
        saved.extend(find_nodes(N))
        _core._validate()

    a, b = N(), N()
    a.ref, b.ref = b, a
    holder = [a, Hook(resurrect)]
    a.holder = holder
    track_node(a)
    track_node(b)
    altgc.track(holder)
    del a, b, holder
    found = altgc.collect()
    assert found >= 3
    _core._validate()
    assert len(saved) == 2
    for o in saved:
        assert altgc.is_tracked(o)  # survived its clearing: registered
        assert o.__dict__ == {}  # but it was cleared, as in CPython
    assert registered_ids() >= {id(o) for o in saved}
    del o
    saved.clear()  # no cycle left: they die now
    assert find_nodes(N) == []
    assert altgc.get_objects() == []


def test_finalizer_untracks_retracks_and_registers_during_clearing():
    fresh = []
    N = node_class()

    def meddle():
        victims = find_nodes(N)
        assert victims, "the garbage is alive (held) during the clearing"
        for v in victims[::2]:
            assert altgc.untrack(v) is True
        for v in victims[1::4]:
            altgc.untrack(v)
            altgc.track(v)  # re-registered at a new index
        # new registered objects, many of them in freed garbage's memory
        for _ in range(200):
            x = []
            altgc.track(x)
            fresh.append(x)
        for _ in range(200):
            y = [[]]
            altgc.track(y)  # dies at once: a death mid-delete
            altgc.track(y[0])
        _core._validate()

    nodes = [N() for _ in range(64)]
    for i, n in enumerate(nodes):
        n.ref = nodes[(i + 1) % len(nodes)]
    nodes[0].hook = Hook(meddle)
    for n in nodes:
        track_node(n)
    del n, nodes
    altgc.collect()
    _core._validate()
    assert find_nodes(N) == []
    ids = registered_ids()
    assert {id(x) for x in fresh} <= ids
    assert len(ids) == len(fresh)  # nothing dead left registered


def test_python_code_inside_an_announced_death():
    # A registered tuple has no tp_clear: it dies only when delete_garbage
    # drops the last reference, an announced death.  Its deallocation then
    # frees the list it holds (a registered, unannounced death) and the
    # Hook, whose __del__ registers and drops objects meanwhile.
    log = []

    def during():
        made = [[] for _ in range(50)]
        for x in made:
            altgc.track(x)
        log.append(len(made))
        del made
        _core._validate()

    lst = []
    tup = (lst, Hook(during))
    lst.append(tup)
    altgc.track(lst)
    altgc.track(tup)
    del lst, tup
    assert altgc.collect() == 2
    assert log == [50]
    _core._validate()
    assert altgc.get_objects() == []


def test_collect_from_a_finalizer_during_clearing_is_refused_safely():
    results = []

    def nested():
        results.append(altgc.collect())

    a, b = Node(), Node()
    a.ref, b.ref = b, a
    a.hook = Hook(nested)
    track_node(a)
    track_node(b)
    del a, b
    assert altgc.collect() >= 2
    assert results == [0]
    _core._validate()
    assert altgc.get_objects() == []


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=120),
    st.lists(st.sampled_from(["list", "tuple", "node", "dict"]), min_size=1, max_size=40),
    st.sets(st.integers(0, 39), max_size=6),
    st.integers(0, 3),
)
def test_random_garbage_with_meddling_finalizers(edges, kinds, hooked, what):
    """Random garbage graphs; some objects hold a Hook whose __del__ (run
    mid-delete) untracks, re-tracks, resurrects or registers.  The registry
    then holds exactly the registered objects still alive."""
    kept = []
    fresh = []
    N = node_class()
    active = [True]

    def meddle():
        if not active[0]:
            return  # the test's own cleanup
        alive = find_nodes(N)
        if what == 0:
            for o in alive[::2]:
                altgc.untrack(o)
        elif what == 1:
            for o in alive[::3]:
                altgc.untrack(o)
                altgc.track(o)
        elif what == 2:
            kept.extend(alive[:2])
        for _ in range(10):
            x = {}
            altgc.track(x)
            fresh.append(x)
        # (no _validate() here: a registered object whose deallocation
        # freed the Hook is still registered, with refcount 0, until its
        # memory is freed -- docs/DESIGN.md, "Learning of deaths" -- which
        # I6 would report)

    untrack_everything()  # what earlier examples left
    n = len(kinds)
    slots = [[] for _ in range(n)]
    for a, b in edges:
        if a < n and b < n:
            slots[a].append(b)
    objs = [None] * n
    # Lists, dicts and nodes first (mutable), then tuples (built from them).
    for i, k in enumerate(kinds):
        if k == "list":
            objs[i] = []
        elif k == "dict":
            objs[i] = {}
        elif k == "node":
            objs[i] = N()
    for i, k in enumerate(kinds):
        if k == "tuple":
            # (never the empty tuple: a singleton, immortal on 3.12+)
            objs[i] = (*tuple(objs[j] for j in slots[i] if objs[j] is not None), i)
    for i, k in enumerate(kinds):
        refs = [objs[j] for j in slots[i] if objs[j] is not None]
        if i in hooked:
            refs.append(Hook(meddle))
        if k == "list":
            objs[i].extend(refs)
        elif k == "dict":
            objs[i].update(enumerate(refs))
        elif k == "node":
            objs[i].ref = refs  # registered below, with the dict
    for o in objs:
        if isinstance(o, Node):
            track_node(o)
            altgc.track(o.ref)
        else:
            altgc.track(o)
    del objs, refs, o
    altgc.collect()
    _core._validate()  # I6: every registered object is alive
    assert {id(x) for x in fresh} <= registered_ids()
    active[0] = False
    kept.clear()
    fresh.clear()
    altgc.collect()
    _core._validate()
    # An untracked node leaves its cycle to the builtin gc (to altgc it is
    # an outside reference); what that frees leaves the registry too.
    gc.collect()
    _core._validate()
    assert altgc.get_objects() == []


def test_million_dead_lists_leave_an_empty_registry():
    # The benchmark's shape at full size, in a subprocess so that the memory
    # goes back; checks the registry, not the time.
    proc = run_python("""
        import gc, random
        import altgc
        from altgc import _core
        gc.disable()
        rng = random.Random(1)
        n = 10**6
        nodes = [[] for _ in range(n)]
        for i, node in enumerate(nodes):
            node += (nodes[(i + 1) % n], rng.choice(nodes), rng.choice(nodes))
        for x in nodes:
            altgc.track(x)
        del nodes, x, node
        print(altgc.collect(), len(altgc.get_objects()))
        _core._validate()
        print(altgc.stats().registry_bytes < 100000)
    """)
    assert proc.stdout.split() == ["1000000", "0", "True"]


def test_all_garbage_is_alive_until_every_tp_clear_ran():
    # Known difference (README): CPython frees an object as soon as a
    # neighbour's tp_clear drops its last reference; altgc holds all the
    # garbage until every tp_clear has run, then frees it.
    N = node_class()
    seen = []

    def look():
        seen.append(len(find_nodes(N)))

    a, b = N(), N()
    a.ref, b.ref = b, a
    b.hook = Hook(look)
    a.hook = Hook(look)
    track_node(a)
    track_node(b)
    del a, b
    assert altgc.collect() >= 2
    assert seen == [2, 2]
    assert find_nodes(N) == []
    assert altgc.get_objects() == []
