"""Real notebooks, run by nbclient against a real ipykernel: one scenario
per cause of docs/DESIGN.md, "Why memory survives del", asserting the cause
and the fix ``explain`` reports (and the post-cell notice of
``%load_ext altgc``).

Needs the ``notebook`` extra (ipykernel, nbclient, nbformat, matplotlib);
without it the tests are skipped with that reason.  CI runs them in the tox
env ``notebook``.
"""

import json
import re

import pytest
from support import subprocess_env

nbformat = pytest.importorskip("nbformat", reason="needs the 'notebook' extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the 'notebook' extra (nbclient)")
pytest.importorskip("ipykernel", reason="needs the 'notebook' extra (ipykernel)")

# The last cell prints the explanation as JSON between these markers.
REPORT = """
import json as _json
_e = altgc.explain({label!r})
print("@@" + _e.to_json() + "@@")
del _e
"""


def execute(cells, tmp_path, monkeypatch):
    """Run the code cells (sources) on a real ipykernel; return the executed
    notebook's cells, outputs included (a cell's error is kept as output)."""
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    client = nbclient.NotebookClient(
        nb,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        allow_errors=True,
    )
    client.execute()
    return nb.cells


def cell_text(cell):
    """A cell's outputs as the text a terminal would show."""
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o["text"])
        elif o.get("output_type") == "error":
            out.append(o["ename"] + ": " + o["evalue"])
        elif "data" in o:
            out.append(o["data"].get("text/plain", ""))
    return "".join(out)


def run_notebook(cells, tmp_path, monkeypatch, label):
    """Execute cells (sources) then the report cell; return (explanation
    dict, every cell's text output)."""
    cells = ["import altgc\n%load_ext altgc", *list(cells), REPORT.format(label=label)]
    texts = [cell_text(c) for c in execute(cells, tmp_path, monkeypatch)]
    last = texts[-1]
    assert "@@" in last, texts
    return json.loads(last.split("@@")[1]), texts


def test_output_cache(tmp_path, monkeypatch):
    e, texts = run_notebook(
        [
            "df = list(range(100000))\naltgc.watch(df, 'df')",
            "df",  # Out[3] holds it now
            "del df",
        ],
        tmp_path,
        monkeypatch,
        "df",
    )
    assert e["alive"] and e["cause"] == "output_cache"
    # every holder, each cut where IPython keeps it; never %reset
    assert "del Out[3]" in e["release"].splitlines()
    assert "%reset" not in e["release"]
    assert any(p["expr"] == "Out[3]" for p in e["paths"])
    assert e["retained_bytes"] > 800000
    # the post-cell notice of the `del df` cell: one line, what holds it and
    # the command that frees it
    assert re.search(r"altgc: df \(list, [\d.]+ [KM]iB\) still alive: Out\[3\], _", texts[3])
    assert texts[3].strip().endswith("\u2192 %altgc release df"), texts[3]


def test_output_cache_underscore(tmp_path, monkeypatch):
    e, _ = run_notebook(
        [
            "%altgc notices off",
            "x = [1] * 1000\naltgc.watch(x, 'x')\nx",
            "del x\nOut.clear()",
        ],
        tmp_path,
        monkeypatch,
        "x",
    )
    assert e["cause"] == "output_cache"
    exprs = {p["expr"] for p in e["paths"]}
    assert exprs & {"_", "_3"}, exprs


def test_traceback_of_failed_cell(tmp_path, monkeypatch):
    e, texts = run_notebook(
        [
            "def work():\n    big = [0] * 100000\n    altgc.watch(big, 'big')\n"
            "    raise ValueError('failed cell')",
            "work()",
        ],
        tmp_path,
        monkeypatch,
        "big",
    )
    assert "ValueError" in texts[2]
    assert e["alive"] and e["cause"] == "traceback"
    assert any("f_locals['big']" in p["expr"] for p in e["paths"])


def test_cycle_waiting_for_collection(tmp_path, monkeypatch):
    e, texts = run_notebook(
        [
            "import gc\ngc.disable()\n"
            "a = [0] * 1000\nb = [a]\na.append(b)\naltgc.watch(a, 'a')\n"
            "del a, b",
            "%altgc collect",
        ],
        tmp_path,
        monkeypatch,
        "a",
    )
    # the REPORT cell runs after %altgc collect: freed by then
    assert not e["alive"]
    assert "freed watched: a" in texts[2]


def test_cycle_reported_before_collection(tmp_path, monkeypatch):
    e, _ = run_notebook(
        [
            "import gc\ngc.disable()\n"
            "a = [0] * 1000\nb = [a]\na.append(b)\naltgc.watch(a, 'a')\n"
            "del a, b",
        ],
        tmp_path,
        monkeypatch,
        "a",
    )
    assert e["cause"] == "cycle" and e["in_unreachable_cycle"]
    assert e["release"] == "import gc; gc.collect();"
    assert "disabled" in e["collector_status"]


# (cells, label, cause, what the release command must be / start with)
SIMPLE_CASES = {
    "lru_cache": (
        [
            "import functools\n@functools.lru_cache\ndef load(n):\n"
            "    return [n] * 100000\n"
            "r = load(3)\naltgc.watch(r, 'r')\ndel r"
        ],
        "r",
        "load.cache_clear()",
    ),
    "matplotlib": (
        [
            "import matplotlib\nmatplotlib.use('Agg')\n"
            "import matplotlib.pyplot as plt\n"
            "fig = plt.figure()\naltgc.watch(fig, 'fig')\ndel fig"
        ],
        "fig",
        "import matplotlib.pyplot as plt; plt.close(1)",
    ),
    "closure": (
        [
            "def make():\n    data = [0] * 100000\n"
            "    altgc.watch(data, 'data')\n"
            "    def get():\n        return data\n    return get\n"
            "getter = make()"
        ],
        "data",
        "del getter",
    ),
    "class_attribute": (
        [
            "class Registry:\n    pass\n"
            "table = [0] * 1000\nRegistry.table = table\n"
            "altgc.watch(table, 'table')\ndel table"
        ],
        "table",
        "del Registry.table",
    ),
    "c_extension": (
        [
            "from altgc import _testobjs\n"
            "held = [0] * 1000\n_testobjs.hold(held)\n"
            "altgc.watch(held, 'held')\ndel held"
        ],
        "held",
        "",
    ),
}


@pytest.mark.parametrize("cause", sorted(SIMPLE_CASES))
def test_cause(cause, tmp_path, monkeypatch):
    if cause == "matplotlib":
        pytest.importorskip("matplotlib")
    cells, label, release = SIMPLE_CASES[cause]
    e, _ = run_notebook(cells, tmp_path, monkeypatch, label)
    assert e["alive"] and e["cause"] == cause
    assert e["release"].startswith(release), e["release"]
    if cause == "closure":
        assert e["paths"][0]["expr"] == "getter.__closure__[0].cell_contents"
    if cause == "c_extension":
        assert e["unexplained_refs"] == 1 and not e["paths"]
        assert e["release"] == "" and "C extension" in e["release_note"]


def test_freed_but_rss_unchanged(tmp_path, monkeypatch):
    # Many small objects: pymalloc keeps its arenas partly used, so the
    # process's RSS does not go back down when they are freed.
    e, _ = run_notebook(
        [
            "keep, data = [], []\n"
            "for i in range(300000):\n"
            "    data.append(str(i) * 3)\n"
            "    if i % 64 == 0:\n"
            "        keep.append(str(i) * 3)\n"
            "altgc.watch(data, 'data')\n"
            "altgc._explain._watches['data'].size = sum(map(len, data)) * 2\n"
            "del data",
        ],
        tmp_path,
        monkeypatch,
        "data",
    )
    assert not e["alive"]
    assert e["cause"] == "freed_rss"
    assert "malloc_trim" in e["release"]


def test_magics(tmp_path, monkeypatch):
    e, texts = run_notebook(
        [
            "cache = {}\nbig = [0] * 100000\ncache['big'] = big",
            "%altgc watch big",
            "del big",
            "%altgc why big",
            "%altgc report",
            "%altgc stats",
        ],
        tmp_path,
        monkeypatch,
        "big",
    )
    assert e["cause"] == "name" and e["release"] == "del cache['big']"
    assert "watching big" in texts[2]
    assert "still alive: cache['big']" in texts[3], texts[3]
    # the text form (_repr_pretty_), or the repr before it existed
    assert "big (list" in texts[4] or "Explanation 'big'" in texts[4], texts[4]
    assert "big (list): alive" in texts[5]
    assert "bytes/object" in texts[6]


def test_auto_watch_of_large_objects(tmp_path, monkeypatch):
    e, texts = run_notebook(
        [
            "%altgc watch --min-size 100KB",
            "small = [0]\nlarge = [0] * 100000\nkeep = [large]",
            "del large",
        ],
        tmp_path,
        monkeypatch,
        "large",
    )
    assert e["alive"] and e["paths"][0]["expr"] == "keep[0]"
    assert "large (list, " in texts[3] and "still alive: keep[0]" in texts[3], texts[3]
    assert "small" not in texts[3]


# ---------------------------------------------------------------------------
# Issue 14: the advice frees.  Each scenario runs ``Explanation.release``
# verbatim in a cell, then checks through a weakref that the object died
# and that an unrelated name of the user survived.
# ---------------------------------------------------------------------------

SETUP = (
    "import weakref\n"
    "class Frame:\n"
    "    def __init__(self, n):\n        self.data = bytearray(n)\n"
    "    def __repr__(self):\n        return f'Frame({len(self.data)})'\n"
    "unrelated = Frame(10)"
)
# runs the release code of the label verbatim, as the user would type it
RUN_RELEASE = (
    "_code = altgc.explain({label!r}).release\n"
    "print('@@code' + repr(_code) + '@@')\n"
    "get_ipython().run_cell(_code)\n"
    "del _code"
)
CHECK = "print('@@dead', ref() is None, 'unrelated' in dir() and len(unrelated.data) == 10, '@@')"


def run_cells(cells, tmp_path, monkeypatch):
    """Execute the cells after %load_ext altgc and SETUP; return the
    notebook's cells (outputs included)."""
    return execute(["import altgc\n%load_ext altgc", SETUP, *cells], tmp_path, monkeypatch)


def assert_released(cells, release_check=None):
    """The release cell printed its code and ran it without error; the
    check cell saw the object dead and the unrelated name alive."""
    texts = [cell_text(c) for c in cells]
    code_cell = next(t for t in texts if "@@code" in t)
    code = eval(code_cell.split("@@code")[1].split("@@")[0])
    assert code, texts
    assert "%reset -f\n" not in code + "\n" and "%reset\n" not in code + "\n", code
    assert "Error" not in code_cell, texts
    if release_check is not None:
        release_check(code)
    assert "@@dead True True @@" in texts[-1], texts
    return code


def test_release_output_cache_and_hidden_underscores(tmp_path, monkeypatch):
    cells = run_cells(
        [
            "df = Frame(5_000_000)\nref = weakref.ref(df)\naltgc.watch(df, 'df')",
            "df",  # Out[4], _, _4, the hidden _, the displayhook's _
            "1",  # shifts it to __ (user_ns, hidden, displayhook)
            "2",  # and to ___
            "del df",
            RUN_RELEASE.format(label="df"),
            CHECK,
        ],
        tmp_path,
        monkeypatch,
    )

    def check(code):
        assert "Out[4]" in code or "%reset -f out" in code, code
        assert "user_ns_hidden['___']" in code and "displayhook.___" in code, code
        # IPython's own names stay
        assert "'_oh'" not in code and "'Out'" not in code, code

    assert_released(cells, check)


def test_release_failed_cell_traceback(tmp_path, monkeypatch):
    cells = run_cells(
        [
            "def work():\n    big = Frame(1_000_000)\n    global ref\n"
            "    ref = weakref.ref(big)\n    altgc.watch(big, 'big')\n"
            "    raise ValueError('failed cell')",
            "work()",
            RUN_RELEASE.format(label="big"),
            CHECK,
        ],
        tmp_path,
        monkeypatch,
    )
    assert "ValueError" in cell_text(cells[3])
    assert_released(cells, lambda code: "InteractiveTB" in code and "sys.last" in code)


def test_release_pyplot_figure_by_number(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    cells = run_cells(
        [
            "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "other = plt.figure()\nfig = plt.figure()\nnum = fig.number\n"
            "ref = weakref.ref(fig)\naltgc.watch(fig, 'fig')\ndel fig",
            RUN_RELEASE.format(label="fig"),
            CHECK + "\nprint('@@other', plt.fignum_exists(other.number), '@@')",
        ],
        tmp_path,
        monkeypatch,
    )
    code = assert_released(cells, lambda code: "plt.close(2)" in code)
    assert "fig" not in code.replace("plt.close", "")
    assert "@@other True @@" in cell_text(cells[-1])


def test_release_closure(tmp_path, monkeypatch):
    cells = run_cells(
        [
            "def make():\n    data = Frame(1_000_000)\n    global ref\n"
            "    ref = weakref.ref(data)\n    altgc.watch(data, 'data')\n"
            "    def get():\n        return data\n    return get\n"
            "getter = make()",
            RUN_RELEASE.format(label="data"),
            CHECK + "\nprint('@@getter', callable(getter), '@@')",
        ],
        tmp_path,
        monkeypatch,
    )
    assert_released(cells, lambda code: code == "del getter.__closure__[0].cell_contents")
    assert "@@getter True @@" in cell_text(cells[-1])


def test_release_magic_reports_freed(tmp_path, monkeypatch):
    cells = run_cells(
        [
            "df = Frame(50_000_000)\nref = weakref.ref(df)\nkeep = {'df': df}",
            "%altgc release --dry-run df",
            "print('@@alive', ref() is not None, '@@')",
            "del df\n%altgc release df",
            CHECK,
        ],
        tmp_path,
        monkeypatch,
    )
    texts = [cell_text(c) for c in cells]
    assert "dry run" in texts[3] and "del keep['df']" in texts[3], texts
    assert "@@alive True @@" in texts[4]
    assert re.search(r"freed df: (50 MB|47\.7 MiB|48 MiB); RSS \d+ → \d+ MiB", texts[5]), texts
    assert "@@dead True True @@" in texts[-1], texts


def test_release_of_a_dead_label_says_when(tmp_path, monkeypatch):
    cells = run_cells(
        ["x = Frame(10)\naltgc.watch(x, 'x')\ndel x", "%altgc release x"],
        tmp_path,
        monkeypatch,
    )
    assert "x is already dead: it was freed" in cell_text(cells[-1])


@pytest.mark.parametrize(
    "line",
    [
        "%altgc why nosuchname",
        "%altgc release nosuchname",
        "%altgc release",
        "%altgc nosuchcmd",
        "%altgc top many",
        "%altgc cells 3",
        "%altgc watch-threshold lots",
    ],
)
def test_magic_errors_are_one_line_usage_errors(line, tmp_path, monkeypatch):
    cells = run_cells([line], tmp_path, monkeypatch)
    outputs = cells[-1]["outputs"]
    # ipykernel shows a UsageError as one line on stderr, with no traceback
    assert not [o for o in outputs if o["output_type"] == "error"], outputs
    text = cell_text(cells[-1])
    assert text.startswith("UsageError: %altgc"), text
    assert len(text.strip().splitlines()) == 1, text
    assert "Traceback" not in text and "_ipython.py" not in text, text


# ---------------------------------------------------------------------------
# Where the memory went: %altgc top, %altgc cells, auto-watch by what an
# object holds, notices as rich output.
# ---------------------------------------------------------------------------


def outputs_of(cell, mime):
    """The ``mime`` parts of a cell's display/result outputs."""
    return [o["data"][mime] for o in cell.get("outputs", []) if mime in o.get("data", {})]


def test_top_names_the_biggest_holder_first(tmp_path, monkeypatch):
    np = pytest.importorskip("numpy")
    del np
    cells = run_cells(
        [
            "import numpy as np\n"
            "small = np.ones(10**5)\n"
            "arrays = [np.ones(10**6) for _ in range(10)]\n"  # 80 MB in a list
            "mid = np.ones(2 * 10**6)\n"
            "keep = {'x': mid}",
            "%altgc top 3",
            "_h = altgc.top(3)\n"
            "print('@@', [(h.label, h.release, h.bytes > 79e6) for h in _h], '@@')",
        ],
        tmp_path,
        monkeypatch,
    )
    text = cell_text(cells[-2])
    lines = text.splitlines()
    assert lines[0].startswith("biggest holders"), text
    assert "arrays  (list)" in lines[1] and "\u2192 del arrays" in lines[1], text
    assert (
        outputs_of(cells[-2], "text/html")
        and "altgc-holders" in outputs_of(cells[-2], "text/html")[0]
    )
    got = eval(cell_text(cells[-1]).split("@@")[1])
    assert got[0] == ("arrays", "del arrays", True), got
    # mid is held by two names: neither alone frees it, so it weighs little
    assert [label for label, _, _ in got][:1] == ["arrays"]


def test_cells_lists_output_and_traceback_and_their_release_frees(tmp_path, monkeypatch):
    cells = run_cells(
        [
            "def load():\n    return Frame(5_000_000)\nload()",  # In[3]: Out[3] only
            "ref = weakref.ref(Out[3])",
            "def work():\n    big = Frame(3_000_000)\n    global ref2\n"
            "    ref2 = weakref.ref(big)\n    raise ValueError('failed cell')\n"
            "work()",  # In[5]
            "%altgc cells",
            "_codes = [x.release for x in altgc.cells()]\nprint('@@code' + repr(_codes) + '@@')\n"
            "for _c in _codes:\n    get_ipython().run_cell(_c)\ndel _c, _codes",
            "print('@@dead', ref() is None and ref2() is None, "
            "'unrelated' in dir() and len(unrelated.data) == 10, '@@')",
        ],
        tmp_path,
        monkeypatch,
    )
    text = cell_text(cells[-3])
    assert text.startswith("what the cells left alive"), text
    out_line = next(line for line in text.splitlines() if line.startswith("In[3]:"))
    assert out_line.startswith("In[3]: Out[3], _") and "(Frame, 4.8 MiB)" in out_line, text
    assert "del Out[3]" in out_line, text
    tb_line = next(line for line in text.splitlines() if line.startswith("In[5]:"))
    assert "big in work() (traceback)" in tb_line and "sys.last_" in tb_line, text
    assert "%reset" not in text
    assert "altgc-leftovers" in outputs_of(cells[-3], "text/html")[0]
    codes = eval(cell_text(cells[-2]).split("@@code")[1].split("@@")[0])
    assert len(codes) >= 2, codes
    assert "@@dead True True @@" in cell_text(cells[-1]), [cell_text(c) for c in cells]


def test_cells_without_leftovers_says_nothing(tmp_path, monkeypatch):
    cells = run_cells(["x = Frame(100_000)", "del x", "%altgc cells"], tmp_path, monkeypatch)
    assert cell_text(cells[-1]).startswith(
        "what the cells left alive that no name of yours holds: nothing"
    )


def test_auto_watch_by_what_it_holds_and_rich_notices(tmp_path, monkeypatch):
    pytest.importorskip("numpy")
    cells = run_cells(
        [
            "%altgc watch-threshold 50MB",
            # a list of 10 arrays: 80 MB held, a few hundred bytes shallow
            "import numpy as np\narrs = [np.ones(10**6) for _ in range(10)]\n"
            "ref = weakref.ref(arrs[0])\nfew = [np.ones(10)]",
            "arrs",  # Out[5]
            "del arrs, few",
            # made and dropped in one cell, held by the traceback
            "def f():\n    tmp = [np.ones(10**6) for _ in range(8)]\n"
            "    raise RuntimeError('boom')\nf()",
            "%altgc release arrs",
            CHECK,
            # made and dropped in one cell, in a cycle (no collection comes)
            "import gc\ngc.disable()\nc = [np.ones(10**6) for _ in range(7)]\n"
            "c.append(c)\nref = weakref.ref(c[0])\ndel c",
            "%altgc release cycle\ngc.enable()",
            CHECK,
        ],
        tmp_path,
        monkeypatch,
    )
    texts = [cell_text(c) for c in cells]
    cyc = outputs_of(cells[9], "text/plain")
    assert any(
        re.match(
            r"altgc: cycle \(list, 53\.\d MiB\) still alive: .*cycle.* \u2192 %altgc release cycle",
            t,
        )
        for t in cyc
    ), texts[9]
    assert re.search(r"freed cycle: 53\.\d MiB", texts[10]), texts[10]
    assert "@@dead True True @@" in texts[11], texts[11]
    texts = texts[:9]
    assert "watching every new object holding at least 47.7 MiB" in texts[2], texts
    notice = cells[5]
    html = outputs_of(notice, "text/html")
    assert html and "altgc-notice" in html[0], notice["outputs"]
    plain = outputs_of(notice, "text/plain")
    assert len(plain) == 1 and len(plain[0].splitlines()) == 1, plain
    assert re.match(r"altgc: arrs \(list, 76\.\d MiB\) still alive: Out\[5\], _", plain[0]), plain
    assert plain[0].endswith("\u2192 %altgc release arrs")
    assert "few" not in texts[5]
    # no stream output: the notice is no print line
    assert not [o for o in notice["outputs"] if o["output_type"] == "stream"], notice["outputs"]
    tb_notice = outputs_of(cells[6], "text/plain")
    assert any(re.match(r"altgc: tmp \(list, 61\.\d MiB\) still alive: ", t) for t in tb_notice), (
        texts[6]
    )
    assert re.search(r"freed arrs: 76\.\d MiB", texts[7]), texts[7]
    assert "@@dead True True @@" in texts[-1], texts


def test_top_of_a_pandas_output_and_its_release_frees(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    cells = run_cells(
        [
            "import numpy as np, pandas as pd\n"
            "def load():\n"
            "    return pd.DataFrame({'a': np.ones(4 * 10**6), 'b': np.arange(4 * 10**6)})\n"
            "df = load()\nref = weakref.ref(df)\nsmall = pd.DataFrame({'a': [1, 2]})",
            "df",  # Out[4]
            "del df",
            "_top = altgc.top(1)\nprint('@@' + repr((_top[0].label, _top[0].release)) + '@@')\n"
            "get_ipython().run_cell(_top[0].release)\ndel _top",
            CHECK,
        ],
        tmp_path,
        monkeypatch,
    )
    texts = [cell_text(c) for c in cells]
    label, release = eval(texts[5].split("@@")[1])
    assert label.startswith("Out[4], _"), texts[5]
    assert "del Out[4]" in release and "%reset" not in release, texts[5]
    assert "@@dead True True @@" in texts[-1], texts


# ---------------------------------------------------------------------------
# An explanation as the notebook shows it: nbconvert's JupyterLab template
# (JupyterLab's own stylesheet and themes), plain and sanitized
# ---------------------------------------------------------------------------

EXPLAIN_CELLS = [
    "import altgc",
    "class Frame:\n    pass\n\nholder = {'frame': Frame()}\nx = holder['frame']",
    "altgc.explain(x)",  # shown as the cell's result
]

PICTURE_CHECK = """
<script>
(function () {
  var out = {};
  var slot = document.querySelector('.altgc-picture');
  var svg = slot && slot.querySelector('svg');
  out.svg = !!svg;
  if (svg) {
    var box = slot.closest('.jp-OutputArea-output').getBoundingClientRect();
    var s = svg.getBoundingClientRect();
    var outside = 0;
    svg.querySelectorAll('rect, text, path').forEach(function (el) {
      if (el.closest('marker')) return;
      var r = el.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5) outside += 1;
    });
    out.outside = outside;
    out.width = Math.round(s.width);
    out.box = Math.round(box.width);
    out.text = getComputedStyle(svg.querySelector('text')).fill;
    out.page = getComputedStyle(slot.closest('.jp-OutputArea-output')).color;
  }
  var pre = document.querySelector('pre.altgc-text');
  out.pre = pre ? pre.textContent.split('\\n')[0] : null;
  out.escaped = document.body.innerText.indexOf('<svg') >= 0;
  document.body.setAttribute('data-picture', JSON.stringify(out));
})();
</script>
"""


def _exported(nb, theme, sanitize):
    nbconvert = pytest.importorskip("nbconvert", reason="needs nbconvert (the notebook extra)")
    exporter = nbconvert.HTMLExporter(template_name="lab", theme=theme, sanitize_html=sanitize)
    body, _ = exporter.from_notebook_node(nb)
    return body


def test_explanation_is_two_outputs_text_then_picture(tmp_path, monkeypatch):
    cells = execute(EXPLAIN_CELLS, tmp_path, monkeypatch)
    outs = [o for o in cells[-1]["outputs"] if o["output_type"] == "display_data"]
    assert len(outs) == 2, cells[-1]["outputs"]
    text, pic = (o["data"] for o in outs)
    assert "held by" in text["text/plain"] and "<pre" in text["text/html"]
    slot = re.search(r'id="(altgc-picture-[0-9a-f]+)"', text["text/html"]).group(1)
    assert pic["text/html"].startswith("<svg") and pic["text/plain"] == ""
    assert slot in pic["application/javascript"] and "<" not in pic["application/javascript"]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_explanation_in_nbconvert_html(tmp_path, monkeypatch, theme):
    """nbconvert's HTML (JupyterLab's template and theme): the script puts
    the picture under the text, inside the output area, in the theme's
    text colour."""
    from test_report_render import render_in_chromium

    nb = nbformat.v4.new_notebook()
    nb.cells = execute(EXPLAIN_CELLS, tmp_path, monkeypatch)
    page = _exported(nb, theme, sanitize=False)
    dom, _console = render_in_chromium(page.replace("</body>", PICTURE_CHECK + "</body>"))
    found = re.search(r'data-picture="([^"]*)"', dom).group(1)
    got = json.loads(found.replace("&quot;", '"').replace("&amp;", "&"))
    assert got["svg"] and got["outside"] == 0 and got["width"] <= got["box"], got
    assert got["text"] == got["page"], got  # the drawing takes the theme's text colour
    assert got["pre"] and "(Frame" in got["pre"] and "still alive" in got["pre"], got
    assert not got["escaped"], got


def test_explanation_sanitized_shows_text_and_no_markup(tmp_path, monkeypatch):
    """nbconvert --sanitize-html: the text stays, the picture goes, and no
    escaped SVG or script shows instead."""
    nb = nbformat.v4.new_notebook()
    nb.cells = execute(EXPLAIN_CELLS, tmp_path, monkeypatch)
    page = _exported(nb, "light", sanitize=True)
    assert "&lt;svg" not in page and "&lt;script" not in page
    assert "application/javascript" in page  # its output area is there, empty
    body = page[page.index("<body") :]
    assert "<svg" not in body.split("altgc-explanation", 1)[1]
    text = re.search(r'<pre class="altgc-text"[^>]*>(Frame at 0x[0-9a-f]+ \(Frame[^<]*)', page)
    assert text and "still alive" in text.group(1), page[-3000:]
