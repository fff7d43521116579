"""Collection semantics: the scenarios of CPython's Lib/test/test_gc.py and
Lib/test/test_finalization.py, with altgc as the collector (objects are
registered explicitly), checked against the builtin gc where possible."""

import gc
import sys
import weakref
from typing import ClassVar

import pytest
from support import (
    PY,
    Inst,
    L,
    altgc_unreachable,
    capture_unraisable,
    check_against_builtin,
    find_groups_ids,
    track_with_dict,
)

import altgc
from altgc import _testobjs


class Slots:
    __slots__ = ("__weakref__", "a", "b")


def self_loop_inst(cls=Inst):
    o = cls()
    o.me = o
    return o


# ---------------------------------------------------------------------------
# CPython test_gc.GCTests, re-expressed
# ---------------------------------------------------------------------------


def test_list():
    lst = []
    lst.append(lst)
    altgc.track(lst)
    assert altgc.collect() == 0
    del lst
    assert altgc.collect() == 1
    assert altgc.get_objects() == []


def test_list_vs_builtin():
    def build():
        lst = []
        lst.append(lst)
        return [lst], None

    check_against_builtin(build, exact=1)


def test_dict():
    d = {}
    d[1] = d
    altgc.track(d)
    assert altgc.collect() == 0
    del d
    assert altgc.collect() == 1


def test_tuple():
    lst = []
    t = (lst,)
    lst.append(t)
    altgc.track(lst)
    altgc.track(t)
    assert altgc.collect() == 0
    del t
    del lst
    assert altgc.collect() == 2


def test_tuple_vs_builtin():
    def build():
        lst = []
        t = (lst,)
        lst.append(t)
        return [t], None

    check_against_builtin(build, exact=2)


def test_partially_registered_cycle_is_not_garbage():
    # an unregistered member's reference counts as external: conservative
    a = []
    b = [a]
    a.append(b)
    altgc.track(a)  # b is not registered
    del a, b
    assert altgc.find_unreachable() == []
    assert altgc.collect() == 0
    assert len(altgc.get_objects()) == 1


def test_class():
    def build():
        class A:
            pass

        A.a = A
        return [A], None

    n = check_against_builtin(build, exact_free=False)
    assert n >= 1


def test_newstyleclass():
    def build():
        class A:
            pass

        return [A], None

    check_against_builtin(build, exact_free=False)


def test_instance():
    made_dict = []

    def build():
        a = Inst()
        a.a = a
        # gc.get_referents reads, never makes, an instance's __dict__.
        made_dict.append(any(type(r) is dict for r in gc.get_referents(a)))
        return [a], None

    n = check_against_builtin(build)
    # The instance, and its __dict__ where CPython made one: from 3.11 its
    # attributes live inline until Inst's shared keys give out, which other
    # tests' Inst instances (with other attribute names) can cause.
    assert made_dict[0] == made_dict[-1]
    assert n == 1 + made_dict[0]


def test_newinstance():
    def build():
        class A:
            pass

        class B(list):
            pass

        class C(B, A):
            pass

        a = C()
        a.a = a
        return [a], (A, B, C)

    check_against_builtin(build)


def test_method():
    def build():
        class A:
            def __init__(self):
                self.init = self.__init__

        a = A()
        return [a], A

    n = check_against_builtin(build)
    assert n >= 2  # instance + bound method


def test_function():
    def build():
        d = {}
        exec("def f(): pass\n", d)
        return [d], None

    check_against_builtin(build, exact=2)


def test_frame():
    def f():
        _frame = sys._getframe()  # the local makes the cycle frame -> frame

    gc.collect()
    f()
    assert gc.collect() == 1  # the builtin gc's answer, as in test_gc

    def f():
        frame = sys._getframe()
        altgc.track(frame)

    f()
    groups = altgc.find_unreachable()
    assert len(groups) == 1 and len(groups[0]) == 1
    assert type(groups[0][0]).__name__ == "frame"
    del groups
    assert altgc.collect() == 1
    assert altgc.get_objects() == []


def test_bound_method_and_closure_cycle():
    def build():
        def outer():
            x = None

            def inner():
                return x

            x = inner  # cell -> inner -> closure tuple -> cell
            return inner

        fn = outer()
        return [fn], None

    check_against_builtin(build, min_found=2)


def same_count_as_builtin(scenario):
    """scenario(track) creates garbage and registers what it creates with
    track (instances: with their __dict__).  Run it under the builtin gc,
    then under altgc; collect() must return the same number."""
    gc.collect()
    scenario(lambda *objs: None)
    expected = gc.collect()
    scenario(track_with_dict)
    got = altgc.collect()
    assert got == expected
    assert altgc.get_objects() == []
    return got


def test_boom():
    class Boom:
        def __getattr__(self, someattribute):
            del self.attr
            raise AttributeError

    def scenario(track):
        a = Boom()
        b = Boom()
        a.attr = b
        b.attr = a
        track(a, b)

    garbagelen = len(altgc.garbage)
    n = same_count_as_builtin(scenario)
    assert n == 2
    assert len(altgc.garbage) == garbagelen


def test_boom2():
    class Boom2:
        def __init__(self):
            self.x = 0

        def __getattr__(self, someattribute):
            self.x += 1
            if self.x > 1:
                del self.attr
            raise AttributeError

    def scenario(track):
        a = Boom2()
        b = Boom2()
        a.attr = b
        b.attr = a
        track(a, b)

    garbagelen = len(altgc.garbage)
    n = same_count_as_builtin(scenario)
    assert n == 2
    assert len(altgc.garbage) == garbagelen


def test_bug21435():
    class A:
        pass

    class B:
        def __init__(self, x):
            self.x = x

        def __del__(self):
            self.attr = None

    def scenario(track):
        a = A()
        b = B(A())
        a.attr = b
        b.attr = a
        track(a, b, b.x)

    same_count_as_builtin(scenario)


def test_finalizer_breaking_cycle_counts_like_builtin():
    class Breaker:
        def __del__(self):
            self.other = None

    def scenario(track):
        objs = [Breaker() for _ in range(4)]
        for i, o in enumerate(objs):
            o.other = objs[(i + 1) % 4]
        track(*objs)

    same_count_as_builtin(scenario)


# ---------------------------------------------------------------------------
# Legacy finalizers, DEBUG_SAVEALL
# ---------------------------------------------------------------------------


def test_legacy_finalizer():
    a = _testobjs.LegacyDel()
    a.ref = a
    id_a = id(a)
    b = Inst()
    b.b = b
    altgc.track(a)
    track_with_dict(b)
    nb = len(altgc.get_objects()) - 1
    stats0 = altgc.get_stats()[2]
    del a, b
    n = altgc.collect()
    assert n == 1 + nb
    stats1 = altgc.get_stats()[2]
    assert stats1["uncollectable"] - stats0["uncollectable"] == 1
    assert stats1["collected"] - stats0["collected"] == nb
    assert [id(o) for o in altgc.garbage] == [id_a]
    obj = altgc.garbage[0]
    assert obj.ref is obj
    assert altgc.is_tracked(obj)
    info = altgc.last_collection()
    assert info.uncollectable == 1 and info.collected == nb
    # break the cycle: tp_del runs at dealloc
    obj.ref = None
    altgc.garbage.remove(obj)
    del obj
    assert altgc.get_objects() == []


def test_legacy_finalizer_reachable_objects_are_uncollectable():
    calls = []
    a = _testobjs.LegacyDel(lambda o: calls.append(1))
    hang = []  # reachable from a, not itself legacy
    cyc = [a, hang]
    a.ref = cyc
    altgc.track(a)
    altgc.track(hang)
    altgc.track(cyc)
    ids = {id(a), id(hang), id(cyc)}
    del a, hang, cyc
    found = altgc_unreachable()
    assert found == ids
    n = altgc.collect()
    assert n == 3
    info = altgc.last_collection()
    assert info.uncollectable == 3 and info.collected == 0
    # only the object with the legacy finalizer goes to garbage (as gc does)
    assert len(altgc.garbage) == 1
    a = altgc.garbage[0]
    assert type(a) is _testobjs.LegacyDel
    # everything it reaches is kept alive, untouched
    assert a.ref[0] is a and a.ref[1] == []
    assert len(altgc.get_objects()) == 3
    assert calls == []
    a.ref = None
    altgc.garbage.clear()
    del a
    assert calls and len(calls) == 1
    assert altgc.get_objects() == []


def test_legacy_finalizer_not_in_cycle_is_collected_by_refcount():
    calls = []
    a = _testobjs.LegacyDel(lambda o: calls.append(1))
    altgc.track(a)
    del a
    assert calls == [1]
    assert altgc.get_objects() == []


def test_legacy_finalizer_vs_builtin():
    def build():
        a = _testobjs.LegacyDel()
        b = _testobjs.LegacyDel()
        a.ref = [b]
        b.ref = a
        return [a], None

    # builtin gc with SAVEALL sees the same unreachable set; phase 2 checks
    # collect() counts them (as uncollectable)
    try:
        check_against_builtin(build, exact=3, exact_free=False)
    finally:
        for garbage in (altgc.garbage, gc.garbage):
            for o in garbage:
                if type(o) is _testobjs.LegacyDel:
                    o.ref = None
            garbage[:] = [o for o in garbage if type(o) is not _testobjs.LegacyDel]


def test_saveall_with_legacy_finalizer_saves_everything():
    a = _testobjs.LegacyDel()
    hang = []
    cyc = [a, hang]
    a.ref = cyc
    other = []
    other.append(other)
    for o in (a, hang, cyc, other):
        altgc.track(o)
    ids = {id(a), id(hang), id(cyc), id(other)}
    del a, hang, cyc, other, o
    altgc.set_debug(altgc.DEBUG_SAVEALL)
    try:
        assert altgc.collect() == 4
    finally:
        altgc.set_debug(0)
    info = altgc.last_collection()
    assert info.uncollectable == 3 and info.collected == 1
    assert {id(o) for o in altgc.garbage} == ids
    assert len(altgc.garbage) == 4
    for o in altgc.garbage:
        if type(o) is _testobjs.LegacyDel:
            o.ref = None
    del o
    altgc.garbage.clear()
    assert altgc.collect() == 1  # `other` (saved, not cleared)
    assert altgc.get_objects() == []


def test_saveall():
    assert altgc.garbage == []
    L_ = []
    L_.append(L_)
    id_L = id(L_)
    altgc.track(L_)
    altgc.set_debug(altgc.DEBUG_SAVEALL)
    del L_
    assert altgc.collect() == 1
    altgc.set_debug(0)
    assert len(altgc.garbage) == 1
    obj = altgc.garbage.pop()
    assert id(obj) == id_L
    assert obj[0] is obj  # not cleared
    assert altgc.is_tracked(obj)


def test_saveall_does_not_run_clear_but_runs_finalizers():
    dels = []

    class D:
        def __del__(self):
            dels.append(1)

    d = D()
    d.me = d
    track_with_dict(d)
    k = len(altgc.get_objects())
    altgc.set_debug(altgc.DEBUG_SAVEALL)
    del d
    assert altgc.collect() == k
    altgc.set_debug(0)
    assert dels == [1]
    assert len(altgc.garbage) == k
    objs = [o for o in altgc.garbage if type(o) is D]
    assert len(objs) == 1 and objs[0].me is objs[0]


# ---------------------------------------------------------------------------
# PEP 442 finalization (test_finalization.py)
# ---------------------------------------------------------------------------


class NonGCSimpleBase:
    survivors: ClassVar[list] = []
    del_calls: ClassVar[list] = []
    errors: ClassVar[list] = []
    _cleaning = False
    __slots__ = ()

    def check_sanity(self):
        pass

    def __del__(self):
        try:
            if not self._cleaning:
                self.del_calls.append(id(self))
                self.check_sanity()
                self.side_effect()
        except Exception as e:
            self.errors.append(e)

    def side_effect(self):
        pass


class SimpleBase(NonGCSimpleBase):
    def __init__(self):
        self.id_ = id(self)

    def check_sanity(self):
        assert self.id_ == id(self)


class Simple(SimpleBase):
    pass


class SimpleResurrector(SimpleBase):
    def side_effect(self):
        self.survivors.append(self)


class SelfCycleBase:
    def __init__(self):
        super().__init__()
        self.ref = self

    def check_sanity(self):
        super().check_sanity()
        assert self.ref is self


class SimpleSelfCycle(SelfCycleBase, Simple):
    pass


class SelfCycleResurrector(SelfCycleBase, SimpleResurrector):
    pass


class SuicidalSelfCycle(SelfCycleBase, Simple):
    def side_effect(self):
        self.ref = None


class ChainedBase:
    def chain(self, left):
        self.suicided = False
        self.left = left
        left.right = self

    def check_sanity(self):
        super().check_sanity()
        if self.suicided:
            assert self.left is None
            assert self.right is None
        else:
            left = self.left
            if left.suicided:
                assert left.right is None
            else:
                assert left.right is self
            right = self.right
            if right.suicided:
                assert right.left is None
            else:
                assert right.left is self


class SimpleChained(ChainedBase, Simple):
    pass


class ChainedResurrector(ChainedBase, SimpleResurrector):
    pass


class SuicidalChained(ChainedBase, Simple):
    def side_effect(self):
        self.suicided = True
        self.left = None
        self.right = None


@pytest.fixture
def fin():
    SimpleBase.del_calls.clear()
    SimpleBase.survivors.clear()
    SimpleBase.errors.clear()
    NonGCSimpleBase._cleaning = False
    yield
    NonGCSimpleBase._cleaning = True
    errors = list(SimpleBase.errors)
    SimpleBase.survivors.clear()
    SimpleBase.errors.clear()
    SimpleBase.del_calls.clear()
    assert altgc.garbage == []
    if errors:
        raise errors[0]


def assert_del_calls(ids):
    assert sorted(SimpleBase.del_calls) == sorted(ids)


def assert_survivors(ids):
    assert sorted(id(x) for x in SimpleBase.survivors) == sorted(ids)


def test_fin_simple_no_cycle(fin):
    s = Simple()
    track_with_dict(s)
    ids = [id(s)]
    wr = weakref.ref(s)
    del s
    assert_del_calls(ids)
    assert wr() is None
    assert altgc.collect() == 0
    assert_del_calls(ids)


def test_fin_self_cycle(fin):
    s = SimpleSelfCycle()
    track_with_dict(s)
    k = len(altgc.get_objects())
    ids = [id(s)]
    wr = weakref.ref(s)
    del s
    assert altgc.collect() == k
    assert_del_calls(ids)
    assert_survivors([])
    assert wr() is None
    assert altgc.collect() == 0
    assert_del_calls(ids)
    assert altgc.get_objects() == []


def test_fin_self_cycle_resurrect(fin):
    s = SelfCycleResurrector()
    track_with_dict(s)
    ids = [id(s)]
    wr = weakref.ref(s)
    del s
    assert altgc.collect() == 0
    assert_del_calls(ids)
    assert_survivors(ids)
    # Until 3.14 weakrefs are cleared before the finalizers; 3.15 clears
    # the callback-less ones after the resurrection check, and only those
    # to what is still garbage (CPython's test_simple_resurrect).
    assert (wr() is None) == (PY < (3, 15))
    info = altgc.last_collection()
    assert info.resurrected >= 1 and info.collected == 0
    # resurrected object is intact and still registered
    s = SimpleBase.survivors[0]
    assert s.ref is s
    assert altgc.is_tracked(s)
    assert altgc.is_finalized(s)
    del s
    SimpleBase.survivors.clear()
    # finalizer is not called a second time, object goes away
    n = altgc.collect()
    assert n >= 1
    assert_del_calls(ids)
    assert_survivors([])
    assert altgc.get_objects() == []


def test_fin_self_cycle_suicide(fin):
    s = SuicidalSelfCycle()
    track_with_dict(s)
    ids = [id(s)]
    wr = weakref.ref(s)
    del s
    altgc.collect()
    assert_del_calls(ids)
    assert_survivors([])
    assert wr() is None
    altgc.collect()
    assert_del_calls(ids)
    assert altgc.get_objects() == []


def _build_chain(classes):
    nodes = [cls() for cls in classes]
    for i in range(len(nodes)):
        nodes[i].chain(nodes[i - 1])
    track_with_dict(*nodes)
    return nodes


CHAINS = {
    "homogenous": ([SimpleChained] * 3, False),
    "homogenous_resurrect": ([ChainedResurrector] * 3, True),
    "homogenous_suicidal": ([SuicidalChained] * 3, False),
    "heterogenous_suicidal_one": ([SuicidalChained, SimpleChained] * 2, False),
    "heterogenous_suicidal_two": ([SuicidalChained] * 2 + [SimpleChained] * 2, False),
    "heterogenous_resurrect_one": ([ChainedResurrector, SimpleChained] * 2, True),
    "heterogenous_resurrect_two": ([ChainedResurrector, SimpleChained, SuicidalChained] * 2, True),
    "heterogenous_resurrect_three": (
        [ChainedResurrector] * 2 + [SimpleChained] * 2 + [SuicidalChained] * 2,
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_fin_chain(fin, name):
    classes, resurrecting = CHAINS[name]
    N = len(classes)
    nodes = _build_chain(classes)
    ids = [id(s) for s in nodes]
    survivor_ids = [id(s) for s in nodes if isinstance(s, SimpleResurrector)]
    wrs = [weakref.ref(s) for s in nodes]
    del nodes
    altgc.collect()
    assert_del_calls(ids)
    if resurrecting:
        assert_survivors(survivor_ids)
    else:
        assert_survivors([])
    # 3.15: the resurrected chain keeps its callback-less weakrefs (see
    # test_fin_self_cycle_resurrect)
    alive = resurrecting and PY >= (3, 15)
    assert [wr() is not None for wr in wrs] == [alive] * N
    SimpleBase.survivors.clear()
    altgc.collect()
    assert_del_calls(ids)
    assert_survivors([])
    assert altgc.get_objects() == []


def test_resurrection_only_happens_once_per_object():
    class Lazarus:
        resurrected = 0
        resurrected_instances: ClassVar[list] = []

        def __init__(self):
            self.me = self

        def __del__(self):
            Lazarus.resurrected += 1
            Lazarus.resurrected_instances.append(self)

    laz = Lazarus()
    track_with_dict(laz)
    del laz
    altgc.collect()
    assert Lazarus.resurrected == 1
    assert len(Lazarus.resurrected_instances) == 1
    Lazarus.resurrected_instances.clear()
    altgc.collect()
    assert Lazarus.resurrected == 1
    assert altgc.get_objects() == []


def test_resurrection_is_transitive():
    class Cargo:
        def __init__(self):
            self.me = self

    class Lazarus:
        resurrected_instances: ClassVar[list] = []

        def __del__(self):
            Lazarus.resurrected_instances.append(self)

    laz = Lazarus()
    cargo = Cargo()
    cargo_id = id(cargo)
    laz.cargo = cargo
    cargo.laz = laz
    track_with_dict(laz, cargo)
    k = len(altgc.get_objects())
    del laz, cargo
    assert altgc.collect() == 0
    info = altgc.last_collection()
    assert info.unreachable == k
    assert info.resurrected == k
    assert info.collected == 0
    assert len(Lazarus.resurrected_instances) == 1
    instance = Lazarus.resurrected_instances.pop()
    assert hasattr(instance, "cargo")
    assert id(instance.cargo) == cargo_id
    assert instance.cargo.me is instance.cargo
    assert instance.cargo.laz is instance
    del instance
    assert altgc.collect() == k
    assert altgc.get_objects() == []


def test_resurrection_does_not_block_cleanup_of_other_objects():
    N = 100

    class A:
        def __init__(self):
            self.me = self

    class Z(A):
        def __del__(self):
            zs.append(self)

    zs = []

    def getstats():
        d = altgc.get_stats()[-1]
        return d["collected"], d["uncollectable"]

    probe = A()
    track_with_dict(probe)
    k = len(altgc.get_objects())  # objects per instance
    del probe
    altgc.collect()

    oldc, oldnc = getstats()
    for _ in range(N):
        track_with_dict(A())
    t = altgc.collect()
    c, nc = getstats()
    assert t == k * N
    assert c - oldc == k * N
    assert nc - oldnc == 0

    oldc, oldnc = c, nc
    track_with_dict(Z())
    t = altgc.collect()
    c, nc = getstats()
    assert t == 0
    assert c - oldc == 0
    assert nc - oldnc == 0

    oldc, oldnc = c, nc
    for _ in range(N):
        track_with_dict(A())
    track_with_dict(Z())
    t = altgc.collect()
    c, nc = getstats()
    assert t == k * N
    assert c - oldc == k * N
    assert nc - oldnc == 0

    oldc, oldnc = c, nc
    zs.clear()
    t = altgc.collect()
    c, nc = getstats()
    assert t == 2 * k
    assert c - oldc == 2 * k
    assert nc - oldnc == 0
    assert altgc.get_objects() == []


def test_finalizer_called_once_even_if_collected_twice_with_saveall():
    calls = []

    class D:
        def __del__(self):
            calls.append(1)

    d = D()
    d.me = d
    track_with_dict(d)
    altgc.set_debug(altgc.DEBUG_SAVEALL)
    del d
    altgc.collect()
    altgc.set_debug(0)
    assert calls == [1]
    altgc.garbage.clear()
    altgc.collect()
    assert calls == [1]
    assert altgc.get_objects() == []


def test_finalizer_sees_intact_cycle():
    seen = []

    class D:
        def __del__(self):
            seen.append((self.other.other is self, list(self.data)))

    a, b = D(), D()
    a.other, b.other = b, a
    a.data = [1, 2]
    b.data = [3]
    track_with_dict(a, b)
    altgc.track(a.data)
    altgc.track(b.data)
    del a, b
    altgc.collect()
    assert sorted(seen) == [(True, [1, 2]), (True, [3])]
    assert altgc.get_objects() == []


# ---------------------------------------------------------------------------
# Weak references
# ---------------------------------------------------------------------------


class C1055820:
    def __init__(self, i):
        self.i = i
        self.loop = self


def test_bug1055820b():
    ouch = []

    def callback(ignored):
        ouch[:] = [wr() for wr in WRs]

    Cs = [C1055820(i) for i in range(2)]
    track_with_dict(*Cs)
    WRs = [weakref.ref(c, callback) for c in Cs]
    altgc.collect()
    assert len(ouch) == 0
    Cs = None
    altgc.collect()
    assert len(ouch) == 2
    for x in ouch:
        assert x is None


def test_weakref_callback_sees_cleared_ref_and_runs_once():
    calls = []

    def cb(wr):
        calls.append(wr() is None)

    o = self_loop_inst()
    track_with_dict(o)
    w = weakref.ref(o, cb)
    w2 = weakref.ref(o)  # no callback
    del o
    altgc.collect()
    assert calls == [True]
    assert w() is None and w2() is None
    altgc.collect()
    assert calls == [True]


def test_trash_weakref_callback_not_called():
    calls = []

    def cb(wr):
        calls.append(1)

    # the weakref is itself part of the garbage: its callback must not run
    o = Slots()
    o.a = o
    o.b = weakref.ref(o, cb)
    altgc.track(o)
    altgc.track(o.b)
    wo = weakref.ref(o)
    del o
    assert altgc.collect() == 2
    assert calls == []
    assert wo() is None


def test_trash_weakref_to_other_garbage_not_called():
    calls = []

    def cb(wr):
        calls.append(1)

    z = Slots()
    z.a = z
    cyc = [weakref.ref(z, cb)]
    cyc.append(cyc)
    altgc.track(z)
    altgc.track(cyc)
    altgc.track(cyc[0])
    del z, cyc
    assert altgc.collect() == 3
    assert calls == []


def test_trash_weakref_whose_referent_dies_in_the_clearing_is_not_called():
    # The garbage is a list and a weakref, neither of a type that can be
    # weakly referenced; the weakref's referent is a code object, which no
    # gc tracks and only the list holds, so it dies when the list is
    # cleared (list items go from the last).  The weakref must be cleared
    # before that, as CPython's handle_weakrefs does, or its callback
    # would run on trash.  (altgc skips its weakref phase when no garbage
    # object's type can take part in it: a weakref's type must count.)
    def scenario(collect, track):
        calls = []

        def cb(wr):
            calls.append(wr)

        code = compile("x", "<trash>", "eval")
        wr = weakref.ref(code, cb)
        cyc = [wr, code]
        cyc.append(cyc)
        track(cyc)
        track(wr)
        del code, wr, cyc
        return collect(), calls

    gc.collect()
    expected = scenario(gc.collect, lambda o: None)
    assert expected == (2, [])
    assert scenario(altgc.collect, altgc.track) == expected


def test_weakref_to_garbage_from_reachable_container_is_called():
    calls = []

    def cb(wr):
        calls.append(wr)

    z = Slots()
    z.a = z
    holder = [weakref.ref(z, cb)]
    altgc.track(z)
    altgc.track(holder)
    altgc.track(holder[0])
    del z
    assert altgc.collect() == 1
    assert len(calls) == 1 and calls[0] is holder[0]
    assert holder[0]() is None


def test_weakref_freed_by_its_callback_counts_as_collected():
    # CPython counts a reachable weakref that dies after its callback ran
    # (handle_weakrefs' num_freed) in collect()'s result: compare with gc.
    def scenario(collect, track):
        d = {}

        def cb(wr):
            del d["w"]

        z = Slots()
        z.a = z
        d["w"] = weakref.ref(z, cb)
        track(z)
        del z
        return collect()

    gc.collect()
    expected = scenario(gc.collect, lambda o: None)
    got = scenario(altgc.collect, altgc.track)
    assert got == expected


def test_weakref_callback_resurrecting_referent_is_impossible():
    # the callback receives the weakref, which is already dead
    got = []

    def cb(wr):
        got.append(wr())

    o = L()
    o.append(o)
    altgc.track(o)
    _wr = weakref.ref(o, cb)  # alive, so that its callback runs
    del o
    assert altgc.collect() == 1
    assert got == [None]


def test_weakref_to_reachable_object_not_cleared():
    keep = self_loop_inst()
    track_with_dict(keep)
    w = weakref.ref(keep)
    garbage = self_loop_inst()
    track_with_dict(garbage)
    wg = weakref.ref(garbage)
    del garbage
    assert altgc.collect() >= 1
    assert w() is keep
    assert wg() is None


# ---------------------------------------------------------------------------
# Callbacks
# ---------------------------------------------------------------------------


def test_callbacks_start_stop():
    visit = []

    def cb1(phase, info):
        visit.append((1, phase, dict(info)))

    def cb2(phase, info):
        visit.append((2, phase, dict(info)))

    altgc.callbacks.append(cb1)
    altgc.callbacks.append(cb2)
    lst = []
    lst.append(lst)
    altgc.track(lst)
    del lst
    n = altgc.collect()
    assert n == 1
    assert [v[0] for v in visit] == [1, 2, 1, 2]
    assert [v[1] for v in visit] == ["start", "start", "stop", "stop"]
    for v in visit:
        info = v[2]
        assert set(info) >= {"generation", "collected", "uncollectable"}
        assert info["generation"] == 2
    assert visit[2][2]["collected"] == 1
    assert visit[2][2]["uncollectable"] == 0
    assert visit[0][2]["collected"] == 0

    visit.clear()
    altgc.collect(1)
    assert len(visit) == 4
    assert all(v[2]["generation"] == 1 for v in visit)
    visit.clear()
    altgc.collect(0)
    assert all(v[2]["generation"] == 0 for v in visit)
    altgc.callbacks.remove(cb1)
    altgc.callbacks.remove(cb2)


def test_removed_callback_not_called():
    visit = []

    def cb(p, i):
        visit.append(p)

    altgc.callbacks.append(cb)
    altgc.collect()
    assert visit == ["start", "stop"]
    altgc.callbacks.remove(cb)
    altgc.collect()
    assert visit == ["start", "stop"]


def test_callback_cleans_uncollectable_garbage():
    visit = []

    def cb(phase, info):
        visit.append((phase, dict(info)))
        if phase == "stop":
            uc = [e for e in altgc.garbage if type(e) is _testobjs.LegacyDel]
            altgc.garbage[:] = [e for e in altgc.garbage if type(e) is not _testobjs.LegacyDel]
            for e in uc:
                e.ref = None

    altgc.callbacks.append(cb)
    a = _testobjs.LegacyDel()
    b = _testobjs.LegacyDel()
    a.ref = b
    b.ref = a
    altgc.track(a)
    altgc.track(b)
    del a, b
    n = altgc.collect()
    assert n == 2
    assert visit[1][0] == "stop"
    assert visit[1][1]["uncollectable"] == 2
    assert visit[1][1]["collected"] == 0
    assert altgc.garbage == []
    assert altgc.get_objects() == []
    altgc.callbacks.remove(cb)


def test_callback_raising_is_unraisable_and_collection_completes():
    def bad(phase, info):
        raise RuntimeError("boom-%s" % phase)

    good = []
    altgc.callbacks.append(bad)
    altgc.callbacks.append(lambda p, i: good.append(p))
    lst = []
    lst.append(lst)
    altgc.track(lst)
    del lst
    with capture_unraisable() as caught:
        n = altgc.collect()
    assert n == 1
    assert altgc.get_objects() == []
    assert len(caught) == 2
    assert all(t is RuntimeError for t, _ in caught)
    assert {m for _, m in caught} == {"boom-start", "boom-stop"}
    assert good == ["start", "stop"]


def test_del_raising_is_unraisable_and_collection_completes():
    class Bad:
        def __del__(self):
            raise ValueError("del-boom")

    objs = [self_loop_inst(Bad) for _ in range(3)]
    track_with_dict(*objs)
    k = len(altgc.get_objects())
    del objs
    with capture_unraisable() as caught:
        n = altgc.collect()
    assert n == k
    assert len(caught) == 3
    assert all(t is ValueError and m == "del-boom" for t, m in caught)
    assert altgc.get_objects() == []


def test_weakref_callback_raising_is_unraisable():
    def cb(wr):
        raise KeyError("wr-boom")

    o = self_loop_inst()
    track_with_dict(o)
    k = len(altgc.get_objects())
    _wr = weakref.ref(o, cb)  # alive, so that its callback runs
    del o
    with capture_unraisable() as caught:
        n = altgc.collect()
    assert n == k
    assert [t for t, _ in caught] == [KeyError]


# ---------------------------------------------------------------------------
# Freeze
# ---------------------------------------------------------------------------


def test_freeze_unfreeze():
    a = []
    a.append(a)
    b = [1]
    altgc.track(a)
    altgc.track(b)
    assert altgc.get_freeze_count() == 0
    altgc.freeze()
    assert altgc.get_freeze_count() == 2
    assert altgc.get_objects() == []
    assert altgc.get_count()[0] == 0
    assert altgc.is_tracked(a)
    ida = id(a)
    del a
    assert altgc.find_unreachable() == []
    assert altgc.collect() == 0  # frozen garbage is not examined
    assert altgc.get_freeze_count() == 2
    altgc.unfreeze()
    assert altgc.get_freeze_count() == 0
    objs = altgc.get_objects(2)
    assert {id(o) for o in objs} == {ida, id(b)}
    del objs
    assert altgc.collect() == 1
    assert altgc.get_objects() == [b]


def test_frozen_object_death_leaves_registry():
    x = []
    altgc.track(x)
    altgc.freeze()
    assert altgc.get_freeze_count() == 1
    del x
    assert altgc.get_freeze_count() == 0
    y = []
    assert not altgc.is_tracked(y)


def test_freeze_then_new_objects():
    a = []
    altgc.track(a)
    altgc.freeze()
    b = []
    b.append(b)
    altgc.track(b)
    del b
    assert altgc.collect() == 1
    assert altgc.get_freeze_count() == 1
    assert altgc.get_objects() == []


# ---------------------------------------------------------------------------
# find_unreachable groups
# ---------------------------------------------------------------------------


def test_find_unreachable_groups_are_sccs():
    a = []
    b = [a]
    a.append(b)  # a <-> b
    tail = [1]
    a.append(tail)  # tail hangs off the cycle: own singleton
    c = {}
    c["c"] = c  # separate self-loop
    for o in (a, b, tail, c):
        altgc.track(o)
    ids = {frozenset({id(a), id(b)}), frozenset({id(tail)}), frozenset({id(c)})}
    del a, b, tail, c, o
    got, expected = find_groups_ids()
    assert got == ids
    assert expected == ids
    assert len(altgc.get_objects()) == 4  # nothing freed
    assert altgc.collect() == 4


def test_find_unreachable_is_repeatable_and_non_destructive():
    dels = []

    class D:
        def __del__(self):
            dels.append(1)

    d = self_loop_inst(D)
    track_with_dict(d)
    w = weakref.ref(d)
    del d
    g1 = altgc_unreachable()
    g2 = altgc_unreachable()
    assert g1 == g2 and len(g1) >= 1
    assert dels == []
    assert w() is not None
    assert not altgc.is_finalized(w())
    assert altgc.collect() == len(g1)
    assert dels == [1]
    assert w() is None


def test_collection_untracks_atomic_tuples_and_dicts_like_the_builtin_gc():
    import gc

    # tracked now although its items are atomic (3.14+ untracks most such
    # tuples at creation; a dict item pair it does not)
    t_atomic = next(iter({3: 1}.items()))
    t_box = tuple([1, []])
    d_atomic = dict(a=1, b=t_atomic)  # tracked: holds a tracked tuple
    d_box = dict(a=[])
    objs = (t_atomic, t_box, d_atomic, d_box)
    assert all(gc.is_tracked(o) for o in objs)
    for o in objs:
        altgc.track(o)
    assert altgc.find_unreachable() == []
    assert all(gc.is_tracked(o) for o in objs)  # a look changes nothing
    altgc.collect(0)
    # young collections untrack tuples only
    assert not gc.is_tracked(t_atomic)
    assert gc.is_tracked(t_box) and gc.is_tracked(d_atomic)
    altgc.collect()
    # full collections dicts too -- until 3.13: from 3.14 CPython keeps
    # every dict tracked, and so does altgc
    assert gc.is_tracked(d_atomic) == (sys.version_info >= (3, 14))
    assert gc.is_tracked(t_box) and gc.is_tracked(d_box)
    # untracked but registered objects are left alone, not collected
    assert altgc.is_tracked(t_atomic) and altgc.is_tracked(d_atomic)
    assert altgc.collect() == 0
    assert t_atomic == (3, 1) and d_atomic["b"] is t_atomic


# ---------------------------------------------------------------------------
# Weakref clearing and get_stats() detail by CPython version (compat.h:
# AGC_WEAKREFS_RECLEAR 3.14+, AGC_WEAKREFS_SPLIT and AGC_GC_STATS_DETAIL
# 3.15), each scenario run under the builtin gc and under altgc
# ---------------------------------------------------------------------------


def _weakref_scenario(kind, use_altgc):
    """Builds the scenario `kind`, collects it with the builtin gc or with
    altgc and returns what can be seen of its weakrefs afterwards."""
    calls = []
    keep = []

    class Resurrector:
        def __del__(self):
            keep.append(self)

    class LateRef:
        def __del__(self):
            # a weakref with a callback to other garbage, made during the
            # collection
            keep.append(weakref.ref(self.other, lambda r: calls.append("late")))

    if kind == "resurrect":
        o = Resurrector()
        o.me = o
        objs = [o]
        w_plain = weakref.ref(o)
        w_cb = weakref.ref(o, lambda r: calls.append("cb"))
    elif kind == "garbage_weakref":
        # a resurrected object holds a callback-less weakref to a live
        # object; the weakref itself is part of the garbage
        target = Inst()
        o = Resurrector()
        o.me = o
        o.wr = weakref.ref(target)
        objs = [o, o.wr]  # the weakref is garbage too: register it
    else:  # "late_ref"
        o = LateRef()
        other = Inst()
        o.other = other
        other.o = o
        objs = [o, other]
        del other
    if use_altgc:
        track_with_dict(*objs)
    del o, objs
    if use_altgc:
        altgc.collect()
    else:
        gc.collect()
    if kind == "resurrect":
        result = (w_plain() is not None, w_cb() is not None, calls)
    elif kind == "garbage_weakref":
        result = (keep[0].wr() is target, calls)
    else:
        result = (keep[0]() is None, calls)
    keep.clear()
    return result


def test_resurrected_object_keeps_callbackless_weakref_on_315():
    # 3.15 clears only the weakrefs with callbacks before the finalizers
    # (their callbacks run); the callback-less ones wait for the
    # resurrection check and survive with their resurrected referent.
    # Until 3.14 both are cleared before the finalizers.
    expected = (PY >= (3, 15), False, ["cb"])
    assert _weakref_scenario("resurrect", use_altgc=False) == expected
    assert _weakref_scenario("resurrect", use_altgc=True) == expected
    info = altgc.last_collection()
    assert info.resurrected >= 1 and info.collected == 0


def test_garbage_weakref_resurrected_with_its_holder():
    # Until 3.14 a weakref that is garbage is cleared before the
    # finalizers, even if a finalizer then resurrects it: it stays dead
    # although its referent lives.  3.15 clears it only if it is still
    # garbage after the resurrection check.
    expected = (PY >= (3, 15), [])
    assert _weakref_scenario("garbage_weakref", use_altgc=False) == expected
    assert _weakref_scenario("garbage_weakref", use_altgc=True) == expected


def test_weakref_made_by_finalizer_cleared_without_callback_from_314():
    # 3.14+: weakrefs to the garbage made by finalizers are cleared after
    # the resurrection check without calling back (CPython's
    # clear_weakrefs, GH-91636); before, the callback ran when tp_clear
    # freed the referent.  The weakref is dead either way.  (3.13.x
    # releases after 3.13.0 may carry the fix in the builtin gc; altgc
    # keeps 3.13.0's behaviour there, so the builtin gc is compared on the
    # other versions only.)
    expected = (True, [] if PY >= (3, 14) else ["late"])
    assert _weakref_scenario("late_ref", use_altgc=True) == expected
    if PY != (3, 13):
        assert _weakref_scenario("late_ref", use_altgc=False) == expected


def test_get_stats_and_callback_info_keys_by_version():
    import gc as builtin_gc

    detail = PY >= (3, 15)
    keys = {"collections", "collected", "uncollectable"}
    if detail:
        keys |= {"candidates", "duration"}
    assert [set(d) for d in builtin_gc.get_stats()] == [keys] * 3
    assert [set(d) for d in altgc.get_stats()] == [keys] * 3
    infos = []
    altgc.callbacks.append(lambda phase, info: infos.append((phase, info)))
    objs = [[] for _ in range(5)]
    for o in objs:
        altgc.track(o)
    cyc = []
    cyc.append(cyc)
    altgc.track(cyc)
    del cyc
    old = altgc.get_stats()
    assert altgc.collect(0) == 1
    new = altgc.get_stats()
    assert [p for p, _ in infos] == ["start", "stop"]
    start, stop = infos[0][1], infos[1][1]
    assert set(start) == set(stop) == (keys - {"collections"}) | {"generation"}
    assert stop["generation"] == 0 and stop["collected"] == 1
    if not detail:
        return
    # candidates: the objects the collection examined (here the six young
    # registered objects); duration: its seconds, a float
    assert start["candidates"] == 0 and start["duration"] == 0.0
    assert type(stop["duration"]) is float and stop["duration"] > 0
    assert stop["candidates"] == 6
    assert new[0]["candidates"] == old[0]["candidates"] + 6
    assert new[0]["duration"] == pytest.approx(
        old[0]["duration"] + stop["duration"], rel=1e-6, abs=1e-9
    )
    for g in (1, 2):
        assert new[g] == old[g]
    assert all(isinstance(d["candidates"], int) and isinstance(d["duration"], float) for d in new)
