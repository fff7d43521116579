"""Where the memory went: ``top()`` (the named roots holding the most
retained memory), ``cells()`` (what each cell left alive) and the
measures behind them and behind auto-watch (``held.deep_size``,
``held.retained``), outside IPython.  The notebook side (``%altgc top``,
``%altgc cells``, auto-watch notices) is in test_notebook.py."""

import functools
import gc
import sys
import types
import weakref

import pytest

import altgc
from altgc._explain import held, leftovers
from altgc._explain.holders import Holder, Holders
from altgc._explain.notice import Notice


class Blob:
    """A weakly referenceable holder of ``n`` bytes."""

    def __init__(self, n):
        self.data = bytearray(n)


def run(code):
    exec(compile(code, "<release>", "exec"), {})


# -- top() ---------------------------------------------------------------------


def test_top_ranks_by_retained_size_and_its_release_frees(usermod):
    usermod.big = [Blob(3_000_000), Blob(3_000_000)]  # 6 MB behind one list
    usermod.small = Blob(100_000)
    ref = weakref.ref(usermod.big[0])
    rc = sys.getrefcount(usermod.big[0])
    holders = altgc.top(5)
    assert isinstance(holders, Holders) and all(isinstance(h, Holder) for h in holders)
    after = sys.getrefcount(usermod.big[0])
    assert after == rc  # no reference kept
    first = holders[0]
    assert first.label == "altgc_test_usermod.big" and first.kind == "name"
    assert first.bytes >= 6_000_000 and first.type_name == "list"
    assert holders.index(first) < [h.label for h in holders].index("altgc_test_usermod.small")
    assert sorted((h.bytes for h in holders), reverse=True) == [h.bytes for h in holders]
    assert first.release == "import altgc_test_usermod\ndel altgc_test_usermod.big"
    run(first.release)
    assert ref() is None
    assert usermod.small.data  # the other name survived


def test_top_groups_the_names_of_one_object(usermod):
    usermod.a = usermod.b = Blob(4_000_000)  # neither name alone frees it
    ref = weakref.ref(usermod.a)
    h = next(h for h in altgc.top(5) if "altgc_test_usermod.a" in h.label)
    assert h.label == "altgc_test_usermod.a, altgc_test_usermod.b"
    assert h.bytes >= 4_000_000
    run(h.release)
    assert ref() is None


def test_top_lists_an_lru_cache_with_cache_clear(usermod):
    @functools.cache
    def load(i):
        return Blob(2_000_000)

    usermod.load = load
    refs = [weakref.ref(load(i)) for i in range(4)]
    h = next(h for h in altgc.top(5) if h.kind == "lru_cache")
    assert h.label == "altgc_test_usermod.load (lru_cache)"
    assert h.bytes >= 8_000_000
    assert h.release == "import altgc_test_usermod; altgc_test_usermod.load.cache_clear()"
    run(h.release)
    assert all(r() is None for r in refs)


def test_top_of_a_traceback_local(usermod):
    def work():
        big = Blob(5_000_000)
        usermod.ref = weakref.ref(big)
        raise ValueError("failed")

    try:
        work()
    except ValueError as exc:
        sys.last_value = exc
    try:
        h = next(h for h in altgc.top(10) if h.kind == "traceback")
        assert h.label == "big in work() (traceback)" and h.bytes >= 5_000_000
        assert "sys.last_value" in h.release
    finally:
        sys.last_value = None
    gc.collect()
    assert usermod.ref() is None


@pytest.mark.parametrize("n, error", [(0, ValueError), ("3", TypeError), (True, TypeError)])
def test_top_bad_n(n, error):
    with pytest.raises(error, match="top\\(\\) argument 'n'"):
        altgc.top(n)


def test_holders_display():
    hs = Holders([Holder("Out[4], _", 81 * 2**20, "output_cache", "del Out[4]", "list")])
    text = str(hs)
    assert text.splitlines()[1].strip() == "81.0 MiB  Out[4], _  (list)  \u2192 del Out[4]"
    assert "<table" in hs._repr_html_() and "81.0 MiB" in hs._repr_html_()
    assert str(Holders()).endswith(": none")


# -- sizes -------------------------------------------------------------------------


def test_deep_size_sees_what_a_container_holds():
    rows = [bytearray(100_000) for _ in range(10)]
    assert sys.getsizeof(rows) < 1000
    assert held.deep_size(rows) >= 1_000_000
    # stops once the threshold is reached
    assert 100_000 <= held.deep_size(rows, stop_at=150_000) < 1_000_000
    # not through classes, modules or functions: an instance weighs its data
    b = Blob(10)
    assert held.deep_size(b) < 10_000


def test_deep_size_trusts_a_python_sizeof():
    class Frame:  # like pandas: __sizeof__ counts what it holds
        def __init__(self):
            self.cols = [bytearray(100_000) for _ in range(5)]

        def __sizeof__(self):
            return 500_000 + object.__sizeof__(self)

    size = held.deep_size(Frame())
    assert 500_000 <= size < 600_000  # not the columns twice


def test_retained_is_what_only_it_holds():
    shared = bytearray(1_000_000)
    a = [shared, bytearray(2_000_000)]
    b = [shared]
    (ra, rb) = held.retained([a, b])
    assert 2_000_000 <= ra[1] < 3_000_000  # shared is held by both
    assert rb[1] < 1000
    del shared


def test_ref_keeps_nothing_alive():
    b = Blob(10)
    lst = [b]  # lists have no weak references: a watch token
    r1, r2 = held.Ref(b), held.Ref(lst)
    assert r1.get() is b and r2.get() is lst and r1.alive() and r2.alive()
    w = weakref.ref(b)
    del b, lst
    assert w() is None and not r1.alive() and not r2.alive() and r2.get() is None
    r2.discard()


# -- cells() -------------------------------------------------------------------------


def test_young_garbage_finds_a_cycle_without_collecting():
    gc.disable()
    try:
        a = Blob(300_000)
        a.me = a
        ref = weakref.ref(a)
        kept = Blob(300_000)
        kept.me = kept  # a cycle, but reachable: a local holds it
        del a
        rc = sys.getrefcount(ref())
        found = leftovers._young_garbage(200_000)
        sizes = [(len(m), s) for m, s in found]
        assert any(s >= 300_000 for _, s in sizes), sizes
        assert not any(o is kept for m, _ in found for o in m)
        found.clear()
        assert ref() is not None  # nothing collected
        after = sys.getrefcount(ref())
        assert after == rc  # no new reference
    finally:
        gc.enable()
    gc.collect()
    assert ref() is None


def test_cell_log_records_a_cycle_and_forgets_it_when_collected():
    log = leftovers.CellLog(cycle_min_bytes=200_000)
    gc.disable()
    try:
        log.before()
        a = Blob(500_000)
        a.me = a
        ref = weakref.ref(a)
        del a
        new = log.after(7)
        (entry,) = [e for e in new if e.kind == "cycle" and e.bytes >= 500_000]
        assert entry.label == "cycle of 1 object (Blob)" and entry.cell == 7
        report = [x for x in log.report() if x.kind == "cycle"]
        assert [(x.cell, x.release) for x in report] == [(7, "import gc; gc.collect();")]
        assert report[0].bytes >= 500_000
        assert ref() is not None
    finally:
        gc.enable()
    gc.collect()
    assert ref() is None
    assert not [x for x in log.report() if x.kind == "cycle"]
    assert not log.entries
    log.clear()


def test_cell_log_records_a_failed_cells_locals():
    log = leftovers.CellLog()
    refs = []

    def work():
        big = Blob(2_000_000)
        refs.append(weakref.ref(big))
        raise ValueError("failed")

    log.before()
    try:
        work()
    except ValueError as exc:
        new = log.after(3, error=exc)
    (entry,) = [e for e in new if e.label == "big in work() (traceback)"]
    assert entry.kind == "traceback" and entry.bytes >= 1024 and entry.type_name == "Blob"
    assert refs[0]() is None  # the exception is gone: the log kept no reference
    assert not [x for x in log.report() if x.kind == "traceback"]
    log.clear()


def test_cell_log_leaves_out_what_a_name_holds(usermod):
    log = leftovers.CellLog(cycle_min_bytes=100_000)
    gc.disable()
    try:
        log.before()
        a = Blob(200_000)
        a.me = a
        main = sys.modules["__main__"].__dict__
        del a
        log.after(1)
        ((obj,),) = [[e.ref.get()] for e in log.entries if e.kind == "cycle"]
        main["altgc_test_named"] = obj  # a name of the user now holds it
        del obj
        assert not [x for x in log.report() if x.kind == "cycle"]
        del main["altgc_test_named"]
        assert [x for x in log.report() if x.kind == "cycle"]
    finally:
        gc.enable()
        log.clear()
    gc.collect()


def test_notice_text_is_one_line():
    n = Notice("x (list, 1.0 MiB)", ("Out[3]", "_"), "%altgc release x", "del Out[3]\ndel _")
    assert (
        str(n)
        == repr(n)
        == "altgc: x (list, 1.0 MiB) still alive: Out[3], _ \u2192 %altgc release x"
    )
    assert 'title="runs: del Out[3]\ndel _"' in n._repr_html_()
    bare = Notice("y (dict)", (), "", "", "a C extension holds it")
    assert str(bare) == "altgc: y (dict) still alive: a C extension holds it"


def test_cells_explains_the_largest_only():
    log = leftovers.CellLog()
    refs = []

    def work():
        small = Blob(5_000)
        big = Blob(2_000_000)
        refs.extend([weakref.ref(small), weakref.ref(big)])
        raise ValueError("failed")

    try:
        work()
    except ValueError as exc:
        log.after(4, error=exc)
        holder = exc  # a name holds the exception, not the locals
        rows = {x.label: x for x in log.report(explained=1) if x.kind == "traceback"}
        big, small = rows["big in work() (traceback)"], rows["small in work() (traceback)"]
        # explained (outside IPython a local `exc` holds the traceback: no
        # statement can release a frame's local, the note says why)
        assert big.bytes >= 2_000_000 and "not among" not in big.note and big.note
        assert not small.release and "not among the 1 largest" in small.note
        del holder, rows, big, small
    log.clear()
    assert all(r() is None for r in refs)


@pytest.mark.parametrize("arg, error", [(-1, ValueError), ("2", TypeError)])
def test_cells_bad_argument(arg, error):
    with pytest.raises(error, match="cells\\(\\) argument 'explained'"):
        altgc.cells(arg)


def test_user_modules_sees_a_module_that_took_a_removed_ones_place():
    # The cache of user_modules() was keyed by len(sys.modules): a module
    # removed and another added hid the new one from top() and cells()
    # (seen when one test's module replaced another's).
    from altgc._explain import holders

    def module(name):
        m = types.ModuleType(name)
        m.__file__ = f"/home/user/project/{name}.py"
        return m

    a, b = module("altgc_test_swap_a"), module("altgc_test_swap_b")
    sys.modules[a.__name__] = a
    try:
        assert "altgc_test_swap_a" in [n for n, _ in holders.user_modules()]
        del sys.modules[a.__name__]
        sys.modules[b.__name__] = b
        names = [n for n, _ in holders.user_modules()]
        assert "altgc_test_swap_b" in names and "altgc_test_swap_a" not in names
    finally:
        sys.modules.pop(a.__name__, None)
        sys.modules.pop(b.__name__, None)
