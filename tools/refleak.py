#!/usr/bin/env python3
"""Reference-leak runner for altgc, modelled on CPython's ``regrtest -R 3:3``.

Run it with a debug interpreter (one that has ``sys.gettotalrefcount``), with
the extension built in place and the source tree on PYTHONPATH::

    python3.11-dbg setup.py build_ext --inplace
    PYTHONPATH=$PWD python3.11-dbg tools/refleak.py            # -R 3:3 on tests/
    PYTHONPATH=$PWD python3.11-dbg tools/refleak.py -R 2:4 tests/test_api.py
    python3.11-dbg tools/refleak.py --selftest                 # proves the harness

How it works: pytest runs once, in this process, and a plugin replaces the
per-test protocol: every selected test item is run W+R times in a row (setup,
call, teardown, function-scoped fixtures re-created each time; module/session
fixtures are kept, as in a normal run). After each repetition the harness
clears the interpreter's caches (type cache, re, typing, linecache), runs
gc.collect() three times and reads sys.gettotalrefcount() and
sys.getallocatedblocks(). The delta of each of the last R repetitions is
kept. As in regrtest, a test leaks when *every* measured delta is >= 1
(references, or allocated memory blocks): then its call report is turned into
a failure whose text lists the deltas of all repetitions, so pytest's summary
line counts it as failed and the exit code is 1. Noise such as ``[1, 0, 0]`` or
``[4, -4, 1]`` is not a leak. A test that fails or skips is reported after its
first run, without repetitions. Since one measured run with both deltas below 1
rules a leak out, a test stops there (a clean suite costs W+1 runs a test, not
W+R; the verdicts are the same); ``--every-run`` runs all W+R, to study noise.

Before each test (never between its repetitions) the harness collects and
calls gc.freeze(): its own heap, pytest's and every test module's, moves to
the builtin gc's permanent generation, so the collections between
repetitions examine only what the test made.  Without it, those full
collections of a whole-suite heap were most of the run (a shard of the suite
on python3.14-dbg: 2028-2444 s before, 638-865 s after).  A test that thaws
the heap (gc.unfreeze(); altgc.uninstall() no longer does) pays full
collections until the next test.  The selftest proves both that a cycle a repetition keeps and the
next one drops is no leak and that the heap is frozen while tests run.  The
summary lists the slowest tests, repetitions and measurements included.

Why per test inside one pytest session and not ``pytest.main()`` once per
repetition: pytest.main re-creates its config, plugin manager, terminal
reporter, assertion-rewriting hook, capture and warnings machinery on every
call and some of that outlives the call, so even a no-op test file shows
positive deltas run after run; per-item repetition measures only the test and
its function-scoped fixtures, and the selftest shows a zero baseline. It also
names the leaking test.

What the harness sets up for the run (in-process and in the environment, so a
conftest can honour it):
* pytest plugins off: cacheprovider (no .pytest_cache writes), warnings (its
  per-test warning log would grow with every repetition) and stepwise.
* hypothesis: a profile "altgc-refleak" is registered and loaded, and passed as
  ``--hypothesis-profile=altgc-refleak``: database=None, derandomize=True (the
  same examples on every repetition), deadline=None, all health checks
  suppressed (a debug interpreter is slow), max_examples from
  ALTGC_REFLEAK_MAX_EXAMPLES (default 50). HYPOTHESIS_PROFILE=altgc-refleak is
  exported too, and HYPOTHESIS_STORAGE_DIRECTORY points at a temporary dir.
  Tests with their own @settings(max_examples=...) keep that number.
* ALTGC_REFLEAK=1 is exported, so tests/conftest.py can skip or slim down what
  must not run under the leak hunter.

Default selection: tests/ with ``-m "not slow"``, deselecting the tests that
start another process (the test function's source mentions subprocess,
multiprocessing, os.fork, sys.executable or tests/support.py's run_python): a child
process is invisible to in-process counters and slow under a debug
interpreter. ``--all`` keeps them. ``--shard K/N`` keeps every N-th of the
selected tests from the K-th on: N such processes side by side (CI runs one
per CPU) measure every test once between them.

Exit status: pytest's (0 ok, 1 failures or leaks, 5 no test ran, ...); 2 for a
usage error such as a non-debug interpreter.
"""

import argparse
import contextlib
import gc
import inspect
import io
import os
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A test whose function source matches this starts another process (run_python
# is tests/support.py's helper that runs code in a fresh interpreter).
SPAWN_RE = re.compile(
    r"\bsubprocess\b|\bmultiprocessing\b|\bos\.fork\b|\bos\.posix_spawn\b"
    r"|\brun_python\b|\bsys\.executable\b"
)
PROFILE = "altgc-refleak"

# Preallocated ints, so that storing a delta does not allocate (as in regrtest).
_INT_POOL = {value: value for value in range(-1000, 1000)}


def _pooled(value):
    return _INT_POOL.get(value, value)


def _cleanup():
    """Drop interpreter caches that grow on their own, then collect."""
    # 3.13+: _clear_internal_caches (type cache and more); the older name
    # is deprecated from 3.13 on.
    (getattr(sys, "_clear_internal_caches", None) or sys._clear_type_cache)()
    re.purge()
    typing = sys.modules.get("typing")
    if typing is not None:
        for func in getattr(typing, "_cleanups", ()):
            func()
    linecache = sys.modules.get("linecache")
    if linecache is not None:
        linecache.clearcache()
    # hypothesis memoises strategies in a bounded LRU cache (1024 entries): a
    # test whose strategy builds new strategies per example (st.composite
    # drawing st.lists(...)) fills it by ~100 entries per run, which looks
    # like a leak for the first ~10 runs. Empty it like the caches above.
    hyp_utils = sys.modules.get("hypothesis.strategies._internal.utils")
    if hyp_utils is not None:
        clear = getattr(hyp_utils, "clear_strategy_cache", None)  # hypothesis >= 6.1xx
        if clear is not None:
            clear()
        else:  # older releases (Debian 12's 6.67): a thread-local LRUReusedCache
            cache = getattr(getattr(hyp_utils, "_CACHE", None), "STRATEGY_CACHE", None)
            if cache is not None:
                cache.clear()
    gc.collect()
    gc.collect()
    gc.collect()


def _freeze_survivors():
    """Move every object alive now into the builtin gc's permanent generation.

    Called between tests, never between the repetitions of one test.  The
    harness's own heap (pytest, hypothesis, every collected test module:
    hundreds of thousands of containers under a whole-suite run) would
    otherwise be traversed by each of _cleanup's three full collections,
    four or more times a test -- most of the stage's time.  Frozen, those
    collections examine only what the test under measurement made.  The
    verdicts do not change: a repetition's objects are never frozen before
    the test's last repetition, so a cycle it leaves behind is collected
    (or counted) as before; something the test drops from the frozen heap
    stays uncollected once, a one-off delta that is not a leak.  A test
    that calls gc.unfreeze() thaws it all (altgc.uninstall() does not: install
    mode sets the frozen heap aside and puts it back); the next test freezes
    it again.
    """
    gc.collect()
    gc.freeze()


def _measure():
    _cleanup()
    blocks = sys.getallocatedblocks()
    quickened = getattr(sys, "_getquickenedcount", None)  # 3.11 only
    if quickened is not None:
        blocks -= quickened()
    return sys.gettotalrefcount(), blocks


def _is_leak(deltas):
    return all(d >= 1 for d in deltas)


class RefleakPlugin:
    def __init__(self, warmups, runs, every_run=False):
        self.warmups = warmups
        self.runs = runs
        # False: a test stops at its first measured run whose reference and
        # block deltas are both < 1, since a leak needs every measured delta
        # >= 1 (the verdicts are those of running every repetition)
        self.every_run = every_run
        self.results = []  # (nodeid, ref_deltas, block_deltas, leaked_refs, leaked_blocks)
        self.total_refs = [0] * runs
        self.total_blocks = [0] * runs
        self.seconds = []  # (seconds, nodeid): every repetition and measurement

    def pytest_runtest_protocol(self, item, nextitem):
        from _pytest.runner import runtestprotocol

        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        total = self.warmups + self.runs
        ref_deltas = [0] * total
        block_deltas = [0] * total
        reports = None
        completed = 0
        failed = False
        t0 = time.perf_counter()
        _freeze_survivors()
        rc_before, blocks_before = _measure()
        for i in range(total):
            item._report_sections = []
            reports = None
            # nextitem=None: tear down every fixture scope after each run, so
            # that higher-scoped fixtures and their finalizers are re-created
            # per repetition instead of piling up (pytest registers a new
            # finalizer on the module/session for every request of a
            # module/session-scoped fixture).
            reports = runtestprotocol(item, nextitem=None, log=False)
            if any(r.failed or r.skipped for r in reports):
                failed = True
                break
            rc_after, blocks_after = _measure()
            ref_deltas[i] = _pooled(rc_after - rc_before)
            block_deltas[i] = _pooled(blocks_after - blocks_before)
            rc_before, blocks_before = rc_after, blocks_after
            completed += 1
            if (
                not self.every_run
                and i >= self.warmups
                and ref_deltas[i] < 1
                and block_deltas[i] < 1
            ):
                break  # no leak: one measured run of each counter below 1
        if not failed:
            del ref_deltas[completed:], block_deltas[completed:]
            refs = ref_deltas[self.warmups :]
            blocks = block_deltas[self.warmups :]
            leaked_refs, leaked_blocks = _is_leak(refs), _is_leak(blocks)
            self.results.append((item.nodeid, ref_deltas, block_deltas, leaked_refs, leaked_blocks))
            for j in range(len(refs)):
                self.total_refs[j] += refs[j]
                self.total_blocks[j] += blocks[j]
            if leaked_refs or leaked_blocks:
                what = []
                if leaked_refs:
                    what.append(f"references, {sum(refs)} in {len(refs)} runs")
                if leaked_blocks:
                    what.append(f"memory blocks, {sum(blocks)} in {len(blocks)} runs")
                text = (
                    f"refleak: {item.nodeid} leaked {' and '.join(what)}\n"
                    f"  ref deltas   {ref_deltas}  (first {self.warmups} = warmup)\n"
                    f"  block deltas {block_deltas}"
                )
                for rep in reports:
                    if rep.when == "call":
                        rep.outcome = "failed"
                        rep.longrepr = text
                        break
        self.seconds.append((time.perf_counter() - t0, item.nodeid))
        for rep in reports:
            ihook.pytest_runtest_logreport(report=rep)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        tr.section(f"refleak -R {self.warmups}:{self.runs}")

        def growth(r):  # some measured delta > 0, not necessarily a leak
            return any(d > 0 for d in r[1][self.warmups :] + r[2][self.warmups :])

        noisy = [r for r in self.results if growth(r) and not (r[3] or r[4])]
        leaks = [r for r in self.results if r[3] or r[4]]
        verbose = tr.config.getoption("verbose") > 0
        for r in self.results:
            nodeid, refs, blocks, lr, lb = r
            flag = "LEAK" if (lr or lb) else ("noise" if growth(r) else "ok")
            if verbose or flag != "ok":
                tr.write_line(f"{flag:5} refs {refs} blocks {blocks}  {nodeid}")
        tr.write_line(
            f"refleak: {len(self.results)} tests measured, {len(leaks)} leaking, "
            f"{len(noisy)} more with some positive delta (noise); "
            "per measured run, summed over the tests that reached it: "
            f"refs {self.total_refs}, blocks {self.total_blocks}"
        )
        # where the stage's time goes: every repetition and measurement
        slowest = sorted(self.seconds, reverse=True)[:8]
        total = sum(t for t, _ in self.seconds)
        tr.write_line(f"refleak: {total:.0f} s in the tests' repetitions; slowest:")
        for t, nodeid in slowest:
            tr.write_line(f"  {t:7.1f} s  {nodeid}")


def _register_hypothesis_profile():
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return False
    settings.register_profile(
        PROFILE,
        database=None,
        derandomize=True,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        max_examples=int(os.environ.get("ALTGC_REFLEAK_MAX_EXAMPLES", "50")),
    )
    settings.load_profile(PROFILE)
    return True


def _spawns(item):
    func = getattr(item, "function", None)
    if func is None:
        return False
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return False
    return bool(SPAWN_RE.search(source))


class Select:
    """Deselects tests whose own source starts another process (unless
    keep_spawning), then keeps every COUNT-th of the rest from INDEX on when
    given shard=(INDEX, COUNT).

    Several shards run side by side, one per CPU, and together measure every
    selected test once. Tests are dealt out one by one, not by file, so no
    shard gets a whole slow file; a few long tests can still make one shard
    slower (CI on 2026-12-06: 646 s and 843 s).
    """

    def __init__(self, keep_spawning, shard=None):
        self.keep_spawning = keep_spawning
        self.shard = shard
        self.spawners = []

    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        for item in items:
            if not self.keep_spawning and _spawns(item):
                self.spawners.append(item)
                drop.append(item)
            else:
                keep.append(item)
        if self.shard is not None:
            index, count = self.shard
            drop += [item for i, item in enumerate(keep) if i % count != index]
            keep = keep[index::count]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_report_collectionfinish(self, config, items):
        lines = []
        if self.spawners:
            lines.append(
                f"refleak: deselected {len(self.spawners)} tests that start another process "
                f"(--all keeps them): " + ", ".join(i.nodeid for i in self.spawners)
            )
        if self.shard is not None:
            lines.append(f"refleak: shard {self.shard[0]}/{self.shard[1]}: {len(items)} tests")
        return lines


def run(paths, warmups, runs, markexpr, extra, verbose, keep_spawning, shard=None, every_run=False):
    os.environ["ALTGC_REFLEAK"] = "1"
    os.environ["HYPOTHESIS_PROFILE"] = PROFILE
    storage = tempfile.mkdtemp(prefix="altgc-refleak-hyp-")
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = storage
    have_hypothesis = _register_hypothesis_profile()

    import pytest

    args = [str(p) for p in paths]
    args += [
        "-p",
        "no:cacheprovider",
        "-p",
        "no:stepwise",
        "-p",
        "no:warnings",
        "-p",
        "altgc_ci_plugin",
    ]
    if have_hypothesis:
        args.append(f"--hypothesis-profile={PROFILE}")
    if markexpr:
        args += ["-m", markexpr]
    if verbose:
        args.append("-v")
    args += extra
    print(
        f"refleak: {sys.executable} ({sys.version.split()[0]}), -R {warmups}:{runs}, "
        f"pytest {' '.join(args)}",
        flush=True,
    )
    plugins = [RefleakPlugin(warmups, runs, every_run), Select(keep_spawning, shard)]
    return int(pytest.main(args, plugins=plugins))


SELFTEST_MODULE = """
import gc
import logging
import warnings
import pytest

_KEEP = []

class Node:
    def __init__(self):
        self.other = None

def test_noop():
    pass

def test_alloc_and_free():
    data = [dict(a=list(range(50)), b=str(i) * 3) for i in range(200)]
    del data

def test_cycles_freed_by_gc():
    for _ in range(50):
        a, b = Node(), Node()
        a.other, b.other = b, a
    gc.collect()

@pytest.mark.parametrize("n", [1, 10, 100])
def test_parametrized(n):
    assert len(list(range(n))) == n

def test_fixtures(tmp_path, capsys, monkeypatch, caplog):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("ALTGC_SELFTEST", "1")
    print("some captured output")
    logging.getLogger("selftest").warning("a log record")
    assert capsys.readouterr().out == "some captured output\\n"

def test_warns():
    with pytest.warns(UserWarning):
        warnings.warn("expected", UserWarning)

def test_exception_caught():
    with pytest.raises(ZeroDivisionError):
        1 / 0

@pytest.fixture(scope="module")
def shared():
    return {"x": 1}

class TestClass:
    def test_method(self, shared):
        assert shared["x"] == 1

def test_leaks_refs_and_blocks():
    _KEEP.append(object())

def _cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a

def test_leaks_a_cycle_each_run():
    _KEEP.append(_cycle())

# Each run drops the cycle the previous run kept: no leak, provided the
# harness never freezes between the repetitions of one test.
_LAST = [None]

def test_replaces_a_cycle_each_run():
    _LAST[0] = _cycle()

# Made at import, so frozen with the harness's heap before any test runs;
# dropping it leaves a frozen cycle uncollected once: no leak.
_OLD = [_cycle() for _ in range(20)]

def test_drops_cycles_of_the_frozen_heap():
    _OLD.clear()

def test_runs_with_the_harness_heap_frozen():
    assert gc.get_freeze_count() > 1000
"""

SELFTEST_HYPOTHESIS = """
from hypothesis import given, strategies as st

@given(st.lists(st.integers(), max_size=20), st.text(max_size=10))
def test_property(xs, s):
    assert sorted(sorted(xs)) == sorted(xs)
    assert s + "" == s
"""

EXPECTED_LEAKS = {"test_leaks_refs_and_blocks", "test_leaks_a_cycle_each_run"}


def selftest(warmups, runs, verbose, every_run=False):
    """Run the harness on a generated test file; it must flag only the leaking test."""
    with tempfile.TemporaryDirectory(prefix="altgc-refleak-selftest-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "test_selftest.py").write_text(textwrap.dedent(SELFTEST_MODULE))
        try:
            import hypothesis  # noqa: F401

            (tmpdir / "test_selftest_hypothesis.py").write_text(
                textwrap.dedent(SELFTEST_HYPOTHESIS)
            )
        except ImportError:
            print("refleak selftest: hypothesis not importable, its part is left out")
        (tmpdir / "pytest.ini").write_text("[pytest]\n")
        plugin = RefleakPlugin(warmups, runs, every_run)
        os.environ["ALTGC_REFLEAK"] = "1"
        os.environ["HYPOTHESIS_PROFILE"] = PROFILE
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(tmpdir / ".hypothesis")
        have_hypothesis = _register_hypothesis_profile()
        import pytest

        args = [
            str(tmpdir),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:stepwise",
            "-p",
            "no:warnings",
            "--rootdir",
            str(tmpdir),
            "-c",
            str(tmpdir / "pytest.ini"),
        ]
        if have_hypothesis:
            args.append(f"--hypothesis-profile={PROFILE}")
        if verbose:
            args.append("-v")
        print(
            f"refleak selftest: {sys.executable} ({sys.version.split()[0]}), -R {warmups}:{runs}, "
            f"pytest {pytest.__version__}",
            flush=True,
        )
        out = io.StringIO()
        with contextlib.redirect_stdout(out):  # its one expected failure would only confuse a log
            pytest.main(args, plugins=[plugin])
    flagged = {nodeid.split("::")[-1] for nodeid, _r, _b, lr, lb in plugin.results if lr or lb}
    measured = {nodeid.split("::")[-1] for nodeid, *_ in plugin.results}
    problems = []
    if flagged != EXPECTED_LEAKS:
        problems.append(f"flagged {sorted(flagged)}, expected exactly {sorted(EXPECTED_LEAKS)}")
    # every test of the generated files passes, so every one is measured
    # (a failing or skipped test is reported without a verdict)
    written = SELFTEST_MODULE + (SELFTEST_HYPOTHESIS if have_hypothesis else "")
    unmeasured = set(re.findall(r"^\s*def (test_\w+)", written, re.M)) - {
        name.split("[")[0] for name in measured
    }
    if unmeasured:
        problems.append(f"not measured (failed or skipped): {sorted(unmeasured)}")
    clean = [r for r in plugin.results if r[0].split("::")[-1] not in EXPECTED_LEAKS]
    ref_d = [d for r in clean for d in r[1][warmups:]]
    blk_d = [d for r in clean for d in r[2][warmups:]]
    # the leaking test runs every repetition; without --every-run a clean one
    # stops at its first measured run with both deltas below 1
    short = [r[0] for r in plugin.results if len(r[1]) < warmups + runs]
    if any(nodeid.split("::")[-1] in EXPECTED_LEAKS for nodeid in short):
        problems.append(f"a leaking test stopped before its {runs} measured runs")
    if not every_run and runs > 1 and len(short) != len(clean):
        problems.append(f"{len(clean) - len(short)} clean tests ran every repetition")
    print(
        f"refleak selftest: {len(clean)} clean tests, {len(ref_d)} measured runs: ref deltas "
        f"min {min(ref_d, default=0)} max {max(ref_d, default=0)}, block deltas "
        f"min {min(blk_d, default=0)} max {max(blk_d, default=0)}; "
        f"flagged as leaking: {sorted(flagged)}"
    )
    if problems or verbose:
        print(out.getvalue())
    if problems:
        print("refleak selftest: FAILED: " + "; ".join(problems))
        return 1
    print("refleak selftest: OK (zero false positives, the deliberate leak was caught)")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-R",
        dest="spec",
        default=os.environ.get("ALTGC_REFLEAK_R", "3:3"),
        help="WARMUP:RUNS, like regrtest (default 3:3 or $ALTGC_REFLEAK_R)",
    )
    parser.add_argument(
        "-m",
        dest="markexpr",
        default="not slow",
        help='pytest marker expression (default "not slow"; "" for none)',
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also run tests that start another process (default: deselected)",
    )
    parser.add_argument(
        "--selftest",
        action="store_true",
        help="prove the harness: zero deltas on clean tests, a deliberate leak caught",
    )
    parser.add_argument(
        "--shard",
        metavar="INDEX/COUNT",
        help="run only every COUNT-th selected test from INDEX on (0 <= INDEX < COUNT)",
    )
    parser.add_argument(
        "--every-run",
        action="store_true",
        help="run every repetition of every test (default: a test stops at its first "
        "measured run with both deltas below 1, which rules a leak out)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list every test's deltas")
    parser.add_argument("paths", nargs="*", help="test files or node ids (default: tests/)")
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments, one string")
    opts = parser.parse_args(argv)

    try:
        warmups, runs = (int(x) for x in opts.spec.split(":"))
        if warmups < 0 or runs < 1:
            raise ValueError
    except ValueError:
        parser.error(f"-R wants WARMUP:RUNS with RUNS >= 1, got {opts.spec!r}")
    shard = None
    if opts.shard is not None:
        try:
            shard = tuple(int(x) for x in opts.shard.split("/"))
            if len(shard) != 2 or not 0 <= shard[0] < shard[1]:
                raise ValueError
        except ValueError:
            parser.error(f"--shard wants INDEX/COUNT with 0 <= INDEX < COUNT, got {opts.shard!r}")
    if not hasattr(sys, "gettotalrefcount"):
        print(
            f"refleak: {sys.executable} is not a debug build (no sys.gettotalrefcount); "
            f"use python3.11-dbg",
            file=sys.stderr,
        )
        return 2
    if opts.selftest:
        return selftest(warmups, runs, opts.verbose, opts.every_run)
    paths = opts.paths or [ROOT / "tests"]
    return run(
        paths,
        warmups,
        runs,
        opts.markexpr,
        opts.pytest_args.split(),
        opts.verbose,
        opts.all,
        shard,
        opts.every_run,
    )


if __name__ == "__main__":
    sys.exit(main())
