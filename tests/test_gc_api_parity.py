"""The gc-module-compatible API against the builtin gc of this interpreter.

Each test here checks a behaviour where altgc (or the builtin gc module
while altgc is installed) differed from the builtin gc without saying so:

* integer arguments are read as the builtin gc reads them: any object with
  ``__index__`` (a numpy integer) is an int, a float or a str is not;
* the builtin ``gc.collect``/``freeze``/``unfreeze`` that a module bound
  while altgc was installed act on the builtin gc again after
  ``uninstall()``;
* with ``DEBUG_STATS`` taken over from the builtin gc, a collection is
  reported once, not twice;
* ``install()`` with a negative builtin threshold says so;
* ``uninstall()`` finds its own hook among the builtin gc's callbacks by
  identity: a user's callback whose ``__eq__`` matches anything or raises is
  neither removed nor able to stop the hand-back.

Install mode changes the whole process: those scenarios run in a fresh
interpreter (``run_python``).
"""

import gc

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import run_python

import altgc


class Index:
    """An integer that is not an int: what numpy's integers look like to
    the gc functions."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


class BadIndex:
    def __index__(self):
        raise ZeroDivisionError("no index")


# ---------------------------------------------------------------------------
# Integer arguments: __index__ as the builtin gc
# ---------------------------------------------------------------------------


@given(gen=st.integers(0, 2))
def test_collect_takes_index_integers(gen):
    assert gc.collect(Index(gen)) >= 0  # the builtin gc takes it
    a = []
    a.append(a)
    altgc.track(a)
    del a
    assert altgc.collect(Index(gen)) == 1
    assert altgc.collect(generation=Index(gen)) == 0


@given(gen=st.integers(0, 2))
def test_get_objects_and_find_unreachable_take_index_integers(gen):
    x = []
    altgc.track(x)
    assert isinstance(gc.get_objects(Index(gen)), list)
    assert any(o is x for o in altgc.get_objects(Index(0)))
    assert altgc.get_objects(Index(gen)) == altgc.get_objects(gen)
    assert altgc.find_unreachable(Index(gen)) == []
    assert altgc.untrack(x)


@given(flags=st.sampled_from([0, gc.DEBUG_STATS, gc.DEBUG_SAVEALL, gc.DEBUG_LEAK, 1 << 20]))
def test_set_debug_takes_index_integers(flags):
    before = gc.get_debug()
    try:
        gc.set_debug(Index(flags))  # the builtin gc takes it
        assert gc.get_debug() == flags
    finally:
        gc.set_debug(before)
    try:
        altgc.set_debug(Index(flags))
        assert altgc.get_debug() == flags
    finally:
        altgc.set_debug(0)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: altgc.collect(v),
        lambda v: altgc.get_objects(v),
        lambda v: altgc.find_unreachable(v),
    ],
)
# Fixed values, not @given: under tools/refleak.py -R 3:3 Hypothesis's own
# state for these unbounded integers grew 13 refs per repetition (the calls
# themselves leak nothing: checked with sys.gettotalrefcount).
@pytest.mark.parametrize("gen", [-1, -(2**70), 3, 4, 2**31, 2**70])
def test_index_generation_out_of_range_is_a_value_error(call, gen):
    with pytest.raises(ValueError, match=r"argument 'generation' must be 0, 1 or 2, not -?\d+"):
        call(Index(gen))


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (altgc.collect, "generation"),
        (altgc.get_objects, "generation"),
        (altgc.find_unreachable, "generation"),
        (altgc.set_debug, "flags"),
    ],
)
def test_index_errors_propagate_and_non_integers_stay_type_errors(call, arg):
    with pytest.raises(ZeroDivisionError, match="no index"):
        call(BadIndex())
    for value in (1.0, "1", b"1", [1]):
        with pytest.raises(TypeError):
            gc.set_debug(value)  # as the builtin gc
        with pytest.raises(
            TypeError, match=f"argument '{arg}' must be int, not {type(value).__name__}"
        ):
            call(value)
    assert altgc.get_debug() == 0


def test_set_debug_huge_index_is_an_overflow_error_naming_flags():
    with pytest.raises(OverflowError):
        gc.set_debug(Index(2**70))
    for value in (2**70, Index(2**70), -(2**70), 2**40):
        with pytest.raises(OverflowError, match="set_debug\\(\\) argument 'flags'"):
            altgc.set_debug(value)
    assert altgc.get_debug() == 0


def test_builtin_collect_takes_index_integers_while_installed():
    out = run_python("""
        import gc
        import altgc

        class Index:
            def __index__(self):
                return 0

        assert gc.collect(Index()) >= 0
        assert altgc.install()
        try:
            # the builtin module's collect is altgc's while installed
            assert gc.collect(Index()) >= 0
            assert gc.collect(generation=Index()) >= 0
        finally:
            altgc.uninstall()
        print("ok")
    """).stdout
    assert out.strip() == "ok"


# ---------------------------------------------------------------------------
# The builtin gc's functions bound while installed, called after uninstall
# ---------------------------------------------------------------------------


def test_collect_bound_while_installed_is_the_builtin_one_after_uninstall():
    out = run_python("""
        import gc, weakref
        import altgc

        class Node:
            pass

        assert altgc.install()
        from gc import collect   # a module imported while installed
        altgc.uninstall()
        gc.disable()
        a = Node(); a.self = a; w = weakref.ref(a); del a
        assert not altgc.is_tracked(w())
        n = collect()
        assert w() is None, "the builtin gc's cycle was not collected"
        assert n >= 1, n
        assert collect(generation=0) == 0
        with __import__("pytest").raises(ValueError):
            collect(3)
        print("ok")
    """).stdout
    assert out.strip() == "ok"


def test_freeze_bound_while_installed_is_the_builtin_one_after_uninstall():
    out = run_python("""
        import gc
        import altgc

        assert altgc.install()
        from gc import freeze, get_freeze_count, unfreeze  # imported while installed
        altgc.uninstall()
        gc.unfreeze()
        assert gc.get_freeze_count() == 0
        x = []
        freeze()
        assert gc.get_freeze_count() > 0, "the builtin gc froze nothing"
        assert get_freeze_count() == gc.get_freeze_count(), "altgc's count read"
        assert altgc.get_freeze_count() == 0
        unfreeze()
        assert gc.get_freeze_count() == 0, "the builtin gc did not unfreeze"
        # installed again: altgc's again
        assert altgc.install()
        try:
            altgc.track(x)
            freeze()
            assert altgc.get_freeze_count() >= 1
            unfreeze()
            assert altgc.get_freeze_count() == 0
        finally:
            altgc.uninstall()
        print("ok")
    """).stdout
    assert out.strip() == "ok"


# ---------------------------------------------------------------------------
# Debug flags taken over from the builtin gc
# ---------------------------------------------------------------------------


def test_debug_stats_taken_over_reports_each_collection_once():
    proc = run_python("""
        import gc
        import altgc

        gc.set_debug(gc.DEBUG_STATS)
        assert altgc.install()
        assert altgc.get_debug() == gc.DEBUG_STATS
        gc.collect()
        altgc.collect(2)
        altgc.uninstall()
        assert gc.get_debug() == gc.DEBUG_STATS   # restored
        gc.set_debug(0)
        print("ok")
    """)
    assert proc.stdout.strip() == "ok"
    lines = proc.stderr.splitlines()
    starts = [line for line in lines if line.startswith("gc: collecting generation")]
    dones = [line for line in lines if line.startswith("gc: done,")]
    assert starts == ["gc: collecting generation 2..."] * 2, proc.stderr
    assert len(dones) == 2, proc.stderr


# ---------------------------------------------------------------------------
# install() / uninstall() and the builtin gc's state
# ---------------------------------------------------------------------------


def test_install_with_a_negative_builtin_threshold_says_so():
    out = run_python("""
        import gc
        import altgc
        import pytest

        before = altgc.get_threshold()
        for t in ((-1, 10, 10), (700, -5, 10), (700, 10, -1)):
            gc.set_threshold(*t)
            with pytest.raises(ValueError, match=r"builtin gc's thresholds .* negative"):
                altgc.install()
            assert not altgc.is_installed()
            assert gc.get_threshold() == t and gc.isenabled()
            assert altgc.get_threshold() == before
        gc.set_threshold(700, 10, 10)
        assert altgc.install() and altgc.uninstall()
        print("ok")
    """).stdout
    assert out.strip() == "ok"


def test_uninstall_removes_its_hook_by_identity():
    out = run_python("""
        import gc
        import altgc

        class MatchesAll:
            def __call__(self, phase, info):
                pass
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__

        class RaisesOnEq:
            def __call__(self, phase, info):
                pass
            def __eq__(self, other):
                raise TypeError("no ==")
            __hash__ = object.__hash__

        mine = MatchesAll()
        gc.callbacks.append(mine)
        threshold = gc.get_threshold()
        assert altgc.install()
        assert altgc.uninstall()
        assert [c for c in gc.callbacks if c is mine] == [mine], gc.callbacks
        assert len(gc.callbacks) == 1, gc.callbacks    # the hook went
        gc.callbacks.clear()

        bad = RaisesOnEq()
        gc.callbacks.append(bad)
        assert altgc.install()
        assert altgc.uninstall()                  # no TypeError half-way
        assert gc.isenabled() and gc.get_threshold() == threshold
        assert gc.collect is altgc._install._BUILTIN["collect"]
        assert len(gc.callbacks) == 1 and gc.callbacks[0] is bad
        print("ok")
    """).stdout
    assert out.strip() == "ok"


@pytest.mark.parametrize("rebound", ["None", "()", "[]"])
def test_install_with_the_builtin_callbacks_rebound(rebound):
    out = run_python(f"""
        import gc, sys, weakref
        import altgc
        from gc import collect   # bound before install: reaches altgc through the hook

        class Node:
            pass

        real = gc.callbacks
        gc.callbacks = {rebound}
        assert altgc.install() is True
        # (the builtin gc stays enabled, its trigger starting altgc's
        # collections)
        assert altgc.is_installed()
        assert altgc._install.builtin_api.isenabled()
        assert gc.collect is not altgc._install.builtin_api.collect   # routed
        a = Node(); a.self = a; w = weakref.ref(a); del a
        assert altgc.is_tracked(w())
        collect()                # the builtin gc's "start" callback: altgc collects
        assert w() is None
        assert altgc.uninstall() is True
        assert not altgc.is_installed() and gc.isenabled()
        assert gc.callbacks == {rebound}
        gc.callbacks = real
        print("ok")
    """).stdout
    assert out.strip() == "ok"
