"""``python -m altgc``: what the commands accept and what they report.

compare: ``--timeout`` must be a positive finite number of seconds, and a
run stopped at the timeout is reported as such (table, HTML, JSON).  demo:
"collected on its own" counts only altgc's automatic collections.  run: a
script ends with the status the interpreter gives it (a KeyboardInterrupt
included), sees the ``__file__``, ``sys.argv`` and ``sys.path[0]`` it sees
under plain python, the usage error names only the missing script, and the
growth report leaves out what altgc's own harness made.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from support import run_cli, subprocess_env

import altgc
from altgc import _program_comparison as cli

needs_install = pytest.mark.skipif(
    not callable(getattr(altgc, "install", None)),
    reason="needs altgc install mode (altgc.install), which this altgc does not have",
)
posix_only = pytest.mark.skipif(
    os.name != "posix", reason="the run command's exit statuses are the POSIX interpreter's"
)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def run_plain(*args, cwd):
    """``python ARGS`` in ``cwd``: what the run command must match."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=subprocess_env(),
    )


# ---------------------------------------------------------------------------
# compare --timeout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "-0.5", "nan", "inf", "1e400", "soon"])
def test_compare_rejects_a_timeout_that_is_not_a_positive_number(tmp_path, value):
    script = write(tmp_path / "ok.py", "print('ran')\n")
    proc = run_cli("compare", "-q", "--timeout", value, str(script), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""  # nothing ran
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "python -m altgc compare: error: argument --timeout: "
        f"must be a positive number of seconds, not {value!r}"
    )


def test_compare_program_rejects_a_bad_timeout(tmp_path):
    script = write(tmp_path / "ok.py", "pass\n")
    with pytest.raises(cli.CompareError, match="--timeout must be a positive number of seconds"):
        cli.compare_program(str(script), timeout=-1)


@needs_install
def test_compare_says_a_run_was_stopped_at_the_timeout(tmp_path):
    script = write(
        tmp_path / "slow.py",
        """\
        import time
        print("start", flush=True)
        time.sleep(60)
        print("end")
        """,
    )
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    proc = run_cli(
        "compare",
        "-q",
        "--timeout",
        "1.5",
        "--json",
        str(out_json),
        "--html",
        str(out_html),
        str(script),
        cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr
    notes = [
        line[len("note: ") :] for line in proc.stdout.splitlines() if line.startswith("note: ")
    ]
    for label in ("builtin gc", "altgc"):
        assert f"{label}: stopped after the timeout (1.5 s), so no collection record" in notes
    assert not [n for n in notes if "os._exit, a crash or a signal" in n], notes
    assert "stopped after the timeout (1.5 s), so no collection record" in out_html.read_text()
    saved = json.loads(out_json.read_text())
    for side in cli.SIDES:
        (run,) = saved["runs"][side]
        assert run["timed_out_after_s"] == 1.5
        assert run["stdout"] == "start\n"
    assert saved["notes"] == notes

    # A report saved before the timeout was recorded still loads; its runs
    # were not timed out as far as it knows.
    for side in cli.SIDES:
        del saved["runs"][side][0]["timed_out_after_s"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(saved))
    report = cli.load_report(str(old))
    assert all(r.timed_out_after_s is None for s in cli.SIDES for r in report.runs[s])
    assert "builtin gc: no collection record (the process ended without returning to the " in (
        " ".join(report.notes())
    )


@needs_install
def test_compare_run_that_ends_in_time_is_not_timed_out(tmp_path):
    script = write(tmp_path / "ok.py", "print('ran')\n")
    out_json = tmp_path / "r.json"
    proc = run_cli(
        "compare", "-q", "--timeout", "120", "--json", str(out_json), str(script), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "timeout" not in proc.stdout
    saved = json.loads(out_json.read_text())
    assert [r["timed_out_after_s"] for s in cli.SIDES for r in saved["runs"][s]] == [None, None]


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------


@needs_install
def test_demo_counts_only_automatic_collections_as_on_its_own():
    # --size 1: a loop dropping 50 two-instance cycles, too few for altgc's
    # thresholds to start a generation 2 collection; the final explicit
    # collect() (generation 2) frees them.
    proc = run_cli("demo", "--size", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    own = re.search(
        r"altgc collected on its own: (\d+)/(\d+)/(\d+) collections of generation 0/1/2, "
        r"(\d+) objects freed\n",
        proc.stdout,
    )
    final = re.search(
        r"sampled cycles still alive before the final collect\(\): (\d+) of 1; "
        r"after: 0 \(it freed (\d+) objects\)\n",
        proc.stdout,
    )
    assert own and final, proc.stdout
    assert own.group(3) == "0"  # the final collect() is not counted
    alive_before, freed_final = int(final.group(1)), int(final.group(2))
    assert freed_final >= 2 * alive_before
    # every cycle but the last (still bound to the loop's variables) freed
    assert int(own.group(4)) + freed_final >= 98


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


@posix_only
def test_run_ends_like_the_interpreter_after_a_keyboard_interrupt(tmp_path):
    write(
        tmp_path / "kbi.py",
        """\
        import atexit
        atexit.register(print, "atexit ran", flush=True)
        raise KeyboardInterrupt
        """,
    )
    plain = run_plain("kbi.py", cwd=tmp_path)
    assert plain.returncode == -2  # killed by SIGINT: a shell shows 130
    proc = run_cli("run", "kbi.py", cwd=tmp_path)
    assert proc.returncode == plain.returncode, proc.stderr
    assert proc.stdout == plain.stdout == "atexit ran\n"
    # the script's traceback, once, as plain python writes it; then the report
    assert proc.stderr.startswith(plain.stderr)
    assert proc.stderr.count("Traceback") == 1
    assert "==== altgc: survivors ====" in proc.stderr


@posix_only
def test_run_keeps_the_exit_status_of_sys_exit(tmp_path):
    write(tmp_path / "exit3.py", "import sys\nsys.exit(3)\n")
    proc = run_cli("run", "exit3.py", cwd=tmp_path)
    assert proc.returncode == run_plain("exit3.py", cwd=tmp_path).returncode == 3


ENV_SCRIPT = """\
import sys, traceback, warnings
print("file", __file__)
print("argv", sys.argv)
print("path0", sys.path[0])
print("name", __name__)
warnings.warn("w")
try:
    1 / 0
except ZeroDivisionError:
    print("tb file", traceback.extract_tb(sys.exc_info()[2])[0].filename)
"""


@pytest.mark.parametrize("typed", ["sub/env.py", "./sub/../sub/env.py", "link/env.py"])
def test_run_gives_the_script_the_file_argv_and_path_of_plain_python(tmp_path, typed):
    write(tmp_path / "sub" / "env.py", ENV_SCRIPT)
    if typed.startswith("link/"):
        if not hasattr(os, "symlink"):
            pytest.skip("no symbolic links here")
        os.symlink(tmp_path / "sub", tmp_path / "link")
    plain = run_plain(typed, "a", "--b", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    proc = run_cli("run", typed, "a", "--b", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == plain.stdout
    # __file__ absolute, argv[0] as typed, sys.path[0] the real directory
    cwd = os.path.realpath(tmp_path)  # as os.getcwd() gives it
    assert f"file {os.path.join(cwd, typed)}\n" in proc.stdout
    assert f"argv [{typed!r}, 'a', '--b']\n" in proc.stdout
    assert f"path0 {os.path.join(cwd, 'sub')}\n" in proc.stdout
    # the warning names the file as plain python's does
    assert proc.stderr.startswith(plain.stderr)


def test_run_without_a_script_names_only_the_script():
    proc = run_cli("run")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "python -m altgc run: error: the following arguments are required: script"
    )


def growth_types(stderr):
    """The type names of the last growth report in ``stderr``."""
    part = stderr.rsplit("container types that grew most ====\n", 1)[1]
    return {line.split()[1]: int(line.split()[0]) for line in part.splitlines() if line.strip()}


def test_run_growth_leaves_out_the_harness(tmp_path):
    write(tmp_path / "noop.py", "pass\n")
    proc = run_cli("run", "noop.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # the script's __main__ module and its namespace, nothing else
    assert set(growth_types(proc.stderr)) <= {"module", "dict"}, proc.stderr


def test_run_growth_leaves_out_altgcs_own_types(tmp_path):
    write(
        tmp_path / "watch.py",
        """\
        import altgc

        kept = [1]
        altgc.watch(kept, "kept")
        """,
    )
    proc = run_cli("run", "watch.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    growth = growth_types(proc.stderr)
    assert growth.get("list", 0) >= 1  # kept
    assert not {"WatchRecord", "WatchInfo", "ScriptExit", "Counter", "FileIO"} & set(growth)


def test_run_growth_shows_the_scripts_own_types(tmp_path):
    write(
        tmp_path / "keep.py",
        """\
        class Leaky:
            pass

        kept = [Leaky() for _ in range(300)]
        """,
    )
    proc = run_cli("run", "keep.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert growth_types(proc.stderr)["Leaky"] == 300


def test_run_growth_leaves_out_what_printing_the_traceback_makes(tmp_path):
    # The script keeps 300 Leaky and raises; its excepthook (standing in
    # for the interpreter's own, which on 3.13+ imports the traceback
    # machinery and on 3.15 its colour themes: +170 Field, +164 function)
    # makes 500 Noise that stay.  Only the script's own growth is shown.
    write(
        tmp_path / "raises.py",
        """\
        import sys

        class Leaky:
            pass

        class Noise:
            pass

        kept = [Leaky() for _ in range(300)]
        noise = []

        def hook(*exc_info):
            noise.extend(Noise() for _ in range(500))
            sys.__excepthook__(*exc_info)

        sys.excepthook = hook
        raise ValueError("boom")
        """,
    )
    proc = run_cli("run", "raises.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert "ValueError: boom" in proc.stderr
    growth = growth_types(proc.stderr)
    assert growth["Leaky"] == 300
    assert "Noise" not in growth, proc.stderr
    assert not {"Field", "TracebackException", "FrameSummary"} & set(growth), proc.stderr


# ---------------------------------------------------------------------------
# what a newcomer mistypes or pipes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "typed", "unknown"),
    [
        ("compare", ["--nope", "ok.py"], "--nope"),
        ("run", ["--nope", "ok.py"], "--nope"),
        ("demo", ["--sise", "3"], "--sise 3"),
    ],
)
def test_an_option_the_command_does_not_have_is_the_commands_usage_error(
    tmp_path, command, typed, unknown
):
    write(tmp_path / "ok.py", "open('ran', 'w').close()\n")
    proc = run_cli(command, *typed, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert not (tmp_path / "ran").exists()
    # (was: the usage and the error of ``python -m altgc`` itself, as if the
    # option had been given before the command)
    assert proc.stderr.startswith(f"usage: python -m altgc {command} [-h]"), proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        f"python -m altgc {command}: error: unrecognized arguments: {unknown}"
    )
    assert "Traceback" not in proc.stderr


def test_an_option_before_any_command_is_the_programs_usage_error():
    proc = run_cli("--nope")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == "python -m altgc: error: unrecognized arguments: --nope"


@pytest.mark.parametrize("option", ["--json", "--html"])
@pytest.mark.parametrize("where", ["no-such-dir/out", "a-directory", ""])
def test_compare_checks_where_it_writes_before_running_the_script(tmp_path, option, where):
    write(tmp_path / "ok.py", "open('ran', 'w').close()\n")
    (tmp_path / "a-directory").mkdir()
    proc = run_cli("compare", "-q", option, where, "ok.py", cwd=tmp_path)
    assert proc.returncode == 2
    # (was: both runs first, the table printed, then a bare
    # "[Errno 2] No such file or directory: ..." -- or, for "", nothing
    # written and nothing said)
    assert proc.stdout == ""
    assert not (tmp_path / "ran").exists()
    (line,) = proc.stderr.splitlines()
    expected = {
        "no-such-dir/out": f"{option}: cannot write no-such-dir/out: the directory "
        f"{tmp_path / 'no-such-dir'} does not exist",
        "a-directory": f"{option}: a-directory is a directory",
        "": f"{option}: the path is empty",
    }[where]
    assert line == f"python -m altgc compare: error: {expected}"


@posix_only
@pytest.mark.parametrize("typed", [["version"], ["compare", "--from-json", "saved.json"]])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, typed):
    """``python -m altgc compare ... | head -3``: head has gone when the
    table is written."""
    write(tmp_path / "ok.py", "print('ran')\n")
    saved = run_cli("compare", "-q", "--json", "saved.json", "ok.py", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "altgc", *typed],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=subprocess_env(),
        )
    finally:
        os.close(write_end)
    # (was: a BrokenPipeError traceback from altgc, or "Exception ignored
    # ... BrokenPipeError" at exit and status 120)
    assert proc.stderr == ""
    assert proc.returncode == 1


def saved_report(tmp_path, script_text):
    """A report of ``script_text`` run by compare, as --json saved it."""
    write(tmp_path / "s.py", script_text)
    proc = run_cli("compare", "-q", "--json", "saved.json", "s.py", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads((tmp_path / "saved.json").read_text())


def notes_of(tmp_path, saved):
    (tmp_path / "edited.json").write_text(json.dumps(saved))
    proc = run_cli("compare", "--from-json", "edited.json", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    return [line[len("note: ") :] for line in proc.stdout.splitlines() if line.startswith("note: ")]


@needs_install
def test_compare_does_not_explain_a_few_milliseconds_of_noise(tmp_path):
    saved = saved_report(tmp_path, "raise ValueError('boom')\n")
    # 3.15 takes ~15 ms to print the traceback; altgc's run 3 ms slower
    # (20%) is noise there, and it adopted nothing.
    saved["runs"]["builtin"][0]["script_ns"] = 15_000_000
    saved["runs"]["altgc"][0]["script_ns"] = 18_000_000
    notes = notes_of(tmp_path, saved)
    # (was: "altgc's script time is 3.0 ms longer: ... the other ... ms
    # outside both (registering each new container ...")
    assert not [n for n in notes if n.startswith("altgc's script time")], notes
    assert "builtin gc: exit status 1: ValueError: boom" in notes
    saved["runs"]["altgc"][0]["script_ns"] = 30_000_000
    notes = notes_of(tmp_path, saved)
    assert [n for n in notes if n.startswith("altgc's script time is 15.0 ms longer")], notes


@needs_install
@posix_only
def test_compare_names_the_signal_that_ended_a_run(tmp_path):
    saved = saved_report(tmp_path, "raise KeyboardInterrupt\n")
    notes = notes_of(tmp_path, saved)
    # (was: "exit status -2: KeyboardInterrupt: ")
    for label in ("builtin gc", "altgc"):
        assert f"{label}: exit status -2 (ended by SIGINT): KeyboardInterrupt" in notes, notes


def test_run_help_says_what_it_reports():
    proc = run_cli("run", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    # (was: the usage line and the two arguments, nothing of the report)
    assert "altgc.watch(obj, 'label')" in text
    assert "Exit status: the script's" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("demo", "--size", "0"), "--size must be at least 1"),
        (("compare", "no/such.py"), "no such script: no/such.py"),
        (("run", "no/such.py"), "no such script: no/such.py"),
        (("bench", "--repeat", "0"), "--repeat must be at least 1"),
        (("compare", "--nope", "x.py"), "unrecognized arguments: --nope"),
    ],
    ids=["demo", "compare", "run", "bench", "unknown-option"],
)
def test_every_command_words_bad_input_as_its_own_usage_error(args, message):
    # One prefix, argparse's: "python -m altgc COMMAND: error: ...", exit 2.
    proc = run_cli(*args)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"python -m altgc {args[0]}: error: {message}"


def test_a_mistyped_command_gets_a_suggestion_on_3_14_and_later():
    proc = run_cli("compar", "x.py")
    assert proc.returncode == 2
    assert "invalid choice: 'compar'" in proc.stderr
    suggested = "maybe you meant 'compare'?" in proc.stderr
    assert suggested == (sys.version_info >= (3, 14))
