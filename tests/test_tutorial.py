"""docs/tutorial.ipynb: executed by nbclient on a real ipykernel (every
cell runs without error and shows what the text says), then rendered to
HTML by nbconvert and loaded in headless Chromium (no script error; every
step-through's next/previous controls work).

Needs the ``notebook`` extra (ipykernel, nbclient, nbformat, nbconvert);
without it the tests are skipped with that reason.  CI runs them in the tox
env ``notebook``.
"""

import pathlib
import re

import pytest
from support import subprocess_env

nbformat = pytest.importorskip("nbformat", reason="needs the 'notebook' extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the 'notebook' extra (nbclient)")
pytest.importorskip("ipykernel", reason="needs the 'notebook' extra (ipykernel)")

from test_notebook import cell_text  # noqa: E402  (after the skips)
from test_trace import chromium_results  # noqa: E402

TUTORIAL = pathlib.Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The tutorial, executed (once for the module's tests)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])
    tmp = tmp_path_factory.mktemp("tutorial")
    try:
        nb = nbformat.read(str(TUTORIAL), as_version=4)
        client = nbclient.NotebookClient(
            nb,
            timeout=180,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp)}},
        )
        client.execute()
    finally:
        mp.undo()
    return nb


def outputs(nb):
    return [cell_text(c) for c in nb.cells if c.cell_type == "code"]


def test_tutorial_runs_and_shows_the_algorithm(executed):
    texts = outputs(executed)
    assert not any(
        o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", [])
    )
    joined = "\n".join(texts)
    # refcounts and del; the cycle that survives del
    assert "after del, the object is freed" in joined
    assert "after del: alive" in joined and "after gc.collect(): freed" in joined
    # the trace of the five objects: d and e unreachable, c held from outside
    assert "unreachable: #3 dict, #4 list" in joined
    assert re.search(r"#2 list .*\byes\s+outside", joined)
    assert "the same as find_unreachable(): True" in joined
    # names in the caller count
    assert re.search(r"\('#\d+ dict', 1, True\), \('#\d+ list', 1, True\)\]", joined)
    # generations: the survivors of a collection of generation 0 are in 1
    assert "generation 1 now holds 3 objects" in joined
    assert "freed 2 objects" in joined  # a <-> b; c went by refcount at `del c`
    # finalizer once, resurrection, the weakref cleared and its callback run
    assert joined.count("__del__ of phoenix") == 1
    assert "weakref callback: the referent is gone" in joined
    assert "still alive: phoenix - the weakref was cleared anyway: True" in joined
    assert "no, resurrected" in joined
    assert "collected 2 objects; __del__ was not called again" in joined
    # gc.disable(): garbage grows, then gc.collect() frees it
    mb = [float(m) for m in re.findall(r"after round \d: ([\d.]+) MB", joined)]
    assert len(mb) == 3 and mb[0] < mb[1] < mb[2]
    after = float(re.search(r"after collecting: (-?[\d.]+) MB", joined).group(1))
    assert after < mb[0]


def test_tutorial_html_controls_in_chromium(executed):
    nbconvert = pytest.importorskip("nbconvert", reason="needs nbconvert to render the notebook")

    body, _ = nbconvert.HTMLExporter(template_name="basic").from_notebook_node(executed)
    page = f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'
    results, errors, console = chromium_results(page)
    assert errors == [] and not [m for m in console if "Uncaught" in m]
    assert len(results) >= 2  # the tutorial's step-through pictures
    for r in results:
        assert r["steps"] > 3
        assert r["last"] == r["steps"] - 1 and r["back"] == r["steps"] - 2
        assert len(set(r["refs"])) > 1  # the gc_refs on the nodes changed
