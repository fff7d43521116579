"""Bad inputs and awkward contexts for ``python -m altgc bench``,
:func:`altgc.compare_heap` and the heap index (``src/heapindex.c``): every
one gives a clear error naming what is wrong (or the right answer), never a
traceback, a crash or a silent wrong answer."""

import textwrap

import pytest
from support import run_cli, run_python

# ---------------------------------------------------------------------------
# python -m altgc bench

#: A stand-in for benchmarks/run_all.py: says when it runs, writes nothing.
FAKE_RUN_ALL = textwrap.dedent(
    """
    import sys
    BENCHMARKS = ["w1", "w2"]

    def run_one(name, passthrough, verbose=False):
        return {"benchmark": name, "rows": []}

    def main(argv=None):
        print("FAKE RUN_ALL RAN", argv)
        for name in BENCHMARKS:
            run_one(name, [])
        return 0
    """
)


@pytest.fixture
def fake_bench(tmp_path):
    d = tmp_path / "benchmarks"
    d.mkdir()
    (d / "run_all.py").write_text(FAKE_RUN_ALL)
    return d


@pytest.mark.parametrize("kind", ["directory", "missing_parent", "empty"])
def test_bench_json_path_checked_before_the_run(fake_bench, tmp_path, kind):
    # Was: every workload ran, then run_all's open() raised a traceback
    # (exit 1); --json "" was silently ignored.
    path = {
        "directory": str(tmp_path),
        "missing_parent": str(tmp_path / "no" / "such" / "dir" / "r.json"),
        "empty": "",
    }[kind]
    proc = run_cli("bench", "--benchmarks", str(fake_bench), "--json", path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "altgc bench: error: --json" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "FAKE RUN_ALL RAN" not in proc.stdout
    # a writable path is handed on to run_all (which writes it at the end)
    good = tmp_path / "r.json"
    proc = run_cli("bench", "--benchmarks", str(fake_bench), "--json", str(good))
    assert proc.returncode == 0, proc.stderr
    assert "FAKE RUN_ALL RAN" in proc.stdout and str(good) in proc.stdout


def test_bench_empty_benchmarks_dir_is_an_error(tmp_path):
    # Was: --benchmarks "" silently ran the default checkout's benchmarks.
    proc = run_cli("bench", "--benchmarks", "", "--only", "nope", cwd=str(tmp_path))
    assert proc.returncode == 2
    assert "altgc bench: error: --benchmarks: the path is empty" in proc.stderr


@pytest.mark.parametrize("repeat", ["0", "-3"])
def test_bench_programs_repeat_checked_like_the_workloads(tmp_path, repeat):
    # Was: with --programs, --repeat 0 reached bench_programs.py (its own
    # usage line) or was hidden behind other errors.
    proc = run_cli("bench", "--programs", "--benchmarks", str(tmp_path), "--repeat", repeat)
    assert proc.returncode == 2
    assert "altgc bench: error: --repeat must be at least 1" in proc.stderr


@pytest.mark.parametrize(
    "source, words",
    [
        ("X = 1\n", "is not altgc's benchmark runner"),
        ("BENCHMARKS = 'w1'\ndef run_one(): pass\ndef main(): pass\n", "not altgc's"),
        ("1 / 0\n", "cannot load"),
        ("def broken(:\n", "cannot load"),
    ],
)
def test_bench_foreign_run_all_is_a_clear_error(tmp_path, source, words):
    # Was: an AttributeError / ZeroDivisionError / SyntaxError traceback.
    (tmp_path / "run_all.py").write_text(source)
    proc = run_cli("bench", "--benchmarks", str(tmp_path))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "altgc bench: error:" in proc.stderr
    assert words in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_help_documents_every_option():
    proc = run_cli("bench", "--help")
    assert proc.returncode == 0
    # --repeat had no help text at all
    assert "repetitions per measurement" in proc.stdout


# ---------------------------------------------------------------------------
# compare_heap


def test_compare_heap_garbage_none_leaves_collectors_enabled():
    # Was: TypeError from list(None) after both collectors were disabled,
    # which stayed disabled; then refused.  It now uses the builtin gc's
    # own list, whatever gc.garbage is.
    run_python(
        """
        import gc, altgc
        altgc.enable(); gc.enable()
        gc.garbage = None
        r = altgc.compare_heap()
        assert r.explained, r
        assert gc.garbage is None
        assert gc.isenabled() and altgc.isenabled()
        """
    )


def test_compare_heap_rebound_garbage_is_no_silent_agreement():
    # Was: gc.garbage = [] made the builtin gc's saved garbage invisible:
    # compare_heap() said AGREE with 0 objects found by the builtin gc.
    run_python(
        """
        import gc, altgc
        gc.disable()
        mine = gc.garbage = []
        x = []; x.append(x); ix = id(x); del x
        r = altgc.compare_heap()
        assert ix in r.builtin_ids and ix not in r.altgc_ids, r
        assert not r.agree and r.explained, r
        assert gc.garbage is mine and mine == []
        assert not gc.isenabled()
        """
    )


def test_compare_heap_during_builtin_collection_raises():
    # Was: the builtin gc returned 0 at once (it was already collecting),
    # and compare_heap reported altgc's cycle as an UNEXPLAINED difference.
    run_python(
        """
        import gc, altgc
        out = []
        class D:
            def __del__(self):
                y = []; y.append(y); altgc.track(y); del y
                try:
                    out.append(altgc.compare_heap(0))
                except RuntimeError as e:
                    out.append(e)
        gc.collect()
        d = D(); d.self = d; del d
        gc.collect()
        [r] = out
        assert isinstance(r, RuntimeError), str(r)
        assert "compare_heap() cannot run during a collection" in str(r), r
        assert gc.isenabled() and altgc.isenabled()
        altgc.collect()
        """
    )


def test_compare_heap_during_altgc_collection_names_compare_heap():
    # Was: "find_unreachable() cannot run during a collection".
    import altgc

    out = []

    class D:
        def __del__(self):
            try:
                altgc.compare_heap()
            except RuntimeError as e:
                out.append(str(e))

    d = D()
    d.self = d
    altgc.track(d)
    del d
    assert altgc.collect() == 1
    assert len(out) == 1
    assert out[0].startswith("compare_heap() cannot run during a collection"), out
    # and outside a collection it answers
    a = []
    a.append(a)
    altgc.track(a)
    del a
    r = altgc.compare_heap()
    assert len(r.altgc_ids) == 1 and r.altgc_ids <= r.builtin_ids
    assert r.explained
    assert altgc.collect() == 1


# ---------------------------------------------------------------------------
# the heap index


def test_retained_size_survives_getsizeof_dropping_itself():
    # Was: a segfault: the retained-size walk held sys.getsizeof borrowed
    # across calls of it, and a Python getsizeof that rebinds
    # sys.getsizeof freed itself in between.
    proc = run_python(
        """
        import sys, altgc
        from altgc import _core
        def fake(o, *a):
            if "getsizeof" in sys.__dict__:
                del sys.getsizeof
            return 64
        sys.getsizeof = fake
        del fake
        target = [[i, [i]] for i in range(50)]
        altgc.heap_index()
        n, size = _core._hg_retained(target)
        assert n == 101, n
        sys.getsizeof = lambda o, *a: (sys.__dict__.pop("getsizeof", None), 8)[1]
        print(str(altgc.explain(target)).splitlines()[0])
        """,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "is still alive" in proc.stdout
