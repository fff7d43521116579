"""Install mode: altgc as the process's cycle collector.

Every scenario runs in a fresh interpreter: install mode changes the whole
process (the builtin gc's settings, every container adopted)."""

import inspect
import sys
import textwrap

import pytest
from support import Node, cycle, run_python

PRELUDE = (
    """
import gc, sys, weakref
import altgc
builtin = altgc._install.builtin_gc
own = altgc._install.builtin_api   # the builtin gc's own functions, even while installed
# The builtin gc stays enabled while installed: its automatic trigger
# starts altgc's collections (src/install.c).  3.11's starts inside the
# container allocation that passes threshold0, 3.12+'s at the eval breaker.
IN_ALLOCATION = sys.version_info < (3, 12)
"""
    + inspect.getsource(Node)
    + inspect.getsource(cycle)
    + """
def pair():
    # two Nodes in a cycle, the first returned (alive while held)
    a, b = Node(), Node()
    a.b, b.a = b, a
    return a
"""
)


def run(code, **kw):
    return run_python(PRELUDE + textwrap.dedent(code), **kw)


def test_install_collects_new_and_adopted_cycles():
    out = run("""
        old = cycle()                       # before install: adopted
        assert old() is not None
        assert altgc.install() is True
        assert own.isenabled() and altgc.isenabled()
        assert builtin.isenabled() and builtin.get_objects is not own.get_objects  # routed
        assert altgc.is_tracked(old()) and altgc.is_tracked(old().b)
        new = cycle()                       # created while installed
        assert altgc.is_tracked(new())
        assert new() is not None and old() is not None
        n = altgc.collect()
        assert n >= 4, n
        assert old() is None and new() is None
        assert altgc.install_info().adopted > 0
        assert altgc.uninstall() is True
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_automatic_collections_run_and_are_altgcs():
    out = run("""
        builtin_before = own.get_stats()[0]
        altgc.install()
        altgc.set_threshold(100)
        ws = [cycle() for _ in range(5000)]
        # altgc collected automatically (the builtin gc's trigger started
        # altgc's collections, and its own found an empty generation each
        # time) ...
        gens = altgc.stats().generations
        assert gens[0].collections >= 20, gens
        builtin_after = own.get_stats()[0]
        assert builtin_after["collected"] == builtin_before["collected"]
        info = altgc.install_info()
        assert info.triggers >= 20 and info.polls >= info.triggers, info
        assert builtin_after["collections"] > builtin_before["collections"]
        # ... and the cycles are gone
        assert sum(w() is not None for w in ws) < 200
        altgc.collect()
        assert all(w() is None for w in ws)
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_adopt_false_leaves_existing_heap_alone():
    out = run("""
        old = cycle()
        altgc.install(adopt=False)
        assert not altgc.is_tracked(old())
        new = cycle()
        altgc.collect()
        assert new() is None           # altgc's
        assert old() is not None       # nobody's while installed (frozen)
        altgc.uninstall()
        builtin.collect()
        assert old() is None           # the builtin gc's again
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_uninstall_restores_builtin_settings_and_hands_objects_back():
    out = run("""
        builtin.set_threshold(555, 7, 3)
        builtin.set_debug(0)
        builtin.enable()
        altgc.set_threshold(123)
        frozen = builtin.get_freeze_count()  # (3.12's start-up freezes some)
        altgc.install()
        assert altgc.get_threshold() == (555, 7, 3)   # taken over
        assert own.isenabled()
        keep = [Node() for _ in range(100)]
        mine = Node(); mine.self = mine
        altgc.track(mine)              # the user's own registration
        made = cycle()                 # created while installed
        assert altgc.uninstall() is True
        assert builtin.isenabled()
        assert builtin.get_threshold() == (555, 7, 3)
        assert altgc.get_threshold()[0] == 123          # altgc's own back
        assert builtin.get_freeze_count() == frozen  # the adopted: thawed
        # nothing was freed by the hand-over
        assert all(type(k) is Node for k in keep)
        # the user's registration survives, adopted ones are gone
        assert altgc.is_tracked(mine)
        assert not altgc.is_tracked(keep[0])
        # objects made while installed are the builtin gc's again
        assert made() is not None
        builtin.collect()
        assert made() is None
        altgc._core._validate()
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_adoption_takes_generations_0_to_2_and_leaves_the_frozen_alone():
    # Adoption walks the builtin gc's own lists in place (src/gclists.c):
    # everything on generations 0-2 is registered, in whichever generation
    # the builtin gc had it, and nothing the user froze before install.
    out = run("""
        frozen = [Node() for _ in range(20)]
        builtin.freeze()
        old = [Node() for _ in range(30)]
        builtin.collect(0)                 # now in the builtin's generation 1
        young = [[] for _ in range(40)] + [{"k": []} for _ in range(40)]
        expect = [o for g in range(3) for o in builtin.get_objects(g)]
        n = len(expect)
        assert n > 120, n
        assert altgc.install() is True
        assert all(altgc.is_tracked(o) for o in old + young)
        assert all(altgc.is_tracked(o) for o in expect), n
        assert not any(altgc.is_tracked(o) for o in frozen)
        # created while installed: adopted by the next query that needs it
        later = [Node() for _ in range(50)]
        altgc.get_count()
        assert all(altgc.is_tracked(o) for o in later)
        assert altgc.install_info().adopted >= n + 50
        altgc._core._validate()
        assert altgc.uninstall() is True
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_install_refuses_a_gc_state_it_would_misread():
    # install() checks that the interpreter's gc state reads as the headers
    # altgc was built against say (gclists.c): a builtin gc module whose
    # thresholds disagree with what altgc reads must make it refuse,
    # installing nothing, instead of walking memory it misreads.
    out = run("""
        import types

        def refused(thresholds, exc, words):
            fake = types.SimpleNamespace(get_threshold=lambda: thresholds)
            try:
                altgc._core._install(fake, True)
            except exc as e:
                assert words in str(e), e
            else:
                raise AssertionError(f"installed with {thresholds!r}")
            assert altgc.install_info().installed is False
            assert altgc.install_info().adopted == 0

        real = builtin.get_threshold()
        refused((real[0] + 1, real[1], real[2]), RuntimeError,
                "rebuild altgc")
        refused([1, 2, 3], TypeError, "get_threshold")
        # the real module passes the check
        assert altgc.install() is True
        assert altgc.uninstall() is True
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


@pytest.mark.parametrize("adopt", [True, False])
def test_what_was_frozen_before_install_stays_frozen_after_uninstall(adopt):
    # A fork server freezes its preloaded heap.  install() sets that aside
    # (adopting nothing of it), and uninstall(), whose gc.unfreeze() hands
    # back what install mode froze, puts it back in the permanent
    # generation: still frozen, and no collection examined it meanwhile.
    out = run(f"""
        builtin.collect()
        preloaded = [pair() for _ in range(500)]
        ref = weakref.ref(pair())           # frozen garbage stays, as frozen
        dies = [[] for _ in range(100)]     # frozen, freed while installed
        builtin.freeze()
        n = own.get_freeze_count()
        altgc.install(adopt={adopt})
        assert not any(altgc.is_tracked(o) for o in preloaded)
        assert altgc._core._builtin_frozen(preloaded[7])
        made = [pair() for _ in range(300)]
        del dies
        altgc.collect()
        assert ref() is not None
        altgc._core._validate()
        assert altgc.uninstall() is True
        print(n, own.get_freeze_count(), ref() is not None,
              any(o is made[0] for o in own.get_objects(2)),
              altgc._core._builtin_frozen(preloaded[7]))
    """).stdout
    n, after, kept, made_thawed, still = out.split()
    assert int(n) > 1000
    assert int(after) == int(n) - 101, out  # the list of 100 and its items
    assert (kept, made_thawed, still) == ("True", "True", "True"), out


def test_what_is_frozen_while_installed_stays_frozen_after_uninstall():
    # The routed gc.freeze() while installed is altgc's; uninstall() hands
    # what it froze to the builtin gc's permanent generation, as the
    # builtin freeze() would have frozen it: frozen garbage survives the
    # builtin gc's collection, and the freeze count adds up.
    out = run("""
        builtin.collect()
        n0 = own.get_freeze_count()
        altgc.install()
        kept = [pair() for _ in range(200)]
        ref = weakref.ref(pair())
        builtin.freeze()                     # routed: altgc's freeze()
        frozen = altgc.get_freeze_count()
        # What the builtin gc would hold frozen: the tracked ones among
        # altgc's (a few it registered the interpreter no longer tracks),
        # and the n0 it held before.
        # (held alive: uninstall() drops a few frozen objects of its own)
        held = altgc._core._builtin_frozen_objects()
        later = weakref.ref(pair())          # made after the freeze
        altgc._core._validate()
        assert altgc.uninstall() is True
        builtin.collect()
        now = {id(o) for o in altgc._core._builtin_frozen_objects()}
        print(n0, frozen, len(held), sum(id(o) not in now for o in held),
              ref() is not None,
              later() is None, altgc._core._builtin_frozen(kept[3]),
              altgc._core._builtin_frozen(kept[3].b))
    """).stdout
    n0, frozen, held, thawed, kept, later_gone, f1, f2 = out.split()
    assert int(frozen) > 600, out
    assert int(held) == int(n0) + int(frozen), out
    assert thawed == "0", out
    assert (kept, later_gone, f1, f2) == ("True",) * 4, out


@pytest.mark.parametrize("then", ["uninstall", "freeze", "unfreeze"])
def test_what_install_adopt_false_left_alone_follows_freeze_and_unfreeze(then):
    # install(adopt=False) leaves the heap to nobody.  uninstall() hands it
    # back collectable; after a freeze() while installed, frozen (the
    # builtin freeze() would have frozen it); unfreeze() while installed
    # hands it to altgc, as the builtin unfreeze() would have thawed it.
    out = run(f"""
        builtin.collect()
        old = cycle()                        # garbage at install
        altgc.install(adopt=False)
        altgc.collect()
        alive_installed = old() is not None
        if "{then}" == "freeze":
            builtin.freeze()                 # routed: altgc's
        if "{then}" == "unfreeze":
            builtin.unfreeze()               # routed: altgc's
            altgc.collect()
        by_altgc = old() is None
        altgc._core._validate()
        assert altgc.uninstall() is True
        builtin.collect()
        print(alive_installed, by_altgc, old() is None)
    """).stdout
    expected = {
        "uninstall": "True False True",
        "freeze": "True False False",
        "unfreeze": "True True True",
    }[then]
    assert out.split() == expected.split(), out


@pytest.mark.parametrize("installed", [False, True])
def test_a_frozen_cycle_is_not_finalized_at_exit(installed):
    # The hand-over at exit (uninstall()) keeps what gc.freeze() froze
    # while installed frozen, so the shutdown collection leaves a frozen
    # cycle alone, as it does under the builtin gc alone.
    out = run(f"""
        if {installed}:
            altgc.install()
        class D:
            def __del__(self):
                print("finalized", flush=True)
        a, b = D(), D()
        a.b, b.a = b, a
        del a, b
        gc.freeze()
        print("end")
    """).stdout
    assert out.split() == ["end"], out


def test_unfreeze_while_installed_thaws_what_was_frozen_before():
    # gc.unfreeze() while installed (routed) thaws what the program froze
    # before install(), as the builtin unfreeze() would: altgc adopts it
    # and collects its garbage, and uninstall() does not freeze it again.
    out = run("""
        builtin.collect()
        ref = weakref.ref(pair())
        keep = [pair() for _ in range(50)]
        builtin.freeze()
        altgc.install()
        altgc.collect()
        alive_installed = ref() is not None
        builtin.unfreeze()                   # routed: altgc's unfreeze()
        altgc.collect()
        gone = ref() is None
        adopted = altgc.is_tracked(keep[5])
        altgc._core._validate()
        assert altgc.uninstall() is True
        print(alive_installed, gone, adopted, own.get_freeze_count(),
              altgc._core._builtin_frozen(keep[5]))
    """).stdout
    assert out.split() == ["True", "True", "True", "0", "False"], out


def test_install_twice_and_uninstall_without_install_are_noops():
    out = run("""
        assert altgc.uninstall() is False
        assert altgc.install() is True
        before = altgc.install_info().adopted
        assert altgc.install() is False
        assert altgc.install_info().adopted == before
        assert altgc.uninstall() is True
        assert altgc.uninstall() is False
        with altgc.installed():
            assert altgc.is_installed()
            with altgc.installed():      # nested: stays installed
                pass
            assert altgc.is_installed()
        assert not altgc.is_installed()
        try:
            altgc.install(adopt="yes")
        except TypeError as e:
            assert "adopt" in str(e)
        else:
            raise AssertionError("no TypeError")
        altgc.install()
        try:
            altgc.uninstall(keep_registry="x")   # was taken as True
        except TypeError as e:
            assert "'keep_registry' must be bool, not str" in str(e), e
        else:
            raise AssertionError("no TypeError")
        assert altgc.is_installed()
        assert altgc.uninstall(keep_registry=False)
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_sys_modules_gc_swap_gives_gc_semantics():
    out = run("""
        altgc.install()
        sys.modules["gc"] = altgc
        import gc as g
        assert g is altgc
        g.collect()
        l = []; l.append(l)
        assert any(o is l for o in g.get_objects(generation=0))
        g.collect(0)
        assert any(o is l for o in g.get_objects(generation=1))
        assert g.get_count()[1] == 1
        seen = []
        g.callbacks.append(lambda p, i: seen.append((p, i["generation"])))
        del l
        assert g.collect() == 1
        assert seen == [("start", 2), ("stop", 2)], seen
        g.callbacks.clear()
        g.freeze(); assert g.get_freeze_count() > 0
        g.unfreeze(); assert g.get_freeze_count() == 0
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_builtin_collect_call_runs_altgc_collection():
    # Code that imported the builtin gc before install calls its collect().
    out = run("""
        altgc.install()
        w = cycle()
        before = altgc.stats().generations[2].collections
        builtin.collect()
        assert w() is None
        assert altgc.stats().generations[2].collections == before + 1
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_c_code_switching_the_builtin_gc_off_and_on_pauses_altgcs_collections():
    # gc.enable()/disable() are altgc's while installed, but a C extension
    # can still call PyGC_Disable()/PyGC_Enable(): the builtin gc's trigger
    # is what starts altgc's automatic collections, so they stop and start
    # with it, as the builtin gc's would.  A documented limitation (README,
    # "When it collects"): altgc.isenabled() still says True meanwhile.
    out = run("""
        import ctypes, warnings
        found0 = sum(s["collected"] for s in own.get_stats())
        altgc.install()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert ctypes.pythonapi.PyGC_Enable() == 1   # on already: a no-op
            ws = [cycle() for _ in range(5000)]
        assert any(w() is None for w in ws)            # collected meanwhile
        before = altgc.stats().generations[0].collections
        assert ctypes.pythonapi.PyGC_Disable() == 1
        assert altgc.isenabled()
        ws = [cycle() for _ in range(20000)]
        assert altgc.stats().generations[0].collections == before
        assert all(w() is not None for w in ws)
        ctypes.pythonapi.PyGC_Enable()
        more = [cycle() for _ in range(5000)]
        assert altgc.stats().generations[0].collections > before
        altgc.collect()
        assert all(w() is None for w in ws)
        # the builtin gc never freed an object of its own: no double free
        assert sum(s["collected"] for s in own.get_stats()) == found0
        altgc._core._validate()
        altgc.uninstall()
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_tracemalloc_while_installed_and_installing_under_tracemalloc():
    out = run("""
        import tracemalloc
        altgc.install()
        tracemalloc.start()
        ws = [cycle() for _ in range(3000)]
        tracemalloc.stop()
        altgc.collect()
        assert all(w() is None for w in ws)
        # no death missed: nothing stale in the registry
        altgc._core._validate()
        for o in altgc.get_objects():
            assert sys.getrefcount(o) > 1
        altgc.uninstall()

        tracemalloc.start()
        altgc.install()
        ws = [cycle() for _ in range(3000)]
        tracemalloc.stop()
        ws += [cycle() for _ in range(3000)]
        x = [[] for _ in range(1000)]
        del x
        y = [[] for _ in range(1000)]     # reuses x's addresses
        altgc.collect()
        assert all(w() is None for w in ws)
        assert all(altgc.is_tracked(o) for o in y)
        altgc._core._validate()
        altgc.uninstall()
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_eight_threads_with_cyclic_garbage():
    out = run("""
        import threading
        altgc.install()
        refs = []
        lock = threading.Lock()
        def work():
            mine = []
            for i in range(5000):
                w = cycle()
                if i % 50 == 0:
                    mine.append(w)
                a = [Node(), {}]; a[1]["a"] = a
            with lock:
                refs.extend(mine)
        ts = [threading.Thread(target=work) for _ in range(8)]
        for t in ts: t.start()
        for t in ts: t.join()
        altgc.collect()
        assert len(refs) == 800
        assert all(w() is None for w in refs)
        assert altgc.stats().generations[0].collections > 0
        altgc._core._validate()
        altgc.uninstall()
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_a_single_c_call_is_collected_during_it_as_the_builtin_gc_does():
    # Issue 15, item 6: json.loads building 10^5 containers in one C call.
    # 3.11's builtin gc collects inside the allocations (~280 collections);
    # altgc's own poll between bytecodes waited for the call's end (1), so
    # the garbage made before it lived through it.  The builtin gc's trigger
    # starts altgc's collections where it starts its own: inside the call
    # on 3.11, at the eval breaker after it from 3.12.
    out = run("""
        import json
        doc = json.dumps([{"a": [i, i + 1], "b": {"c": i}} for i in range(30000)])
        def builtin_collections():
            return sum(s["collections"] for s in own.get_stats())
        b0 = builtin_collections()
        json.loads(doc)
        by_builtin = builtin_collections() - b0
        starts = []
        gc.callbacks.append(lambda phase, info: starts.append(phase) if phase == "start" else None)
        altgc.install()
        ws = [cycle() for _ in range(100)]       # garbage waiting
        a0 = sum(g.collections for g in altgc.stats().generations)
        t0 = altgc.install_info().triggers
        found0 = sum(s["collected"] for s in own.get_stats())
        starts.clear()
        json.loads(doc)
        by_altgc = sum(g.collections for g in altgc.stats().generations) - a0
        triggers = altgc.install_info().triggers - t0
        assert sum(s["collected"] for s in own.get_stats()) == found0   # the builtin freed nothing
        assert len(starts) == by_altgc, (len(starts), by_altgc)   # each collection seen once
        seen = (by_builtin, by_altgc, triggers)
        if IN_ALLOCATION:
            assert by_builtin >= 50, seen
            assert by_altgc >= by_builtin // 2 and triggers == by_altgc, seen
        else:
            assert by_builtin <= 2 and by_altgc <= 2 and triggers == by_altgc, seen
        altgc.collect()
        assert all(w() is None for w in ws)
        altgc._core._validate()
        altgc.uninstall()
        # the builtin gc calls its own callbacks again, and collects again
        starts.clear()
        own.collect()
        assert starts == ["start"], starts
        assert own.isenabled() and own.get_threshold()[1:] != (2**31 - 1,) * 2
        print("ok", by_builtin, by_altgc)
    """).stdout
    assert out.strip().startswith("ok"), out


@pytest.mark.parametrize("query", ["altgc.get_count()", "builtin.get_count()"])
def test_a_query_that_adopts_between_allocations_does_not_starve_collections(query):
    # CPython 3.14's test_gc.test_get_count_does_not_prevent_collection:
    # get_count() adopts after every container.  The routed one's tuple
    # lives until the next round, so it is adopted and then dies: an
    # adopted object's death must lower the count once, as CPython's
    # does, not once in the builtin gc's count and again in altgc's
    # (until 2026-12-07 count0 stayed put and this loop never collected).
    out = run(f"""
        altgc.install()
        builtin.set_threshold(1000, 0, 0)
        junk = []
        builtin.collect()
        happened = []
        altgc.callbacks.append(lambda phase, info: happened.append(phase))
        for i in range(10000):        # one container per round
            junk.append([])
            {query}
            if happened:
                break
        print(i)
    """).stdout
    assert 900 <= int(out) < 1100, out


def test_adopted_objects_deaths_lower_the_count_as_the_builtin_gcs_do():
    # The same program, without and with altgc installed: freeing 2,000
    # adopted containers lowers get_count()[0] by what it lowers the
    # builtin gc's (objects that go to a free list are not counted by
    # either).
    code = """
        if INSTALL:
            altgc.install()
        builtin.set_threshold(100000, 0, 0)
        builtin.collect()
        objs = [[] for _ in range(1000)] + [{} for _ in range(1000)]
        before = builtin.get_count()[0]
        del objs
        print(before - builtin.get_count()[0])
    """
    plain = int(run(code.replace("INSTALL", "False")).stdout)
    installed = int(run(code.replace("INSTALL", "True")).stdout)
    assert 1800 <= plain <= 2001
    assert abs(installed - plain) <= 3, (plain, installed)


def test_tracking_an_adopted_object_counts_it_at_both_ends():
    # track() registers an adopted object as the user's: its death then
    # lowers altgc's part of the count, so the registration raises it;
    # without that each such object lowered it once more than it raised it.
    out = run("""
        altgc.install()
        builtin.set_threshold(100000, 0, 0)
        objs = [[] for _ in range(1000)]
        builtin.collect()                   # adopts them
        keep = [[] for _ in range(3000)]
        for k in keep:
            altgc.track(k)                  # (altgc's part above 0)
        def altgcs_part():
            return altgc.get_count()[0] - own.get_count()[0]
        c0 = altgcs_part()
        for o in objs:
            altgc.track(o)
        for o in objs:
            altgc.track(o)                  # (a second time: no change)
        c1 = altgcs_part()
        del objs, o
        c2 = altgcs_part()
        print(c1 - c0, c2 - c1)
    """).stdout
    up, down = map(int, out.split())
    assert 1000 <= up <= 1010, out
    assert abs(up + down) <= 10, out


def test_install_keeps_the_count_the_builtin_gc_had():
    # The containers created since the builtin gc's last collection still
    # count toward altgc's first one, as they would toward the builtin's.
    out = run("""
        builtin.set_threshold(100000, 0, 0)
        builtin.collect()
        keep = [[] for _ in range(300)]
        before = builtin.get_count()[0]
        altgc.install()
        print(before, altgc.get_count()[0])
    """).stdout
    before, after = map(int, out.split())
    assert before >= 300
    assert before <= after <= before + 20, out


def test_the_triggers_collections_leave_no_pending_call_behind():
    # The trigger adopts and collects at once: its adoption schedules no
    # pending collection of its own, which would run after the collection
    # and find count0 reset.  Scheduled runs still come from queries.
    out = run("""
        altgc.install()
        info = altgc._core._collector_info
        runs0, idle0 = info()["pending_runs"], info()["pending_idle"]
        t0 = altgc.install_info().triggers
        for i in range(20000):
            cycle()
        triggers = altgc.install_info().triggers - t0
        print(triggers, info()["pending_runs"] - runs0,
              info()["pending_idle"] - idle0)
    """).stdout
    triggers, runs, idle = map(int, out.split())
    assert triggers >= 10, out
    assert (runs, idle) == (0, 0), out


def test_a_failing_adoption_does_not_start_the_trigger_again_at_once():
    # When the trigger's adoption fails (here: altgc's handle on the builtin
    # gc.freeze is replaced by one that raises), the builtin gc collects
    # generation 0 itself and zeroes its count.  The trigger must leave
    # that count alone: put back above the threshold, it would start the
    # trigger again at the next eval breaker, and the next (it did, once,
    # at the C stack's limit, where calling gc.freeze() raised).
    out = run("""
        real_freeze = own.freeze
        failing = False
        def freeze():
            if failing:
                raise RuntimeError("freeze refused")
            real_freeze()
        own.freeze = freeze
        errors = []
        sys.unraisablehook = lambda u: errors.append(u.exc_type.__name__)
        altgc.install()
        p0 = altgc.install_info().polls
        failing = True
        for i in range(20000):
            cycle()
        failing = False
        polls = altgc.install_info().polls - p0
        t0 = altgc.install_info().triggers
        for i in range(20000):
            cycle()
        altgc._core._validate()
        print(polls, len(errors), sorted(set(errors)),
              altgc.install_info().triggers - t0)
    """).stdout
    polls, errors, kinds, triggers = out.split(maxsplit=3)
    # 20,000 cycles are 40,000 objects at least: a poll per threshold0
    # (700 or 2000) of them, not one per loop iteration.
    assert 10 <= int(polls) <= 200, out
    assert int(errors) == int(polls) and kinds == "['RuntimeError']", out
    assert int(triggers) >= 10, out  # and collections resume afterwards


def test_collections_run_in_the_thread_that_allocates():
    # A program whose main thread waits in join() still collects, in the
    # thread that makes the containers: the builtin gc's trigger starts
    # altgc's collection there (3.11 inside the allocation, 3.12+ at that
    # thread's eval breaker), as it starts its own.
    out = run("""
        import threading
        altgc.install()
        names = []
        altgc.callbacks.append(
            lambda p, i: names.append(threading.current_thread().name))
        def work():
            for i in range(20000):
                cycle()
        t = threading.Thread(target=work, name="worker")
        t.start(); t.join()
        print(sorted(set(names)))
    """).stdout
    assert "worker" in out


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork")
def test_fork_while_installed():
    out = run("""
        import os
        altgc.install()
        ws = [cycle() for _ in range(100)]
        pid = os.fork()
        if pid == 0:
            ok = True
            try:
                more = [cycle() for _ in range(5000)]
                altgc.collect()
                ok = all(w() is None for w in ws + more)
                ok = ok and altgc.stats().generations[0].collections > 0
                altgc._core._validate()
            except BaseException:
                ok = False
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        altgc.collect()
        assert all(w() is None for w in ws)
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_finalizers_at_exit_still_run():
    # An adopted cycle with __del__ that nobody collected before exit is
    # handed back to the builtin gc at exit, whose shutdown collection
    # finalizes it, as without altgc.
    out = run("""
        altgc.install()
        altgc.disable()
        class D:
            def __del__(self):
                print("finalized")
        d = D(); d.self = d
        del d
    """).stdout
    assert "finalized" in out


@pytest.mark.skipif(
    sys.version_info < (3, 12), reason="_interpreters / interpreters module is 3.12+"
)
def test_subinterpreter_import_is_refused_clearly():
    out = run("""
        try:
            import _interpreters as interpreters
        except ImportError:
            import _xxsubinterpreters as interpreters
        interp = interpreters.create()
        code = "import altgc"
        try:
            interpreters.run_string(interp, code)
        except Exception as e:
            print("refused:", type(e).__name__, e)
        else:
            print("imported")
    """).stdout
    assert "refused" in out or "imported" in out
    if "refused" in out:
        assert "ImportError" in out or "interpreter" in out


def test_install_and_uninstall_from_finalizers_during_a_collection():
    # Refused with a clear RuntimeError (reported by sys.unraisablehook, as
    # any exception in __del__), nothing changed; the registry stays valid.
    out = run("""
        errors = []
        sys.unraisablehook = lambda u: errors.append(u.exc_value)
        class Calls:
            __slots__ = ("fn", "self")    # a direct cycle: no __dict__
            def __init__(self, fn): self.fn = fn; self.self = self
            def __del__(self): self.fn()
        altgc.install()
        Calls(altgc.uninstall)
        Calls(lambda: altgc.install(adopt=False))   # already installed: no-op
        altgc.collect()
        assert altgc.is_installed()
        assert any(isinstance(e, RuntimeError) and "collection" in str(e)
                   for e in errors), errors
        altgc._core._validate()
        assert altgc.uninstall() is True
        errors.clear()
        builtin.disable()
        altgc.track(Calls(altgc.install))
        altgc.track(Calls(altgc.uninstall))     # not installed: no-op
        altgc.collect()
        altgc._core._validate()
        assert not altgc.is_installed()
        assert any(isinstance(e, RuntimeError) for e in errors), errors
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_the_builtin_modules_functions_act_on_altgc_while_installed():
    # A library that imported gc before install() holds the builtin module:
    # its gc.disable() ... gc.enable() around a bulk load did not stop
    # altgc's collections and then switched the builtin gc back on, and its
    # gc.get_objects() / get_referrers() saw only what altgc had not
    # adopted yet.
    out = run("""
        import warnings
        warnings.simplefilter("error")      # no "builtin gc was enabled"
        held = cycle()
        altgc.install()
        holder = [held()]
        assert any(o is holder for o in builtin.get_objects())
        assert any(r is holder for r in builtin.get_referrers(held()))
        before = altgc.stats().generations[0].collections
        builtin.disable()
        assert not altgc.isenabled() and not builtin.isenabled()
        ws = [cycle() for _ in range(20000)]
        assert altgc.stats().generations[0].collections == before
        assert all(w() is not None for w in ws)
        builtin.enable()
        assert altgc.isenabled() and own.isenabled()
        more = [cycle() for _ in range(20000)]
        assert altgc.stats().generations[0].collections > before
        builtin.set_threshold(1234, 9)
        assert altgc.get_threshold()[:2] == (1234, 9)
        builtin.set_debug(builtin.DEBUG_UNCOLLECTABLE)
        assert altgc.get_debug() == builtin.DEBUG_UNCOLLECTABLE == builtin.get_debug()
        assert own.get_debug() == 0
        altgc.uninstall()
        assert builtin.get_objects is own.get_objects
        print("ok")
    """).stdout
    assert out.strip().endswith("ok")


def test_a_wrapper_put_on_a_routed_function_does_not_loop_after_reinstall():
    # install() read the functions it calls back (get_count, freeze, ...)
    # from the module's attributes: a wrapper of the stand-in, left after
    # uninstall(), was taken for the builtin at the next install() and
    # called itself (RecursionError at every adoption).
    out = run("""
        frozen = own.get_freeze_count()  # (3.12's start-up freezes some)
        for name in ("get_count", "freeze", "unfreeze", "collect"):
            altgc.install()
            inner = getattr(builtin, name)
            setattr(builtin, name, lambda *a, _f=inner, **k: _f(*a, **k))
            altgc.uninstall()
            altgc.install()
            ws = [cycle() for _ in range(5000)]
            assert altgc.collect() >= 0
            assert all(w() is None for w in ws)
            altgc.uninstall()
            assert own.get_freeze_count() == frozen, name  # the heap went back
            setattr(builtin, name, getattr(own, name))
        print("ok")
    """)
    assert out.stdout.strip().endswith("ok")
    assert "RecursionError" not in out.stderr


def test_a_librarys_own_gc_function_stays_its_own():
    out = run_python("""
        import gc
        noop = lambda *a, **k: 0
        gc.collect = noop              # as some libraries do, before altgc
        import altgc
        assert type(altgc._install._BUILTIN["collect"]) is type(len)
        altgc.install()
        assert gc.collect is noop and gc.disable is not altgc._install._BUILTIN["disable"]
        altgc.uninstall()
        assert gc.collect is noop
        print("ok")
    """)
    assert out.stdout.strip() == "ok"


def test_routed_functions_pickle_and_have_the_builtins_signature():
    out = run("""
        import inspect, pickle
        altgc.install()
        assert pickle.loads(pickle.dumps(builtin.collect)) is builtin.collect
        assert "generation" in inspect.signature(builtin.collect).parameters
        before = builtin.get_stats()[0]["collections"]
        altgc.collect(0)
        assert builtin.get_stats()[0]["collections"] == before + 1   # altgc's
        altgc.uninstall()
        print("ok")
    """)
    assert out.stdout.strip().endswith("ok")


def test_settings_made_while_installed_go_to_the_builtin_gc():
    out = run("""
        builtin.enable()
        altgc.install()
        builtin.set_threshold(5000, 20, 30)
        builtin.disable()
        builtin.set_debug(builtin.DEBUG_UNCOLLECTABLE)
        altgc.uninstall()
        assert builtin.get_threshold() == (5000, 20, 30)
        assert not builtin.isenabled()
        assert builtin.get_debug() == builtin.DEBUG_UNCOLLECTABLE
        builtin.set_debug(0)
        print("ok")
    """)
    assert out.stdout.strip().endswith("ok")


def test_callbacks_a_library_put_on_the_builtin_gc_see_altgcs_collections():
    # Libraries (metrics, APMs, hypothesis) append to gc.callbacks at
    # import, before install(): they saw only the builtin gc's empty
    # collection that follows each full collection of altgc's.
    out = run("""
        seen = []
        def cb(phase, info):
            seen.append((phase, info["generation"], info.get("collected")))
        builtin.callbacks.append(cb)
        altgc.install()
        altgc.set_threshold(100)
        ws = [cycle() for _ in range(3000)]            # automatic ones
        altgc.disable()         # none between the two counts below
        auto = sum(g.collections for g in altgc.stats().generations)
        assert auto >= 10 and len(seen) == 2 * auto, (auto, len(seen))
        del seen[:]
        c = cycle(); del c
        n = builtin.collect()                          # altgc's, routed
        assert n >= 2
        # one collection, altgc's: not also the builtin gc's empty one
        assert seen == [("start", 2, 0), ("stop", 2, n)], seen
        altgc.uninstall()
        assert builtin.callbacks == [cb]
        del seen[:]
        builtin.collect()
        assert [p for p, g, _ in seen] == ["start", "stop"]   # the builtin gc's
        builtin.callbacks.remove(cb)
        print("ok")
    """)
    assert out.stdout.strip().endswith("ok")


def test_gc_garbage_is_altgcs_while_installed():
    # The leak-hunting idiom, in code that imported gc before install():
    # gc.set_debug(DEBUG_SAVEALL) and gc.collect() were altgc's, but
    # gc.garbage stayed the builtin gc's list, so it read empty.
    out = run("""
        builtin.garbage.append("saved before")     # stays the builtin's
        before = builtin.garbage
        altgc.install()
        assert builtin.garbage is altgc.garbage
        builtin.set_debug(builtin.DEBUG_SAVEALL)
        a = Node(); a.self = a; del a
        assert builtin.collect() >= 1
        assert any(type(o) is Node for o in builtin.garbage)
        builtin.set_debug(0)
        builtin.garbage.clear()
        assert altgc.garbage == []
        altgc.uninstall()
        assert builtin.garbage is before and before == ["saved before"]
        # a list the program put there itself is left alone
        mine = builtin.garbage = []
        altgc.install(); altgc.uninstall()
        assert builtin.garbage is mine
        altgc.install()
        assert builtin.garbage is mine
        altgc.uninstall()
        builtin.garbage = before
        print("ok")
    """)
    assert out.stdout.strip().endswith("ok"), out.stderr


@pytest.mark.parametrize("debug", ["0", "gc.DEBUG_SAVEALL"])
def test_uncollectables_are_reported_at_shutdown_as_by_the_builtin_gc(debug):
    # The interpreter's "gc: N uncollectable objects at shutdown" warning
    # reads the builtin gc's list: what altgc saved there while installed
    # was not counted.
    code = """
        import gc, sys, warnings
        warnings.simplefilter("always", ResourceWarning)
        import altgc
        from altgc._testobjs import LegacyDel
        if INSTALL:
            altgc.install()
        gc.set_debug(DEBUG)
        a = LegacyDel(); b = LegacyDel(); a.ref = b; b.ref = a
        del a, b
        gc.collect()
        print(len(gc.garbage))
    """.replace("DEBUG", debug)
    out = {}
    for install in (False, True):
        proc = run_python(code.replace("INSTALL", str(install)))
        out[install] = (
            proc.stdout.strip(),
            [line for line in proc.stderr.splitlines() if "at shutdown" in line],
        )
    assert out[True] == out[False]
    assert out[True][0] != "0"
    assert len(out[True][1]) == (debug == "0")
    if debug == "0":
        assert "gc: 2 uncollectable objects at shutdown" in out[True][1][0]


def test_is_tracked_adopts_only_for_an_object_it_cannot_answer_yet():
    # gc.is_tracked(o) for every referent (pympler, objgraph) adopted the
    # heap's new containers at every call: 10x the builtin's time.
    out = run("""
        altgc.install()
        old = [Node() for _ in range(10)]
        assert altgc.collect() >= 0            # everything adopted
        before = altgc.install_info().adoptions
        for i in range(1000):
            fresh = [i]                        # a new container, not adopted yet
            assert altgc.is_tracked(old[i % 10]) and not altgc.is_tracked("s")
            assert not altgc.is_tracked(i)
        assert altgc.install_info().adoptions == before
        assert altgc.is_tracked(fresh)        # this one needs the adoption
        assert altgc.install_info().adoptions == before + 1
        d = {}                                 # untracked by the interpreter before 3.14
        assert altgc.is_tracked(d) == builtin.is_tracked(d)
        d["k"] = []                            # tracked now: adopted when asked
        assert altgc.is_tracked(d)
        altgc.uninstall()
        print("ok")
    """)
    assert out.stdout.strip().endswith("ok"), out.stderr
