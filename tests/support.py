"""Helpers shared by the test modules (conftest.py holds the fixtures only).

Imported as ``from support import ...``, the way conftest.py itself is
imported: tests/ has no __init__.py, so with either import mode pytest puts
this directory on sys.path (prepended by default, appended with
``--import-mode=append``) before it imports conftest.py and the test
modules.  That holds for tox (``pytest --import-mode=append``),
tools/refleak.py (``pytest.main``) and tools/sanitize.sh / tools/valgrind.sh
(``python -m pytest``) alike.

* registration and differential checks against the builtin gc:
  register_closure, new_objects_predicate, registered_ids, registry_size,
  altgc_unreachable, builtin_unreachable, check_against_builtin,
  track_with_dict, untrack_everything;
* strongly connected components computed in Python: scc_partition, sccs,
  find_groups_ids;
* child processes: subprocess_env, run_python, run_cli, run_alone
  (with other_threads_alive);
* small scenario pieces: Inst, L, Node, cycle;
* capture_unraisable, leak_check; DEBUG_BUILD, HAS_TOTALREFCOUNT, PY.
"""

import contextlib
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import types
import weakref

import altgc
from altgc import _core

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
        return (
            id(r) not in snapshot_ids
            and gc.is_tracked(r)
            and not isinstance(r, (types.ModuleType, types.FrameType))
        )

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
    return scc_partition(by_id, lambda i: [id(r) for r in gc.get_referents(by_id[i])])


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
# Scenario pieces
# ---------------------------------------------------------------------------


class Inst:
    """A plain instance (its __dict__ is a separate object before 3.11)."""


class L(list):
    """A list subclass: not the exact type of list's free list."""


class Node:
    pass


def cycle():
    """Two Nodes in a cycle, unreachable once returned; a weakref to one.
    (tests/test_install.py runs this very source in its child interpreters.)"""
    a, b = Node(), Node()
    a.b, b.a = b, a
    return weakref.ref(a)


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


# The altgc under test (installed wheel, or an in-place build), not
# necessarily the source tree, which has no compiled _core in a clone.
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(altgc.__file__)))


def subprocess_env(extra=None):
    """os.environ for a child interpreter that imports the altgc under test:
    PKG_PARENT first on PYTHONPATH, then `extra` (a dict) applied."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def run_python(code, timeout=180, check=True):
    """Run code in a fresh interpreter (this one) with the project importable.
    Returns the CompletedProcess; with check, asserts exit status 0."""
    env = subprocess_env()
    env.pop("PYTHONDEVMODE", None)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PKG_PARENT,
        env=env,
    )
    if check:
        assert proc.returncode == 0, "subprocess failed with %r\nstdout:\n%s\nstderr:\n%s" % (
            proc.returncode,
            proc.stdout[-3000:],
            proc.stderr[-3000:],
        )
    return proc


def other_threads_alive():
    """True when this interpreter runs threads besides the calling one (a
    pytest-xdist worker has execnet's I/O thread)."""
    return len(sys._current_frames()) != 1


def run_alone(request, timeout=600):
    """Runs the calling test (``request.node``) again, by itself, in a child
    pytest without pytest-xdist, and asserts that it passed: for a test of
    what altgc does only while one thread is alive, when this process has
    others.  The child imports the altgc under test (subprocess_env) and
    uses this run's import mode; -P keeps the working directory off
    sys.path."""
    proc = subprocess.run(
        [
            sys.executable,
            "-P",
            "-m",
            "pytest",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--import-mode={request.config.option.importmode}",
            request.node.nodeid,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(request.config.rootpath),
        env=subprocess_env(),
    )
    assert proc.returncode == 0 and re.search(r"^1 passed\b", proc.stdout, re.M), (
        f"{request.node.nodeid} run alone: exit {proc.returncode}\n"
        f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


def run_cli(*args, env_extra=None, timeout=600, cwd=PKG_PARENT):
    """``python -m altgc ARGS`` in a child interpreter (the altgc under
    test), run in `cwd` (by default the directory holding that altgc, which
    ``-c`` puts first on sys.path); returns the CompletedProcess, whatever
    its exit status."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, runpy; sys.argv = ['altgc'] + sys.argv[1:];"
            "runpy.run_module('altgc', run_name='__main__')",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=subprocess_env(env_extra),
    )


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
    assert found == builtin, "altgc found %d, builtin gc %d; only altgc: %r; only builtin: %r" % (
        len(found),
        len(builtin),
        [type(o).__name__ for o in objs if id(o) in found - builtin],
        [type(o).__name__ for o in objs if id(o) in builtin - found],
    )
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


# -- headless Chromium (the pictures and pages, as a person sees them) ------


def chromium():
    """Chromium's path; skips the test without it (fails instead under
    ALTGC_REQUIRE_CHROMIUM=1, as the tox report env sets)."""
    import pytest

    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    msg = "no chromium on PATH (Debian: apt-get install -y chromium)"
    if os.environ.get("ALTGC_REQUIRE_CHROMIUM") == "1":
        pytest.fail(msg + " and ALTGC_REQUIRE_CHROMIUM=1")
    pytest.skip(msg)


def run_chromium(page, *flags):
    """Load the HTML text ``page`` in headless Chromium with the extra
    command-line ``flags`` (``--dump-dom``, ``--screenshot=PATH``, ...);
    the finished process (stdout: the DOM when dumped; stderr: the console
    lines, with ``:CONSOLE``), its exit status checked."""
    exe = chromium()
    # Chromium is not ours to sanitize: under tools/sanitize.sh the ASan
    # runtime is LD_PRELOADed into every child, which breaks it.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "PYTHONMALLOC")
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "page.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(page)
        proc = subprocess.run(
            [
                exe,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--user-data-dir=" + os.path.join(tmp, "p"),
                "--enable-logging=stderr",
                "--v=0",
                *flags,
                "file://" + path,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc
