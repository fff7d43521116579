"""Install mode inside the test process itself, so that the refleak
(python3.11-dbg, -R 3:3), sanitizer and valgrind campaigns see install.c
run (tests/test_install.py covers the behaviour in fresh interpreters)."""

import gc

import pytest
from support import cycle

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


def test_builtin_collect_routes_to_altgc(installed):
    w = cycle()
    builtin_gc.collect()
    assert w() is None


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
