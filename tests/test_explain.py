"""watch / explain / survivors: every cause of docs/DESIGN.md, "Why memory
survives del", in plain Python, lifetimes untouched by watching, bad input,
deaths during an explanation, deep structures (in a subprocess)."""

import doctest
import functools
import gc
import json
import re
import sys
import types
import weakref
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_python

import altgc
from altgc import _core, _explain, _testobjs


def store_as_last(exc, monkeypatch):
    """Keep ``exc`` where the interactive interpreter keeps the last
    unhandled exception (sys.last_value, last_traceback, and last_exc from
    3.12), undone by monkeypatch."""
    monkeypatch.setattr(sys, "last_value", exc, raising=False)
    monkeypatch.setattr(sys, "last_traceback", exc.__traceback__, raising=False)
    if sys.version_info >= (3, 12):
        monkeypatch.setattr(sys, "last_exc", exc, raising=False)


class Plain:
    pass


class Finalized:
    log: ClassVar[list] = []

    def __init__(self, name):
        self.name = name

    def __del__(self):
        Finalized.log.append(self.name)


# ---------------------------------------------------------------------------
# watch never changes lifetimes
# ---------------------------------------------------------------------------

MAKERS = {
    "list": lambda: [1, 2, 3],
    "dict": lambda: {"a": [1]},
    "tuple": lambda: (object(), [1]),
    "set": lambda: {1, 2},
    "instance": Plain,
    "int": lambda: int("7" * 40),
    "str": lambda: "".join(["never", "-interned", "-string"]),
    "bytes": lambda: bytes(100),
    "bytearray": lambda: bytearray(100),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_watch_keeps_refcount_and_frees_at_once(kind):
    obj = MAKERS[kind]()
    before = sys.getrefcount(obj)
    altgc.watch(obj, "x")
    assert sys.getrefcount(obj) == before
    assert [w.alive for w in altgc.watched()] == [True]
    del obj
    # freed by the del itself: no collection ran (gc is disabled here)
    [w] = altgc.watched()
    assert not w.alive and w.freed_seconds_ago >= 0
    e = altgc.explain("x")
    assert not e.alive and e.cause in ("freed", "freed_rss")
    assert "was freed" in str(e)


def test_watch_does_not_delay_finalizer():
    obj = Finalized("f1")
    altgc.watch(obj, "f1")
    del obj
    assert Finalized.log.pop() == "f1"


def test_watch_cycle_freed_by_collection_only():
    a = []
    a.append(a)
    altgc.watch(a, "cyc")
    del a
    assert altgc.watched()[0].alive
    gc.collect()
    assert not altgc.watched()[0].alive


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(MAKERS)), churn=st.integers(1, 200))
def test_reused_address_is_never_the_watched_object(kind, churn):
    obj = MAKERS[kind]()
    addr = id(obj)
    altgc.watch(obj, "reuse")
    del obj
    # Allocate objects of the same kind until one lands at the address.
    keep = [MAKERS[kind]() for _ in range(churn)]
    assert _core._watch_get(_explain._watches["reuse"].token) is None
    assert not altgc.explain("reuse").alive
    reused = any(id(o) == addr for o in keep)
    del keep
    altgc.unwatch("reuse")
    assert isinstance(reused, bool)


def test_reuse_happens_and_is_detected():
    # A list freed goes to the list free list: the next list reuses it.
    x = [1]
    addr = id(x)
    altgc.watch(x, "old")
    del x
    y = [2]
    assert id(y) == addr  # the case this test is about
    assert altgc.explain("old").alive is False
    altgc.watch(y, "new")
    assert altgc.explain("new").alive


def test_watch_twice_under_two_labels_keeps_both():
    x = [1]
    altgc.watch(x, "one")
    altgc.watch(x, "two")
    assert sorted(w.label for w in altgc.watched()) == ["one", "two"]
    assert altgc.explain("one").alive and altgc.explain("two").alive
    del x
    assert not any(w.alive for w in altgc.watched())


def test_watch_default_label_is_the_name():
    ns = {"altgc": altgc}
    exec("some_name = [1]\naltgc.watch(some_name)", ns)
    assert [w.label for w in altgc.watched()] == ["some_name"]
    del ns["some_name"]
    assert [w.alive for w in altgc.watched()] == [False]


def test_watch_bad_input():
    with pytest.raises(TypeError, match=r"'obj'.*float"):
        altgc.watch(1.5, "f")
    with pytest.raises(TypeError, match="'label'"):
        altgc.watch([], 3)
    with pytest.raises(ValueError, match="'label'"):
        altgc.watch([], "")
    with pytest.raises(KeyError, match=r"unwatch.*'label'"):
        altgc.unwatch("nope")


# ---------------------------------------------------------------------------
# explain: bad input
# ---------------------------------------------------------------------------


def test_explain_unknown_label_lists_known_labels():
    x = [1]
    altgc.watch(x, "known")
    with pytest.raises(KeyError, match=r"nolabel.*known labels: 'known'"):
        altgc.explain("nolabel")


def test_explain_bad_max_paths():
    with pytest.raises(TypeError, match="max_paths"):
        altgc.explain([], max_paths="3")
    with pytest.raises(ValueError, match="max_paths"):
        altgc.explain([], max_paths=0)


# ---------------------------------------------------------------------------
# explain: the causes
# ---------------------------------------------------------------------------


def test_module_global(mod):
    mod.table = {"rows": [1, 2]}
    e = altgc.explain(mod.table["rows"])
    assert e.alive and e.cause == "name"
    assert e.paths[0].expr == "altgc_test_mod.table['rows']"
    # the module is imported first: the code runs in any namespace
    assert e.release == "import altgc_test_mod\ndel altgc_test_mod.table['rows']"
    assert e.paths[0].types == ("dict", "dict", "list")


def test_non_container_referrers_found(mod):
    mod.big = 10**40 + 1  # an int: not a container
    mod.s = "".join(["not", "interned"])
    e = altgc.explain(mod.big)
    assert e.paths[0].expr == "altgc_test_mod.big"
    e = altgc.explain(mod.s, literal=True)
    assert e.paths[0].expr == "altgc_test_mod.s"


def test_numpy_array_in_untracked_dict(mod):
    np = pytest.importorskip("numpy")
    # a dict holding only an array is not tracked by the builtin gc on
    # 3.10-3.12: the index still finds it through the module dict
    mod.holder = {"arr": np.zeros(1000)}
    e = altgc.explain(mod.holder["arr"])
    assert e.paths[0].expr == "altgc_test_mod.holder['arr']"
    assert e.retained_bytes >= 8000


def test_instance_attribute(mod):
    mod.obj = Plain()
    mod.obj.payload = [1]
    e = altgc.explain(mod.obj.payload)
    assert e.paths[0].expr == "altgc_test_mod.obj.payload"


def test_local_of_running_function():
    def inner():
        local_thing = [1, 2]
        return altgc.explain(local_thing)

    e = inner()
    assert e.cause == "local"
    assert e.paths[0].expr == "local_thing"
    # no code outside inner() releases it: no release, a note saying so
    assert e.release == ""
    assert "local_thing" in e.release_note and "inner" in e.release_note


def test_closure_cell(mod):
    def make():
        captured = [1, 2, 3]

        def fn():
            return captured

        return fn

    mod.fn = make()
    e = altgc.explain(mod.fn())
    assert e.cause == "closure"
    assert e.paths[0].expr == "altgc_test_mod.fn.__closure__[0].cell_contents"
    # the cell is emptied; the name fn (bound to the function) stays
    assert e.release.splitlines()[-1] == "del altgc_test_mod.fn.__closure__[0].cell_contents"


def test_class_attribute(mod):
    class Config:
        pass

    Config.table = [1, 2]
    mod.Config = Config
    del Config
    e = altgc.explain(mod.Config.table)
    assert e.cause == "class_attribute"
    assert e.paths[0].expr == "altgc_test_mod.Config.table"
    assert e.release.splitlines()[-1] == "del altgc_test_mod.Config.table"


def test_lru_cache(mod):
    @functools.cache
    def load(n):
        return [n] * 3

    mod.load = load
    del load
    result = mod.load(7)
    altgc.watch(result, "result")
    del result
    e = altgc.explain("result")
    assert e.cause == "lru_cache"
    assert e.release == "import altgc_test_mod\naltgc_test_mod.load.cache_clear()"
    mod.load.cache_clear()
    assert not altgc.explain("result").alive


def test_traceback_local(monkeypatch):
    def failing():
        secret = ["kept by the traceback"]
        altgc.watch(secret, "secret")
        raise RuntimeError("boom")

    try:
        failing()
    except RuntimeError as exc:
        store_as_last(exc, monkeypatch)
    e = altgc.explain("secret")
    assert e.cause == "traceback"
    assert any("f_locals['secret']" in p.expr for p in e.paths)
    assert "sys.last_traceback = None" in e.release
    sys.last_value = sys.last_traceback = None
    if sys.version_info >= (3, 12):
        sys.last_exc = None
    assert not altgc.explain("secret").alive


def test_unreachable_cycle_waiting_for_collection():
    a = [1]
    b = [a]
    a.append(b)
    altgc.watch(a, "cycle")
    del a, b
    e = altgc.explain("cycle")
    assert e.cause == "cycle" and e.in_unreachable_cycle
    assert e.release == "import gc; gc.collect();"
    assert e.generation in (0, 1, 2)
    # the test fixture disabled the builtin gc
    assert "disabled" in e.collector_status
    # a threshold explain()'s own allocations cannot reach: with the
    # default one, the young count left by earlier tests could make the
    # builtin gc free the cycle during explain() (seen after test_pictures)
    threshold = gc.get_threshold()
    gc.set_threshold(1_000_000)
    gc.enable()
    try:
        e = altgc.explain("cycle")
        assert "more allocations" in e.collector_status
    finally:
        gc.disable()
        gc.set_threshold(*threshold)
    gc.collect()
    assert not altgc.explain("cycle").alive


def test_cycle_tracked_by_altgc():
    a = []
    a.append(a)
    altgc.track(a)
    altgc.watch(a, "acyc")
    del a
    e = altgc.explain("acyc")
    assert e.cause == "cycle"
    assert "altgc.collect()" in e.release
    assert "altgc tracks it (generation 0)" in e.collector_status
    altgc.collect()
    assert not altgc.explain("acyc").alive


def test_frozen_cycle():
    a = []
    a.append(a)
    altgc.watch(a, "frozen")
    del a
    gc.freeze()
    try:
        e = altgc.explain("frozen")
        assert e.generation == "frozen"
        assert "gc.unfreeze()" in e.collector_status
    finally:
        gc.unfreeze()
    gc.collect()


def test_installed_heap_is_not_frozen():
    # Install mode parks what altgc adopts in the builtin gc's permanent
    # generation; explain() read every adopted object as "frozen".  What
    # the builtin gc.freeze() froze before install() is frozen indeed.
    proc = run_python(
        """
        import gc, altgc
        old = []
        old.append(old)
        gc.freeze()
        altgc.install()
        new = []
        new.append(new)
        e = altgc.explain(new)
        print(e.generation, "frozen" in str(e))
        e = altgc.explain(old)
        print(e.generation, "before altgc.install()" in e.collector_status)
        """
    )
    assert proc.stdout.split() == ["None", "False", "frozen", "True"]


def test_young_object_during_a_builtin_collection_is_not_frozen():
    # During a builtin collection the generation it examines is off the
    # generation lists: explain() from a finalizer it runs said "frozen".
    seen = []

    class Fin:
        def __del__(self):
            e = altgc.explain(self.mate)
            seen.append((e.generation, e.collector_status))

    gc.collect()
    f = Fin()
    f.me = f
    f.mate = []
    f.mate.append(f.mate)
    del f
    gc.collect(0)
    assert len(seen) == 1
    generation, status = seen[0]
    assert generation != "frozen"
    assert "frozen" not in status
    assert "collection running now" in status


def test_gc_garbage():
    x = [1]
    gc.garbage.append(x)
    altgc.watch(x, "g")
    del x
    try:
        e = altgc.explain("g")
        assert e.cause == "garbage"
        # just that object out of the list
        assert e.release == "import gc\ndel gc.garbage[0]"
    finally:
        gc.garbage.pop()


def test_altgc_garbage():
    x = [1]
    altgc.garbage.append(x)
    altgc.watch(x, "ag")
    del x
    e = altgc.explain("ag")
    # just that object, from altgc or altgc._core (the same list)
    assert e.cause == "garbage" and re.fullmatch(
        r"import (altgc|altgc\._core)\ndel \1\.garbage\[0\]", e.release
    ), e.release


def test_held_by_c_extension():
    x = [1, 2]
    _testobjs.hold(x)
    altgc.watch(x, "held")
    try:
        del x
        e = altgc.explain("held")
        assert e.cause == "c_extension" and e.unexplained_refs == 1
        assert not e.paths
    finally:
        _testobjs.release(_core._watch_get(_explain._watches["held"].token))
    assert not altgc.explain("held").alive


def test_no_false_c_extension_for_plain_objects(mod):
    mod.x = [1]
    for e in (altgc.explain(mod.x), altgc.explain(mod.x, refresh=False)):
        assert e.unexplained_refs == 0
    altgc.watch(mod.x, "mx")
    assert altgc.explain("mx").unexplained_refs == 0


def test_matplotlib_figure():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    altgc.watch(fig, "fig")
    del fig
    e = altgc.explain("fig")
    assert e.cause == "matplotlib"
    assert "plt.close" in e.release
    plt.close("all")
    gc.collect()
    assert not altgc.explain("fig").alive


def test_freed_rss_unchanged(monkeypatch):
    # RSS as the allocator leaves it: pretend it did not drop.
    monkeypatch.setattr(_explain.watching, "process_rss", lambda: 1 << 34)
    x = bytearray(4 << 20)
    altgc.watch(x, "big")
    del x
    e = altgc.explain("big")
    assert e.cause == "freed_rss"
    assert "malloc_trim" in e.release and "RSS" in str(e)


@pytest.mark.slow
def test_freed_and_rss_dropped():
    x = b"x" * (64 << 20)  # mmap-ed by malloc: given back on free
    altgc.watch(x, "huge")
    del x
    e = altgc.explain("huge")
    assert e.cause == "freed"


# ---------------------------------------------------------------------------
# Explanation as data
# ---------------------------------------------------------------------------


def test_explanation_formats(mod):
    mod.a = {"k": [1]}
    e = altgc.explain(mod.a["k"], max_paths=2)
    text = str(e)
    assert "is still alive" in text and "release it:" in text
    html = e._repr_html_()
    assert "<svg" in html and "altgc_test_mod" in html
    dot = e.to_dot()
    assert dot.startswith("digraph") and "->" in dot
    data = json.loads(e.to_json())
    assert data["cause"] == "name" and data["paths"][0]["expr"] == e.paths[0].expr
    assert data["retained_bytes"] == e.retained_bytes > 0
    assert e.index.bytes_per_object > 0


def test_explanation_holds_no_reference(mod):
    mod.x = [1]
    altgc.watch(mod.x, "x")
    e = altgc.explain("x")
    del mod.x
    assert not altgc.explain("x").alive
    assert e.alive  # what was true then


def test_retained_size_from_dominators(mod):
    inner = [bytearray(10000) for _ in range(3)]
    mod.outer = [inner]
    mod.shared = inner[0]  # not dominated by outer any more
    del inner
    e = altgc.explain(mod.outer)
    sizes = (
        sys.getsizeof(mod.outer)
        + sys.getsizeof(mod.outer[0])
        + sum(sys.getsizeof(b) for b in mod.outer[0][1:])
    )
    assert e.retained_bytes == sizes
    assert e.retained_objects == 4


def test_max_paths_and_shortest_first(mod):
    target = [0]
    mod.direct = target
    mod.deep = {"a": {"b": target}}
    mod.third = [target]
    del target
    e = altgc.explain(mod.direct, max_paths=3)
    assert [len(p.steps) for p in e.paths] == sorted(len(p.steps) for p in e.paths)
    assert e.paths[0].expr == "altgc_test_mod.direct"
    assert len(altgc.explain(mod.direct, max_paths=1).paths) == 1


def test_survivors(mod):
    ns = {"altgc": altgc, "mod": mod}
    exec(
        "item = [1]\nmod.keep = [item]\naltgc.watch(item, 'item')\n"
        "other = [2]\naltgc.watch(other, 'other')\n",
        ns,
    )
    assert [e.label for e in altgc.survivors()] == []  # names still bound
    exec("del item", ns)
    [e] = altgc.survivors()
    assert e.label == "item"
    assert e.paths[0].expr == "altgc_test_mod.keep[0]"
    exec("del other", ns)
    assert [e.label for e in altgc.survivors()] == ["item"]
    anonymous = [3]
    altgc.watch(anonymous, "anon")  # no global name: a survivor
    assert "anon" in [e.label for e in altgc.survivors()]


# ---------------------------------------------------------------------------
# the index: reuse, staleness, deaths during an explanation
# ---------------------------------------------------------------------------


def test_reused_index_sees_removed_paths(mod):
    mod.a = [1]
    mod.box = {"x": mod.a}
    altgc.explain(mod.a)
    del mod.box
    e = altgc.explain(mod.a, refresh=False)
    assert [p.expr for p in e.paths] == ["altgc_test_mod.a"]


def test_reused_index_rebuilds_for_new_objects(mod):
    altgc.heap_index()
    mod.fresh = [1]
    e = altgc.explain(mod.fresh, refresh=False)
    assert e.paths[0].expr == "altgc_test_mod.fresh"


class KillsOnSizeof:
    """A Python __sizeof__ that frees other objects of the index, runs the
    gc and clears the index (as slow or wrong as pandas' deep one)."""

    victims: ClassVar[list] = []

    def __sizeof__(self):
        KillsOnSizeof.victims.clear()
        gc.collect()
        _core._hg_clear()  # even the index goes away
        return 10**9


def test_python_sizeof_is_never_called(mod):
    victims = [[i] for i in range(1000)]
    for v in victims[:100]:
        v.append(v)  # cycles: freed by gc.collect()
    KillsOnSizeof.victims = victims
    mod.root = [KillsOnSizeof(), victims]
    del victims
    e = altgc.explain(mod.root)
    assert e.alive and e.paths[0].expr == "altgc_test_mod.root"
    assert len(KillsOnSizeof.victims) == 1000  # __sizeof__ did not run
    # the instance counts with its type's own size
    assert e.retained_bytes is not None and 0 < e.retained_bytes < 10**9
    assert altgc.explain(mod.root, refresh=False).alive


class DelDuringExplain:
    def __del__(self):
        gc.collect()


def test_finalizers_during_explanation(mod):
    for _ in range(50):
        a = DelDuringExplain()
        a.self = a  # collected whenever the gc runs
    del a
    gc.enable()
    try:
        mod.t = [1]
        for _ in range(3):
            e = altgc.explain(mod.t, refresh=False)
            assert e.paths[0].expr == "altgc_test_mod.t"
    finally:
        gc.disable()


def test_heap_index_figures():
    idx = altgc.heap_index()
    assert idx.nodes >= len(gc.get_objects())
    assert 4 < idx.bytes_per_object < 200
    assert altgc.heap_index(refresh=False) == idx
    assert "bytes/object" in str(idx)


@pytest.mark.slow
def test_deep_structures_in_subprocess():
    out = run_python(
        """
        import sys, altgc, types
        m = types.ModuleType("deepmod"); sys.modules["deepmod"] = m

        def build_lists():
            m.deep = cur = []
            for _ in range(10**6):
                nxt = []
                cur.append(nxt)
                cur = nxt
            altgc.watch(cur, "leaf")

        class Node:
            __slots__ = ("next",)

        def build_chain():
            m.head = n = Node()
            for _ in range(10**6):
                n.next = Node()
                n = n.next
            altgc.watch(n, "tail")

        build_lists()
        e = altgc.explain("leaf")
        print(len(e.paths[0].steps), e.retained_objects, e.cause)
        print(altgc.explain(m.deep, refresh=False).retained_objects)
        build_chain()
        e = altgc.explain("tail")
        print(len(e.paths[0].steps), e.cause, len(e.paths[0].expr) < 1000)
        print(altgc.explain(m.head, refresh=False).retained_objects)
    """,
        timeout=600,
    )
    lines = out.stdout.split("\n")
    assert lines[0] == "1000001 1 name"
    assert lines[1] == "1000001"
    assert lines[2] == "1000001 name True"
    assert lines[3] == "1000001"


def test_docstring_examples():
    gc.disable()
    modules = [_explain] + [
        getattr(_explain, m)
        for m in ("watching", "index", "explanation", "explaining", "releasing")
    ]
    rs = [doctest.testmod(m, optionflags=doctest.ELLIPSIS) for m in modules]
    assert sum(r.failed for r in rs) == 0 and sum(r.attempted for r in rs) >= 30


def test_retained_diamond_and_chain(mod):
    d = bytearray(1000)
    b, c = [d], [d]
    mod.a = [b, c]
    del b, c, d
    a = mod.a
    size = sys.getsizeof
    e = altgc.explain(a)
    assert e.retained_objects == 4
    assert e.retained_bytes == size(a) + size(a[0]) + size(a[1]) + size(a[0][0])
    # b alone retains only itself: d is also reached through c
    assert altgc.explain(a[0], refresh=False).retained_objects == 1
    del a
    # a chain whose nodes all refer to one class (a shape that makes the
    # Cooper-Harvey-Kennedy algorithm quadratic)

    class Node:
        __slots__ = ("next",)

    head = n = Node()
    for _ in range(2000):
        n.next = Node()
        n = n.next
    mod.head = head
    del head, n
    e = altgc.explain(mod.head.next)
    assert e.retained_objects == 2000


# ---------------------------------------------------------------------------
# python -m altgc run
# ---------------------------------------------------------------------------

RUN_SCRIPT = """
import os, signal, sys, altgc
CACHE = {}

def load(n):
    data = [0] * n
    altgc.watch(data, "data")
    CACHE["last"] = data
    return data

class Leaky:
    pass

leaks = [Leaky() for _ in range(500)]
d = load(int(sys.argv[1]))
del d
temp = [1]
altgc.watch(temp, "temp")
if hasattr(signal, "SIGUSR1"):
    os.kill(os.getpid(), signal.SIGUSR1)     # a report now, another at exit
del temp
print("script done", sys.argv[1:])
"""


def test_python_m_altgc_run(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(RUN_SCRIPT)
    proc = run_python(f"""
        import sys
        from altgc.__main__ import main
        sys.exit(main(["run", {str(script)!r}, "1000"]))
    """)
    assert "script done ['1000']" in proc.stdout
    err = proc.stderr
    # the SIGUSR1 report and the one at exit
    assert err.count("==== altgc: survivors ====") == 2
    final = err.rsplit("==== altgc: survivors ====", 1)[1]
    assert "held by CACHE['last']" in final
    assert "release it: del CACHE['last']" in final
    assert "temp (list): freed" in final
    growth = final.split("grew most ====", 1)[1]
    assert growth.split("\n")[1].split() == ["+500", "Leaky", "(now", "500)"]


def test_python_m_altgc_run_bad_script(tmp_path):
    proc = run_python(
        """
        import sys
        from altgc.__main__ import main
        sys.exit(main(["run", "/nonexistent/script.py"]))
    """,
        check=False,
    )
    assert proc.returncode == 2 and "no such script" in proc.stderr


# ---------------------------------------------------------------------------
# release: runnable code, from every root, that frees the object (issue 14)
# ---------------------------------------------------------------------------


class Obj:
    """A weak-referenceable payload."""


def run_release(label, ns):
    """Run the label's release code verbatim in ``ns``; return the code."""
    e = altgc.explain(label)
    assert e.alive and e.release, e
    assert not e.release_note or "closure cell" in e.release_note, e.release_note
    code = e.release
    assert "%reset" not in code
    del e
    exec(code, ns)
    return code


def test_release_global_name_and_every_alias(mod):
    import weakref

    ns = mod.__dict__
    exec("o = Obj(); keep = {'a': o, 'b': o}; other = Obj(); alias = o", {"Obj": Obj}, ns)
    ref = weakref.ref(ns["o"])
    altgc.watch(ns["o"], "o")
    code = run_release("o", {})
    # every binding of the object, none of the user's other names
    assert "keep['a']" in code and "keep['b']" in code and ".alias" in code
    assert ref() is None and not altgc.explain("o").alive
    assert isinstance(mod.other, Obj) and mod.keep == {} and hasattr(mod, "o") is False


def test_release_container_in_main_namespace(monkeypatch):
    import weakref

    main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    exec("cache = {'rows': [Obj()], 'n': 1}; other = Obj()", {"Obj": Obj}, main.__dict__)
    ref = weakref.ref(main.cache["rows"][0])
    altgc.watch(main.cache["rows"][0], "row")
    code = run_release("row", main.__dict__)
    assert code == "del cache['rows'][0]"
    assert ref() is None and main.cache == {"rows": [], "n": 1}
    assert isinstance(main.other, Obj)


def test_release_closure_cell_keeps_the_function(mod):
    import weakref

    def make():
        captured = Obj()

        def fn():
            return captured

        return fn

    mod.fn = make()
    ref = weakref.ref(mod.fn())
    altgc.watch(mod.fn(), "captured")
    code = run_release("captured", {})
    # runnable code, no prose; the name fn (bound to the function) stays
    compile(code, "<release>", "exec")
    assert ref() is None and callable(mod.fn)


def test_release_class_attribute(mod):
    import weakref

    class Config:
        other = Obj()

    Config.table = Obj()
    mod.Config = Config
    del Config
    ref = weakref.ref(mod.Config.table)
    altgc.watch(mod.Config.table, "table")
    run_release("table", {})
    assert ref() is None and isinstance(mod.Config.other, Obj)


def test_release_lru_cache(mod):
    import weakref

    @functools.cache
    def load(n):
        return Obj()

    mod.load = load
    del load
    ref = weakref.ref(mod.load(1))
    altgc.watch(mod.load(1), "loaded")
    assert run_release("loaded", {}).endswith("load.cache_clear()")
    assert ref() is None and callable(mod.load)


def test_release_stored_exception(monkeypatch):
    import weakref

    def failing():
        secret = Obj()
        altgc.watch(secret, "secret")
        failing.ref = weakref.ref(secret)
        raise RuntimeError("boom")

    try:
        failing()
    except RuntimeError as exc:
        store_as_last(exc, monkeypatch)
    code = run_release("secret", {})
    assert "sys.last_traceback = None" in code
    assert failing.ref() is None


def test_release_empty_for_a_running_local_and_a_c_extension():
    def inner():
        local_thing = Obj()
        return altgc.explain(local_thing)

    e = inner()
    assert e.release == "" and "running" in e.release_note
    x = [1, 2]
    _testobjs.hold(x)
    altgc.watch(x, "held")
    try:
        del x
        e = altgc.explain("held")
        assert e.release == "" and "C extension" in e.release_note
        with pytest.raises(KeyError, match="no watched object"):
            altgc.release("nosuch")
        assert altgc.release("held").startswith("nothing can release held")
    finally:
        _testobjs.release(_core._watch_get(_explain._watches["held"].token))


def test_release_function(mod):
    mod.data = {"big": bytearray(2_000_000), "small": 1}
    altgc.watch(mod.data["big"], "big")
    dry = altgc.release("big", dry_run=True)
    assert "dry run" in dry and "del altgc_test_mod.data['big']" in dry
    assert altgc.explain("big").alive  # the dry run freed nothing
    out = altgc.release("big")
    assert re.fullmatch(r"freed big: [\d.]+ Mi?B; RSS \d+ → \d+ MiB", out), out
    assert mod.data == {"small": 1}
    assert "already dead: it was freed" in altgc.release("big")


def test_release_refuses_magics_outside_ipython(monkeypatch, mod):
    mod.x = [1]
    altgc.watch(mod.x, "x")
    real = _explain.explain

    def with_magic(*a, **k):
        e = real(*a, **k)
        return dataclasses_replace(e, release="%reset -f out")

    monkeypatch.setattr(_explain.explaining, "explain", with_magic)
    with pytest.raises(RuntimeError, match="IPython magics"):
        altgc.release("x")
    assert mod.x == [1]


def dataclasses_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def test_reused_index_and_an_object_it_knew_without_a_path(mod):
    # explain(refresh=False) reuses the index.  An object the index knew
    # with no path from any root (then only in a garbage cycle; in real
    # life more often a new object at the address of a dead one, which
    # free lists make common) that a root reaches now must be answered
    # from a fresh index, not from the old node's missing paths.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = Plain()
        w = weakref.ref(x)
        holder = [x]
        holder.append(holder)
        del x, holder
        altgc.heap_index()  # knows x: reachable from no root
        mod.t = w()
        e = altgc.explain(mod.t, refresh=False)
        assert e.paths, "no path to a module global from a reused index"
        assert e.paths[0].expr == "altgc_test_mod.t"
    finally:
        if was_enabled:
            gc.enable()


def test_module_namespaces_serve_named_roots_and_global_names(monkeypatch):
    """One walk of sys.modules names both the module roots (sys.modules'
    order) and a context variable's global (``__main__`` first, once); an
    entry whose ``__dict__`` raises or is no dict is passed over."""
    from altgc._explain import roots

    class Raising:
        @property
        def __dict__(self):
            raise RuntimeError("no namespace")

    main = sys.modules["__main__"]
    # __main__'s aliases already there (multiprocessing's __mp_main__, ...)
    aliases = [n for n, _d in roots.module_namespaces()].count("")
    shared = object()
    other = types.ModuleType("altgc_test_ns_other")
    other.shared = shared
    monkeypatch.setitem(sys.modules, "altgc_test_ns_other", other)
    monkeypatch.setitem(sys.modules, "altgc_test_ns_raising", Raising())
    monkeypatch.setitem(sys.modules, "altgc_test_ns_nodict", 42)
    monkeypatch.setitem(sys.modules, "altgc_test_ns_main_again", main)
    in_order = list(roots.module_namespaces())
    names = [n for n, _d in in_order]
    assert names.count("") == aliases + 1  # and the new alias, where sys.modules has them
    assert "altgc_test_ns_raising" not in names and "altgc_test_ns_nodict" not in names
    assert ("altgc_test_ns_other", vars(other)) in in_order
    main_first = list(roots.module_namespaces(main_first=True))
    assert main_first[0] == ("", vars(main))
    assert [n for n, _d in main_first].count("") == 1
    assert sorted(n for n, _d in main_first[1:]) == sorted(n for n in names if n)
    # named_roots: a root per entry, in sys.modules' order
    _objs, infos = roots.named_roots([])
    assert [i.expr for i in infos if i.kind == "name"] == names
    # _global_names: the main namespace's name wins, then sys.modules' order
    monkeypatch.setattr(main, "altgc_test_ns_shared", shared, raising=False)
    assert roots._global_names([shared]) == {id(shared): "altgc_test_ns_shared"}
    monkeypatch.delattr(main, "altgc_test_ns_shared")
    assert roots._global_names([shared]) == {id(shared): "altgc_test_ns_other.shared"}
