"""``python -m altgc compare`` and ``python -m altgc run`` given unusual
scripts: the child must behave as ``python script.py`` would, the report
must say what happened (same outputs as same, differing ones as
differing), and altgc's harness must not fail.

Scripts that fork, leave threads running after their main code, write
bytes that are not UTF-8, pass odd arguments to the gc functions, replace
``gc.callbacks``, close ``sys.stdout``, register a gc function as an atexit
handler, leave a trace function or a low recursion limit set, or are a
directory or a zip file.
"""

import os
import subprocess
import sys
import textwrap
import zipfile

import pytest
from support import run_cli

import altgc
from altgc import _program_comparison as cli

needs_install = pytest.mark.skipif(
    not callable(getattr(altgc, "install", None)),
    reason="needs altgc install mode (altgc.install), which this altgc does not have",
)
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


#: a script that leaves a trace function printing every call it sees
TRACING_SCRIPT = """\
import sys
def tracer(frame, event, arg):
    if event == "call":
        print("call", frame.f_code.co_name)
sys.settrace(tracer)
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------------------
# compare: the child harness
# ---------------------------------------------------------------------------


@needs_fork
def test_a_forked_process_does_not_write_the_record(tmp_path):
    # The parent ends by os._exit: no record.  The forked child, which
    # returns to the harness, wrote its own in its place.
    script = write(
        tmp_path / "fork.py",
        """
        import gc, os
        pid = os.fork()
        if pid == 0:
            gc.collect()
            print("child", flush=True)
        else:
            os.waitpid(pid, 0)
            print("parent", flush=True)
            os._exit(0)
        """,
    )
    run = cli.run_once("builtin", str(script), [])
    assert run.stdout == "child\nparent\n"
    assert run.status == 0
    assert not run.recorded
    assert run.events == [] and run.gc_calls == []


def test_collections_in_threads_that_outlive_the_main_code_are_recorded(tmp_path):
    # The interpreter waits for non-daemon threads after the main module;
    # what they do is the program's too, under automatic collection as
    # the script left it.
    script = write(
        tmp_path / "threads.py",
        """
        import gc, threading, time
        def work():
            time.sleep(0.2)
            for _ in range(3):
                a = []
                a.append(a)
                del a
                gc.collect()
            print("thread done", gc.isenabled(), flush=True)
        threading.Thread(target=work).start()
        print("main done")
        """,
    )
    run = cli.run_once("builtin", str(script), [])
    assert run.stdout == "main done\nthread done True\n"
    assert run.recorded and run.status == 0
    assert [c["func"] for c in run.gc_calls] == ["collect"] * 3
    assert [e["generation"] for e in run.events if e["explicit"]] == [2, 2, 2]
    assert sum(e["collected"] for e in run.events) >= 3


@needs_install
def test_outputs_that_differ_only_in_bytes_that_are_not_utf8_differ(tmp_path):
    script = write(
        tmp_path / "bytes.py",
        """
        import gc, sys
        sys.stdout.buffer.write(b"\\xff\\n" if gc.__name__ == "altgc" else b"\\xfe\\n")
        sys.stderr.buffer.write(b"\\x80 same\\n")
        """,
    )
    report = cli.compare_program(str(script))
    assert report.outputs_match() == {"stdout": False, "stderr": True, "status": True}
    assert any(n.startswith("stdout differs: line 1") for n in report.notes())
    # The record (JSON) keeps the bytes apart too.
    again = cli.CompareReport.from_json(report.to_json())
    assert again.outputs_match() == report.outputs_match()


def test_an_argument_json_cannot_hold_is_recorded_as_its_repr(tmp_path):
    script = write(
        tmp_path / "args.py",
        """
        import gc
        class Odd:
            def __repr__(self):
                return "<odd>"
        try:
            gc.disable(Odd())
        except TypeError:
            print("refused")
        """,
    )
    run = cli.run_once("builtin", str(script), [])
    assert run.stdout == "refused\n"
    assert run.stderr == ""
    assert run.recorded and run.status == 0
    assert [(c["func"], c["args"]) for c in run.gc_calls] == [("disable", ["<odd>"])]


def test_an_error_message_with_a_lone_surrogate_is_reported(tmp_path):
    script = write(tmp_path / "surrogate.py", 'raise ValueError("bad \\udcff")\n')
    html = tmp_path / "r.html"
    proc = run_cli("compare", "-q", "--html", str(html), str(script), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "exit status 1: ValueError: bad \\udcff" in proc.stdout
    assert "ValueError: bad \\udcff" in html.read_text(encoding="utf-8")


def test_a_script_that_replaces_gc_callbacks_and_functions(tmp_path):
    script = write(
        tmp_path / "replace.py",
        """
        import gc
        gc.callbacks = None
        gc.get_stats = gc.get_threshold = None
        print("ok")
        """,
    )
    run = cli.run_once("builtin", str(script), [])
    assert (run.stdout, run.stderr, run.status) == ("ok\n", "", 0)
    assert run.recorded


@pytest.mark.parametrize("replacement", ["sys.stdout.close()", "sys.stdout = sys.stderr = None"])
def test_a_script_that_closes_or_drops_its_output_streams(tmp_path, replacement):
    script = write(tmp_path / "close.py", f"import sys\nprint('x')\n{replacement}\n")
    run = cli.run_once("builtin", str(script), [])
    assert (run.stdout, run.stderr, run.status) == ("x\n", "", 0)
    assert run.recorded


def test_a_gc_function_registered_as_an_atexit_handler(tmp_path):
    # Called from C, with no Python caller.
    script = write(
        tmp_path / "atexit_collect.py",
        """
        import atexit, gc
        atexit.register(gc.collect)
        """,
    )
    run = cli.run_once("builtin", str(script), [])
    assert (run.stdout, run.stderr, run.status) == ("", "", 0)


def test_the_scripts_trace_function_does_not_see_the_harness(tmp_path):
    script = write(tmp_path / "trace.py", TRACING_SCRIPT + "def f():\n    pass\nf()\n")
    run = cli.run_once("builtin", str(script), [])
    assert run.recorded and run.status == 0
    lines = run.stdout.splitlines()
    assert lines[0] == "call f"
    # (The one function of altgc left: the dataclass that holds how the
    # script ended, made in altgc._util before the harness gets control.)
    assert set(lines[1:]) <= {"call __init__"}, lines


@pytest.mark.parametrize("headroom", [2, 3])
def test_a_low_recursion_limit_left_by_the_script(tmp_path, headroom):
    # A limit a few frames above the script's depth: before, the harness
    # failed to write its record (json.dump hit the limit; on 3.11 at 3
    # frames, on 3.12 at 2).  How the script itself fares at such a limit
    # depends on the version (3.11's print() can hit it), as under python.
    script = write(
        tmp_path / "limit.py",
        f"""
        import sys
        f, depth = sys._getframe(), 0
        while f is not None:
            f, depth = f.f_back, depth + 1
        sys.setrecursionlimit(depth + {headroom})
        """,
    )
    run = cli.run_once("builtin", str(script), [])
    assert run.recorded, run.stderr
    assert "child.py" not in run.stderr and "json" not in run.stderr, run.stderr


def test_argv0_is_the_path_as_given(tmp_path, monkeypatch):
    write(tmp_path / "sub" / "argv.py", "import sys\nprint(sys.argv[0])\n")
    monkeypatch.chdir(tmp_path)
    run = cli.run_once("builtin", os.path.join("sub", "argv.py"), [])
    assert run.stdout == os.path.join("sub", "argv.py") + "\n"


# ---------------------------------------------------------------------------
# compare and run: what is not a Python file
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["compare", "run"])
def test_a_directory_or_zip_file_is_refused_as_such(tmp_path, command):
    write(tmp_path / "app" / "__main__.py", "print('ran')\n")
    with zipfile.ZipFile(tmp_path / "app.zip", "w") as z:
        z.write(tmp_path / "app" / "__main__.py", "__main__.py")
    for target, kind in (("app", "a directory"), ("app.zip", "a zip file")):
        proc = run_cli(command, target, cwd=tmp_path)
        assert proc.returncode == 2, (target, proc.stdout, proc.stderr)
        assert f"{target} is {kind}" in proc.stderr
        assert "ran" not in proc.stdout


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def test_run_reports_after_the_scripts_threads_end(tmp_path):
    script = write(
        tmp_path / "worker.py",
        """
        import threading, time
        class Row:
            pass
        keep = []
        def work():
            time.sleep(0.2)
            keep.extend(Row() for _ in range(50))
            print("worker done", flush=True)
        threading.Thread(target=work).start()
        """,
    )
    proc = run_cli("run", str(script), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "worker done\n"
    assert "+50  Row  (now 50)" in proc.stderr


@needs_fork
def test_run_reports_once_when_the_script_forks(tmp_path):
    script = write(
        tmp_path / "fork.py",
        """
        import os
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)
        """,
    )
    proc = run_cli("run", str(script), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("==== altgc: survivors ====") == 1


def test_run_leaves_the_report_untraced(tmp_path):
    script = write(tmp_path / "trace.py", TRACING_SCRIPT)
    proc = run_cli("run", str(script), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "==== altgc: survivors ====" in proc.stderr
    # (The functions altgc._util calls on the way back, before the report
    # code can take the tracer away, are left.)
    assert "call report" not in proc.stdout and "call _type_counts" not in proc.stdout


# ---------------------------------------------------------------------------
# both: how a script's error is reported (altgc._util)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_syntax_error_is_reported_as_python_reports_it(tmp_path, command):
    # Before, altgc's own frames (_util.py) were shown above the error.
    script = write(tmp_path / "bad.py", "x = = 1\n")
    plain = subprocess.run(
        [sys.executable, "bad.py"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    proc = run_cli(command, "bad.py", cwd=tmp_path)
    assert plain.returncode == 1 and "SyntaxError" in plain.stderr
    assert "Traceback" not in plain.stderr
    if command == "run":
        assert proc.returncode == 1
        assert proc.stderr.startswith(plain.stderr), proc.stderr
    else:
        report = cli.compare_program(str(script))
        for side in ("builtin", "altgc"):
            (r,) = report.runs[side]
            assert r.stderr == plain.stderr and r.status == 1, (side, r.stderr)


def test_the_scripts_excepthook_reports_its_uncaught_exception(tmp_path):
    # Before, the hook was ignored: a plain traceback was printed instead.
    script = write(
        tmp_path / "hook.py",
        """
        import sys
        def hook(kind, exc, tb):
            mine = tb.tb_frame.f_code.co_filename.endswith("hook.py")
            print("hook saw", kind.__name__, exc, mine)
        sys.excepthook = hook
        raise ValueError("boom")
        """,
    )
    report = cli.compare_program(str(script))
    for side in ("builtin", "altgc"):
        (r,) = report.runs[side]
        assert r.stdout == "hook saw ValueError boom True\n", (side, r.stdout, r.stderr)
        assert r.stderr == "" and r.status == 1
    proc = run_cli("run", str(script), cwd=tmp_path)
    assert proc.stdout == "hook saw ValueError boom True\n" and proc.returncode == 1
