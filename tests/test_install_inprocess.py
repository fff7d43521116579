"""Install mode inside the test process itself, so that the refleak
(python3.11-dbg, -R 3:3), sanitizer and valgrind campaigns see install.c
run (tests/test_install.py covers the behaviour in fresh interpreters)."""

import gc
import weakref

import pytest
from support import Node, cycle

import altgc
from altgc import _core
from altgc._install import builtin_gc


@pytest.fixture
def installed():
    assert altgc.install() is True
    try:
        yield
    finally:
        altgc.uninstall()
    assert not altgc.is_installed()


def test_install_collect_uninstall(installed):
    ws = [cycle() for _ in range(300)]
    lst = []
    lst.append(lst)
    assert altgc.is_tracked(lst)
    assert altgc.collect() >= 600
    assert all(w() is None for w in ws)
    assert altgc.is_tracked(lst)  # survivor, still adopted
    _core._validate()


def test_automatic_collections_in_process(installed):
    # install() took over the builtin gc's enabled flag, which the test
    # isolation fixture switched off
    assert not altgc.isenabled()
    altgc.enable()
    altgc.set_threshold(50)
    before = altgc.stats().generations[0].collections
    ws = [cycle() for _ in range(2000)]
    assert altgc.stats().generations[0].collections > before
    altgc.collect()
    assert all(w() is None for w in ws)
    _core._validate()


def test_collections_during_one_c_call_in_process(installed):
    # The builtin gc's trigger starts altgc's collections where it starts
    # its own (install.c, builtin_trigger_fn): 3.11 inside json.loads; from
    # 3.12 at the eval breaker after it, so at most one by the time the
    # figures are read.  Either way nothing is lost and the registry holds.
    import json
    import sys

    altgc.enable()
    altgc.set_threshold(100)
    doc = json.dumps([[i, {"k": [i]}] for i in range(3000)])
    ws = [cycle() for _ in range(50)]
    before = altgc.install_info().triggers
    result = json.loads(doc)
    triggers = altgc.install_info().triggers - before
    if sys.version_info < (3, 12):
        assert triggers >= 20, triggers
    else:
        assert triggers <= 1, triggers
    assert result[-1] == [2999, {"k": [2999]}]
    assert all(altgc.is_tracked(r) for r in result[::100])
    altgc.collect()
    assert all(w() is None for w in ws)
    _core._validate()


class _Busy:
    """Garbage whose finalizer works the registry while its collection
    runs, on objects adopted just before it."""

    def __init__(self, probe):
        self.me = self
        self.probe = probe

    def __del__(self):
        p = self.probe
        p["tracked"] = altgc.is_tracked(p["young"])
        altgc.track(p["young"])  # registered already: no second entry
        p["untracked"] = altgc.untrack(p["young2"])
        new = [[] for _ in range(50)]  # registered after the tail
        for x in new:
            altgc.track(x)
        p["new"] = new
        p["objects"] = len(altgc.get_objects())  # adopts what it made
        del p["lone"]  # a young survivor dies mid-collection
        p["resurrected"] = self  # garbage made reachable again


def test_young_collection_finalizer_works_the_registry(installed):
    size0 = altgc.stats().registry_size
    probe = {"young": [1], "young2": [2], "lone": Node()}
    lone = weakref.ref(probe["lone"])
    keep = [[i] for i in range(300)]
    ws = [cycle() for _ in range(300)]
    _Busy(probe)
    found = altgc.collect(0)
    assert found >= 600  # the cycles (a resurrected object is not counted)
    assert all(w() is None for w in ws)
    assert lone() is None
    assert probe["tracked"] is True
    assert probe["untracked"] is True
    assert not altgc.is_tracked(probe["young2"])
    assert altgc.is_tracked(probe["young"])
    assert altgc.is_tracked(probe["resurrected"])
    assert all(altgc.is_tracked(x) for x in keep + probe["new"])
    _core._validate()
    # every young survivor got a slot, and nothing twice: the registry
    # holds what it held, plus the survivors, and each is found once
    objs = altgc.get_objects()
    assert len(objs) == len({id(o) for o in objs})
    assert altgc.stats().registry_size - size0 >= len(keep) + 50
    del probe["resurrected"].me, probe, keep
    altgc.collect()
    _core._validate()


def test_builtin_collect_routes_to_altgc(installed):
    w = cycle()
    builtin_gc.collect()
    assert w() is None


def test_builtin_freeze_and_unfreeze_act_on_altgc(installed):
    # Before, the builtin gc.freeze() while installed froze only the
    # containers not adopted yet (altgc's get_freeze_count() read 0), and
    # gc.unfreeze() handed the adopted heap back to the builtin gc while
    # altgc kept it too.
    c = Node()
    c.me = c
    r = weakref.ref(c)
    builtin_gc.freeze()
    try:
        assert altgc.get_freeze_count() > 0
        assert builtin_gc.get_freeze_count() == altgc.get_freeze_count()
        del c
        altgc.collect()
        assert r() is not None  # frozen, as asked
    finally:
        builtin_gc.unfreeze()
    assert altgc.get_freeze_count() == 0
    altgc.collect()
    assert r() is None
    _core._validate()


def test_uninstall_puts_the_builtin_functions_back():
    names = ("collect", "freeze", "unfreeze", "get_freeze_count")
    before = {n: getattr(builtin_gc, n) for n in names}
    assert altgc.install()
    try:
        assert all(getattr(builtin_gc, n) is not before[n] for n in names)
        assert builtin_gc.get_freeze_count() == _core.get_freeze_count()
    finally:
        altgc.uninstall()
    assert {n: getattr(builtin_gc, n) for n in names} == before
    assert type(builtin_gc.freeze) is type(len)  # the builtin's own


def test_adopt_false_then_hand_back():
    w_old = cycle()
    assert altgc.install(adopt=False)
    try:
        assert not altgc.is_tracked(w_old())
        w_new = cycle()
        altgc.collect()
        assert w_new() is None
        assert w_old() is not None
    finally:
        altgc.uninstall()
    gc.collect()
    assert w_old() is None


def test_uninstall_keeps_user_registrations(installed):
    mine = []
    altgc.track(mine)
    other = []
    altgc.uninstall()
    assert altgc.is_tracked(mine)
    assert not altgc.is_tracked(other)
    altgc.untrack(mine)
    assert altgc.install() is True  # for the fixture's uninstall


def test_builtin_callbacks_see_altgcs_collections_in_process():
    seen = []

    def cb(phase, info):
        seen.append((phase, info["generation"]))

    builtin_gc.callbacks.append(cb)
    try:
        assert altgc.install() is True
        try:
            w = cycle()
            builtin_gc.collect()  # altgc's full collection, then the free lists
            assert w() is None
            assert seen == [("start", 2), ("stop", 2)]
        finally:
            altgc.uninstall()
    finally:
        builtin_gc.callbacks.remove(cb)
    _core._validate()
