"""Shared fixtures and helpers for the altgc test suite.

Every test runs with:
  * the builtin gc collected, then disabled (so it cannot free anything the
    test is looking at), restored afterwards;
  * altgc's automatic collection disabled (tests that need it call
    altgc.enable()), debug flags 0;
and afterwards the altgc state is restored, everything the test registered is
untracked (frozen objects included), and entries the test added to
altgc.garbage / altgc.callbacks are removed, so tests are isolated.
"""

import contextlib
import gc
import os
import subprocess
import sys
import textwrap
import types

import pytest

import altgc
from altgc import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEBUG_BUILD = bool(_core._debug_build())
HAS_TOTALREFCOUNT = hasattr(sys, "gettotalrefcount")
PY = sys.version_info[:2]


# ---------------------------------------------------------------------------
# State isolation
# ---------------------------------------------------------------------------

def untrack_everything():
    """Unfreeze, then untrack every registered object."""
    altgc.unfreeze()
    objs = altgc.get_objects()
    for o in objs:
        altgc.untrack(o)
    del objs


@pytest.fixture(autouse=True)
def altgc_isolation():
    gc_enabled = gc.isenabled()
    gc_debug = gc.get_debug()
    gc.collect()
    gc.disable()

    enabled = altgc.isenabled()
    threshold = altgc.get_threshold()
    debug = altgc.get_debug()
    callbacks_before = list(altgc.callbacks)
    garbage_before = list(altgc.garbage)
    altgc.disable()
    altgc.set_debug(0)
    untrack_everything()
    try:
        yield
    finally:
        # No test callback may run during the cleanup.
        altgc.callbacks[:] = callbacks_before
        altgc.set_debug(0)
        altgc.disable()
        try:
            if DEBUG_BUILD:
                _core._validate()
        finally:
            untrack_everything()
            altgc.garbage[:] = garbage_before
            altgc.set_threshold(*threshold)
            altgc.set_debug(debug)
            if enabled:
                altgc.enable()
            else:
                altgc.disable()
            gc.set_debug(gc_debug)
            gc.collect()
            if gc_enabled:
                gc.enable()
            if DEBUG_BUILD:
                _core._validate()


# ---------------------------------------------------------------------------
# Registration helpers
# ---------------------------------------------------------------------------

def register_closure(seeds, allowed):
    """Register every seed and every object reachable from the seeds through
    gc.get_referents() for which allowed(obj) is true, as long as
    gc.is_tracked(obj) (objects the builtin gc does not track cannot be in
    its garbage).  Returns the number of objects registered."""
    seen = set()
    stack = []
    for s in seeds:
        if id(s) not in seen:
            seen.add(id(s))
            stack.append(s)
    n = 0
    while stack:
        o = stack.pop()
        if gc.is_tracked(o):
            altgc.track(o)
            n += 1
        for r in gc.get_referents(o):
            if id(r) not in seen and allowed(r):
                seen.add(id(r))
                stack.append(r)
    return n


def new_objects_predicate(snapshot_ids):
    """allowed() for register_closure: gc-tracked objects created after the
    snapshot (gc.get_objects() taken earlier and kept alive so ids are not
    reused), excluding modules and frames (a frame's f_back leads into the
    test runner)."""
    def allowed(r):
        return (id(r) not in snapshot_ids and gc.is_tracked(r)
                and not isinstance(r, (types.ModuleType, types.FrameType)))
    return allowed


def registered_ids():
    objs = altgc.get_objects()
    ids = {id(o) for o in objs}
    del objs
    return ids


def altgc_unreachable():
    """find_unreachable() flattened to ids; checks that every object appears
    in exactly one group and that no group is empty."""
    groups = altgc.find_unreachable()
    assert isinstance(groups, list)
    ids = []
    for g in groups:
        assert isinstance(g, list)
        assert len(g) >= 1
        ids.extend(id(o) for o in g)
    del groups
    assert len(ids) == len(set(ids)), "an object appears in two groups"
    return set(ids)


def builtin_unreachable(universe_ids):
    """Run the builtin gc with DEBUG_SAVEALL; return (ids, objs) of the garbage
    that belongs to universe_ids.  gc.garbage is restored; the returned objs
    keep the found garbage alive (drop them to let it go)."""
    saved = gc.garbage[:]
    del gc.garbage[:]
    old = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
    finally:
        gc.set_debug(old)
    mine = [o for o in gc.garbage if id(o) in universe_ids]
    gc.garbage[:] = saved
    return {id(o) for o in mine}, mine


def scc_partition(nodes, successors):
    """Strongly connected components of a graph, as a set of frozensets of
    nodes: `nodes` hashable, `successors(v)` the nodes v points to (others
    are ignored).  Iterative Tarjan, independent of altgc's C version."""
    nodes = list(nodes)
    members = set(nodes)
    succ = {v: [w for w in successors(v) if w in members] for v in nodes}
    index, low, onstack, stack, comps = {}, {}, set(), [], set()
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        onstack.add(root)
        while work:
            v, i = work[-1]
            if i < len(succ[v]):
                work[-1] = (v, i + 1)
                w = succ[v][i]
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    onstack.add(w)
                    work.append((w, 0))
                elif w in onstack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        onstack.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    comps.add(frozenset(comp))
    return comps


def sccs(objs):
    """Strongly connected components (as sets of ids) of the subgraph induced
    by objs, edges from gc.get_referents."""
    by_id = {id(o): o for o in objs}
    return scc_partition(
        by_id, lambda i: [id(r) for r in gc.get_referents(by_id[i])])


def find_groups_ids():
    """find_unreachable() as a set of frozensets of ids, plus the expected
    SCC partition computed in Python from gc.get_referents."""
    groups = altgc.find_unreachable()
    got = {frozenset(id(o) for o in g) for g in groups}
    flat = [o for g in groups for o in g]
    expected = sccs(flat)
    del groups, flat
    return got, expected


# ---------------------------------------------------------------------------
# Misc helpers
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def capture_unraisable():
    """Collect (exc_type, str(exc_value)) of every unraisable exception."""
    caught = []
    old = sys.unraisablehook

    def hook(u):
        caught.append((u.exc_type, str(u.exc_value)))

    sys.unraisablehook = hook
    try:
        yield caught
    finally:
        sys.unraisablehook = old


def run_python(code, timeout=180, check=True):
    """Run code in a fresh interpreter (this one) with the project importable.
    Returns the CompletedProcess; with check, asserts exit status 0."""
    # The altgc under test (installed wheel, or an in-place build), not
    # necessarily the source tree, which has no compiled _core in a clone.
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(
        altgc.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONDEVMODE", None)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=pkg_parent, env=env)
    if check:
        assert proc.returncode == 0, (
            "subprocess failed with %r\nstdout:\n%s\nstderr:\n%s"
            % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def registry_size():
    return altgc.stats().registry_size


def leak_check(scenario, warmup=5, runs=10):
    """Refcount / memory-block growth caused by running scenario() 2*runs
    more times.  Measures the deltas over `runs` and over `3*runs` runs and
    returns their difference, so constant measuring overheads (the ints
    holding the readings, caches filled once) cancel out and a leak of k
    references per run shows as 2*runs*k.  Only meaningful on a debug
    interpreter (sys.gettotalrefcount)."""
    for _ in range(warmup):
        scenario()

    def measure(n):
        gc.collect()
        r0 = sys.gettotalrefcount()
        b0 = sys.getallocatedblocks()
        for _ in range(n):
            scenario()
        gc.collect()
        return sys.gettotalrefcount() - r0, sys.getallocatedblocks() - b0

    r1, b1 = measure(runs)
    r2, b2 = measure(3 * runs)
    return r2 - r1, b2 - b1


def track_with_dict(*objs):
    """Register each object and, when it exists as a separate object, its
    instance __dict__ (found through gc.get_referents, so nothing is
    materialized on 3.11+)."""
    for o in objs:
        altgc.track(o)
        for r in gc.get_referents(o):
            if type(r) is dict and gc.is_tracked(r):
                altgc.track(r)


def check_against_builtin(build, min_found=1, exact=None, exact_free=True):
    """Differential check of a scenario.

    build() -> (seeds, keep): creates the scenario's objects, returns seeds
    (registered together with every new gc-tracked object reachable from
    them, see register_closure) and keep (held during the check, like a test
    function's local).  The seeds list is dropped before the analysis.

    Phase 1: altgc.find_unreachable() must equal the builtin gc's garbage
    (DEBUG_SAVEALL) restricted to the registered objects.
    Phase 2: on a freshly built identical scenario, altgc.collect() must
    return the same number and free those objects.
    Returns that number."""
    snapshot = gc.get_objects()
    snap_ids = {id(o) for o in snapshot}
    allowed = new_objects_predicate(snap_ids)

    seeds, keep = build()
    register_closure(seeds, allowed)
    del seeds
    found = altgc_unreachable()
    universe = registered_ids()
    builtin, objs = builtin_unreachable(universe)
    assert found == builtin, (
        "altgc found %d, builtin gc %d; only altgc: %r; only builtin: %r"
        % (len(found), len(builtin),
           [type(o).__name__ for o in objs if id(o) in found - builtin],
           [type(o).__name__ for o in objs if id(o) in builtin - found]))
    n = len(found)
    assert n >= min_found
    if exact is not None:
        assert n == exact
    del objs, keep
    untrack_everything()
    gc.collect()

    seeds, keep = build()
    register_closure(seeds, allowed)
    del seeds
    assert len(altgc_unreachable()) == n
    size = registry_size()
    assert altgc.collect() == n
    if exact_free:
        assert registry_size() == size - n
    assert altgc.find_unreachable() == []
    del keep
    untrack_everything()
    del snapshot
    return n


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: 10**6-object scenarios run in a subprocess "
        "(deselect with -m 'not slow')")
