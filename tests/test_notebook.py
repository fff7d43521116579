"""Real notebooks, run by nbclient against a real ipykernel: one scenario
per cause of docs/DESIGN.md, "Why memory survives del", asserting the cause
and the fix ``explain`` reports (and the post-cell notice of
``%load_ext altgc``).

Needs the ``notebook`` extra (ipykernel, nbclient, nbformat, matplotlib);
without it the tests are skipped with that reason.  CI runs them in the tox
env ``notebook``.
"""

import json

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


def run_notebook(cells, tmp_path, monkeypatch, label):
    """Execute cells (sources) then the report cell; return (explanation
    dict, every cell's text output)."""
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cells = ["import altgc\n%load_ext altgc", *list(cells), REPORT.format(label=label)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    client = nbclient.NotebookClient(
        nb,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        allow_errors=True,
    )
    client.execute()
    texts = []
    for cell in nb.cells:
        out = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o["text"])
            elif o.get("output_type") == "error":
                out.append(o["ename"] + ": " + o["evalue"])
            elif "data" in o:
                out.append(o["data"].get("text/plain", ""))
        texts.append("".join(out))
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
    assert e["release"].startswith("%reset -f out")
    assert "del Out[3]" in e["release"]
    assert any(p["expr"] == "Out[3]" for p in e["paths"])
    assert e["retained_bytes"] > 800000
    # the post-cell notice of the `del df` cell
    assert "altgc: df (list) is still alive after del" in texts[3]
    assert "%reset -f out" in texts[3]


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
    assert e["release"] == "gc.collect()"
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
        "plt.close(fig)",
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
        "release it in the C extension",
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
    assert "still alive after del" in texts[3] and "cache['big']" in texts[3]
    assert "Explanation 'big'" in texts[4]
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
    assert "large (list) is still alive" in texts[3]
    assert "small" not in texts[3]
