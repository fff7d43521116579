"""The pictures of ``python -m altgc compare`` are rendered and looked at:
the PNG opens as an image showing something, the HTML shows the table and
the chart in headless Chromium with no console errors.

Run by tox's ``report`` env (extras test + plot); CI must provide Debian's
``chromium`` (``apt-get install -y chromium``).  Without matplotlib or
chromium the tests concerned are skipped with the reason.
"""

import json
import os
import re

import pytest
from support import run_chromium, run_cli

from altgc import _program_comparison as cli
from altgc._stats import fmt_ns


def synthetic_report(n_builtin=60, n_altgc=45):
    """A report with known events (no child processes): deterministic."""

    def events(n, scale):
        out = []
        for i in range(n):
            gen = 2 if i % 20 == 19 else 1 if i % 10 == 9 else 0
            out.append(
                {
                    "t_ns": i * 5_000_000,
                    "pause_ns": int(scale * (30_000 + 400_000 * gen + 997 * i)),
                    "generation": gen,
                    "collected": i * 3,
                    "uncollectable": 0,
                    "examined": 700 * (1 + 5 * gen),
                    "explicit": i == n - 1,
                }
            )
        return out

    def run(side, n, scale):
        ev = events(n, scale)
        col = [sum(1 for e in ev if e["generation"] == g) for g in range(3)]
        return cli.RunResult(
            collector=side,
            status=0,
            wall_ns=400_000_000,
            peak_rss_kb=30_000,
            stdout="same <output> & more\n",
            stderr="",
            script_ns=n * 5_000_000 + 1_000_000,
            events=ev,
            gc_calls=[{"func": "disable", "args": [], "t_ns": 1000, "where": "prog.py:3"}],
            stats_before=[{"collections": 0, "collected": 0, "uncollectable": 0}] * 3,
            stats_after=[
                {
                    "collections": c,
                    "collected": sum(e["collected"] for e in ev if e["generation"] == g),
                    "uncollectable": 0,
                }
                for g, c in enumerate(col)
            ],
            enabled_at_exit=False,
            threshold=[700, 10, 10],
        )

    return cli.CompareReport(
        script="prog<1>.py",
        args=["--n", "5"],
        python="3.x",
        repeat=1,
        thresholds={"builtin": None, "altgc": [900, 10, 10]},
        runs={"builtin": [run("builtin", n_builtin, 1.0)], "altgc": [run("altgc", n_altgc, 0.8)]},
        created="2026-01-01 00:00:00 UTC",
    )


# ---------------------------------------------------------------------------
# JSON and the text table
# ---------------------------------------------------------------------------


def test_json_round_trips():
    rep = synthetic_report()
    back = cli.CompareReport.from_json(rep.to_json())
    assert back == rep
    assert cli.format_table(back) == cli.format_table(rep)
    d = json.loads(rep.to_json())
    assert d["summary"]["builtin"]["collections"] == [54, 3, 3]
    assert d["outputs_match"] == {"stdout": True, "stderr": True, "status": True}


def test_table_figures():
    rep = synthetic_report()
    table = cli.format_table(rep)
    rows = {label: (a, b) for label, a, b in cli.table_rows(rep)}
    assert rows["collections gen 0 / 1 / 2"] == ("54 / 3 / 3", "41 / 2 / 2")
    assert rows["thresholds"] == ("700,10,10 (default)", "900,10,10")
    assert rows["gc.disable() calls"] == ("1", "1")
    ev = rep.runs["builtin"][0].events
    assert rows["pause max"][0] == fmt_ns(max(e["pause_ns"] for e in ev))
    assert rows["objects collected"][0] == str(sum(e["collected"] for e in ev))
    assert "note: builtin gc: the script called gc.disable()" in table
    assert "automatic collection was OFF" in table


def test_thresholds_the_script_set_are_not_called_default():
    # The record's thresholds are read as the script ends: a script that
    # called gc.set_threshold() showed its own as "(default)".
    from altgc._program_comparison.html_report import row_reasons

    rep = synthetic_report()
    rep.thresholds = {"builtin": None, "altgc": None}
    for side in ("builtin", "altgc"):
        rep.runs[side][0].threshold_start = [700 if side == "builtin" else 2000, 10, 10]
    rep.runs["altgc"][0].threshold = [2000, 10, 10]
    rows = {label: (a, b) for label, a, b in cli.table_rows(rep)}
    assert rows["thresholds"] == ("700,10,10 (default)", "2000,10,10 (default)")
    rep.runs["builtin"][0].threshold = [1400, 10, 10]
    rows = {label: (a, b) for label, a, b in cli.table_rows(rep)}
    assert rows["thresholds"] == ("1400,10,10 (set by the script)", "2000,10,10 (default)")
    assert row_reasons(rep)["thresholds"] == "the script set them"
    back = cli.CompareReport.from_json(rep.to_json())
    assert back.runs["builtin"][0].threshold_start == [700, 10, 10]
    # a report saved before the field: the end's thresholds, as before
    old = json.loads(rep.to_json())
    for side in ("builtin", "altgc"):
        del old["runs"][side][0]["threshold_start"]
    rows = {label: (a, b) for label, a, b in cli.table_rows(cli.CompareReport.from_dict(old))}
    assert rows["thresholds"][0] == "1400,10,10 (default)"


def test_compare_marks_thresholds_the_script_set(tmp_path):
    script = tmp_path / "sets.py"
    script.write_text("import gc\ngc.set_threshold(1400, 10, 10)\nx = [[] for _ in range(3000)]\n")
    out = run_cli("compare", str(script))
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("thresholds"))
    assert line.count("1400,10,10 (set by the script)") == 2, line


def with_install(rep, builtin_ms, altgc_ms, install_ms):
    """rep with the two runs' script times and altgc's adoption time set."""
    rep.runs["builtin"][0].script_ns = int(builtin_ms * 1e6)
    rep.runs["altgc"][0].script_ns = int(altgc_ms * 1e6)
    rep.runs["altgc"][0].install = {
        "adopted": 123_456,
        "adoptions": 40,
        "adopt_ns": int(install_ms * 1e6) - 1000,
        "polls": 50,
        "poll_ns": 1000,
    }
    return rep


def test_table_shows_adoption_and_splits_a_longer_script_time():
    rep = with_install(synthetic_report(), 100.0, 180.0, 12.5)
    rows = {label: (a, b) for label, a, b in cli.table_rows(rep)}
    assert rows["adoption + polls (outside pauses)"] == ("-", "12.50 ms (123,456 adopted)")
    s = {side: cli.summarize(rep.runs[side]) for side in cli.SIDES}
    gc_extra = s["altgc"]["gc_total_ns"] - s["builtin"]["gc_total_ns"]
    rest = 80e6 - gc_extra - 12.5e6
    assert rest > 0  # the synthetic altgc pauses are shorter
    note = next(n for n in rep.notes() if n.startswith("altgc's script time"))
    assert note.startswith(
        f"altgc's script time is 80.0 ms longer: collections {gc_extra / 1e6:+.1f} ms, "
        f"adoption and polls +12.5 ms, the other {rest / 1e6:.1f} ms outside both"
    )
    # survives the JSON round trip, with the summary's figures
    back = cli.CompareReport.from_json(rep.to_json())
    assert back == rep and back.notes() == rep.notes()
    d = json.loads(rep.to_json())
    assert d["summary"]["altgc"]["install_ns"] == 12_500_000
    assert d["summary"]["builtin"]["install_ns"] is None


def test_no_split_when_altgc_is_not_slower_or_the_rest_is_noise():
    rep = with_install(synthetic_report(), 100.0, 103.0, 2.0)
    assert not [n for n in rep.notes() if n.startswith("altgc's script time")]
    rep = with_install(synthetic_report(n_altgc=60), 100.0, 120.0, 30.0)
    (note,) = [n for n in rep.notes() if n.startswith("altgc's script time")]
    assert note.endswith("(together more than the difference: the rest is run-to-run noise)")


def test_report_saved_before_adoption_was_recorded():
    rep = synthetic_report()
    d = json.loads(rep.to_json())
    for side in cli.SIDES:
        del d["runs"][side][0]["install"]
    back = cli.CompareReport.from_dict(d)
    rows = {label: (a, b) for label, a, b in cli.table_rows(back)}
    assert rows["adoption + polls (outside pauses)"] == ("-", "n/a")
    assert not [n for n in back.notes() if n.startswith("altgc's script time")]


def test_table_columns_stay_apart_when_a_value_is_wide():
    # 3.13+ print "2000,10,10 (default)": 20 characters, the columns' old
    # fixed width, which ran it into the next column's value.
    rep = synthetic_report()
    for side in ("builtin", "altgc"):
        rep.thresholds[side] = None
        rep.runs[side][0].threshold = [2000, 10, 10]
    table = cli.format_table(rep)
    line = next(x for x in table.splitlines() if x.startswith("thresholds"))
    cells = [c for c in line[len("thresholds") :].split("  ") if c.strip()]
    assert [c.strip() for c in cells] == ["2000,10,10 (default)"] * 2
    # every row's columns line up with the header's
    lines = table.splitlines()
    head = next(x for x in lines if x.rstrip().endswith("altgc"))
    rows = [x for x in lines if x.startswith(("pause p50", "peak RSS", "thresholds"))]
    assert {len(x) for x in rows} == {len(head)}


def test_table_notes_a_difference_and_a_lost_record():
    rep = synthetic_report()
    rep.runs["altgc"][0].stdout = "other\n"
    rep.runs["altgc"][0].status = 3
    rep.runs["builtin"][0].recorded = False
    table = cli.format_table(rep)
    assert "stdout differs: line 1: builtin gc 'same <output> & more' vs altgc 'other'" in table
    assert "altgc: exit status 3" in table
    assert "builtin gc: no collection record" in table
    assert rep.outputs_match() == {"stdout": False, "stderr": True, "status": False}


def test_cli_renders_a_saved_report(tmp_path):
    rep = synthetic_report()
    saved = tmp_path / "r.json"
    saved.write_text(rep.to_json())
    html_path = tmp_path / "r.html"
    proc = run_cli(
        "compare",
        "--from-json",
        str(saved),
        "--html",
        str(html_path),
        "--json",
        str(tmp_path / "again.json"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == cli.format_table(rep) + "\n"
    assert html_path.read_text() == cli.render_html(rep)
    assert cli.load_report(str(tmp_path / "again.json")) == rep


@pytest.mark.parametrize(
    "content, expect",
    [
        ("[]", "is not a report saved by --json"),
        ("{", "is not a report saved by --json"),
        (None, "cannot read"),
    ],
)
def test_cli_rejects_a_bad_saved_report(tmp_path, content, expect):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    proc = run_cli("compare", "--from-json", str(path))
    assert proc.returncode == 2
    assert expect in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_needs_a_script_or_a_saved_report():
    proc = run_cli("compare")
    assert proc.returncode == 2
    assert "the script to run is missing" in proc.stderr


# ---------------------------------------------------------------------------
# PNG
# ---------------------------------------------------------------------------


def need_matplotlib():
    if os.environ.get("ALTGC_REQUIRE_CHROMIUM") == "1":  # tox env report
        import matplotlib  # noqa: F401  (the plot extra must be there)
    pytest.importorskip("matplotlib", reason="the 'plot' extra (matplotlib) is not installed")


def test_png_opens_as_an_image(tmp_path):
    need_matplotlib()
    pytest.importorskip("matplotlib", reason="the 'plot' extra (matplotlib) is not installed")
    import matplotlib.image as mpimg
    import numpy as np

    path = tmp_path / "timeline.png"
    cli.render_png(synthetic_report(), str(path))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(str(path))
    assert img.ndim == 3 and img.shape[0] >= 400 and img.shape[1] >= 600
    # something was drawn: many distinct colours, the generation colours
    # among them
    flat = (img[..., :3] * 255).round().astype(int).reshape(-1, 3)
    colours = {tuple(c) for c in flat[::7]}
    assert len(colours) > 50
    for hexcol in (*cli.GEN_COLORS, cli.SIDE_COLORS["altgc"]):
        rgb = np.array([int(hexcol[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(flat - rgb).sum(axis=1) < 40).any(), hexcol


def test_png_of_a_run_without_collections(tmp_path):
    need_matplotlib()
    pytest.importorskip("matplotlib", reason="the 'plot' extra (matplotlib) is not installed")
    import matplotlib.image as mpimg

    rep = synthetic_report(0, 0)
    path = tmp_path / "empty.png"
    cli.render_png(rep, str(path))
    assert mpimg.imread(str(path)).ndim == 3


# ---------------------------------------------------------------------------
# HTML in headless Chromium
# ---------------------------------------------------------------------------


def render_in_chromium(html_text, flags=()):
    """Load the page in headless Chromium (with extra command-line *flags*);
    return (DOM after scripts ran, console messages)."""
    proc = run_chromium(html_text, "--virtual-time-budget=2000", "--dump-dom", *flags)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def test_console_check_catches_errors():
    """The checker itself: a page that throws is caught."""
    _dom, console = render_in_chromium(
        "<!DOCTYPE html><html><body><p>x</p><script>"
        "throw new Error('planted failure');</script></body></html>"
    )
    assert any("planted failure" in line for line in console), console


def test_html_shows_table_and_chart_without_console_errors():
    rep = synthetic_report()
    dom, console = render_in_chromium(cli.render_html(rep))
    assert console == []
    # the page's script ran to the end and counted what the chart drew
    assert 'data-rendered="ok"' in dom
    assert 'data-marks="105"' in dom
    # no debug footer: the script's count stays in attributes
    assert "collections and" not in dom and 'id="drawn"' not in dom
    # the table, with the figures of the text table
    assert '<table id="summary">' in dom
    for label, _a, _b in cli.table_rows(rep):
        assert ">%s</th>" % label.replace("&", "&amp;") in dom
    assert "54 / 3 / 3" in dom and "41 / 2 / 2" in dom
    assert "900,10,10" in dom
    # the chart: one circle per collection, coloured by generation, both
    # lanes, the histogram
    assert dom.count('<circle class="mark gen0"') == 54 + 41
    assert dom.count('<circle class="mark gen2"') == 3 + 2
    assert 'data-side="builtin"' in dom and 'data-side="altgc"' in dom
    assert re.search(r'<rect class="bar builtin"', dom)
    assert re.search(r'<rect class="bar altgc"', dom)
    # the script's name and output are escaped, not markup
    assert "prog&lt;1&gt;.py" in dom
    assert "the script called gc.disable()" in dom


def test_html_is_self_contained():
    page = cli.render_html(synthetic_report())
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<svg" in page and "</svg>" in page


def test_html_without_collections_renders():
    dom, console = render_in_chromium(cli.render_html(synthetic_report(0, 0)))
    assert console == []
    assert 'data-marks="0"' in dom
    assert "no collections" in dom


# ---------------------------------------------------------------------------
# The HTML page's verdict, units and highlighted rows
# ---------------------------------------------------------------------------


def test_html_verdict_from_the_report_data():
    rep = synthetic_report()
    page = cli.render_html(rep)
    ev = {s: [e["pause_ns"] for e in rep.runs[s][0].events] for s in ("builtin", "altgc")}

    def p50(v):
        return sorted(v)[(len(v) + 1) // 2 - 1]

    total = sum(ev["altgc"]) / sum(ev["builtin"])
    med = p50(ev["altgc"]) / p50(ev["builtin"])
    top = max(ev["altgc"]) / max(ev["builtin"])
    line = (
        f"altgc: total GC time {total:.2f}x, p50 pause {med:.2f}x, "
        f"max pause {top:.2f}x the builtin gc&#x27;s"
    )
    m = re.search(r'<p id="verdict" class="verdict">([^<]*)</p>', page)
    assert m and m.group(1) == line
    # at the top: before the table and the chart
    assert page.index('id="verdict"') < page.index('<table id="summary">')
    # no collections on a side: no ratios, and the verdict says why
    empty = cli.render_html(synthetic_report(0, 0))
    assert "no collections to compare: neither collector ran one" in empty
    assert " n/a" not in verdict_of(empty)
    one = synthetic_report(60, 0)
    assert verdict_of(cli.render_html(one)).startswith(
        "no collections to compare: altgc ran none, builtin gc 60 (total GC time "
    )


def verdict_of(page):
    return re.search(r'<p id="verdict" class="verdict">([^<]*)</p>', page).group(1)


def without_record(rep, side, timed_out):
    """*rep* with *side*'s run killed before it wrote its record (the runner
    keeps the process's own figures; the record's stay empty)."""
    run = rep.runs[side][0]
    run.recorded, run.events, run.gc_calls, run.script_ns = False, [], [], 0
    run.stats_before, run.stats_after, run.status = [], [], -9
    run.timed_out_after_s = 4.0 if timed_out else None
    return rep


def test_a_run_without_a_record_has_no_figures_from_it():
    # Before, a run killed at the timeout showed 0 collections, pauses of
    # 0 ns and a script time of 0.000 s, as if it had run and collected
    # nothing; the HTML verdict read "total GC time n/a, ... the builtin gc's".
    rep = without_record(synthetic_report(), "altgc", timed_out=True)
    rows = {label: (a, b) for label, a, b in cli.table_rows(rep)}
    for label in (
        "collections gen 0 / 1 / 2",
        "objects collected",
        "pause p50",
        "total GC time",
        "adoption + polls (outside pauses)",
        "script time",
        "gc.disable() calls",
    ):
        assert rows[label][1] == "no record", (label, rows[label])
        assert rows[label][0] not in ("no record", "0", "0 ns"), (label, rows[label])
    # what the process itself gave is still shown
    assert rows["wall time (process)"][1] == "0.400 s"
    assert rows["exit status"] == ("0", "-9")
    s = cli.summarize(rep.runs["altgc"])
    assert s["collections"] is None and s["gc_total_ns"] is None and s["wall_ns"] == 400_000_000
    assert "altgc: stopped after the timeout (4 s), so no collection record" in rep.notes()
    page = cli.render_html(rep)
    assert verdict_of(page) == (
        "no collections to compare: the altgc run was stopped after the timeout, "
        "so no collection record"
    )
    from altgc._program_comparison.html_report import row_reasons

    reasons = row_reasons(rep)
    assert reasons["total GC time"] == "no record from the altgc run"
    assert "altgc: no collection record" in page and ">stopped after the timeout<" in page
    # both sides, and a process that died on its own
    both = without_record(without_record(synthetic_report(), "altgc", True), "builtin", False)
    assert verdict_of(cli.render_html(both)) == (
        "no collections to compare: both collectors&#x27; runs left no collection record"
    )
    assert "the process did not return to the harness" in cli.render_html(both)
    # a run with a record but several runs, one of which lost it: medians
    # over the recorded ones
    rep2 = synthetic_report()
    rep2.repeat = 2
    rep2.runs["altgc"].append(without_record(synthetic_report(), "altgc", True).runs["altgc"][0])
    assert cli.summarize(rep2.runs["altgc"])["collections"] == [41, 2, 2]


def test_an_empty_timeline_has_no_axis_of_nothing():
    # Before: ticks of "1e-06 ms" and "2e-10 s" around empty lanes.
    both = without_record(without_record(synthetic_report(), "altgc", True), "builtin", True)
    svg = cli.render_svg(both)
    assert "e-0" not in svg and "e-1" not in svg, re.findall(r">[^<]*e-\d+[^<]*<", svg)
    assert svg.count("stopped after the timeout") == 2


@pytest.mark.parametrize(
    ("flags", "background"),
    [
        ((), "rgb(255, 255, 255)"),
        (("--force-dark-mode", "--blink-settings=preferredColorScheme=0"), "rgb(22, 24, 28)"),
    ],
)
def test_html_follows_the_light_or_dark_theme(flags, background):
    dom, console = render_in_chromium(cli.render_html(synthetic_report()), flags)
    assert console == []
    assert f'data-bg="{background}"' in dom


def test_html_uses_the_micro_sign():
    rep = synthetic_report()
    page = cli.render_html(rep)
    assert "\u00b5s" in page
    assert not re.search(r"\d us\b", page)
    # the text table keeps ASCII
    assert re.search(r"\d us\b", cli.format_table(rep))


def test_html_highlights_differing_rows_with_their_reason():
    rep = synthetic_report()
    rep.runs["altgc"][0].status = 3
    rep.runs["altgc"][0].stdout = "other output\n"
    page = cli.render_html(rep)
    rows = re.findall(
        r"<tr( class=\"differs\")?><th>([^<]*)</th>.*?<td class=\"reason\">([^<]*)</td>", page
    )
    assert rows
    got = {label: (bool(cls), why) for cls, label, why in rows}
    for label in ("thresholds", "collections gen 0 / 1 / 2", "objects collected", "exit status"):
        assert got[label][0] and got[label][1], label
    assert got["thresholds"][1] == "set by --threshold"
    assert "stdout differs" in got["same stdout / stderr / status"][1]
    # equal rows and the timings are not highlighted, and carry no reason
    for label in ("uncollectable", "pause p50", "total GC time", "gc.disable() calls"):
        assert got[label] == (False, ""), label
    # every highlighted row has a reason
    assert all(why for cls, _l, why in rows if cls)
