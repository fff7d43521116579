"""Comparing altgc with the builtin gc: compare_heap and `python -m altgc compare`.

compare_heap: the two collectors agree on random graphs whose containers are
all registered; each planted difference (an unregistered container in a
cycle, an object frozen on one side, an object only reachable from one, a
finalizer resurrecting, an older generation) is found and explained; the
heap is handed back unchanged.

python -m altgc compare: the child harness records every collection (its
counts match the collector's own get_stats()), outputs are compared, the
JSON round-trips, bad input gets a clear message.  The runs with altgc as
the process's collector need install mode (altgc.install).
"""

import gc
import json
import os
import weakref
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import (
    PKG_PARENT,
    run_cli,
    run_python,
    scc_partition,
    track_with_dict,
    untrack_everything,
)

import altgc
from altgc import _program_comparison as cli
from altgc.compare import REASONS, HeapComparison, compare_heap

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
HAS_INSTALL = callable(getattr(altgc, "install", None))
needs_install = pytest.mark.skipif(
    not HAS_INSTALL,
    reason="needs altgc install mode (altgc.install), which this altgc does not have",
)


def program(name):
    return os.path.join(PROGRAMS, name + ".py")


# ---------------------------------------------------------------------------
# compare_heap
# ---------------------------------------------------------------------------


class Obj:
    pass


class Resurrector:
    saved: ClassVar[list] = []

    def __init__(self):
        self.me = self

    def __del__(self):
        Resurrector.saved.append(self)


@pytest.fixture
def frozen_rest():
    """Freeze what the builtin gc must not examine: everything that exists
    before the test builds its heap."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        altgc.unfreeze()


def only_test_differences(r, ids):
    """The differences on the test's objects; every other one (incidental
    garbage of the test machinery) must be an unregistered container."""
    mine = [d for d in r.differences if d.id in ids]
    others = [d for d in r.differences if d.id not in ids]
    assert all(d.side == "builtin" and d.reason == "unregistered" for d in others), others
    return mine


def build_graph(kinds, edges, roots):
    """Containers of the given kinds with the given edges; returns (ids of
    all, ids expected unreachable, keep) -- keep holds the roots."""
    nodes = []
    for k in kinds:
        nodes.append([] if k == 0 else {} if k == 1 else Obj())

    def add(src, dst):
        s = nodes[src]
        if isinstance(s, list):
            s.append(nodes[dst])
        elif isinstance(s, dict):
            s[len(s)] = nodes[dst]
        else:
            setattr(s, "a%d" % len(vars(s)), nodes[dst])

    for s, d in edges:
        add(s % len(nodes), d % len(nodes))
    # Register what the builtin gc tracks (an empty dict, or one holding
    # only atomic values, is not tracked by it: test_builtin_untracked_*).
    track_with_dict(*[n for n in nodes if gc.is_tracked(n)])
    # Python oracle: what the roots reach (edges as built).
    succ = {i: set() for i in range(len(nodes))}
    for s, d in edges:
        succ[s % len(nodes)].add(d % len(nodes))
    reached = set()
    stack = [r % len(nodes) for r in roots]
    while stack:
        v = stack.pop()
        if v not in reached:
            reached.add(v)
            stack.extend(succ[v])
    # Unreached nodes that refcounting cannot free: those on a cycle, and
    # what they reach.
    unreached = set(range(len(nodes))) - reached
    cyclic = set()
    for comp in scc_partition(unreached, lambda v: succ[v]):
        v = next(iter(comp))
        if len(comp) > 1 or v in succ[v]:
            cyclic |= comp
    alive = set()
    stack = list(cyclic)
    while stack:
        v = stack.pop()
        if v not in alive:
            alive.add(v)
            stack.extend(w for w in succ[v] if w in unreached)
    keep = [nodes[r % len(nodes)] for r in roots]
    all_ids = {id(n) for n in nodes}
    for n in nodes:
        for r in gc.get_referents(n):
            if type(r) is dict and gc.is_tracked(r):
                all_ids.add(id(r))
    node_ids = {id(n) for n in nodes}
    garbage = set()
    for i, n in enumerate(nodes):
        if i in alive and altgc.is_tracked(n):
            garbage.add(id(n))
            if isinstance(n, Obj):  # and its __dict__, if any
                garbage.update(
                    id(r)
                    for r in gc.get_referents(n)
                    if type(r) is dict and altgc.is_tracked(r) and id(r) not in node_ids
                )
    return all_ids, garbage, keep


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(st.integers(0, 2), min_size=1, max_size=25),
    edges=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=60),
    roots=st.lists(st.integers(0, 24), max_size=4),
)
def test_compare_heap_agrees_on_random_registered_graphs(kinds, edges, roots, frozen_rest):
    all_ids, expected, keep = build_graph(kinds, edges, roots)
    try:
        r = compare_heap()
        assert isinstance(r, HeapComparison)
        mine = only_test_differences(r, all_ids)
        assert mine == []
        assert set(r.altgc_ids) == expected
        assert set(r.builtin_ids) & all_ids == expected
        assert r.explained
        assert "compare_heap(generation=2)" in str(r)
    finally:
        del keep
        untrack_everything()
        gc.collect()


def test_compare_heap_agrees_exactly_when_nothing_else_is_garbage(frozen_rest):
    a = []
    b = [a]
    a.append(b)
    altgc.track(a)
    altgc.track(b)
    ida, idb = id(a), id(b)
    del a, b
    r = compare_heap()
    if r.builtin_ids == {ida, idb}:  # no incidental garbage this time
        assert r.agree and r.differences == []
        assert "AGREE" in str(r).splitlines()[0]
    assert r.altgc_ids == {ida, idb}


def test_unregistered_container_in_a_cycle_is_explained(frozen_rest):
    a = []
    b = [a]  # never registered
    a.append(b)
    altgc.track(a)
    ida, idb = id(a), id(b)
    del a, b
    r = compare_heap()
    assert not r.agree
    mine = {d.id: d for d in only_test_differences(r, {ida, idb})}
    assert set(mine) == {ida, idb}
    assert mine[idb].side == "builtin" and mine[idb].reason == "unregistered"
    assert mine[ida].side == "builtin"
    assert mine[ida].reason == "held_from_outside_registry"
    assert ("list@%#x" % idb) in mine[ida].detail
    assert r.explained
    text = str(r)
    assert "unregistered" in text and "held_from_outside_registry" in text
    assert ida not in r.altgc_ids


def with_dicts(*objs):
    """ids of objs and of their instance __dict__ when it is an object."""
    ids = {id(o) for o in objs}
    for o in objs:
        ids.update(id(r) for r in gc.get_referents(o) if type(r) is dict and gc.is_tracked(r))
    return ids


def test_frozen_in_the_builtin_gc_is_explained(frozen_rest):
    a = Obj()
    b = [a]
    a.b = b
    track_with_dict(a, b)
    gc.freeze()  # the builtin gc will not examine them
    ids = with_dicts(a, b)
    del a, b
    r = compare_heap()
    mine = only_test_differences(r, ids)
    assert {d.id for d in mine} == ids
    assert {(d.side, d.reason) for d in mine} == {("altgc", "builtin_frozen")}
    assert ids <= r.altgc_ids
    assert r.explained


def test_frozen_in_altgc_is_explained(frozen_rest):
    a = []
    b = [a]
    a.append(b)
    altgc.track(a)
    altgc.track(b)
    altgc.freeze()
    ids = {id(a), id(b)}
    del a, b
    r = compare_heap()
    mine = only_test_differences(r, ids)
    assert {d.id for d in mine} == ids
    assert {(d.side, d.reason) for d in mine} == {("builtin", "altgc_frozen")}
    assert not (ids & r.altgc_ids)


def test_held_by_an_object_the_builtin_gc_does_not_examine(frozen_rest):
    a = []
    altgc.track(a)
    gc.freeze()  # a: frozen in the builtin gc
    b = [a]
    a.append(b)
    altgc.track(b)
    ida, idb = id(a), id(b)
    del a, b
    r = compare_heap()
    mine = {d.id: d for d in only_test_differences(r, {ida, idb})}
    assert mine[ida].reason == "builtin_frozen"
    assert mine[idb].reason == "held_by_unexamined"
    assert ("list@%#x" % ida) in mine[idb].detail
    assert r.explained


def test_container_the_builtin_gc_does_not_track_agrees(frozen_rest):
    # A container the builtin gc does not track (an empty dict until
    # 3.13; from 3.14 dicts are always tracked, and a tuple of atomic
    # items is untracked from creation); registered with altgc, it is
    # skipped by altgc's collections too (as the builtin gc skips
    # untracked objects): neither side reports it, no difference.
    a = []
    a.append(a)
    d = next(c for c in ({}, tuple([1, "x"])) if not gc.is_tracked(c))
    a.append(d)
    assert not gc.is_tracked(d)
    altgc.track(a)
    altgc.track(d)
    ida, idd = id(a), id(d)
    del a, d
    r = compare_heap()
    assert only_test_differences(r, {ida, idd}) == []
    assert ida in r.altgc_ids and ida in r.builtin_ids
    assert idd not in r.altgc_ids and idd not in r.builtin_ids


def test_resurrection_by_a_finalizer_is_explained(frozen_rest):
    Resurrector.saved = []
    x = Resurrector()
    track_with_dict(x)
    idx = id(x)
    del x
    r = compare_heap()
    try:
        mine = {d.id: d for d in r.differences if d.id == idx}
        assert idx in r.altgc_ids
        assert mine[idx].side == "altgc"
        assert mine[idx].reason == "resurrected"
        assert [id(o) for o in Resurrector.saved] == [idx]
    finally:
        Resurrector.saved = []


def test_older_builtin_generation_is_explained(frozen_rest):
    holder = []
    a = []
    b = [a]
    a.append(b)
    holder.append(a)
    gc.collect()  # a and b survive into builtin generation 2
    altgc.track(a)
    altgc.track(b)  # altgc generation 0
    ids = {id(a), id(b)}
    del a, b, holder[:]
    r = compare_heap(0)
    mine = only_test_differences(r, ids)
    assert {d.id for d in mine} == ids
    assert {(d.side, d.reason) for d in mine} == {("altgc", "builtin_older_generation")}
    assert all("generation 2" in d.detail for d in mine)


def test_compare_heap_hands_the_heap_back_unchanged(frozen_rest):
    class Node:
        pass

    n = Node()
    lst = [n, "payload"]
    n.lst = lst
    track_with_dict(n, lst)
    probe = weakref.ref(n)
    ids = {id(n), id(lst)}
    sentinel = object()
    gc.garbage.append(sentinel)
    calls = []
    cb = lambda phase, info: calls.append(phase)  # noqa: E731
    gc.callbacks.append(cb)
    threshold = gc.get_threshold()
    gc.set_threshold(1234, 5, 6)
    del n, lst
    try:
        r = compare_heap()
        assert gc.garbage == [sentinel]
        assert calls == []
        assert gc.get_debug() == 0
        assert gc.get_threshold() == (1234, 5, 6)
        assert not gc.isenabled()  # the test fixture's setting
        assert not altgc.isenabled()
        assert ids <= r.altgc_ids and ids <= r.builtin_ids
        # Documented side effect: the builtin gc clears weakrefs to the
        # garbage it finds, DEBUG_SAVEALL or not.
        assert probe() is None
        # The objects are alive (still registered: altgc saw no death) and
        # unchanged -- and still garbage.
        objs = [o for o in altgc.get_objects() if id(o) in ids]
        assert len(objs) == 2
        node = next(o for o in objs if isinstance(o, Node))
        assert node.lst[0] is node and node.lst[1] == "payload"
        del objs, node
        gc.callbacks.remove(cb)
        gc.collect()
        assert not ids & {id(o) for o in altgc.get_objects()}
    finally:
        gc.set_threshold(*threshold)
        if cb in gc.callbacks:
            gc.callbacks.remove(cb)
        gc.garbage.remove(sentinel)


def test_compare_heap_uses_the_builtin_gcs_own_lists_when_rebound(frozen_rest):
    # It emptied and read the module's attributes: a rebound gc.callbacks
    # let the builtin gc call the program's callbacks, and gc.garbage = None
    # was refused.
    calls = []
    cb = lambda phase, info: calls.append(phase)  # noqa: E731
    real_callbacks, real_garbage = gc.callbacks, gc.garbage
    real_callbacks.append(cb)
    a = []
    a.append(a)
    altgc.track(a)
    ida = id(a)
    del a
    try:
        gc.callbacks, gc.garbage = [], None
        r = compare_heap()
        assert calls == []
        assert ida in r.altgc_ids and ida in r.builtin_ids
        assert gc.garbage is None and real_garbage == []
    finally:
        gc.callbacks, gc.garbage = real_callbacks, real_garbage
        real_callbacks.remove(cb)
    assert altgc.collect() >= 1


def test_compare_heap_restores_automatic_collection():
    gc.enable()
    altgc.enable()
    try:
        compare_heap()
        assert gc.isenabled() and altgc.isenabled()
    finally:
        gc.disable()
        altgc.disable()


@pytest.mark.parametrize(
    "bad, exc",
    [(3, ValueError), (-1, ValueError), ("2", TypeError), (True, TypeError), (None, TypeError)],
)
def test_compare_heap_rejects_bad_generations(bad, exc):
    with pytest.raises(exc, match="generation"):
        compare_heap(bad)


def test_result_as_dict_and_helpers(frozen_rest):
    a = []
    b = [a]
    a.append(b)
    altgc.track(a)
    del a, b
    r = compare_heap()
    d = r.as_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["agree"] is False and d["explained"] is True
    assert r.only("altgc") == []
    assert len(r.only("builtin")) >= 2
    assert r.reasons()["unregistered"] >= 1
    assert set(r.reasons()) <= set(REASONS)
    with pytest.raises(ValueError, match="side"):
        r.only("neither")


_NOTHING_REGISTERED = (
    "altgc has nothing registered (neither altgc.track() nor altgc.install() "
    "was called), so the comparison is empty on altgc's side: call "
    "altgc.install() or altgc.track(obj) first"
)


def test_nothing_registered_says_the_comparison_is_empty(frozen_rest):
    r = compare_heap()
    assert r.registered == 0 and r.altgc_ids == frozenset()
    assert r.note == _NOTHING_REGISTERED
    lines = str(r).splitlines()
    verdict = "AGREE" if r.agree else "DIFFER"
    assert lines[0].startswith(f"compare_heap(generation=2): {verdict}"), lines
    assert lines[0].endswith(" -- altgc examined no containers"), lines
    assert lines[1] == _NOTHING_REGISTERED
    assert _NOTHING_REGISTERED in repr(r)
    assert r.as_dict()["note"] == _NOTHING_REGISTERED
    # the verdict and the data stay what they were
    assert r.agree == (r.builtin_ids == frozenset())
    assert all(d.side == "builtin" for d in r.differences)


def test_nothing_registered_in_a_fresh_interpreter():
    out = run_python("import altgc; print(altgc.compare_heap())").stdout
    lines = out.splitlines()
    # The verdict is the builtin gc's start-up garbage's (3.15 leaves some
    # cycles, each explained as unregistered); the headline says why.
    head, verdict = lines[0].split(": ", 1)
    assert head == "compare_heap(generation=2)"
    assert verdict.startswith(("AGREE", "DIFFER (every difference explained)"))
    assert verdict.endswith(" -- altgc examined no containers")
    assert lines[1] == _NOTHING_REGISTERED
    assert lines[3].split()[:3] == ["containers", "examined", "0"]


def test_registered_but_not_examined_says_where_they_are(frozen_rest):
    a = []
    b = [a]
    altgc.track(a)
    altgc.track(b)
    altgc.collect(0)  # a and b (held by the names) move to generation 1
    r = compare_heap(0)
    assert r.registered == 0
    assert r.note == (
        "altgc examined none of its 2 registered containers: 2 are in generations "
        "older than 0 (compare_heap(2) examines all generations)"
    )
    assert r.note in str(r) and "examined no containers" in str(r).splitlines()[0]
    altgc.freeze()
    r = compare_heap()
    assert r.note == (
        "altgc examined none of its 2 registered containers: 2 are frozen "
        "(altgc.unfreeze() returns them)"
    )
    altgc.unfreeze()
    r = compare_heap()
    assert r.registered == 2 and r.note == ""
    assert "examined no containers" not in str(r)
    assert r.as_dict()["note"] == ""
    del a, b


def test_compare_module_docstrings_run():
    out = run_python(
        "import doctest, gc, altgc.compare, altgc._program_comparison.runner\n"
        "gc.disable()\n"
        "a = doctest.testmod(altgc.compare)\n"
        "b = doctest.testmod(altgc._program_comparison.runner)\n"
        "print(a.failed + b.failed, a.attempted + b.attempted)\n"
    ).stdout.split()
    assert int(out[-2]) == 0
    assert int(out[-1]) >= 8


def test_builtin_gc_found_when_gc_is_replaced():
    run_python(
        "import sys, gc as real, altgc, altgc.compare as c\n"
        "sys.modules['gc'] = altgc\n"
        "b = c.builtin_gc()\n"
        "assert b is not altgc and b.__name__ == 'gc'\n"
        "real.enable(); b.disable(); assert not real.isenabled()\n"
        "b.enable(); assert real.isenabled()\n"
    )


# ---------------------------------------------------------------------------
# python -m altgc compare: the harness (builtin side needs no install mode)
# ---------------------------------------------------------------------------


def assert_counts_match_own_stats(run):
    """The recorded collections are exactly those the collector counted."""
    assert run.recorded
    delta = run.own_stats_delta()
    assert len(delta) == 3
    for g in range(3):
        ev = [e for e in run.events if e["generation"] == g]
        assert len(ev) == delta[g]["collections"], (g, run.collector)
        assert sum(e["collected"] for e in ev) == delta[g]["collected"]
        assert sum(e["uncollectable"] for e in ev) == delta[g]["uncollectable"]
    for e in run.events:
        assert e["pause_ns"] >= 0 and 0 <= e["t_ns"] <= run.script_ns + 10**9


@pytest.mark.parametrize(
    "name, expect",
    [
        ("acyclic_churn", "rows 200000 checksum"),
        ("cyclic_garbage", "probes freed 3000 of 3000"),
        ("finalizers_weakrefs", "finalizers 10000 distinct 10000"),
    ],
)
def test_builtin_run_records_every_collection(name, expect):
    run = cli.run_once("builtin", program(name), [])
    assert run.status == 0, run.stderr
    assert expect in run.stdout
    assert_counts_match_own_stats(run)
    assert run.peak_rss_kb > 1000
    assert run.wall_ns > run.script_ns > 0
    if name != "acyclic_churn":
        assert sum(e["collected"] for e in run.events) > 0
        assert any(e["explicit"] for e in run.events)
        assert [c["func"] for c in run.gc_calls] == ["collect"]


def test_builtin_run_of_a_failing_script():
    run = cli.run_once("builtin", program("raises"), [])
    assert run.status == 1
    assert run.recorded
    assert run.stdout == "before the error\n"
    assert run.stderr.startswith("Traceback (most recent call last):")
    assert "ValueError: this script fails on purpose" in run.stderr
    assert "_compare_child" not in run.stderr and "runpy" not in run.stderr
    assert run.error == "ValueError: this script fails on purpose"


def test_builtin_run_records_gc_disable():
    run = cli.run_once("builtin", program("disables_gc"), [])
    assert run.status == 0
    assert [c["func"] for c in run.gc_calls] == ["disable"]
    assert run.gc_calls[0]["where"] == "disables_gc.py:6"  # the gc.disable() line
    assert run.enabled_at_exit is False


def test_builtin_run_sees_argv_exit_code_and_threshold(tmp_path):
    script = tmp_path / "argv.py"
    script.write_text(
        "import sys, gc, os\n"
        "print(sys.argv, __name__, gc.get_threshold())\n"
        "print(os.path.dirname(sys.path[0]) == os.path.dirname("
        "os.path.abspath(__file__)) or sys.path[0])\n"
        "sys.exit(3)\n"
    )
    run = cli.run_once("builtin", str(script), ["a", "--b"], threshold=[123, 4, 5])
    assert run.status == 3
    lines = run.stdout.splitlines()
    assert lines[0] == "[%r, 'a', '--b'] __main__ (123, 4, 5)" % str(script)
    assert run.threshold == [123, 4, 5]


def test_run_killed_by_os_exit_is_reported_without_a_record(tmp_path):
    script = tmp_path / "osexit.py"
    script.write_text("import os\nprint('bye', flush=True)\nos._exit(4)\n")
    run = cli.run_once("builtin", str(script), [])
    assert run.status == 4 and not run.recorded
    assert run.stdout == "bye\n"


@pytest.mark.parametrize(
    "text, expect", [("700,10,10", [700, 10, 10]), ("5", [5]), (" 1, 2 ", [1, 2])]
)
def test_parse_threshold(text, expect):
    assert cli.parse_threshold(text) == expect


@pytest.mark.parametrize("text", ["", "a", "1,2,3,4", "-1", "1,,2"])
def test_parse_threshold_rejects(text):
    with pytest.raises(ValueError, match="threshold"):
        cli.parse_threshold(text)


def test_cli_nonexistent_script_exits_2_with_one_line():
    proc = run_cli("compare", "no/such/script.py")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert lines == ["python -m altgc compare: error: no such script: no/such/script.py"]


def test_cli_bad_threshold_exits_2():
    proc = run_cli("compare", "--threshold", "7,x", program("raises"))
    assert proc.returncode == 2
    assert "threshold must be" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_bad_repeat_exits_2():
    proc = run_cli("compare", "--repeat", "0", program("raises"))
    assert proc.returncode == 2
    assert "--repeat must be at least 1" in proc.stderr


def test_cli_png_without_matplotlib_says_how_to_get_it(tmp_path):
    block = tmp_path / "block"
    block.mkdir()
    (block / "matplotlib.py").write_text("raise ImportError('blocked')\n")
    proc = run_cli(
        "compare",
        "--png",
        str(tmp_path / "t.png"),
        program("raises"),
        env_extra={"PYTHONPATH": str(block) + os.pathsep + PKG_PARENT},
        # not the package's directory: matplotlib may be installed beside it
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "needs matplotlib" in proc.stderr
    assert "altgc[plot]" in proc.stderr


@needs_install
def test_compare_heap_in_install_mode_agrees():
    # Installed, altgc adopts every container and parks it in the builtin
    # gc's permanent generation; compare_heap lets the builtin gc see it
    # again, so both look at the same heap -- and agree on it.
    out = run_python(
        "import gc, sys, altgc\n"
        "class Node: pass\n"
        "altgc.install(adopt=True)\n"
        "altgc.disable()\n"
        "ids = set()\n"
        "for i in range(200):\n"
        "    a = Node(); b = [a, {'i': i}]; a.b = b\n"
        "    ids |= {id(a), id(b)}\n"
        "del a, b\n"
        "r = altgc.compare_heap()\n"
        "print(r)\n"
        "assert ids <= r.altgc_ids and ids <= r.builtin_ids, r\n"
        "assert r.explained, r\n"
        "assert not [d for d in r.differences if d.id in ids], r\n"
        "assert altgc._install._BUILTIN['get_freeze_count']() > 0   # parked again (builtin)\n"
        "assert gc.garbage is altgc.garbage == []   # the builtin's own list was used\n"
        "assert altgc.is_installed()\n"
        "assert altgc.collect() >= 400\n"
        "print('AGREE' if r.agree else sorted(r.reasons().items()))\n"
    ).stdout
    assert "compare_heap(generation=2)" in out


# ---------------------------------------------------------------------------
# python -m altgc compare: both sides (install mode)
# ---------------------------------------------------------------------------


@needs_install
@pytest.mark.parametrize("name", ["acyclic_churn", "cyclic_garbage", "finalizers_weakrefs"])
def test_compare_programs(name, tmp_path):
    out = tmp_path / "out.json"
    proc = run_cli("compare", "-q", "--json", str(out), program(name))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = cli.CompareReport.from_json(out.read_text())
    # JSON round-trips
    assert cli.CompareReport.from_json(report.to_json()) == report
    assert json.loads(report.to_json()) == json.loads(out.read_text())
    # outputs match, exit statuses too
    assert report.outputs_match() == {"stdout": True, "stderr": True, "status": True}
    for side in cli.SIDES:
        (run,) = report.runs[side]
        assert run.collector == side and run.status == 0
        assert_counts_match_own_stats(run)
    # the table shows the recorded counts
    table = proc.stdout
    assert table == cli.format_table(report) + "\n"
    row = next(line for line in table.splitlines() if line.startswith("collections gen 0 / 1 / 2"))
    for side in cli.SIDES:
        s = cli.summarize(report.runs[side])
        assert " / ".join(map(str, s["collections"])) in row
        assert s["collections"] == [
            d["collections"] for d in report.runs[side][0].own_stats_delta()
        ]
    row = next(
        line for line in table.splitlines() if line.startswith("same stdout / stderr / status")
    )
    assert row.split()[-10:] == ["yes", "/", "yes", "/", "yes", "yes", "/", "yes", "/", "yes"]
    if name != "acyclic_churn":
        for side in cli.SIDES:
            assert cli.summarize(report.runs[side])["collected"] > 0
    # install mode's work outside the pauses: recorded for altgc only, and
    # every container altgc collected was adopted first (each program
    # makes its garbage after install(), so the heap adopted at install
    # holds none of it)
    assert report.runs["builtin"][0].install is None
    inst = report.runs["altgc"][0].install
    assert set(inst) == {"adopted", "adoptions", "adopt_ns", "polls", "poll_ns"}
    assert min(inst.values()) >= 0
    alt = cli.summarize(report.runs["altgc"])
    if sum(alt["collections"]):  # each collection adopts first
        assert inst["adoptions"] > 0 and inst["adopt_ns"] > 0
    assert inst["adopted"] >= alt["collected"]
    row = next(line for line in table.splitlines() if line.startswith("adoption + polls"))
    assert row[len("adoption + polls (outside pauses)") :].split()[0] == "-"
    assert row.endswith(f"({inst['adopted']:,} adopted)")


@needs_install
def test_compare_script_that_raises_reports_both_runs(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("compare", "-q", "--json", str(out), program("raises"))
    assert proc.returncode == 0, proc.stderr  # both sides failed alike
    report = cli.CompareReport.from_json(out.read_text())
    assert [r.status for s in cli.SIDES for r in report.runs[s]] == [1, 1]
    notes = "\n".join(report.notes())
    assert "builtin gc: exit status 1: ValueError" in notes
    assert "altgc: exit status 1: ValueError" in notes
    assert "exit status" in proc.stdout


@needs_install
def test_compare_reports_gc_disable():
    proc = run_cli("compare", "-q", program("disables_gc"))
    assert proc.returncode == 0, proc.stderr
    assert "builtin gc: the script called gc.disable()" in proc.stdout
    assert "altgc: the script called gc.disable()" in proc.stdout
    assert "automatic collection was OFF when the script ended" in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if line.startswith("gc.disable() calls"))
    assert row.split()[-2:] == ["1", "1"]


@needs_install
def test_compare_repeat_and_thresholds(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli(
        "compare",
        "-q",
        "--repeat",
        "2",
        "--builtin-threshold",
        "300,5,5",
        "--altgc-threshold",
        "900",
        "--json",
        str(out),
        program("cyclic_garbage"),
        "3000",
    )
    assert proc.returncode == 0, proc.stderr
    report = cli.CompareReport.from_json(out.read_text())
    assert report.repeat == 2 and len(report.runs["altgc"]) == 2
    assert report.runs["builtin"][0].threshold == [300, 5, 5]
    assert report.runs["altgc"][0].threshold[0] == 900
    assert "2 runs each, medians" in proc.stdout
    assert "rounds 3000" in report.runs["altgc"][1].stdout


# ---------------------------------------------------------------------------
# python -m altgc bench
# ---------------------------------------------------------------------------


def test_bench_without_benchmarks_dir_says_so(tmp_path):
    proc = run_cli("bench", "--benchmarks", str(tmp_path))
    assert proc.returncode == 2
    assert "no benchmarks at" in proc.stderr
    assert "source checkout" in proc.stderr


def test_bench_unknown_workload():
    bench = os.path.join(os.path.dirname(HERE), "benchmarks")
    if not os.path.isdir(bench):
        pytest.skip("no benchmarks/ next to tests/")
    proc = run_cli("bench", "--benchmarks", bench, "--only", "nope")
    assert proc.returncode == 2
    assert "unknown workload" in proc.stderr


def test_bench_programs_says_how_to_get_pyperformance():
    import importlib.util

    if importlib.util.find_spec("pyperformance") is not None:
        pytest.skip("pyperformance is installed here")
    proc = run_cli("bench", "--programs")
    assert proc.returncode == 2
    assert "pip install pyperformance pyperf" in proc.stderr


@pytest.mark.slow
def test_bench_quick_runs_with_progress():
    bench = os.path.join(os.path.dirname(HERE), "benchmarks")
    if not os.path.isdir(bench):
        pytest.skip("no benchmarks/ next to tests/")
    proc = run_cli(
        "bench", "--benchmarks", bench, "--quick", "--repeat", "1", "--only", "bench_registry"
    )
    assert proc.returncode == 0, proc.stderr
    assert "running bench_registry" in proc.stderr
    assert "[1/1] bench_registry done in" in proc.stderr
    assert "| benchmark | case |" in proc.stdout
