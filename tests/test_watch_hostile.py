"""watch() / unwatch() / watched() and the core's watch table under hostile
use: objects dying while they are looked at, finalizers and threads that
watch or unwatch in the middle of a call, odd labels and tokens, many
watches at once."""

import _thread
import contextlib
import gc
import sys
import threading
import time

import pytest
from support import run_python

import altgc
from altgc import _core, _explain


@pytest.fixture(autouse=True)
def clean_watches():
    yield
    for label in list(_explain._watches):
        altgc.unwatch(label)


def demand(kind):
    """The interposition demand of a free-list kind: watches still alive
    (and registered objects) of that kind hold one unit each."""
    return _core._interposed().get(kind, 0)


# -- an object whose deallocation is running -----------------------------


def test_lookups_from_a_finalizer_inside_the_deallocation_do_not_crash():
    # The watched instance is not weakly referenceable; while its
    # deallocator runs (refcount 0, memory not yet freed) a finalizer of
    # something it held asks for it: handing it out again would deallocate
    # it a second time.
    proc = run_python(
        """
        import altgc

        seen = []

        class D:
            def __del__(self):
                seen.append([str(w) for w in altgc.watched()])
                seen.append([e.alive for e in altgc.survivors()])
                seen.append(altgc.explain("s").alive)

        class S:
            __slots__ = ("x",)

        s = S()
        s.x = D()
        altgc.watch(s, "s")
        del s
        assert seen[0][0].startswith("s (S): freed"), seen
        assert seen[1] == [] and seen[2] is False, seen
        [w] = altgc.watched()
        assert not w.alive and w.freed_seconds_ago >= 0
        print("ok")
        """,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"


def test_weakref_callback_of_a_dying_watched_object_sees_it_dead():
    proc = run_python(
        """
        import weakref
        import altgc

        class S:
            __slots__ = ("__weakref__",)

        got = []
        s = S()
        altgc.watch(s, "s")
        r = weakref.ref(s, lambda r: got.append(altgc.explain("s").alive))
        del s
        assert got == [False], got
        print("ok")
        """,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"


def test_lookup_of_an_object_the_trashcan_deferred_does_not_crash():
    # A long chain is freed by the trashcan: deep links wait, with
    # refcount 0, on its list while weakref callbacks of others run.
    proc = run_python(
        """
        import weakref
        import altgc
        from altgc import _core
        from altgc._explain import _watches

        class S:
            __slots__ = ("x", "__weakref__")

        labels, refs, seen = [], [], []

        def cb(r):
            seen.append(sum(_core._watch_get(_watches[l].token) is not None for l in labels))

        head = cur = S()
        for i in range(3000):
            n = S()
            cur.x = n
            cur = n
            if i % 7 == 0:
                altgc.watch(n, f"n{i}")
                labels.append(f"n{i}")
                refs.append(weakref.ref(n, cb))
        del cur, n
        del head
        assert len(seen) == len(labels) and seen == sorted(seen, reverse=True), seen
        assert not any(w.alive for w in altgc.watched())
        print("ok")
        """,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"


def test_watched_reports_a_dying_object_as_freed():
    states = []

    class D:
        def __del__(self):
            states.extend(altgc.watched())

    class S:
        __slots__ = ("x",)

    s = S()
    s.x = D()
    altgc.watch(s, "s")
    del s
    [w] = states
    assert not w.alive
    assert w.freed_seconds_ago is not None and w.freed_seconds_ago >= 0


# -- labels ---------------------------------------------------------------


class BadHash(str):
    def __hash__(self):
        raise RuntimeError("no hash")


class OtherHash(str):
    def __hash__(self):
        return 12345

    def __eq__(self, other):
        return False


def test_label_of_a_str_subclass_with_a_failing_hash():
    before = demand("list")
    x = [1]
    altgc.watch(x, BadHash("x"))
    [w] = altgc.watched()
    assert w.label == "x" and type(w.label) is str and w.alive
    altgc.unwatch(BadHash("x"))
    assert altgc.watched() == []
    assert demand("list") == before


def test_label_of_a_str_subclass_is_stored_as_str():
    x = [1]
    altgc.watch(x, OtherHash("lbl"))
    assert [type(w.label) for w in altgc.watched()] == [str]
    altgc.unwatch("lbl")
    altgc.watch(x, "lbl2")
    altgc.unwatch(OtherHash("lbl2"))
    assert altgc.watched() == []


def test_watch_called_from_c_without_a_python_caller():
    x = [1, 2]
    done = threading.Event()
    errors = []

    def excepthook(u):  # an exception in the new thread is unraisable
        errors.append(u.exc_value)

    old = sys.unraisablehook
    sys.unraisablehook = excepthook
    try:
        _thread.start_new_thread(altgc.watch, (x, "from-thread"))
        _thread.start_new_thread(done.set, ())
        assert done.wait(10)
        deadline = time.monotonic() + 10
        while not errors and "from-thread" not in _explain._watches:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        sys.unraisablehook = old
    assert errors == []
    assert [(w.label, w.alive) for w in altgc.watched()] == [("from-thread", True)]


# -- watch and unwatch while watched() runs, or in another thread ---------


def test_watched_while_finalizers_unwatch():
    class Unwatcher:
        """Cyclic garbage whose finalizer unwatches a label and leaves
        the next one behind: a collection inside watched() (after any
        allocation) changes the table."""

        def __init__(self, i):
            self.i = i
            self.me = self

        def __del__(self):
            with contextlib.suppress(KeyError):
                altgc.unwatch(f"l{self.i}")
            if self.i < 49:
                Unwatcher(self.i + 1)

    keep = []
    for i in range(50):
        o = [i]
        keep.append(o)
        altgc.watch(o, f"l{i}")
    del o
    threshold = gc.get_threshold()
    Unwatcher(0)
    gc.set_threshold(1)
    gc.enable()
    try:
        infos = altgc.watched()
    finally:
        gc.disable()
        gc.set_threshold(*threshold)
    assert all(w.alive for w in infos)
    assert {w.label for w in infos} <= {f"l{i}" for i in range(50)}
    gc.collect()


def test_threads_watching_one_label_leave_no_watch_behind():
    before = demand("list")
    interval = sys.getswitchinterval()
    keep = [[i] for i in range(8)]

    def worker(o):
        for _ in range(3000):
            altgc.watch(o, "same")

    sys.setswitchinterval(1e-6)
    try:
        ts = [threading.Thread(target=worker, args=(o,)) for o in keep]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert [w.label for w in altgc.watched()] == ["same"]
    altgc.unwatch("same")
    # every replaced watch was discarded: the lists hold no demand
    assert demand("list") == before


# -- the core's tokens ------------------------------------------------------


@pytest.mark.parametrize("bad", [True, False, "1", None, 1.0])
def test_token_of_a_wrong_type(bad):
    x = [1]
    token = _core._watch_add(x)
    try:
        for fn in (_core._watch_get, _core._watch_state, _core._watch_discard):
            with pytest.raises(TypeError, match="token"):
                fn(bad)
    finally:
        _core._watch_discard(token)


@pytest.mark.parametrize("bad", [2**64, -(2**64)])
def test_token_that_names_no_watch(bad):
    with pytest.raises(KeyError, match="no watch"):
        _core._watch_get(bad)


# -- many watches -----------------------------------------------------------


def test_many_watches_each_see_their_death():
    # Each free in the watched address range finds its watches through the
    # address index (it used to scan the whole table: 40,000 watched lists
    # took seconds to watch and to free; benchmarks/bench_watch.py measures
    # it).  Every one of them must still learn of its object's death, and
    # none of another's.
    n = 40_000
    objs = [[i] for i in range(n)]
    tokens = [_core._watch_add(o) for o in objs]
    junk = [object() for _ in range(n)]
    del junk
    keep = objs[::7]
    del objs
    states = [_core._watch_state(t)[0] for t in tokens]
    for t in tokens:
        _core._watch_discard(t)
    assert states == [i % 7 == 0 for i in range(n)]
    assert keep[1] == [7]


# -- what watch() remembers of the caller ---------------------------------


def test_watch_does_not_keep_the_callers_namespace_alive():
    # watch() records the globals that bind the object (for survivors());
    # an exec()'d namespace is the object's only holder, and must die with
    # it rather than live as long as the watch.
    def run():
        ns = {"altgc": altgc}
        exec("big = [1] * 10\naltgc.watch(big)", ns)

    run()
    [w] = altgc.watched()
    assert w.label == "big" and not w.alive
    assert altgc.survivors() == []
    altgc.unwatch("big")

    # while the namespace lives, survivors() still reads its names
    ns = {"altgc": altgc}
    exec("kept = [1] * 10\naltgc.watch(kept)", ns)
    assert altgc.survivors() == []  # still bound to its name
    obj = ns.pop("kept")
    assert [e.label for e in altgc.survivors()] == ["kept"]
    del ns
    assert [e.label for e in altgc.survivors()] == ["kept"]
    del obj
    assert altgc.survivors() == []


@pytest.mark.parametrize(
    "obj", [None, True, False, Ellipsis, NotImplemented, (), 7, -5, 256, int, object]
)
def test_an_object_the_interpreter_never_frees_has_no_release(obj):
    # immortal from 3.12; on 3.11 statically allocated objects, which
    # everything refers to: explain says so and searches for no release
    # (on 3.11 it made one of every holder in the heap, 100 KB of text and
    # minutes long in a test process)
    e = altgc.explain(obj)
    assert e.release == ""
    assert e.release_note == "the interpreter never frees it: no code can release it"
    assert any("never frees" in n for n in e.notes), e.notes


def test_an_int_outside_the_cached_range_and_a_class_are_explained_as_any_object():
    class Mine:
        pass

    for obj in (int("1" * 30), Mine):
        e = altgc.explain(obj)
        assert e.release_note != "the interpreter never frees it: no code can release it"
        assert not any("never frees" in n for n in e.notes), e.notes


def test_a_watched_none_is_alive_not_freed():
    # _watch_get() gives None for a dead watch and for a watched None:
    # explain() said "n (NoneType) was freed 41416.3 s ago" while
    # watched() said alive.
    altgc.watch(None, "n")
    try:
        e = altgc.explain("n")
        assert e.alive and e.cause != "freed", e.cause
        assert e.type_name == "NoneType"
        (info,) = [w for w in altgc.watched() if w.label == "n"]
        assert info.alive
    finally:
        altgc.unwatch("n")
