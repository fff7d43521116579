"""Fixtures of the altgc test suite (helpers live in support.py).

Every test runs with:
  * the builtin gc collected, then disabled (so it cannot free anything the
    test is looking at), restored afterwards;
  * altgc's automatic collection disabled (tests that need it call
    altgc.enable()), debug flags 0;
and afterwards the altgc state is restored, everything the test registered is
untracked (frozen objects included), and entries the test added to
altgc.garbage / altgc.callbacks are removed, so tests are isolated.
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


@pytest.fixture
def mod():
    """A fresh module in sys.modules (its globals are named "module m's
    global x" by explain), removed afterwards."""
    m = types.ModuleType("altgc_test_mod")
    sys.modules[m.__name__] = m
    yield m
    del sys.modules[m.__name__]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: 10**6-object scenarios run in a subprocess (deselect with -m 'not slow')"
    )
