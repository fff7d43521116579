"""Fixtures of the altgc test suite (helpers live in support.py).

Every test runs with:
  * the builtin gc collected, then disabled (so it cannot free anything the
    test is looking at), restored afterwards;
  * altgc's automatic collection disabled (tests that need it call
    altgc.enable()), debug flags 0;
and afterwards the altgc state is restored, everything the test registered is
untracked (frozen objects included), entries the test added to
altgc.garbage / altgc.callbacks are removed, and its watches end, so tests
are isolated.
"""

import gc
import sys
import types

import pytest
from support import DEBUG_BUILD, untrack_everything

import altgc
from altgc import _core


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


@pytest.fixture(autouse=True)
def no_watches_left():
    """The watches a test made end with it: explain's tests count
    ``watched()``, whichever test file ran before."""
    yield
    explain = sys.modules.get("altgc._explain")
    if explain is not None:
        for label in list(explain._watches):
            altgc.unwatch(label)


def _temporary_module(name, file=None):
    """Yield a fresh module *name* put in sys.modules (with *file* as its
    __file__ when given); afterwards remove it and clear its globals."""
    m = types.ModuleType(name)
    if file is not None:
        m.__file__ = file
    sys.modules[name] = m
    yield m
    del sys.modules[name]
    m.__dict__.clear()


@pytest.fixture
def mod():
    """A fresh module in sys.modules, without a file (its globals are named
    "module m's global x" by explain), removed afterwards."""
    yield from _temporary_module("altgc_test_mod")


@pytest.fixture
def usermod(request):
    """A module of the user's own (its file outside the libraries): its
    globals are explain()'s named roots and top()'s candidates.  Its name is
    the test module's USERMOD_NAME, "altgc_test_usermod" by default."""
    name = getattr(request.module, "USERMOD_NAME", "altgc_test_usermod")
    yield from _temporary_module(name, f"/home/user/project/{name}.py")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: 10**6-object scenarios run in a subprocess (deselect with -m 'not slow')"
    )
