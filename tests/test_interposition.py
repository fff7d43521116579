"""Per-kind tp_dealloc interposition (src/kinds.c, registry invariant I7).

altgc interposes the deallocator of a free-list type (list, dict, tuple,
slice, context, async-generator helpers and the version's others: the
AGC_FREELIST_KINDS table of src/compat.h) only while objects of that
exact type are registered or watched, so that the deaths of, say, dicts cost
nothing while only lists are registered.  These tests check the demand
counts, that deaths are still seen across every switch (the free-list reuse
case of docs/DESIGN.md, "Learning of deaths"), and that switching in the
middle of a deallocation -- and deep structures deallocated on either side
of a switch -- neither crash nor lose a death.  `_core._interposed()`
reports {type name: demand} for the kinds interposed now.
"""

import pytest
from support import L, run_python

import altgc
from altgc import _core


def demand(name):
    return _core._interposed().get(name, 0)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: [], "list"),
        (lambda: {"k": []}, "dict"),
        (lambda: ([],), "tuple"),
    ],
)
def test_demand_follows_registrations(make, name):
    before = demand(name)
    xs = [make() for _ in range(3)]
    for x in xs:
        altgc.track(x)
    assert demand(name) == before + 3
    altgc.track(xs[0])  # twice: no second unit
    assert demand(name) == before + 3
    assert altgc.untrack(xs[0]) is True
    assert demand(name) == before + 2
    del x
    xs.pop()  # dies: the hook saw it
    assert demand(name) == before + 1
    del xs
    assert demand(name) == before
    assert altgc.get_objects() == []


def test_subclass_instances_need_no_interposition():
    # A list subclass instance is never free-listed: its death reaches the
    # allocator's free hook, so registering it raises no list demand.
    before = demand("list")
    obj = L()
    altgc.track(obj)
    assert demand("list") == before
    del obj
    assert altgc.get_objects() == []
    again = [L() for _ in range(20)]
    assert not any(altgc.is_tracked(o) for o in again)
    assert demand("list") == before


def test_free_list_reuse_across_switch_off_and_on():
    # x is the only registered list: its death switches the list hook off;
    # the next list takes x's address from the free list and must not look
    # registered; registering it switches the hook on again and its death
    # is seen.
    before = demand("list")
    x = []
    altgc.track(x)
    addr = id(x)
    del x
    assert demand("list") == before
    y = []
    assert id(y) == addr, "free list did not hand the address back"
    assert not altgc.is_tracked(y)
    altgc.track(y)
    assert demand("list") == before + 1
    del y
    z = []
    assert id(z) == addr
    assert not altgc.is_tracked(z)
    assert altgc.get_objects() == []
    assert demand("list") == before


def test_watch_raises_and_releases_demand():
    before = demand("dict")
    d = {"a": 1}
    altgc.watch(d, label="interposition-test")
    try:
        assert demand("dict") == before + 1
        addr = id(d)
        del d
        assert demand("dict") == before
        e = {}
        assert id(e) == addr
        assert altgc.explain("interposition-test").alive is False
    finally:
        altgc.unwatch("interposition-test")
    assert demand("dict") == before


def test_unwatch_of_live_object_releases_demand():
    before = demand("tuple")
    t = ([],)
    altgc.watch(t, label="interposition-tuple")
    assert demand("tuple") == before + 1
    altgc.unwatch("interposition-tuple")
    assert demand("tuple") == before
    del t


def test_fresh_interpreter_interposes_nothing_until_needed():
    run_python("""
        import altgc, contextvars
        from altgc import _core
        assert _core._interposed() == {}, _core._interposed()
        x = []
        altgc.track(x)
        assert _core._interposed() == {"list": 1}, _core._interposed()
        ctx = contextvars.copy_context()
        altgc.track(ctx)
        assert _core._interposed() == {"list": 1, "_contextvars.Context": 1}
        del x, ctx
        assert _core._interposed() == {}, _core._interposed()
        altgc.install()
        got = _core._interposed()
        assert {"list", "dict", "tuple"} <= set(got), got
        altgc.uninstall()
        assert _core._interposed() == {}, _core._interposed()
        _core._validate()
    """)


def test_deep_structures_with_hooks_on():
    # With list, dict and tuple interposed, the hooks' own trashcan (used
    # from a nesting of 20 on) must keep 10**6-deep structures from
    # overflowing the C stack.
    run_python(
        """
        import altgc
        from altgc import _core
        keep = [[], {}, ([],)]
        for o in keep:
            altgc.track(o)
        assert {"list", "dict", "tuple"} <= set(_core._interposed())
        for wrap in (lambda x: [x], lambda x: {"k": x}, lambda x: (x,),
                     lambda x: [{"k": (x,)}]):
            root = None
            for _ in range(10**6):
                root = wrap(root)
            del root
        _core._validate()
        print("ok")
    """,
        timeout=600,
    )


def test_switch_off_inside_the_hook_with_deep_contents():
    # The last registered list holds a 10**5-deep chain: its death turns the
    # list hook off in the middle of its own deallocation; the chain is then
    # deallocated by the original list_dealloc, whose trashcan applies.
    run_python(
        """
        import altgc
        from altgc import _core
        node = None
        for _ in range(10**5):
            node = [node]
        top = [node]
        del node
        altgc.track(top)
        assert _core._interposed() == {"list": 1}
        del top
        assert _core._interposed() == {}
        assert altgc.get_objects() == []
        _core._validate()
        print("ok")
    """,
        timeout=600,
    )


def test_switch_on_inside_the_original_with_deep_contents():
    # Nothing is registered; a 10**5-deep chain ends in an object whose
    # __del__ registers lists: the hook is switched on while original
    # deallocators (and the trashcan's deferred objects) are mid-flight.
    run_python(
        """
        import altgc
        from altgc import _core
        kept = []

        class Registers:
            def __del__(self):
                for _ in range(3):
                    x = []
                    kept.append(x)
                    altgc.track(x)

        node = [Registers()]
        for _ in range(10**5):
            node = [node, {"d": (node,)}]
        assert _core._interposed() == {}
        del node
        assert _core._interposed() == {"list": 3}, _core._interposed()
        assert len(altgc.get_objects()) == 3
        _core._validate()
        kept.clear()
        assert _core._interposed() == {}
        assert altgc.get_objects() == []
        _core._validate()
        print("ok")
    """,
        timeout=600,
    )
