"""What a trace costs in memory, per traced object (tracemalloc).

A trace of 10^5 objects held about 410 MB: per phase and per object a
step dict built eagerly, a dict per object from the C core, and a tuple
per object and phase.  The core's record is now compact (bytes columns,
an int32 array of the edges) and the steps are built when asked for.

The bounds are loose (the figures vary with the version and the reprs):
before the fix a look-only trace of 10^4 objects in cycles peaked at
~3,900 bytes per object and kept ~2,600; a collecting one ~5,900 and
~4,200.  After it: ~850 / ~490 and ~1,050 / ~530 (3.12).
"""

import tracemalloc

import pytest
from support import run_python, untrack_everything

import altgc

N = 10_000


def make_cycles(n):
    """n registered lists in 2-cycles; the first half held (returned)."""
    objs = []
    for _ in range(n // 2):
        a = []
        b = [a]
        a.append(b)
        objs += (a, b)
    for o in objs:
        altgc.track(o)
    return objs[: n // 2]


def measure(collect):
    """(peak, kept) bytes per traced object of a trace, and the trace."""
    untrack_everything()
    altgc.trace([], collect=collect)  # imports, caches
    untrack_everything()
    keep = make_cycles(N)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        t = altgc.trace(generation=2, limit=10 * N, collect=collect)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    n = len(t.objects)
    assert n == N
    assert len(t.unreachable) == N // 2
    del keep
    return (peak - base) / n, (kept - base) / n, t


@pytest.mark.parametrize(
    ("collect", "peak_max", "kept_max"), [(False, 2000, 1300), (True, 2800, 1700)]
)
def test_bytes_per_traced_object(collect, peak_max, kept_max):
    peak, kept, t = measure(collect)
    assert peak < peak_max, f"{peak:.0f} bytes per object at the peak"
    assert kept < kept_max, f"{kept:.0f} bytes per object kept by the trace"
    if collect:
        assert sum(o.freed for o in t.objects) == N // 2


def test_steps_are_built_when_asked_and_not_kept():
    untrack_everything()
    keep = make_cycles(2000)
    t = altgc.trace(generation=2, limit=10**5)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        steps = t.steps
        built = tracemalloc.get_traced_memory()[0] - base
        # every object once per phase, and each edge (a decref per
        # reference, a move per object found reachable through another)
        assert sum(s["kind"] == "object" for s in steps) == 2000 * len(t.phases)
        assert sum(s["kind"] == "decref" for s in steps) == 2000
        assert t.steps == steps
        del steps
        left = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert built > 2000 * len(t.phases) * 100  # a dict per step, made here
    assert left < built / 5  # and not kept by the trace (free lists keep some)
    assert t.as_dict()["steps"] == t.steps
    del keep


def test_a_collecting_trace_leaves_no_watch_table():
    # A collecting trace watches every young object (to tell an untrack()
    # from a death); the watch table kept its arrays at that size (about
    # 90 bytes per traced object) after the last watch went.
    out = run_python("""
        import altgc
        from altgc import _core
        objs = [[] for _ in range(20_000)]
        for o in objs:
            altgc.track(o)
        t = altgc.trace(generation=2, limit=10**5, collect=True)
        assert len(t.objects) == 20_000, len(t.objects)
        print(_core._watch_table())
        tok = _core._watch_add(objs[0])
        print(_core._watch_table())
        _core._watch_discard(tok)
        print(_core._watch_table())
    """).stdout.split("\n")
    assert out[:3] == ["(0, 0, 0)", "(1, 16, 16)", "(0, 0, 0)"]
