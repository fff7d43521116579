"""``%load_ext altgc`` driven the way users break things: unload and load
again, magics with bad or odd arguments (sizes too large for a float,
non-ASCII digits, quotes, expressions that raise), labels that need
quoting, names bound to classes or under non-string keys, the builtin gc
disabled; and the notice's Markdown with hostile labels.

Each scenario runs in a child interpreter with its own IPython
``InteractiveShell`` (no kernel: fast, and the test process keeps no
IPython shell).  Needs IPython; without it the tests are skipped with that
reason.
"""

import json
import re

import pytest
from support import run_python

pytest.importorskip("IPython", reason="needs IPython (the notebook extra)")

from altgc._explain.notice import Notice

# The child: run the cells in a fresh InteractiveShell with altgc loaded,
# print what each one showed as JSON between markers.
CHILD = """
import json
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
ip = InteractiveShell.instance()
ip.run_cell("%load_ext altgc", store_history=True)
out = []
for src in json.loads({cells!r}):
    with capture_output() as cap:
        r = ip.run_cell(src, store_history=True)
    err = r.error_in_exec or r.error_before_exec
    out.append({{
        "stdout": cap.stdout,
        "stderr": cap.stderr,
        "error": type(err).__name__ if err is not None else None,
        "message": str(err) if err is not None else "",
        "displays": [o.data for o in cap.outputs],
    }})
    del r, err, cap
print("@@" + json.dumps(out) + "@@")
"""


def shell(*cells):
    """Run the cells (sources) after ``%load_ext altgc``; per cell a dict:
    stdout, stderr, error (type name or None), message, displays."""
    proc = run_python(CHILD.format(cells=json.dumps(list(cells))))
    return json.loads(proc.stdout.split("@@")[1])


def shown(cell):
    """Everything a cell showed, as text."""
    parts = [cell["stdout"], cell["stderr"], cell["message"]]
    parts += [d.get("text/plain", "") for d in cell["displays"]]
    return "\n".join(parts)


def notices(cell):
    return [d["text/plain"] for d in cell["displays"] if "still alive" in d.get("text/plain", "")]


def test_unload_removes_the_magic_and_load_brings_it_back():
    c = shell("%unload_ext altgc", "%altgc report", "%load_ext altgc", "%altgc report")
    assert c[1]["error"] == "UsageError", c[1]  # IPython's "not found", no RuntimeError
    assert "Traceback" not in shown(c[1])
    assert c[3]["error"] is None, c[3]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("%altgc why 1/0", "ZeroDivisionError: division by zero"),
        ("%altgc why int('x')", "ValueError: invalid literal"),
        ("d = {}\n%altgc why d['nope']", "KeyError: 'nope'"),
    ],
)
def test_why_of_an_expression_that_raises_is_a_usage_error(line, says):
    [c] = shell(line)
    assert c["error"] == "UsageError", c
    assert c["message"].startswith("%altgc why:") and says in c["message"], c


def test_why_takes_labels_and_expressions_with_quotes():
    c = shell(
        'x = [1] * 1000\nimport altgc\naltgc.watch(x, "Bob\'s")',
        "%altgc why Bob's",
        '%altgc why "Bob\'s"',
        "d = {\"it's\": x}\n%altgc why d['it\\'s']",
    )
    for cell in c[1:]:
        assert cell["error"] is None, cell
    assert "Bob's (list" in shown(c[1]) and "Bob's (list" in shown(c[2])
    assert "still alive" in shown(c[3])


@pytest.mark.parametrize(
    "line",
    [
        "%altgc watch-threshold 1" + "0" * 400,
        "%altgc watch --min-size 1" + "0" * 400 + "GiB",
        "%altgc watch --min-size 1" + "0" * 30 + "GiB",
        "%altgc top 00",
        "%altgc top \u00b2",  # a digit to str.isdigit(), not to int()
        "%altgc collect now",
        "%altgc stats all",
        "%altgc report all",
        "%altgc watch --off now",
    ],
)
def test_bad_arguments_are_usage_errors_of_the_magic(line):
    [c] = shell(line)
    assert c["error"] == "UsageError", c
    assert c["message"].startswith("%altgc"), c


def test_top_with_a_huge_count_lists_every_holder():
    [c] = shell("%altgc top " + "9" * 5000)
    assert c["error"] is None, c
    assert "biggest holders" in shown(c)


def test_notice_command_quotes_the_label_and_runs():
    c = shell(
        "import altgc\ndf = [0] * 100000\naltgc.watch(df, 'my df')\ndf;",
        "df",  # Out[3] holds it
        "del df",
    )
    [n] = notices(c[2])
    m = re.search(r"→ (%altgc release .*)$", n)
    assert m and m.group(1) == '%altgc release "my df"', n
    c = shell(
        'import altgc\ndf = [0] * 100000\naltgc.watch(df, "Bob\'s df")\ndf;',
        "df",
        "del df",
        '%altgc release "Bob\'s df"',
    )
    [n] = notices(c[2])
    assert n.endswith('→ %altgc release "Bob\'s df"'), n
    assert c[3]["error"] is None and "freed Bob's df" in shown(c[3]), c[3]


def test_a_usage_error_leaves_nothing_in_cells():
    """A magic that refused its arguments ran no code of the user: the
    frames of its traceback (IPython's shell, altgc's own) are no leftovers
    of the cell."""
    c = shell("%altgc why nosuchname", "%altgc 'unclosed", "%altgc cells")
    assert c[0]["error"] == c[1]["error"] == "UsageError"
    assert "(traceback)" not in shown(c[2]), shown(c[2])
    assert "nothing" in shown(c[2])


CYCLE = "class N: pass\na = N(); a.self = a; a.data = bytearray({n})\ndel a"


def test_a_cycle_the_disabled_gc_keeps_is_watched_and_noticed_once():
    c = shell(
        "import gc, altgc\ngc.disable()\n%altgc watch",
        CYCLE.format(n=3_000_000),
        "1",
        "2",
        "[w.label for w in altgc.watched()]",
    )
    assert len(notices(c[1])) == 1, c[1]
    assert not notices(c[2]) and not notices(c[3]), (c[2], c[3])
    assert "['cycle']" in c[4]["stdout"], c[4]


def test_auto_watch_threshold_applies_to_cycles_under_a_mebibyte():
    c = shell(
        "import gc\ngc.disable()\n%altgc watch --min-size 100KB",
        CYCLE.format(n=500_000),
    )
    assert len(notices(c[1])) == 1 and "cycle (N" in notices(c[1])[0], c[1]


def test_auto_watch_of_rebound_names_not_of_classes():
    c = shell(
        "x = 1\nimport altgc",
        "%altgc watch --min-size 1KB",
        "x = bytearray(2_000_000)\nclass K:\n    pass\ndef f():\n    pass\nimport json",
        "z = bytearray(100_000)",
        "del z",
        "z = bytearray(200_000)\nkeep = [z]",
        "del z",
        "sorted(w.label for w in altgc.watched() if w.alive)",
    )
    alive = c[-1]["stdout"]
    assert "'x'" in alive and "'z'" in alive, alive  # x rebound; z made again
    assert "'K'" not in alive and "'f'" not in alive and "'json'" not in alive, alive
    assert len(notices(c[6])) == 1 and "keep" in notices(c[6])[0], c[6]


def test_a_non_string_key_in_the_namespace_breaks_no_callback():
    c = shell("%altgc watch --min-size 1KB", "get_ipython().user_ns[1] = 'one'", "2")
    for cell in c:
        assert "Error in callback" not in shown(cell), shown(cell)
        assert cell["error"] is None, cell


# -- the notice's Markdown ------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)> *df* [a](javascript:alert(2)) &amp;"


def _markdown_html(md):
    mistune = pytest.importorskip("mistune", reason="needs mistune (nbconvert's Markdown)")
    return mistune.html(md)


def test_notice_markdown_shows_hostile_labels_as_typed():
    n = Notice(HOSTILE + " (list, 1.0 MiB)", ("keep['`x`']", "Out[3]"), "%altgc release x", "")
    md = n._repr_markdown_()
    assert "<img" not in md.replace("\\<img", ""), md
    page = _markdown_html(md)
    assert "<img" not in page and "<em>" not in page and "<a " not in page, page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page, page
    assert "<code>keep['`x`']</code>" in page, page  # the backticks stay in the code


def test_notice_markdown_of_the_cause_and_code_is_literal():
    n = Notice("x (list)", (), "", "del d['<b>']\nimport gc", why="<script>alert(1)</script>")
    page = _markdown_html(n._repr_markdown_())
    assert "<script" not in page and "<b>" not in page, page
    assert "<code>del d['&lt;b&gt;']; import gc</code>" in page, page


# -- the tables of %altgc top / %altgc cells ------------------------------------


@pytest.mark.parametrize("kind", ["Holders", "Leftovers"])
def test_an_empty_table_says_so_in_html_as_in_text(kind):
    from altgc._explain import holders, leftovers

    table = getattr(holders, kind, None) or getattr(leftovers, kind)
    empty = table([])
    assert str(empty).endswith(": " + empty.empty)
    page = empty._repr_html_()
    assert f">{empty.empty}</td>" in page, page  # not headers over no row


# -- %altgc top after a magic's UsageError --------------------------------------


def test_top_after_a_usage_error_lists_no_frame_of_the_shell():
    """A magic that refused its arguments leaves its UsageError in
    sys.last_exc: the frames of its traceback (the cell's call of
    run_line_magic, the magic's) are IPython's and altgc's, not holders of
    the user's."""
    c = shell(
        "x = bytearray(3_000_000)",
        "%altgc why nosuchname",
        "%nosuchmagic",
        "import sys\ntype(sys.last_exc).__name__",
        "%altgc top",
    )
    assert c[1]["error"] == c[2]["error"] == "UsageError"
    assert "UsageError" in shown(c[3]), c[3]  # IPython stored it
    top = shown(c[4])
    assert re.search(r"MiB  x  \(bytearray\)", top), top
    assert "(traceback)" not in top, top
    for internal in ("run_line_magic", "altgc_magic", "InteractiveShell"):
        assert internal not in top, top


def test_top_still_lists_the_locals_of_a_function_a_magic_ran():
    """Below IPython's frames (a %time of a failing call) the user's
    function's locals are the user's."""
    c = shell(
        "def f():\n    big = bytearray(2_000_000)\n    1/0",
        "%time f()",
        "%altgc top",
    )
    assert c[1]["error"] == "ZeroDivisionError", c[1]
    top = shown(c[2])
    assert "big in f() (traceback)" in top, top
    assert "run_line_magic" not in top and "(InteractiveShell)" not in top, top


# -- labels the magic line must take as typed -----------------------------------

# a leading "-" (read as an option), IPython's $name / {expr} expansion, a
# trailing "?" (IPython's help), line breaks (no magic line holds them)
ODD_LABELS = ["-x", "--df", "--dry-run", "--", "-", '-it\'s "q"', "cost {n}", "$n", "x?", "a\nb"]


def test_the_notice_command_of_an_odd_label_runs_and_frees_it():
    cells = ["import altgc\nkeep = []\nn = 5"]
    for label in ODD_LABELS:
        cells += [
            f"df = bytearray(1_000_000)\naltgc.watch(df, {label!r})\nkeep.append(df)",
            "del df",
            "keep.clear()",  # so that the next label's notice names keep alone
        ]
    c = shell(*cells)
    commands = []
    for i in range(len(ODD_LABELS)):
        [n] = notices(c[2 + 3 * i])
        assert "\n" not in n, n  # one line: "a\nb" as its repr
        commands.append(n.split("\u2192 ", 1)[1])
    # the notices' commands, each run in a cell of its own after re-holding
    cells = ["import altgc\nkeep = []\nn = 5"]
    for label, cmd in zip(ODD_LABELS, commands, strict=True):
        cells += [f"keep.append(bytearray(1_000_000))\naltgc.watch(keep[-1], {label!r})", cmd]
    c = shell(*cells)
    for i, (label, cmd) in enumerate(zip(ODD_LABELS, commands, strict=True)):
        ran = c[2 + 2 * i]
        assert ran["error"] is None, (label, cmd, ran)
        assert f"freed {label}:" in ran["stdout"], (label, cmd, ran)
    assert commands[0] == "%altgc release -- -x", commands
    assert commands[-1] == "import altgc; print(altgc.release('a\\nb'))", commands


@pytest.mark.parametrize(
    ("line", "freed"),
    [
        ("%altgc release -- -x", "-x"),
        ('%altgc release --dry-run -- "-x"', None),
        ("%altgc release -- --dry-run", "--dry-run"),
        ("%altgc release plain --dry-run", None),
    ],
)
def test_release_takes_labels_after_double_dash(line, freed):
    c = shell(
        "import altgc\nkeep = [bytearray(10**6) for _ in range(3)]\n"
        "altgc.watch(keep[0], '-x'); altgc.watch(keep[1], '--dry-run'); "
        "altgc.watch(keep[2], 'plain')",
        line,
        "[w.label for w in altgc.watched() if w.alive]",
    )
    assert c[1]["error"] is None, c[1]
    alive = c[2]["stdout"]
    if freed is None:  # a dry run: the code shown, nothing freed
        assert "del keep[" in c[1]["stdout"], c[1]
        assert "'-x'" in alive and "'plain'" in alive, alive
    else:
        assert f"freed {freed}:" in c[1]["stdout"], c[1]
        assert repr(freed) not in alive, alive


def test_release_of_an_unknown_option_says_how_to_name_such_a_label():
    [c] = shell("%altgc release -x")
    assert c["error"] == "UsageError", c
    assert "unknown option '-x'" in c["message"], c
    assert "%altgc release -- -x" in c["message"], c


def test_altgcs_own_answers_in_out_are_no_holders_nor_leftovers():
    """IPython keeps what ``%altgc top`` / ``altgc.explain(...)`` showed in
    ``Out[n]`` and ``_``: altgc's answers (they hold no reference to what
    they describe), not memory of the user's."""
    c = shell(
        "import altgc\nx = bytearray(2_000_000)\naltgc.watch(x, 'x')",
        "%altgc top",
        "altgc.explain('x')",
        "%altgc cells",
        "%altgc top",
        "kept = altgc.top()",  # bound to a name of the user's: listed
        "%altgc top",
    )
    for cell in c[1:]:
        assert cell["error"] is None, cell
    assert "nothing" in shown(c[3]), shown(c[3])
    rows = [line for line in shown(c[4]).splitlines() if "\u2192" in line]
    assert len(rows) == 1 and re.search(r"MiB  x  \(bytearray\)", rows[0]), rows
    assert "kept  (Holders)" in shown(c[6]), shown(c[6])


def test_a_name_after_a_failed_call_is_released_by_its_name_alone():
    # The failed call's frame reaches d through its globals: "del d" came
    # with the stored exception's release lines, though the name's cut is
    # enough.
    c = shell(
        "d = {'k': bytearray(2_000_000)}\ndef f():\n    raise ValueError('boom')",
        "f()",
        "import altgc\nprint(repr([h.release for h in altgc.top(10) if h.label == 'd']))",
    )
    assert c[1]["error"] == "ValueError", c[1]
    assert c[2]["error"] is None, c[2]
    assert c[2]["stdout"].strip() == repr(["del d"])
