"""Model-based fuzzing of altgc (Hypothesis RuleBasedStateMachine).

The machine builds a heap of containers of many kinds (list, dict, tuple,
set, instances with and without __slots__ / __dict__ / __weakref__, objects
whose __del__ records, resurrects or raises, weakrefs with and without
callbacks), links and unlinks them, tracks and untracks them, deletes root
names, runs altgc.find_unreachable() / altgc.collect(g) / altgc.explain(), and after every
step compares altgc with a pure-Python model of the heap:

* the model knows every reference between the objects it created (a graph
  of nodes with out-edges, with multiplicity), the roots (self.roots, a
  plain dict the machine owns, external to altgc) and the RESURRECTED list;
  from that it simulates reference counting (deaths, __del__ on refcount
  death, refcount resurrection, weakref clearing) and altgc's collection
  (shadow counts over the young generations, unreachable set, weakref
  clearing / callbacks / trash weakrefs, __del__ once, resurrection,
  tp_clear, promotion of the survivors);
* the machine's bookkeeping holds no strong reference to any object it
  created other than the roots dict: nodes store ids and weakrefs only.

Checks after every step: the registry per generation equals the model's
(altgc.get_objects(g)), get_count(), find_unreachable(g) for g = 0, 1, 2
(exact set and strongly-connected grouping), every object reachable from the
roots / RESURRECTED is alive, intact (same identity, same contents) and
registered as the model says, weakrefs are alive/dead as the model says,
__del__ ran exactly the expected times (at most once per object),
callbacks ran as expected (trash weakrefs never, and always with the
referent already cleared), unraisable exceptions are exactly the expected
ones, collect() returned the model's count and last_collection() agrees,
and _core._validate() passes.

Settings: HYPOTHESIS_PROFILE=ci (also the default when unset) is a quick
run (60 examples x 40 steps, 10-20 s since the machine also calls
explain()); ALTGC_FUZZ=long runs 2000 examples x 100 steps (over half an
hour per interpreter); ALTGC_FUZZ_EXAMPLES=N sets the number of examples of
either profile.  -s shows the number of steps executed and what was
exercised (finalizers, resurrections, trash weakrefs, ...):

    HYPOTHESIS_PROFILE=ci python -m pytest tests/test_statemachine.py -q -s
    ALTGC_FUZZ=long python -m pytest tests/test_statemachine.py -q -s
    ALTGC_FUZZ=long ALTGC_FUZZ_EXAMPLES=300 python -m pytest tests/test_statemachine.py -q -s
"""

import collections
import gc
import itertools
import os
import sys
import weakref

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from support import scc_partition, untrack_everything

import altgc
from altgc import _core

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

_SUPPRESS = list(HealthCheck)

PROFILES = {
    "ci": dict(
        max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=_SUPPRESS
    ),
    "long": dict(
        max_examples=2000, stateful_step_count=100, deadline=None, suppress_health_check=_SUPPRESS
    ),
}


def profile_name():
    if os.environ.get("ALTGC_FUZZ", "").lower() == "long":
        return "long"
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    return name if name in PROFILES else "ci"


def machine_settings():
    chosen = dict(PROFILES[profile_name()])
    examples = os.environ.get("ALTGC_FUZZ_EXAMPLES")
    if examples:
        chosen["max_examples"] = int(examples)
    return settings(**chosen)


# ---------------------------------------------------------------------------
# Objects the machine creates
# ---------------------------------------------------------------------------

_NIDS = itertools.count(1)  # node ids, unique for the whole process
_DEL_LOG = []  # nids whose __del__ ran
_CB_LOG = []  # (weakref nid, referent already cleared?)
RESURRECTED = []  # where DelResurrect objects put themselves
# 3.15 clears callback-less weakrefs only after the resurrection check
# (docs/VERSIONS.md, "weakref clearing").
WEAKREFS_SPLIT = sys.version_info >= (3, 15)


class Plain:  # __dict__ + __weakref__
    def __init__(self, nid):
        self._nid = nid


class Slots:  # neither __dict__ nor __weakref__
    __slots__ = ("_nid", "a", "b", "c")

    def __init__(self, nid):
        self._nid = nid


class SlotsWeak:  # slots + __weakref__
    __slots__ = ("__weakref__", "_nid", "a", "b", "c")

    def __init__(self, nid):
        self._nid = nid


class SlotsDict:  # slot "a" + __dict__ (b, c, _nid)
    __slots__ = ("__dict__", "a")

    def __init__(self, nid):
        self._nid = nid


class DelRecord(Plain):
    def __del__(self):
        _DEL_LOG.append(self._nid)


class DelResurrect(Plain):
    def __del__(self):
        _DEL_LOG.append(self._nid)
        RESURRECTED.append(self)


class DelRaise(Plain):
    def __del__(self):
        _DEL_LOG.append(self._nid)
        raise ValueError("altgc-sm %d" % self._nid)


class DelUntrack(Plain):  # re-entrancy: untrack() from __del__
    def __del__(self):
        _DEL_LOG.append(self._nid)
        altgc.untrack(self)


class DelSlots:  # slots + __del__, no __weakref__
    __slots__ = ("_nid", "a", "b", "c")

    def __init__(self, nid):
        self._nid = nid

    def __del__(self):
        _DEL_LOG.append(self._nid)


class WeakSub(weakref.ref):  # not shared like a callback-less ref
    __slots__ = ()


def _make_callback(nid):
    def callback(wr, _nid=nid):
        _CB_LOG.append((_nid, wr() is None))

    return callback


INSTANCE_CLASSES = {
    "plain": Plain,
    "slots": Slots,
    "slotsw": SlotsWeak,
    "slotsd": SlotsDict,
    "del": DelRecord,
    "delres": DelResurrect,
    "delraise": DelRaise,
    "deluntrack": DelUntrack,
    "delslots": DelSlots,
}
INSTANCE_KINDS = tuple(INSTANCE_CLASSES)
ATTRS = ("a", "b", "c")
KEYS = ("k0", "k1", "k2", "k3")
SLOT_ATTRS = {"slots": ATTRS, "slotsw": ATTRS, "delslots": ATTRS, "slotsd": ("a",)}
HAS_DICT = {"plain", "slotsd", "del", "delres", "delraise", "deluntrack"}
HAS_DEL = {"del", "delres", "delraise", "deluntrack", "delslots"}
WEAKREFABLE = {"plain", "slotsw", "del", "delres", "delraise", "deluntrack", "set"}
CONTAINER_TYPES = {"list": list, "dict": dict, "tuple": tuple, "set": set, "idict": dict}

MAX_ALIVE = 48

# Counters over the whole test run (module level so the test can assert the
# machine really ran and print what it exercised).
STATS = collections.Counter()


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


class Node:
    """What the model knows about one object: no strong reference to it."""

    __slots__ = (
        "attrs",
        "bk",
        "bk_stale",
        "cb",
        "dict_nid",
        "finalized",
        "gen",
        "items",
        "kind",
        "nid",
        "oid",
        "owner",
        "target",
        "tracked",
        "wcls",
    )

    def __init__(self, nid, kind, oid):
        self.nid = nid
        self.kind = kind
        self.oid = oid
        self.tracked = False
        self.gen = None
        self.finalized = False
        self.items = None  # list/tuple: [nid]; dict: {key: nid}; set: {nid}
        self.attrs = {}  # instances: {attr: nid}
        self.dict_nid = None  # instances: node of the materialized __dict__
        self.owner = None  # idict: the instance's Node
        self.target = None  # weakref: referent nid (None: dead/cleared)
        self.cb = False  # weakref: has a callback
        self.wcls = None  # weakref: its class
        self.bk = None  # bookkeeping weakref (weak-referenceable kinds)
        self.bk_stale = False  # bk cleared by a collection, object survived

    def __repr__(self):
        return "<%s #%d%s gen=%s>" % (
            self.kind,
            self.nid,
            "" if self.tracked else " untracked",
            self.gen,
        )


def _idx():
    return st.integers(min_value=0, max_value=63)


def _track_flag():
    # Mostly tracked; shrinks towards tracked.
    return st.integers(min_value=0, max_value=9).map(lambda i: i < 9)


class AltgcMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._ready = False
        # Environment: builtin gc off, altgc automatic collection off,
        # unraisable exceptions captured.
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        gc.collect(0)
        self._altgc_was_enabled = altgc.isenabled()
        self._altgc_debug = altgc.get_debug()
        altgc.disable()
        altgc.set_debug(0)
        untrack_everything()
        RESURRECTED.clear()
        _DEL_LOG.clear()
        _CB_LOG.clear()
        self.unraisable = []
        self._old_hook = sys.unraisablehook
        sys.unraisablehook = self._hook
        self._garbage_len = len(altgc.garbage)

        # Strong references: only here (and in the objects themselves).
        self.roots = {}  # name -> object

        # Model.
        self.root_names = {}  # name -> nid
        self.nodes = {}  # nid -> Node, alive objects only
        self.resurrected = collections.Counter()  # nid -> entries in RESURRECTED
        self.count = list(altgc.get_count())  # expected get_count()
        self.exp_del = collections.Counter()  # nid -> __del__ runs
        self.exp_raise = collections.Counter()  # nid -> unraisable
        self.cb_required = set()
        self.cb_optional = set()
        self.just_died = []  # (nid, bookkeeping weakref)
        self._names = itertools.count()
        self._ready = True

    def _hook(self, u):
        self.unraisable.append((u.exc_type.__name__, str(u.exc_value)))

    def teardown(self):
        try:
            self._ready = False
            self.roots.clear()
            RESURRECTED.clear()
            untrack_everything()
            # The builtin gc frees what is left.  Everything the example
            # created is young for it (it is disabled meanwhile), so
            # collect(0) will do (cheap: a full collection per example
            # makes shrinking very slow); what __del__ resurrected has
            # moved on to generation 1.
            gen = 0
            for _ in range(20):
                n = gc.collect(gen)
                had = bool(RESURRECTED)
                RESURRECTED.clear()
                if n == 0 and not had:
                    break
                gen = 1
            _DEL_LOG.clear()
            _CB_LOG.clear()
        finally:
            sys.unraisablehook = self._old_hook
            altgc.set_debug(self._altgc_debug)
            if self._altgc_was_enabled:
                altgc.enable()
            if self._gc_was_enabled:
                gc.enable()

    # ---- model helpers ---------------------------------------------------

    def edges(self, n):
        """Out-edges of node n (nids, with multiplicity)."""
        k = n.kind
        if k in ("list", "tuple"):
            return list(n.items)
        if k == "dict":
            return list(n.items.values())
        if k == "set":
            return list(n.items)
        if k == "wref":
            return []
        if k == "idict":
            owner = n.owner
            slots = SLOT_ATTRS.get(owner.kind, ())
            return [v for a, v in owner.attrs.items() if a not in slots]
        # instance
        slots = SLOT_ATTRS.get(k, ())
        out = [v for a, v in n.attrs.items() if a in slots]
        if n.dict_nid is not None:
            out.append(n.dict_nid)
        else:
            out.extend(v for a, v in n.attrs.items() if a not in slots)
        return out

    def refcounts(self):
        rc = collections.Counter()
        for nid in self.root_names.values():
            rc[nid] += 1
        for nid, c in self.resurrected.items():
            rc[nid] += c
        for n in self.nodes.values():
            for c in self.edges(n):
                rc[c] += 1
        return rc

    def young(self, g):
        # As the builtin gc, altgc examines only objects the interpreter
        # tracks: a registered dict holding only atomic values (CPython
        # untracks those) is left out, like an object outside the registry.
        objs = altgc.get_objects()
        outside = {id(o) for o in objs if not gc.is_tracked(o)}
        del objs
        return {
            nid
            for nid, n in self.nodes.items()
            if n.tracked and n.gen <= g and n.oid not in outside
        }

    def reach_within(self, members):
        """Members not reachable from outside `members` (shadow counts:
        refcount minus references from members; then propagate)."""
        rc = self.refcounts()
        internal = collections.Counter()
        for m in members:
            for c in self.edges(self.nodes[m]):
                if c in members:
                    internal[c] += 1
        stack = [m for m in members if rc[m] - internal[m] > 0]
        reach = set(stack)
        while stack:
            x = stack.pop()
            for c in self.edges(self.nodes[x]):
                if c in members and c not in reach:
                    reach.add(c)
                    stack.append(c)
        return reach

    def unreachable(self, g):
        young = self.young(g)
        return young - self.reach_within(young)

    def sccs(self, members):
        """Strongly connected components (frozensets of ids) of the model
        graph restricted to members."""
        comps = scc_partition(sorted(members), lambda m: self.edges(self.nodes[m]))
        return {frozenset(self.nodes[m].oid for m in c) for c in comps}

    def finalize(self, n):
        """Model of one __del__ call."""
        n.finalized = True
        self.exp_del[n.nid] += 1
        STATS["finalizers"] += 1
        if n.kind == "delraise":
            self.exp_raise[n.nid] += 1
        elif n.kind == "delres":
            self.resurrected[n.nid] += 1
            STATS["resurrections"] += 1
        elif n.kind == "deluntrack":
            n.tracked = False
            n.gen = None

    def kill(self, nid, died):
        n = self.nodes.pop(nid)
        died.append(n)
        if n.tracked:
            self.count[0] = max(0, self.count[0] - 1)

    def settle(self, killed=()):
        """Reference-counting deaths after a change of the heap; `killed`
        are nodes freed by tp_clear (they die whatever their count)."""
        died = []
        for nid in killed:
            self.kill(nid, died)
        while True:
            rc = self.refcounts()
            zero = [nid for nid in sorted(self.nodes) if rc[nid] == 0]
            if not zero:
                break
            for nid in zero:
                n = self.nodes[nid]
                if n.kind in HAS_DEL and not n.finalized:
                    self.finalize(n)
                    if n.kind == "delres":
                        continue  # resurrected, weakrefs intact
                self.kill(nid, died)
        died_ids = {n.nid for n in died}
        for n in died:
            self.just_died.append((n.nid, n.bk))
        # Weakrefs whose referent died: callback certain when the weakref
        # outlives the cascade, order-dependent when it dies in it too.
        for w in itertools.chain(self.nodes.values(), died):
            if w.kind == "wref" and w.target in died_ids:
                if w.cb:
                    if w.nid in self.nodes:
                        self.cb_required.add(w.nid)
                    else:
                        self.cb_optional.add(w.nid)
                w.target = None
        if died:
            STATS["deaths"] += len(died)
        return died

    def new_nid(self):
        return next(_NIDS)

    def add_node(self, n, obj, track):
        self.nodes[n.nid] = n
        if n.kind in WEAKREFABLE:
            n.bk = weakref.ref(obj)
        if track:
            altgc.track(obj)
            n.tracked = True
            n.gen = 0
            self.count[0] += 1

    def add_root(self, nid, obj):
        name = "r%d" % next(self._names)
        self.roots[name] = obj
        self.root_names[name] = nid

    def discover_dict(self, n, obj, track):
        """An instance's __dict__ that exists as a separate object becomes a
        node of its own (3.10 always; 3.11+ only if materialized)."""
        if n.kind not in HAS_DICT or n.dict_nid is not None:
            return
        for r in gc.get_referents(obj):
            if type(r) is dict and "_nid" in r:
                d = Node(self.new_nid(), "idict", id(r))
                d.owner = n
                n.dict_nid = d.nid
                self.add_node(d, r, track)
                STATS["instance dicts"] += 1
                break
        r = None

    # ---- fetching objects through the real heap --------------------------

    def walk(self, check=True):
        """{nid: object} for every node reachable from the roots and
        RESURRECTED, fetched by following the real objects the way the model
        says they are linked; with check, every object is compared with its
        node (identity, type, contents, registration, finalized bit)."""
        objs = {}
        stack = []
        by_oid = {n.oid: nid for nid, n in self.nodes.items()}
        for name, nid in self.root_names.items():
            o = self.roots[name]
            assert id(o) == self.nodes[nid].oid, "root %s changed" % name
            stack.append((nid, o))
        if check:
            assert set(self.roots) == set(self.root_names)
            got = collections.Counter()
            for o in RESURRECTED:
                assert id(o) in by_oid, "unknown object in RESURRECTED"
                got[by_oid[id(o)]] += 1
            assert got == +self.resurrected, (got, self.resurrected)
        for o in RESURRECTED:
            stack.append((by_oid[id(o)], o))
        o = None
        while stack:
            nid, o = stack.pop()
            if nid in objs:
                continue
            objs[nid] = o
            n = self.nodes[nid]
            for cnid, c in self.children(n, o, check):
                assert id(c) == self.nodes[cnid].oid, "%r: child %r is another object" % (
                    n,
                    self.nodes[cnid],
                )
                stack.append((cnid, c))
            c = None
            if check:
                self.check_node(n, o)
            if n.bk_stale:
                n.bk = weakref.ref(o)
                n.bk_stale = False
        o = None
        return objs

    def children(self, n, o, check):
        k = n.kind
        if k in ("list", "tuple"):
            if check:
                assert len(o) == len(n.items), (n, len(o), len(n.items))
            return list(zip(n.items, o, strict=False))
        if k == "dict":
            if check:
                assert set(o) == set(n.items), (n, sorted(o), n.items)
            return [(v, o[key]) for key, v in n.items.items()]
        if k == "set":
            members = {id(x): x for x in o}
            want = {self.nodes[c].oid: c for c in n.items}
            if check:
                assert set(members) == set(want), n
            return [(want[i], members[i]) for i in want]
        if k == "wref":
            return []
        if k == "idict":
            owner = n.owner
            slots = SLOT_ATTRS.get(owner.kind, ())
            want = {a: v for a, v in owner.attrs.items() if a not in slots}
            if check:
                assert set(o) - {"_nid"} == set(want), (n, sorted(o))
            return [(v, o[a]) for a, v in want.items()]
        # instance
        slots = SLOT_ATTRS.get(k, ())
        out = []
        for a in ATTRS:
            if a in n.attrs:
                if n.dict_nid is None or a in slots:
                    out.append((n.attrs[a], getattr(o, a)))
            elif check:
                assert not hasattr(o, a), (n, a)
        if n.dict_nid is not None:
            dicts = [r for r in gc.get_referents(o) if type(r) is dict and "_nid" in r]
            assert len(dicts) == 1, (n, "instance dict vanished")
            out.append((n.dict_nid, dicts[0]))
            del dicts
        elif check and k in HAS_DICT:
            assert not [r for r in gc.get_referents(o) if type(r) is dict and "_nid" in r], (
                n,
                "unexpected instance dict",
            )
        return out

    def check_node(self, n, o):
        k = n.kind
        if k in INSTANCE_CLASSES:
            assert type(o) is INSTANCE_CLASSES[k], n
            assert o._nid == n.nid, n
            if k in HAS_DEL:
                assert altgc.is_finalized(o) == n.finalized, (
                    n,
                    "is_finalized",
                    altgc.is_finalized(o),
                )
            assert altgc.is_finalized(o) == gc.is_finalized(o), n
        elif k == "wref":
            assert type(o) is n.wcls, n
            t = o()
            if n.target is None:
                assert t is None, (n, "weakref should be dead")
            else:
                assert t is not None, (n, "weakref dead, referent alive", self.nodes[n.target])
                assert id(t) == self.nodes[n.target].oid, n
            t = None
        else:
            assert type(o) is CONTAINER_TYPES[k], n
        assert altgc.is_tracked(o) == n.tracked, (n, "is_tracked", altgc.is_tracked(o))

    # ---- checks after every step ---------------------------------------------

    @invariant()
    def check_everything(self):
        if not self._ready:
            return
        STATS["checks"] += 1
        self.check_logs()
        self.check_registry()
        for g in (0, 1, 2):
            self.check_find_unreachable(g)
        objs = self.walk(check=True)
        del objs
        self.check_liveness()
        _core._validate()

    def check_logs(self):
        got = collections.Counter(_DEL_LOG)
        assert all(c == 1 for c in got.values()), ("__del__ ran twice", got)
        assert got == self.exp_del, (
            "__del__ runs",
            sorted(got.elements()),
            sorted(self.exp_del.elements()),
        )
        raised = collections.Counter()
        for tname, msg in self.unraisable:
            assert tname == "ValueError" and msg.startswith("altgc-sm "), (
                "unexpected unraisable exception",
                tname,
                msg,
            )
            raised[int(msg.split()[1])] += 1
        assert raised == self.exp_raise, (raised, self.exp_raise)
        cbs = collections.Counter(nid for nid, _ in _CB_LOG)
        assert all(c == 1 for c in cbs.values()), ("callback twice", cbs)
        assert all(cleared for _, cleared in _CB_LOG), ("callback saw a live referent", _CB_LOG)
        called = set(cbs)
        assert self.cb_required <= called, ("callbacks not called", self.cb_required - called)
        assert called <= self.cb_required | self.cb_optional, (
            "unexpected callbacks",
            called - self.cb_required - self.cb_optional,
        )
        assert len(altgc.garbage) == self._garbage_len

    def check_registry(self):
        for g in (0, 1, 2):
            objs = altgc.get_objects(g)
            got = [id(o) for o in objs]
            del objs
            want = {n.oid: n for n in self.nodes.values() if n.tracked and n.gen == g}
            assert len(got) == len(set(got)), "object listed twice"
            if set(got) != set(want):
                other = {n.oid: n for n in self.nodes.values()}
                raise AssertionError(
                    "generation %d: missing %r, extra %r"
                    % (
                        g,
                        [want[i] for i in set(want) - set(got)],
                        [other.get(i, "unknown object") for i in set(got) - set(want)],
                    )
                )
        assert altgc.get_count() == tuple(self.count), (altgc.get_count(), self.count)

    def check_find_unreachable(self, g):
        groups = altgc.find_unreachable(g)
        got = {frozenset(id(o) for o in grp) for grp in groups}
        flat = [id(o) for grp in groups for o in grp]
        del groups
        assert len(flat) == len(set(flat)), "object in two groups"
        u = self.unreachable(g)
        want_ids = {self.nodes[nid].oid for nid in u}
        if set(flat) != want_ids:
            by_oid = {n.oid: n for n in self.nodes.values()}
            raise AssertionError(
                "find_unreachable(%d): missing %r, extra %r"
                % (
                    g,
                    [by_oid[i] for i in want_ids - set(flat)],
                    [by_oid.get(i, "unknown") for i in set(flat) - want_ids],
                )
            )
        assert got == self.sccs(u), ("groups differ", g)

    def check_liveness(self):
        for n in self.nodes.values():
            if n.bk is not None and not n.bk_stale:
                assert n.bk() is not None, (n, "freed while the model says it is alive")
        for nid, bk in self.just_died:
            if bk is not None:
                assert bk() is None, "#%d should have died" % nid
        self.just_died = []

    # ---- choosing objects --------------------------------------------------

    def pick(self, objs, i, pred=lambda n: True):
        cands = [nid for nid in sorted(objs) if pred(self.nodes[nid])]
        if not cands:
            return None
        return cands[i % len(cands)]

    def not_full(self):
        return len(self.nodes) < MAX_ALIVE

    def has_roots(self):
        return bool(self.roots) or bool(RESURRECTED)

    # ---- creation ------------------------------------------------------------

    def create(self, kind, track, children=(), cnids=()):
        """Create one object of `kind` (not a weakref) holding `children`,
        register its node and return the object (the caller roots or links
        it, then drops it)."""
        nid = self.new_nid()
        if kind in INSTANCE_CLASSES:
            obj = INSTANCE_CLASSES[kind](nid)
        elif kind == "list":
            obj = list(children)
        elif kind == "tuple":
            obj = tuple(children)
        elif kind == "dict":
            obj = {KEYS[j]: ch for j, ch in enumerate(children)}
        else:
            obj = set(children)
        n = Node(nid, kind, id(obj))
        if kind in ("list", "tuple"):
            n.items = list(cnids)
        elif kind == "dict":
            n.items = {KEYS[j]: c for j, c in enumerate(cnids)}
        elif kind == "set":
            n.items = set(cnids)
        self.add_node(n, obj, track)
        self.discover_dict(n, obj, track)
        return n, obj

    def create_weakref(self, target_nid, target, callback, sub, track):
        nid = self.new_nid()
        if not callback:
            sub = True  # a plain callback-less ref would be shared
        cls = WeakSub if sub else weakref.ref
        obj = cls(target, _make_callback(nid)) if callback else cls(target)
        n = Node(nid, "wref", id(obj))
        n.target = target_nid
        n.cb = callback
        n.wcls = cls
        self.add_node(n, obj, track)
        return n, obj

    @precondition(not_full)
    @rule(
        kind=st.sampled_from((*INSTANCE_KINDS, "list", "dict", "tuple", "set", "wref")),
        picks=st.lists(_idx(), max_size=4),
        callback=st.booleans(),
        sub=st.booleans(),
        track=_track_flag(),
    )
    def new_object(self, kind, picks, callback, sub, track):
        """A new object of any kind, rooted; containers are built from
        existing objects (sets from instances), weakrefs point to an
        existing weak-referenceable object."""
        STATS["steps"] += 1
        STATS["new " + kind] += 1
        objs = self.walk(check=False)
        if kind == "wref":
            t = self.pick(objs, picks[0] if picks else 0, lambda n: n.kind in WEAKREFABLE)
            if t is None:
                del objs
                return
            n, obj = self.create_weakref(t, objs[t], callback, sub, track)
        else:
            pred = (
                (lambda n: n.kind in INSTANCE_CLASSES)
                if kind == "set"
                else (lambda n: n.kind != "idict")
            )
            cnids = []
            if kind in ("list", "dict", "tuple", "set"):
                for i in picks:
                    c = self.pick(objs, i, pred)
                    if c is not None and not (kind == "set" and c in cnids):
                        cnids.append(c)
            if kind == "tuple" and not cnids:
                kind = "list"  # () is a shared singleton
            children = [objs[c] for c in cnids]
            n, obj = self.create(kind, track, children, cnids)
            del children
        del objs
        self.add_root(n.nid, obj)
        del obj

    @precondition(not_full)
    @rule(
        kinds=st.lists(st.sampled_from((*INSTANCE_KINDS, "list", "dict")), min_size=1, max_size=4),
        tracks=st.lists(_track_flag(), min_size=6, max_size=6),
        wrap=st.booleans(),
        rooted=st.booleans(),
        weak=st.sampled_from(["none", "rooted", "in-cycle", "untracked"]),
        hang=st.lists(_idx(), max_size=2),
        slot=st.integers(0, 7),
    )
    def new_cycle(self, kinds, tracks, wrap, rooted, weak, hang, slot):
        """A ring of new objects m0 -> m1 -> ... -> m0 (optionally through a
        tuple), optionally rooted, optionally with a weakref with callback
        to a member (rooted, or held by the ring = trash weakref), and
        optionally holding existing objects."""
        STATS["steps"] += 1
        STATS["new cycle"] += 1
        objs = self.walk(check=False)
        hung = [
            c
            for c in (self.pick(objs, i, lambda n: n.kind != "idict") for i in hang)
            if c is not None
        ]
        members = []
        for j, kind in enumerate(kinds):
            n, obj = self.create(kind, tracks[j])
            members.append((n, obj))
        if wrap:
            n, obj = self.create("tuple", tracks[4], [members[0][1]], [members[0][0].nid])
            closing = (n, obj)
        else:
            closing = members[0]
        ring = [*members[1:], closing]
        for (pn, po), (cn, co) in zip(members, ring, strict=True):
            self.do_link(pn, po, cn.nid, co, slot)
        for c in hung:
            self.do_link(members[-1][0], members[-1][1], c, objs[c], slot + 1)
        if weak != "none":
            t = [m for m in members if m[0].kind in WEAKREFABLE]
            if t:
                tn, to = t[slot % len(t)]
                wn, wo = self.create_weakref(tn.nid, to, True, slot % 2 == 0, weak != "untracked")
                if weak == "rooted":
                    self.add_root(wn.nid, wo)
                else:
                    self.do_link(members[0][0], members[0][1], wn.nid, wo, slot + 2)
                del wo, to
        if rooted:
            self.add_root(members[0][0].nid, members[0][1])
        del objs, members, ring, closing, obj, po, co
        self.settle()

    # ---- links ---------------------------------------------------------------

    def do_link(self, node, parent, cn, child, slot):
        """parent -> child, the way node's kind allows (slot chooses the
        position / key / attribute)."""
        if node.kind == "list":
            if node.items and slot % 2:
                j = slot % len(node.items)
                parent[j] = child
                node.items[j] = cn
            else:
                parent.append(child)
                node.items.append(cn)
        elif node.kind == "dict":
            key = KEYS[slot % len(KEYS)]
            parent[key] = child
            node.items[key] = cn
        elif node.kind == "set":
            parent.add(child)
            node.items.add(cn)
        else:
            a = ATTRS[slot % len(ATTRS)]
            setattr(parent, a, child)
            node.attrs[a] = cn
            self.discover_dict(node, parent, node.tracked)
        if node.nid == cn:
            STATS["self links"] += 1

    @precondition(has_roots)
    @rule(p=_idx(), c=_idx(), slot=st.integers(0, 7))
    def link(self, p, c, slot):
        STATS["steps"] += 1
        objs = self.walk(check=False)
        pn = self.pick(
            objs, p, lambda n: n.kind in ("list", "dict", "set") or n.kind in INSTANCE_CLASSES
        )
        if pn is None:
            del objs
            return
        node = self.nodes[pn]
        if node.kind == "set":
            cn = self.pick(objs, c, lambda n: n.kind in INSTANCE_CLASSES)
        else:
            cn = self.pick(objs, c, lambda n: n.kind != "idict")
        if cn is not None:
            self.do_link(node, objs[pn], cn, objs[cn], slot)
        del objs
        self.settle()

    @precondition(has_roots)
    @rule(p=_idx(), slot=st.integers(0, 7))
    def unlink(self, p, slot):
        STATS["steps"] += 1
        objs = self.walk(check=False)
        pn = self.pick(
            objs,
            p,
            lambda n: (
                (n.kind in ("list", "dict", "set") and n.items)
                or (n.kind in INSTANCE_CLASSES and n.attrs)
            ),
        )
        if pn is None:
            del objs
            return
        node = self.nodes[pn]
        parent = objs[pn]
        if node.kind == "list":
            if slot == 7:
                parent.clear()
                node.items.clear()
            else:
                j = slot % len(node.items)
                parent.pop(j)
                del node.items[j]
        elif node.kind == "dict":
            if slot == 7:
                parent.clear()
                node.items.clear()
            else:
                keys = sorted(node.items)
                key = keys[slot % len(keys)]
                del parent[key]
                del node.items[key]
        elif node.kind == "set":
            members = sorted(node.items)
            cn = members[slot % len(members)]
            parent.discard(objs[cn])
            node.items.discard(cn)
        else:
            names = sorted(node.attrs)
            a = names[slot % len(names)]
            delattr(parent, a)
            del node.attrs[a]
            self.discover_dict(node, parent, node.tracked)
        del objs, parent
        self.settle()

    # ---- roots -----------------------------------------------------------------

    @precondition(has_roots)
    @rule(i=_idx())
    def add_root_name(self, i):
        STATS["steps"] += 1
        objs = self.walk(check=False)
        nid = self.pick(objs, i, lambda n: n.kind != "idict")
        if nid is not None:
            self.add_root(nid, objs[nid])
        del objs

    @precondition(lambda self: bool(self.roots))
    @rule(picks=st.lists(_idx(), min_size=1, max_size=3))
    def del_roots(self, picks):
        STATS["steps"] += 1
        for i in picks:
            if not self.roots:
                break
            names = sorted(self.roots, key=lambda s: int(s[1:]))
            name = names[i % len(names)]
            del self.roots[name]
            del self.root_names[name]
        self.settle()

    @precondition(lambda self: bool(RESURRECTED))
    @rule(i=_idx())
    def release_resurrected(self, i):
        STATS["steps"] += 1
        by_oid = {n.oid: nid for nid, n in self.nodes.items()}
        j = i % len(RESURRECTED)
        nid = by_oid[id(RESURRECTED[j])]
        del RESURRECTED[j]
        self.resurrected[nid] -= 1
        self.resurrected = +self.resurrected
        self.settle()

    # ---- explain -----------------------------------------------------------------

    @precondition(has_roots)
    @rule(i=_idx())
    def explain_node(self, i):
        """explain() of an object reachable from the roots: alive, not in an
        unreachable cycle, and the explanation holds no reference to it (it
        must not change the heap the model describes)."""
        STATS["steps"] += 1
        STATS["explains"] += 1
        objs = self.walk(check=False)
        nid = self.pick(objs, i)
        if nid is None:
            return
        obj = objs[nid]
        del objs
        before = sys.getrefcount(obj)
        e = altgc.explain(obj, max_paths=1)
        assert sys.getrefcount(obj) == before, "explain() kept a reference"
        assert e.alive
        assert not e.in_unreachable_cycle, (self.nodes[nid], e)
        del e, obj

    # ---- registry ----------------------------------------------------------------

    @precondition(has_roots)
    @rule(i=_idx(), track=st.booleans())
    def track_untrack(self, i, track):
        """track() (a no-op when registered: the generation stays) or
        untrack() an object reachable from the roots."""
        STATS["steps"] += 1
        objs = self.walk(check=False)
        nid = self.pick(objs, i)
        n = self.nodes[nid]
        if track:
            altgc.track(objs[nid])
            if not n.tracked:
                n.tracked = True
                n.gen = 0
                self.count[0] += 1
        else:
            assert altgc.untrack(objs[nid]) == n.tracked
            n.tracked = False
            n.gen = None
        del objs

    # ---- collections ---------------------------------------------------------------

    @rule(gen=st.sampled_from([None, 0, 1, 2]))
    def collect(self, gen):
        STATS["steps"] += 1
        g = 2 if gen is None else gen
        # Survivors of the registry's young partition are promoted, those
        # the interpreter does not track (not examined) included.
        young = {nid for nid, n in self.nodes.items() if n.tracked and n.gen <= g}
        u = self.unreachable(g)
        groups = self.sccs(u)

        # 1. weakrefs: those in the garbage are cleared, no callback; those
        #    to the garbage are cleared, callback if not garbage themselves.
        #    3.15 clears only the weakrefs with a callback here; the others,
        #    and the weakrefs in the garbage, wait until after the
        #    resurrection check (step 3) and are cleared if still garbage.
        for nid in u:
            n = self.nodes[nid]
            if n.kind == "wref":
                if n.cb and n.target is not None:
                    STATS["trash weakrefs"] += 1
                if not WEAKREFS_SPLIT:
                    n.target = None
            if n.bk is not None:
                n.bk_stale = True
        for w in self.nodes.values():
            if w.kind == "wref" and w.target in u:
                if w.cb:
                    if w.nid not in u:
                        self.cb_required.add(w.nid)
                        STATS["gc weakref callbacks"] += 1
                    w.target = None
                elif not WEAKREFS_SPLIT:
                    w.target = None
        # 2. __del__ once.
        for nid in sorted(u):
            n = self.nodes[nid]
            if n.kind in HAS_DEL and not n.finalized:
                self.finalize(n)
        # 3. resurrection.  An object a finalizer untracked is no longer
        #    garbage for altgc (not cleared), and its references count as
        #    external.
        gone = {nid for nid in u if not self.nodes[nid].tracked}
        if gone:
            STATS["untracked by __del__ in a collection"] += 1
        resurrected = self.reach_within(u - gone)
        final = u - gone - resurrected
        if WEAKREFS_SPLIT:
            # 3.15's clear_weakrefs: what is still garbage loses its weakrefs
            # (a resurrected object keeps its callback-less ones).
            for w in self.nodes.values():
                if w.kind == "wref" and (w.nid in final or w.target in final):
                    w.target = None
        # 4. the rest is cleared and freed (and what only it held).
        self.count = [0 if i <= g else c for i, c in enumerate(self.count)]
        if g < 2:
            self.count[g + 1] += 1
        self.settle(killed=sorted(final))
        # 5. survivors move on.
        for nid in young:
            n = self.nodes.get(nid)
            if n is not None and n.tracked:
                n.gen = min(g + 1, 2)

        got = altgc.collect() if gen is None else altgc.collect(gen)
        if final:
            STATS["collections freeing something"] += 1
            STATS["objects collected"] += len(final)
        if resurrected:
            STATS["collections with resurrection"] += 1
        assert got == len(final), ("collect(%s)" % gen, got, len(final))
        info = altgc.last_collection()
        assert info is not None
        assert info.generation == g
        assert info.examined == len(young), (info.examined, len(young))
        assert info.unreachable == len(u), (info.unreachable, len(u))
        assert info.collected == len(final), (info.collected, len(final))
        assert info.uncollectable == 0
        assert info.resurrected == len(resurrected), (info.resurrected, len(resurrected))
        if not info.cycles_truncated:
            cycles = {frozenset(i for _, i in grp) for grp in info.cycles}
            assert cycles == groups, "last_collection().cycles"
        del info


def test_statemachine():
    STATS.clear()
    run_state_machine_as_test(AltgcMachine, settings=machine_settings())
    print(
        "\naltgc state machine [%s profile, Python %s]: %d steps, %d checks"
        % (profile_name(), sys.version.split()[0], STATS["steps"], STATS["checks"])
    )
    print(
        "  "
        + ", ".join(
            "%s=%d" % kv for kv in sorted(STATS.items()) if kv[0] not in ("steps", "checks")
        )
    )
    assert STATS["steps"] > 0
    assert STATS["checks"] > STATS["steps"] // 2
