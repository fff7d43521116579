"""The HTML that notebooks show, laid out by a browser: the tables of
``top()`` / ``cells()``, an explanation's text and the post-cell notice,
rendered in headless Chromium inside a page carrying JupyterLab's output
CSS (the rules of nbconvert's ``lab`` template that reach them: table
cells aligned right, a ``<pre>`` broken at any letter, code on a
background of its own), measured by a script in the page.

Needs ``chromium`` (Debian: ``apt-get install -y chromium``); without it
the tests are skipped, or fail under ``ALTGC_REQUIRE_CHROMIUM=1`` (the tox
env ``report``).
"""

import html
import json
import re

from support import run_chromium

import altgc
from altgc._explain.holders import Holder, Holders
from altgc._explain.leftovers import Leftover, Leftovers
from altgc._explain.notice import Notice

#: JupyterLab's rules for HTML output (nbconvert 7's lab template), the
#: light theme's colours written out
JUPYTER_CSS = """
body { font-family: sans-serif; font-size: 14px; color: rgba(0,0,0,0.87); background: #fff; }
.jp-RenderedHTMLCommon pre, .jp-RenderedHTMLCommon code {
  border: 0; background-color: #fff; color: rgba(0,0,0,0.87); font-family: monospace;
  font-size: inherit; line-height: 1.39; padding: 0; white-space: pre-wrap; }
.jp-RenderedHTMLCommon :not(pre) > code { background-color: #eee; padding: 1px 5px; }
.jp-RenderedHTMLCommon table { border-collapse: collapse; border-spacing: 0; border: none;
  font-size: 12px; table-layout: fixed; margin-left: auto; margin-right: auto; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon tr {
  vertical-align: middle; padding: 0.5em; line-height: normal; white-space: normal;
  max-width: none; border: none; }
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td,
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon th,
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon tr { text-align: right; }
.jp-RenderedHTMLCommon tbody tr:nth-child(even) { background: #f5f5f5; }
.jp-OutputArea-output pre { border: none; margin: 0; padding: 0; overflow-x: auto;
  overflow-y: auto; word-break: break-all; word-wrap: break-word; white-space: pre-wrap; }
.jp-OutputArea-output.jp-RenderedHTMLCommon table { margin-left: 0; margin-right: 0; }
"""

#: the measurements, written into the page's body as JSON
MEASURE = r"""
<script>
(function () {
  var r = {cells: [], pres: [], codes: [], overflow: [], split: []};
  document.querySelectorAll('.out').forEach(function (out) {
    // what sticks out of the output area (700px wide)
    var box = out.getBoundingClientRect();
    out.querySelectorAll('*').forEach(function (el) {
      var b = el.getBoundingClientRect();
      if (b.width && b.right > box.right + 1) { r.overflow.push(out.id + ' ' + el.tagName); }
    });
  });
  document.querySelectorAll('table td').forEach(function (td) {
    r.cells.push(getComputedStyle(td).textAlign);
  });
  document.querySelectorAll('table pre').forEach(function (pre) {
    var s = getComputedStyle(pre);
    r.pres.push({bg: s.backgroundColor, lines: pre.getClientRects().length,
                 text: pre.textContent});
  });
  // the names of the held-by column: "store" on one line, not "stor|e"
  document.querySelectorAll('table td code').forEach(function (code) {
    var range = document.createRange();
    range.selectNodeContents(code);
    var tops = {};
    Array.prototype.forEach.call(range.getClientRects(), function (q) {
      if (q.width > 0) { tops[Math.round(q.top)] = 1; }
    });
    r.codes.push({text: code.textContent, lines: Object.keys(tops).length});
  });
  // the words an explanation's text is broken inside, where it wraps
  document.querySelectorAll('.altgc-text').forEach(function (pre) {
    var walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    var node;
    while ((node = walker.nextNode())) {
      var text = node.data, last = null;
      for (var i = 0; i < text.length; i++) {
        var range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        var q = range.getClientRects()[0];
        if (!q) { continue; }
        var top = Math.round(q.top);
        if (last !== null && top > last && /\S/.test(text[i]) && /\S/.test(text[i - 1])) {
          var a = i, b = i;
          while (a > 0 && /\S/.test(text[a - 1])) { a--; }
          while (b < text.length && /\S/.test(text[b])) { b++; }
          r.split.push(text.slice(a, b));
        }
        last = top;
      }
    }
  });
  // what a label's markup would make: <script>, <img>, <b>b</b>
  r.elements = Array.prototype.filter.call(
    document.querySelectorAll('.out script, .out img, .out b'),
    function (el) { return el.tagName !== 'B' || el.textContent === 'b'; }
  ).map(function (el) { return el.tagName; });
  document.body.setAttribute('data-result', JSON.stringify(r));
})();
</script>
"""


def measure(outputs):
    """Lay out the HTML outputs (id -> markup), each in a 700px JupyterLab
    output area, in headless Chromium; the measurements of MEASURE."""
    body = "".join(
        f'<div class="out jp-OutputArea-output jp-RenderedHTMLCommon" id="{k}" '
        f'style="width:700px;margin:8px 0">{v}</div>'
        for k, v in outputs.items()
    )
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<style>{JUPYTER_CSS}</style></head><body>{body}{MEASURE}</body></html>"
    )
    proc = run_chromium(page, "--window-size=1000,3000", "--virtual-time-budget=2000", "--dump-dom")
    m = re.search(r'data-result="([^"]*)"', proc.stdout)
    assert m, proc.stdout[-2000:]
    return json.loads(html.unescape(m.group(1)))


LONG_KEY = "k" * 120
HOSTILE = "<script>alert(1)</script><b>b</b> & \"q\" 's' <img src=x> été"


def tables():
    holders = Holders(
        [
            Holder("store", 3 * 2**20, "name", "del store", "dict"),
            Holder(
                "mymod_with_a_rather_long_name.some_really_long_attribute_name_for_a_cache",
                2 * 2**20,
                "name",
                "import mymod_with_a_rather_long_name\n"
                "del mymod_with_a_rather_long_name.some_really_long_attribute_name_for_a_cache",
                "list",
            ),
            Holder(
                "big in f() (traceback)",
                2**20,
                "traceback",
                "import sys; sys.last_exc = sys.last_value = sys.last_traceback = None\n"
                f"del d['{LONG_KEY}']",
                "bytearray",
            ),
            Holder(HOSTILE, 100, "name", "", "str", note="no code can release it: " + HOSTILE),
        ]
    )
    cells = Leftovers(
        [
            Leftover(3, "Out[3], _", "output_cache", 2**20, "del Out[3]\ndel _", "list"),
            Leftover(4, HOSTILE, "traceback", 5 * 2**20, f"del x['{LONG_KEY}']", "dict"),
        ]
    )
    return holders._repr_html_(), cells._repr_html_()


def test_tables_read_left_to_right_within_the_output():
    top, cells = tables()
    r = measure({"top": top, "cells": cells})
    assert r["overflow"] == [], r["overflow"]  # nothing past the output's edge
    assert set(r["cells"]) == {"left"}, r["cells"]  # not JupyterLab's right
    assert r["elements"] == [], r["elements"]  # labels shown as typed, no markup
    for code in r["codes"]:
        if len(code["text"]) <= 10:  # a short name is never split
            assert code["lines"] == 1, code
    for pre in r["pres"]:
        # the row's colour, not a box of the page's background over it
        assert pre["bg"] == "rgba(0, 0, 0, 0)", pre
        if pre["text"] == "del store":
            assert pre["lines"] == 1, pre


def test_explanation_text_breaks_at_spaces_and_stays_within_the_output():
    keep = {LONG_KEY: [bytearray(2 * 10**6)]}
    altgc.watch(keep[LONG_KEY], HOSTILE)
    try:
        page = altgc.explain(HOSTILE)._repr_html_()
    finally:
        altgc.unwatch(HOSTILE)
    del keep
    r = measure({"explanation": page})
    assert r["overflow"] == [], r["overflow"]
    assert r["elements"] == [], r["elements"]
    # wrapped at spaces: only a word wider than the output is broken (not
    # "1.9 Mi|B", as JupyterLab's break-all for <pre> did)
    assert r["split"], r  # the key is broken
    assert [w for w in r["split"] if len(w) < 80] == [], r["split"]


def test_a_notice_with_a_long_holder_stays_within_the_output():
    n = Notice(
        HOSTILE + " (list, 1.9 MiB)",
        (f"store['{LONG_KEY}']", "Out[3]"),
        "%altgc release -- -x",
        f"del store['{LONG_KEY}']",
    )
    r = measure({"notice": n._repr_html_()})
    assert r["overflow"] == [], r["overflow"]
    assert r["elements"] == [], r["elements"]
