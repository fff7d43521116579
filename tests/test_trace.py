"""altgc.trace(): a collection told step by step.

The trace's numbers are checked against a pure-Python model of CPython's
algorithm (gc_refs = refcount, minus the references from examined
objects; reachable = what the objects with gc_refs > 0 reach), its final
classification against find_unreachable() on random graphs, its
collect=True against collect() (resurrection, weakref callbacks, legacy
finalizers); it keeps no reference, leaves the registry as it was, refuses
too many objects and bad arguments, and its HTML page's controls work in
headless Chromium.
"""

import gc
import json
import os
import re
import sys
import tempfile
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from support import untrack_everything
from test_differential import DEL_CALLS, WR_CALLS, graphs, make_garbage

import altgc
from altgc import _core, _testobjs, _trace


def registry_state():
    """The registry as its own introspection functions show it: ids per
    generation, in order, and the counts."""
    gens = []
    for g in range(3):
        objs = altgc.get_objects(g)
        gens.append([id(o) for o in objs])
        del objs
    return gens, altgc.get_count()


def make_example():
    """The issue's objects, registered, with only `c` kept: a <-> b is
    held by c; d <-> e is garbage."""
    a = []
    b = [a]
    a.append(b)
    c = [a]
    d = {}
    e = [d]
    d["e"] = e
    for o in (a, b, c, d, e):
        altgc.track(o)
    return c, [id(o) for o in (a, b, c, d, e)]


# ---------------------------------------------------------------------------
# What a user sees
# ---------------------------------------------------------------------------


def test_example_garbage_and_reachable():
    untrack_everything()
    c, (ia, ib, ic, id_, ie) = make_example()
    t = altgc.trace(generation=0)
    assert set(t.unreachable) == {id_, ie}
    assert [o.id for o in t.objects] == [ia, ib, ic, id_, ie]
    a, b, cc, d, _e = t.objects
    # update_refs copies the refcount; subtract_refs removes internal refs
    assert [o.gc_refs[0] for o in t.objects] == [o.refcount for o in t.objects]
    assert [o.gc_refs[1] for o in t.objects] == [0, 0, 1, 0, 0]
    assert cc.held_from_outside and not a.held_from_outside
    assert a.moved_by == cc.index and b.moved_by == a.index
    assert d.moved_by is None and not d.held_from_outside
    assert [o.states[2] for o in t.objects] == ["reachable"] * 3 + ["unreachable"] * 2
    assert t.phases == (
        "update_refs",
        "subtract_refs",
        "move_unreachable",
        "move_legacy_finalizers",
    )
    assert not t.collected and t.found == 2
    # look only: nothing freed, the same answer as find_unreachable
    groups = altgc.find_unreachable(0)
    assert {id(o) for g in groups for o in g} == {id_, ie}
    del groups
    # the per-edge steps: who decremented whom
    decs = {(s["source"], s["target"]) for s in t.steps if s["kind"] == "decref"}
    assert decs == {(ia, ib), (ib, ia), (ic, ia), (id_, ie), (ie, id_)}
    moves = [(s["source"], s["target"]) for s in t.steps if s["kind"] == "move"]
    assert sorted(moves) == sorted([(ic, ia), (ia, ib)])
    del c


def test_explicit_objects_bound_to_names_are_reachable():
    untrack_everything()
    a = []
    b = [a]
    a.append(b)
    d = {}
    e = [d]
    d["e"] = e
    t = altgc.trace(a, b, d, e)
    # every one is held by a name of this frame, which is not examined
    assert t.unreachable == []
    assert all(o.held_from_outside for o in t.objects)
    assert all(o.explicit for o in t.objects)
    # the trace's own argument tuple is not counted
    assert [o.refcount for o in t.objects] == [2, 2, 2, 2]
    assert [o.gc_refs[1] for o in t.objects] == [1, 1, 1, 1]
    assert t.generation == 0
    assert "generation 0 is the oldest holding one of the given objects" in t.why


def _garbage():
    a = []
    b = [a]
    a.append(b)
    return [a, b]


def test_explicit_objects_held_by_the_arguments_only():
    untrack_everything()
    t = altgc.trace(*_garbage())
    if sys.version_info < (3, 12):
        # 3.11's f(*seq) keeps the argument tuple on the caller's stack
        # during the call: one reference the trace cannot tell from the
        # program's (documented in trace()'s docstring)
        assert t.unreachable == []
        assert [o.gc_refs[1] for o in t.objects] == [1, 1]
    else:
        assert len(t.unreachable) == 2
    assert altgc.get_objects() == []


def test_table_json_and_html():
    untrack_everything()
    c, _ids = make_example()
    t = altgc.trace(generation=0)
    text = str(t)
    for col in ("refcount", "gc_refs copy", "after subtract", "reachable", "moved back by"):
        assert col in text
    assert "finalized" in text and "cleared" in text
    assert "unreachable: #3 dict, #4 list" in text
    assert "why: generation 0 was asked for" in text
    d = json.loads(t.to_json())
    assert d["unreachable"] == t.unreachable
    assert len(d["steps"]) == len(t.steps)
    html = t._repr_html_()
    assert html.count("<svg xmlns") == 1 and "agc-next" in html
    assert t._repr_html_() != html  # unique ids per output
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.html")
        page = t.to_html(path)
        with open(path, encoding="utf-8") as f:
            assert f.read() == page
    assert "prefers-color-scheme: dark" in page and "currentColor" in page
    assert not re.search(r"(src|href)=\"https?:", page)  # self-contained

    class P:
        def __init__(self):
            self.out = []

        def text(self, s):
            self.out.append(s)

    p = P()
    t._repr_pretty_(p, False)
    assert p.out == [text]
    del c


# What the "why" line says about automatic collection: one statement each.
_AUTOMATIC = {
    "disabled": "automatic collection is disabled (altgc.disable())",
    "off": "no automatic collection runs: threshold0 = 0",
    "not due": "no automatic collection is due",
    "due": "an automatic collection of generation",
}


def _one_statement(why, enabled, expected):
    """``why`` holds exactly the ``expected`` statement, once, and no
    other (so never both "disabled" and "enabled" nor "due" and "not due")."""
    found = {k: why.count(v) for k, v in _AUTOMATIC.items() if v in why}
    assert found == {("due" if expected in (0, 1, 2) else expected): 1}, why
    if not enabled:
        assert "altgc.enable() turns automatic collection back on" in why, why
        assert "is due" not in why and "enabled" not in why, why
    else:
        assert "disabled" not in why and "altgc.enable()" not in why, why
    if expected in (0, 1, 2):
        assert f"an automatic collection of generation {expected} is due" in why, why


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "disabled"])
@pytest.mark.parametrize("collected", [False, True], ids=["look", "collect"])
@pytest.mark.parametrize(
    ("counts", "thresholds", "pending", "total", "expected"),
    [
        ((1, 0, 0), (700, 10, 10), 0, 0, "not due"),
        ((700, 3, 3), (700, 10, 10), 0, 0, "not due"),
        # count1 is over its threshold, but nothing starts a collection
        # before count0 passes threshold0
        ((1, 11, 0), (700, 10, 10), 0, 0, "not due"),
        ((701, 0, 0), (700, 10, 10), 0, 0, 0),
        ((701, 11, 0), (700, 10, 10), 0, 0, 1),
        ((701, 11, 11), (700, 10, 10), 50, 100, 2),
        # a full collection waits for a quarter of generation 2
        ((701, 11, 11), (700, 10, 10), 24, 100, 1),
        ((5, 0, 0), (0, 10, 10), 0, 0, "off"),
    ],
    ids=[
        "not-due",
        "at-threshold",
        "gen1-over-gen0-not",
        "gen0-due",
        "gen1-due",
        "gen2-due",
        "gen2-waits",
        "threshold0-zero",
    ],
)
def test_why_states_automatic_collection_once(
    enabled, collected, counts, thresholds, pending, total, expected
):
    # The text depends on these numbers and the enabled flag only (not on
    # install mode, which registers objects but schedules the same way).
    why = _trace._why(0, False, counts, thresholds, pending, total, enabled, True, collected)
    assert why.startswith("generation 0 was asked for; ")
    _one_statement(why, enabled, expected if enabled else "disabled")
    if not enabled:
        call = "trace(collect=True)" if collected else "trace()"
        assert f"as this {call} call did" in why, why


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "disabled"])
@pytest.mark.parametrize("due", [True, False], ids=["due", "not-due"])
def test_why_of_a_real_trace_states_automatic_collection_once(enabled, due):
    untrack_everything()
    altgc.set_threshold(700, 10, 10)
    if enabled:
        altgc.enable()  # nothing registered: nothing is scheduled
    keep = []
    for _ in range(3):
        a = []
        a.append(a)
        altgc.track(a)
        keep.append(id(a))
    del a
    if due:
        # set_threshold() schedules nothing: the collection stays due
        altgc.set_threshold(altgc.get_count()[0] - 1)
    t = altgc.trace(generation=0)
    altgc.disable()
    assert sorted(t.unreachable) == sorted(keep)
    expected = "disabled" if not enabled else 0 if due else "not due"
    _one_statement(t.why, enabled, expected)
    assert f"why: {t.why}" in str(t)
    altgc.collect(0)


def test_untracked_registered_object_is_not_examined():
    untrack_everything()
    x = {}  # no container inside: the interpreter may not track it
    holder = [x]
    altgc.track(x)
    altgc.track(holder)
    t = altgc.trace(generation=0)
    ox = t.by_id(id(x))
    if gc.is_tracked(x):
        assert ox.states[0] == "tentative" and ox.gc_refs[1] == 1  # the name x
        return
    assert set(ox.states) == {"untracked"} and ox.gc_refs[1] is None
    assert ox.refcount is None and not ox.unreachable
    assert not [s for s in t.steps if s.get("target") == id(x)]
    assert "untracked" in str(t)


def test_reprs_safe_and_cut():
    untrack_everything()

    class Bad:
        def __repr__(self):
            raise ValueError("no")

    class Long:
        def __repr__(self):
            return "x" * 500

    bad, long_ = Bad(), Long()
    t = altgc.trace(bad, long_)
    assert t.objects[0].repr == "<repr raised ValueError>"
    assert len(t.objects[1].repr) == 80 and t.objects[1].repr.endswith("...")


# ---------------------------------------------------------------------------
# The numbers, against a model of the algorithm
# ---------------------------------------------------------------------------


def model(examined):
    """CPython's deduce_unreachable over the objects (a list, in the
    trace's order; their refcounts come from the trace): returns, per
    object, the internal references to it, and the reachable set."""
    index = {id(o): k for k, o in enumerate(examined)}
    tracked = [gc.is_tracked(o) for o in examined]
    internal = [0] * len(examined)
    succ = [[] for _ in examined]
    for k, o in enumerate(examined):
        if not tracked[k]:
            continue
        for r in gc.get_referents(o):
            j = index.get(id(r))
            if j is not None and tracked[j]:
                internal[j] += 1
                succ[k].append(j)
    return internal, succ, tracked


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(graphs())
def test_classification_and_gc_refs_match_the_model(spec):
    untrack_everything()
    roots = make_garbage(spec)
    t = altgc.trace(generation=2)

    groups = altgc.find_unreachable()
    found = {id(o) for g in groups for o in g}
    del groups
    assert set(t.unreachable) == found

    examined = altgc.get_objects()  # the registry's order is the trace's
    assert [id(o) for o in examined] == [o.id for o in t.objects]
    internal, succ, tracked = model(examined)
    del examined
    reachable = set()
    stack = []
    for k, o in enumerate(t.objects):
        if not tracked[k]:
            assert o.states[0] == "untracked"
            continue
        # update_refs: the refcount; subtract_refs: minus internal refs
        assert o.gc_refs[0] == o.refcount
        assert o.gc_refs[1] == o.refcount - internal[k]
        if o.gc_refs[1] > 0:
            assert o.held_from_outside
            reachable.add(k)
            stack.append(k)
    while stack:
        k = stack.pop()
        for j in succ[k]:
            if j not in reachable:
                reachable.add(j)
                stack.append(j)
    for k, o in enumerate(t.objects):
        if tracked[k]:
            assert o.unreachable == (k not in reachable)
            if o.moved_by is not None:
                assert o.moved_by in reachable and k in succ[o.moved_by]
                assert not o.held_from_outside
    # the decref steps are the model's edges
    decs = sorted((s["source"], s["target"]) for s in t.steps if s["kind"] == "decref")
    ids = [o.id for o in t.objects]
    want = sorted((ids[k], ids[j]) for k in range(len(ids)) for j in succ[k])
    assert decs == want

    # collect=True frees exactly those
    t2 = altgc.trace(generation=2, collect=True)
    assert set(t2.unreachable) == found
    assert t2.found == len(found)
    # free what is left (a resurrecting callback or finalizer keeps nothing:
    # graphs() has none), then forget what the finalizers and callbacks
    # of this example recorded
    untrack_everything()
    del roots
    gc.collect()
    DEL_CALLS.clear()
    WR_CALLS.clear()


# ---------------------------------------------------------------------------
# collect=True agrees with collect()
# ---------------------------------------------------------------------------

RESURRECTED = []
CALLED = []


class Phoenix:
    def __del__(self):
        RESURRECTED.append(self)


def _scenario():
    """A cycle with a weakref callback, a resurrecting finalizer, and a
    legacy-finalizer cycle; all registered, names dropped.  Returns the
    weakrefs to watch."""
    a = []
    b = [a]
    a.append(b)
    p = Phoenix()
    q = [p]
    p.q = q
    x = _testobjs.LegacyDel()
    y = _testobjs.LegacyDel()
    x.ref = y
    y.ref = x
    inst = _testobjs.Hostile()
    inst.set_refs(inst)
    wr = weakref.ref(inst, CALLED.append)
    for o in (a, b, p, q, x, y, inst):
        altgc.track(o)
    if hasattr(p, "__dict__"):
        altgc.track(p.__dict__)
    ids = {"a": id(a), "p": id(p), "x": id(x), "inst": id(inst)}
    return wr, ids


def _outcome():
    return (
        len(CALLED),
        len(RESURRECTED),
        sorted(type(o).__name__ for o in altgc.garbage),
    )


def _cleanup_scenario():
    for o in altgc.garbage:
        if isinstance(o, _testobjs.LegacyDel):
            o.ref = None
    altgc.garbage.clear()
    for p in RESURRECTED:
        p.q.clear()
    RESURRECTED.clear()
    CALLED.clear()
    untrack_everything()
    gc.collect()


def test_collect_true_agrees_with_collect():
    untrack_everything()
    wr, ids = _scenario()
    n = altgc.collect(0)
    want = _outcome()
    info = altgc.last_collection().as_dict()
    _cleanup_scenario()
    assert wr() is None
    del wr

    wr, ids = _scenario()
    t = altgc.trace(generation=0, collect=True)
    got = _outcome()
    info2 = altgc.last_collection().as_dict()
    assert t.found == n
    assert got == want
    for k in ("collected", "uncollectable", "resurrected", "unreachable"):
        if k in info:
            assert info2[k] == info[k], k
    assert wr() is None
    byid = {o.id: o for o in t.objects}
    # the legacy cycle: uncollectable, not finalized, not cleared
    assert byid[ids["x"]].uncollectable and not byid[ids["x"]].cleared
    # the resurrecting finalizer: finalized once, resurrected, survives
    p = byid[ids["p"]]
    assert p.finalized and p.resurrected and not p.freed
    # the weakref's callback ran for inst, which was cleared and freed
    inst = byid[ids["inst"]]
    assert inst.callbacks == 1 and inst.weakrefs_cleared >= 1
    assert inst.cleared and inst.freed
    a = byid[ids["a"]]
    assert a.cleared and a.freed and not a.resurrected
    assert "handle_resurrected_objects" in t.phases and "delete_garbage" in t.phases
    assert t.counts_after[0] == 0  # a collection of generation 0 resets its count
    _cleanup_scenario()
    del wr


def test_collect_true_really_frees():
    untrack_everything()
    c, ids = make_example()

    class Node:
        pass

    n1, n2 = Node(), Node()
    n1.other, n2.other = n2, n1
    w1 = weakref.ref(n1)
    altgc.track(n1)
    altgc.track(n2)
    del n1, n2
    t = altgc.trace(generation=0, collect=True)
    assert w1() is None
    freed = {o.id for o in t.objects if o.freed}
    assert {ids[3], ids[4]} <= freed
    assert all(not o.freed for o in t.objects if o.id in ids[:3])
    del c


# ---------------------------------------------------------------------------
# Limits, bad input, no reference kept, registry unchanged
# ---------------------------------------------------------------------------


def test_limit():
    untrack_everything()
    objs = [[] for _ in range(5)]
    with pytest.raises(ValueError, match=r"5 objects given, above the limit of 3"):
        altgc.trace(*objs, limit=3)
    for o in objs:
        altgc.track(o)
    before = registry_state()
    with pytest.raises(ValueError, match=r"hold 5 objects, above the limit of 4"):
        altgc.trace(generation=0, limit=4)
    with pytest.raises(ValueError, match=r"hold 6 objects, above the limit of 5"):
        altgc.trace([], generation=0, limit=5)
    assert registry_state() == before
    assert len(altgc.trace(generation=0, limit=5).objects) == 5
    # Beyond a Py_ssize_t is no limit (it was an OverflowError).
    assert len(altgc.trace(generation=0, limit=10**30).objects) == 5
    assert altgc._trace.DEFAULT_LIMIT == 10_000


def test_bad_input():
    with pytest.raises(TypeError, match=r"argument 2 must be a container .* not int"):
        altgc.trace([], 1)
    with pytest.raises(TypeError, match=r"argument 1 must be a container .* not str"):
        altgc.trace("x")
    with pytest.raises(TypeError, match="'generation'"):
        altgc.trace(generation="0")
    with pytest.raises(ValueError, match="'generation' must be 0, 1 or 2"):
        altgc.trace(generation=3)
    with pytest.raises(TypeError, match="'limit'"):
        altgc.trace(limit="9")
    with pytest.raises(ValueError, match="'limit' must be >= 0"):
        altgc.trace(limit=-1)
    with pytest.raises(TypeError, match="'collect'"):
        altgc.trace(collect=1)
    with pytest.raises(TypeError, match="'objects' must be a tuple"):
        _core._trace([], None, False, 10)
    assert altgc.get_objects() == []


def test_registry_left_as_it_was():
    untrack_everything()
    old = [[] for _ in range(4)]
    for o in old:
        altgc.track(o)
    altgc.collect(0)  # two generations in use
    young = [{} for _ in range(3)]
    for o in young:
        altgc.track(o)
    before = registry_state()
    extra = [[[]] for _ in range(3)]
    t = altgc.trace(*extra, old[1], young[2])
    assert t.generation == 1  # old[1] is in generation 1
    assert len(t.objects) == 4 + 3 + 3
    assert registry_state() == before
    assert [o.explicit for o in t.objects].count(True) == 5
    assert not any(altgc.is_tracked(o) for o in extra)
    del old, young, extra


def test_keeps_no_reference():
    untrack_everything()

    class Node:
        pass

    a, b = Node(), Node()
    a.b, b.a = b, a
    wa = weakref.ref(a)
    t = altgc.trace(a, b, collect=False)
    t2 = altgc.trace(a, b, collect=True)
    str(t), t.to_json(), t._repr_html_(), t2.to_html()
    del a, b
    gc.collect()
    assert wa() is None
    assert t.objects and t2.objects


def test_not_during_a_collection():
    untrack_everything()
    errors = []

    def cb(phase, info):
        try:
            altgc.trace()
        except RuntimeError as e:
            errors.append(str(e))

    altgc.callbacks.append(cb)
    try:
        altgc.collect()
    finally:
        altgc.callbacks.remove(cb)
    assert errors and "during a collection" in errors[0]


# ---------------------------------------------------------------------------
# The page in headless Chromium
# ---------------------------------------------------------------------------

CHECK = """
<script>
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(String(e.message));});
  var results=[];
  document.querySelectorAll('.altgc-trace').forEach(function(root){
    var next=root.querySelector('.agc-next'),prev=root.querySelector('.agc-prev');
    function text(){return root.querySelector('.agc-text').textContent;}
    function nodeRefs(){var r=[];root.querySelectorAll('[data-node] .agc-refs')
      .forEach(function(t){r.push(t.textContent);});return r.join(',');}
    var texts=[text()],refs=[nodeRefs()],guard=0;
    while(!next.disabled&&guard++<1000){next.click();texts.push(text());refs.push(nodeRefs());}
    var last=+root.getAttribute('data-step');
    prev.click();
    results.push({steps:texts.length,last:last,back:+root.getAttribute('data-step'),
                  refs:refs,texts:texts});
  });
  document.body.setAttribute('data-results',JSON.stringify(results));
  document.body.setAttribute('data-errors',JSON.stringify(errors));
})();
</script>
"""


def chromium_results(page):
    """Loads the page with CHECK in headless Chromium; returns (the
    results of stepping through every trace on it, script errors,
    console lines)."""
    from test_report_render import render_in_chromium

    dom, console = render_in_chromium(page.replace("</body>", CHECK + "</body>"))

    def attr(name):
        m = re.search(name + r'="([^"]*)"', dom)
        assert m, (name, dom[:2000])
        return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))

    return attr("data-results"), attr("data-errors"), console


def test_html_controls_in_chromium():
    untrack_everything()
    c, _ids = make_example()
    t = altgc.trace(generation=0)
    (r,), errors, console = chromium_results(t.to_html())
    assert errors == [] and not [m for m in console if "Uncaught" in m]
    assert r["steps"] == len(t.frames()) > 5
    assert r["last"] == r["steps"] - 1 and r["back"] == r["steps"] - 2
    # the nodes show gc_refs: the copy first, then the subtraction, one by one
    assert r["refs"][0] == ",".join(str(o.refcount) for o in t.objects)
    assert r["refs"][-1] == ",".join(str(o.gc_refs[-1]) for o in t.objects)
    assert any("subtract_refs: #0 list references #1 list" in x for x in r["texts"])
    assert any("the rest is unreachable: #3, #4" in x for x in r["texts"])
    del c


THEME_CHECK = """
<script>
(function(){
  var b=getComputedStyle(document.body);
  var t=getComputedStyle(document.querySelector('[data-node] text'));
  document.body.setAttribute('data-colors',JSON.stringify([b.color,b.backgroundColor,t.fill]));
})();
</script>
"""


def _luminance(css):
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_html_legible_in_light_and_dark(dark):
    from test_pictures import _chromium

    untrack_everything()
    c, _ids = make_example()
    page = altgc.trace(generation=0).to_html().replace("</body>", THEME_CHECK + "</body>")
    args = ["--virtual-time-budget=2000", "--dump-dom"] + (["--force-dark-mode"] if dark else [])
    with tempfile.TemporaryDirectory() as tmp:
        dom = _chromium(args, page, tmp)
    m = re.search(r'data-colors="([^"]*)"', dom)
    assert m, dom[:1000]
    text, background, node_text = json.loads(m.group(1).replace("&quot;", '"'))
    # the text, and the graph's labels (currentColor), contrast with the page
    assert abs(_luminance(text) - _luminance(background)) > 0.6
    assert node_text == text
    assert (_luminance(background) < 0.3) == dark
    del c
