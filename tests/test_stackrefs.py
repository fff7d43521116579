"""Borrowed stack references (3.14+): a frame, generator or coroutine can
hold a *borrowed* reference to a live object on its value stack
(LOAD_FAST_BORROW), which the object's refcount never counted, although
the generator's tp_traverse reports it.  CPython's own collector skips
those references when it subtracts internal references; altgc must too
(compat.h, frames.c), or it would take an object that something outside
still holds for garbage and clear it.

Each scenario: a generator/coroutine suspended in the middle of an
expression that borrowed `victim`, made unreachable in a cycle, while
`victim` itself stays referenced from outside.  If the borrowed reference
were subtracted, `victim` (a registered list) would be found unreachable
with its cycle and cleared: the tests check it still holds its items."""

import dis
import sys
import threading
import weakref

import pytest
from support import run_python

import altgc

BORROWS = sys.version_info >= (3, 14)


def consume(*args):
    return args


def gen_borrowing(victim, box):
    # `victim` is pushed with LOAD_FAST_BORROW and stays on the stack while
    # the generator is suspended at the inner yield.
    yield consume(victim, (yield "suspended"))


async def coro_borrowing(victim, box, awaitable):
    return consume(victim, await awaitable)


async def agen_borrowing(victim, box):
    yield consume(victim, (yield "suspended"))


class Suspend:
    """An awaitable that suspends its coroutine once."""

    def __await__(self):
        return (yield "suspended")


def borrowed_ops(fn):
    return [i.opname for i in dis.get_instructions(fn) if i.opname.startswith("LOAD_FAST_BORROW")]


def test_scenarios_really_borrow_on_this_version():
    # The hazard exists only where the compiler emits borrowed loads; the
    # tests below would pass vacuously if it stopped doing so here.
    # (No borrow lives across an `await`, a loop in the bytecode: the
    # coroutine scenario guards the same code path without one.)
    for fn in (gen_borrowing, agen_borrowing):
        assert bool(borrowed_ops(fn)) == BORROWS, fn


def _make_cycle_generator(victim):
    box = []
    g = gen_borrowing(victim, box)
    assert next(g) == "suspended"  # runs to the inner yield
    box.append(g)  # g -> frame -> box -> g
    return g, box


def _make_cycle_coroutine(victim):
    box = []
    c = coro_borrowing(victim, box, Suspend())
    assert c.send(None) == "suspended"
    box.append(c)
    return c, box


def _make_cycle_agen(victim):
    box = []
    ag = agen_borrowing(victim, box)
    step = ag.asend(None)
    try:
        step.send(None)
    except StopIteration as e:
        assert e.value == "suspended"
    box.append(ag)
    return ag, box


MAKERS = {
    "generator": _make_cycle_generator,
    "coroutine": _make_cycle_coroutine,
    "async generator": _make_cycle_agen,
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("how", ["collect", "find_unreachable"])
def test_borrowed_live_object_is_not_garbage(kind, how):
    victim = ["still", "here"]
    frame_like, box = MAKERS[kind](victim)
    altgc.track(victim)
    altgc.track(frame_like)
    altgc.track(box)
    ids = {id(frame_like), id(box)}
    gone = weakref.ref(frame_like)
    del frame_like, box
    if how == "find_unreachable":
        found = {id(o) for group in altgc.find_unreachable() for o in group}
        assert id(victim) not in found
        assert ids <= found  # the cycle itself is garbage
    else:
        # The generator's finalizer (close()) breaks the cycle, so the
        # count is 0 as with the builtin gc; what matters is that the
        # generator is gone and the victim is intact.
        altgc.collect()
        assert gone() is None
    assert victim == ["still", "here"]
    assert altgc.is_tracked(victim)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cycle_through_borrowed_object_is_still_collected():
    # The reference given back is only the borrowed one: a victim that is
    # itself part of the garbage (nothing outside holds it) is collected.
    victim = []
    holder, box = _make_cycle_generator(victim)
    victim.append(box)
    altgc.track(victim)
    altgc.track(holder)
    altgc.track(box)
    ids = {id(victim), id(holder), id(box)}
    gone = weakref.ref(holder)
    del victim, holder, box
    found = {id(o) for group in altgc.find_unreachable() for o in group}
    assert ids <= found
    altgc.collect()
    assert gone() is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_generator_running_in_another_thread():
    # A generator suspended mid-expression in another thread's running
    # frame (blocked in a call, GIL released) while this thread collects.
    victim = ["kept"]
    started = threading.Event()
    release = threading.Event()
    result = []

    def blocking():
        started.set()
        release.wait(30)
        return "released"

    def gen(v):
        yield consume(v, blocking())

    def worker():
        g = gen(victim)
        altgc.track(g)
        result.append(next(g))

    t = threading.Thread(target=worker)
    altgc.track(victim)
    t.start()
    assert started.wait(30)
    try:
        altgc.collect()
        assert victim == ["kept"]
    finally:
        release.set()
        t.join(30)
    assert result == [(["kept"], "released")]


INSTALLED = r"""
import gc, sys
import altgc

def consume(*a):
    return a

def gen(v, box):
    yield consume(v, (yield "suspended"))

async def coro(v, box, aw):
    return consume(v, await aw)

class Suspend:
    def __await__(self):
        return (yield "suspended")

altgc.install()

def one(i):
    # `victim` is held from outside the heap only by this running frame's
    # local variable, which no collector sees: exactly one reference more
    # than the suspended frames' own (their locals).
    victim = [i, "alive"]
    box = []
    g = gen(victim, box); next(g); box.append(g)
    c = coro(victim, box, Suspend()); c.send(None); box.append(c)
    ids = {id(g), id(c), id(box)}
    del g, c, box
    found = {id(o) for group in altgc.find_unreachable() for o in group}
    ok = id(victim) not in found and ids <= found
    altgc.collect()
    return ok and victim == [i, "alive"]

results = [one(i) for i in range(50)]
print("ok" if all(results) else "wrong: %d of %d" % (results.count(False),
                                                    len(results)))
altgc.uninstall()
"""


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_borrowed_references_under_install_mode():
    proc = run_python(INSTALLED)
    assert proc.stdout.strip() == "ok", proc.stdout + proc.stderr
