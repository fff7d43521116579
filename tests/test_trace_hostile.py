"""altgc.trace() against hostile input: bad limits, reprs that run
collections or untrack the objects, containers whose whole repr would be
huge or deep, install mode's adopted argument tuple, and the HTML page
with type names and reprs a page or UTF-8 cannot carry as they are.

Each test failed before its fix (src/trace.c, altgc/_trace.py).
"""

import itertools
import json
import re
import sys
import weakref

import pytest
from support import run_python, untrack_everything
from test_trace import chromium_results, registry_state

import altgc

#: whether f(*seq) lets go of the argument tuple before f runs (3.12+); on
#: 3.11 the caller's stack holds it, so objects passed that way stay
#: reachable from outside the trace
ARGS_TUPLE_RELEASED = sys.version_info >= (3, 12)


def cycle_of(cls):
    a, b = cls(), cls()
    a.other, b.other = b, a
    return a, b


def test_limit_far_below_zero_is_a_value_error():
    # It was an OverflowError (the C core's Py_ssize_t), naming nothing.
    with pytest.raises(ValueError, match="'limit' must be >= 0"):
        altgc.trace(limit=-(10**30))
    with pytest.raises(ValueError, match="'limit' must be >= 0"):
        altgc.trace([], limit=-(2**63))


def test_lone_surrogates_in_reprs():
    untrack_everything()

    class S:
        def __repr__(self):
            return "s\ud800x"

    t = altgc.trace(*cycle_of(S))
    assert [o.repr for o in t.objects] == ["s\\ud800x"] * 2
    # everything the trace gives can be written as UTF-8 (it raised
    # UnicodeEncodeError for the page written to a file, and for print)
    str(t).encode("utf-8")
    t.to_json(ensure_ascii=False).encode("utf-8")
    t.to_html().encode("utf-8")
    t._repr_html_().encode("utf-8")


def test_lone_surrogates_page_written_to_a_file(tmp_path):
    untrack_everything()

    class S:
        def __repr__(self):
            return "\udc80" * 3

    t = altgc.trace(*cycle_of(S))
    page = t.to_html(str(tmp_path / "t.html"))
    assert (tmp_path / "t.html").read_text(encoding="utf-8") == page
    assert "\\udc80" in page


def _payload(page):
    m = re.search(r'<script type="application/json">(.*?)</script>', page, re.S)
    assert m
    return m.group(1)


def test_script_data_in_a_type_name_leaves_the_json_intact():
    untrack_everything()
    T = type("<!--<script>&", (), {})
    t = altgc.trace(*cycle_of(T))
    page = t.to_html()
    payload = _payload(page)
    # "<!--" then "<script" inside a script element hide its end tag
    assert "<" not in payload and ">" not in payload and "&" not in payload
    frames = json.loads(payload)["frames"]
    assert frames == t.frames()
    assert any("<!--<script>&" in f["text"] for f in frames)


def test_script_data_in_a_type_name_page_works_in_chromium():
    untrack_everything()
    T = type("<!--<script>", (), {})
    t = altgc.trace(*cycle_of(T))
    (r,), errors, console = chromium_results(t.to_html())
    assert errors == [] and not [m for m in console if "Uncaught" in m]
    assert r["steps"] == len(t.frames()) > 3
    # (the DOM dump may write "<" in the attribute as "&lt;")
    texts = [x.replace("&lt;", "<").replace("&gt;", ">") for x in r["texts"]]
    assert any("#0 <!--<script> references #1" in x for x in texts), texts


def test_empty_trace_page_has_no_script_error():
    untrack_everything()
    t = altgc.trace(generation=0)
    assert t.objects == [] and t.frames() == []
    (r,), errors, console = chromium_results(t.to_html())
    # show(0) read frames[0] of none: an error at load and at each click
    assert errors == [] and not [m for m in console if "Uncaught" in m]
    assert r["steps"] == 1


class Counted:
    calls = 0

    def __repr__(self):
        Counted.calls += 1
        return "C"


def test_repr_of_a_large_container_stops_at_the_cut():
    untrack_everything()
    big = [Counted() for _ in range(20_000)]
    big_d = {i: Counted() for i in range(20_000)}
    big_s = frozenset(range(20_000))
    keep = [big, big_d, big_s]
    Counted.calls = 0
    t = altgc.trace(big, big_d, keep)
    # repr() of each would call all 40000 (and repr keep's 60000 items)
    assert Counted.calls < 200
    assert t.by_id(id(big)).repr == ("[" + ", ".join(["C"] * 40))[:77] + "..."
    assert t.by_id(id(big_d)).repr == repr(big_d)[:77] + "..."
    assert t.by_id(id(keep)).repr == repr(keep)[:77] + "..."
    del big, big_d, big_s, keep


def test_repr_of_a_deep_chain_stops_at_the_cut():
    untrack_everything()
    n = 3000
    nodes = [{"c": Counted()} for _ in range(n)]
    for a, b in itertools.pairwise(nodes):
        a["n"] = b
    for d in nodes:
        altgc.track(d)
    Counted.calls = 0
    t = altgc.trace(generation=0)
    # each repr followed the chain to the recursion limit: ~10^6 calls
    assert Counted.calls < 20 * n
    assert len(t.objects) == n
    r = t.objects[0].repr
    assert r.startswith("{'c': C, 'n': {'c': C, 'n': {") and r.endswith("...")
    assert len(r) == 80
    assert t.objects[-1].repr == "{'c': C}"
    del nodes, d


def test_reprs_of_builtin_containers_are_repr_up_to_the_cut():
    untrack_everything()
    a = [1, "x'\"", (2,), (), {3: frozenset()}, set(), frozenset({4}), {5}, None, 1.5]
    a.append(a)
    d = {"self": None, (1, 2): [a]}
    d["self"] = d
    t1 = (a,)
    many = [Counted()] * 10_000
    objs = [a, d, t1, [t1, d], {frozenset({1}): ({},)}, frozenset({(1,)}), many, {1: many}]
    Counted.calls = 0
    t = altgc.trace(*objs)
    assert Counted.calls < 100
    for o in objs:
        want = repr(o)
        want = want if len(want) <= 80 else want[:77] + "..."
        assert t.by_id(id(o)).repr == want
    del a, d, t1, many, objs


@pytest.mark.parametrize("action", ["collect", "untrack", "nested_collecting_trace"])
def test_repr_that_changes_the_registry(action):
    """A repr runs before the collection: the objects it promoted
    (collect()), untracked or collected under the trace's feet were left
    out of the trace, silently ("0 examined")."""
    untrack_everything()

    class R:
        def __repr__(self):
            if action == "collect":
                altgc.collect()
            elif action == "untrack":
                altgc.untrack(self)
            else:
                altgc.trace([], collect=True)
            return "R"

    keeper = [[]]
    altgc.track(keeper)
    before = registry_state()
    a, b = cycle_of(R)
    ids = sorted((id(a), id(b)))
    t = altgc.trace(a, b)
    assert sorted(o.id for o in t.objects if o.explicit) == ids
    assert sorted(t.unreachable) == []  # the names a and b hold them
    del a, b
    t = altgc.trace(*cycle_of(R))
    assert len([o for o in t.objects if o.explicit]) == 2
    # (3.11's f(*seq) keeps the argument tuple on the caller's stack during
    # the call: a reference the trace cannot tell from the program's, see
    # test_trace.test_explicit_objects_held_by_the_arguments_only)
    assert len(t.unreachable) == (2 if ARGS_TUPLE_RELEASED else 0)
    assert all(o.repr == "R" for o in t.objects if o.explicit)
    if action == "untrack":
        assert registry_state() == before
    assert not any(isinstance(o, R) for o in altgc.get_objects())
    del keeper


def test_repr_that_installs_gives_a_clear_error_or_a_full_trace():
    code = """
        import gc, sys
        import altgc
        import altgc._trace

        # The trace examines the heap install() adopts: garbage its own
        # imports left (operator.py's pure-Python classes, replaced by
        # _operator's) would be unreachable there too.
        gc.collect()

        class R:
            def __repr__(self):
                altgc.install()
                return "R"

        def make():
            a, b = R(), R()
            a.other, b.other = b, a
            return a, b

        try:
            t = altgc.trace(*make(), limit=10**7)
        finally:
            altgc.uninstall()
        explicit = [o for o in t.objects if o.explicit]
        assert len(explicit) == 2, repr(t)
        if sys.version_info >= (3, 12):  # see ARGS_TUPLE_RELEASED
            assert sorted(t.unreachable) == sorted(o.id for o in explicit), str(t)
        print("ok")
    """
    assert run_python(code).stdout.strip() == "ok"


def test_install_mode_argument_tuple_is_not_examined():
    # install mode adopts every new container, trace()'s argument tuple
    # too: it was examined, its references subtracted on top of own_refs
    # (gc_refs -1) and, held by the call, it made the cycle reachable.
    code = """
        import sys
        import altgc

        def make():
            a = []
            b = [a]
            a.append(b)
            return a, b

        altgc.install()
        try:
            t = altgc.trace(*make())
            tc = altgc.trace(*make(), generation=0, collect=True)
        finally:
            altgc.uninstall()
        explicit = [o for o in t.objects if o.explicit]
        assert len(explicit) == 2
        assert all(r is None or r >= 0 for o in t.objects for r in o.gc_refs), str(t)
        if sys.version_info >= (3, 12):  # see ARGS_TUPLE_RELEASED
            assert all(o.unreachable and o.moved_by is None for o in explicit), str(t)
            assert sorted(t.unreachable) == sorted(o.id for o in explicit), str(t)
            assert tc.found >= 2 and len(tc.unreachable) >= 2, str(tc)
        else:  # the caller's tuple (adopted too) holds them from outside
            assert not any(o.unreachable for o in explicit), str(t)
        print("ok")
    """
    assert run_python(code).stdout.strip() == "ok"


def test_install_mode_argument_tuple_is_registered_again_as_it_was():
    # The trace hides an adopted argument tuple and registers it again
    # afterwards as adopted: released at uninstall() like the rest of the
    # adopted heap, and not the user's (it was the user's, kept registered
    # after uninstall, before 2026-12-07).
    code = """
        import altgc

        class Node:
            pass

        altgc.install()
        a, b = Node(), Node()
        a.b, b.a = b, a
        args = (a, b)
        mine = (b, a)
        altgc.collect()                       # adopts both tuples
        altgc.track(mine)                     # mine is the user's now
        altgc._core._trace(args, 0, False, 10**6)
        altgc._core._trace(mine, 0, False, 10**6)
        altgc.uninstall()
        print(altgc.is_tracked(args), altgc.is_tracked(mine))
    """
    assert run_python(code).stdout.split() == ["False", "True"]


def test_untracked_during_the_collection_is_alive_not_freed():
    """A finalizer that untracks a live object (altgc.untrack) leaves a
    hole in the registry as a death does: the trace said "freed" of an
    object that was alive (DESIGN.md, "Tracing a collection")."""
    untrack_everything()
    survivor = [[]]  # held by this frame: alive throughout

    class D:
        def __del__(self):
            altgc.untrack(survivor)

    altgc.track(survivor)
    a, b = cycle_of(D)
    altgc.track(a)
    altgc.track(b)
    ida, idb = id(a), id(b)
    del a, b
    t = altgc.trace(generation=0, collect=True)
    o = t.by_id(id(survivor))
    assert not o.freed and o.untracked_alive, str(t)
    assert o.states[0] == "tentative" and o.states[-1] == "untracked, alive"
    k = t.phases.index("finalize_garbage")
    assert o.states[k] == "untracked, alive" and o.states[k - 1] == "reachable"
    assert o.gc_refs[-1] is None  # not read: it left the registry
    assert all(t.by_id(i).freed and not t.by_id(i).untracked_alive for i in (ida, idb))
    assert not altgc.is_tracked(survivor) and survivor == [[]]
    # the table, JSON and the page say so
    text = str(t)
    row = next(line for line in text.splitlines() if line.startswith("#0 list"))
    assert row.endswith("untracked, alive") and "freed" not in row
    assert "2 freed, 1 untracked (alive)" in text.splitlines()[0]
    d = json.loads(t.to_json())
    (jo,) = [x for x in d["objects"] if x["id"] == id(survivor)]
    assert jo["untracked_alive"] and not jo["freed"]
    last = [s for s in d["steps"] if s["kind"] == "object" and s["id"] == id(survivor)][-1]
    assert last["state"] == "untracked, alive"
    page = t.to_html()
    assert "untracked, alive" in _payload(page)  # the step-through's states
    table = page.split('<pre class="altgc-text"')[1]  # the table under the picture
    legend_last = page.split("<svg")[-1]
    assert "1 untracked (alive)" in table and "untracked, alive" in legend_last
    frames = t.frames()
    assert frames[-1]["states"][o.index] == "untracked, alive"


def test_untracked_by_a_weakref_callback_is_alive_not_freed():
    untrack_everything()
    survivor = [[]]
    altgc.track(survivor)

    class N:
        pass

    a, b = cycle_of(N)
    altgc.track(a)
    altgc.track(b)
    wr = weakref.ref(a, lambda r: altgc.untrack(survivor))
    del a, b
    t = altgc.trace(generation=0, collect=True)
    assert wr() is None
    o = t.by_id(id(survivor))
    assert o.untracked_alive and not o.freed, str(t)
    k = t.phases.index(
        "handle_weakrefs" if "handle_weakrefs" in t.phases else "handle_weakref_callbacks"
    )
    assert o.states[k:] == ("untracked, alive",) * (len(t.phases) - k)
    assert sum(x.freed for x in t.objects) == 2


def test_untracked_then_freed_in_the_same_collection():
    """An object a finalizer untracks and tp_clear then frees: alive (not
    examined) after finalize_garbage, freed after delete_garbage."""
    untrack_everything()

    class D:
        def __del__(self):
            altgc.untrack(self.x)

    a, b = cycle_of(D)
    x = []
    a.x = b.x = x  # the cycle holds x: garbage too
    for o in (a, b, x):
        altgc.track(o)
    idx = id(x)
    del a, b, x, o
    t = altgc.trace(generation=0, collect=True)
    o = t.by_id(idx)
    assert o.unreachable and o.freed and not o.untracked_alive, str(t)
    k = t.phases.index("finalize_garbage")
    assert o.states[k - 1] == "unreachable" and o.states[k] == "untracked, alive"
    assert o.states[-1] == "freed"
