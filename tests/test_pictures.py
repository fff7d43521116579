"""The picture of an explanation (``Explanation._svg``, ``_repr_html_``,
``_repr_pretty_``): it fits its viewBox and scales, takes the page's colours,
names roots as the user knows them, draws reference cycles, and leaves a
readable text when a notebook's HTML is sanitized.

With Chromium on PATH (``ALTGC_REQUIRE_CHROMIUM=1`` makes it required) the
SVG is rendered in a 400 px wide container with ``max-width:100%``, on a
light and a dark page, and every drawn element must lie inside the visible
box; the screenshots are kept under pytest's tmp_path for a look.
"""

import contextvars
import gc
import re
import tempfile
import weakref
import xml.etree.ElementTree as ET

import pytest
from support import run_chromium

import altgc
from altgc._explain import picture
from altgc._explain.explanation import CAUSES, Explanation, RefPath, fmt_bytes

SVG = "{http://www.w3.org/2000/svg}"


class Node:
    pass


def by_hand(*paths, label="df", type_name="DataFrame"):
    """An Explanation built by hand around ``paths``."""
    return Explanation(
        label=label,
        type_name=type_name,
        alive=True,
        cause=paths[0].cause if paths else "unknown",
        cause_text=CAUSES[paths[0].cause if paths else "unknown"],
        release=paths[0].release if paths else "",
        paths=tuple(paths),
        retained_bytes=812 * 2**20,
        retained_objects=3,
    )


def long_path(n=15):
    """A path of ``n`` steps from a module global through nested lists."""
    types_ = ("dict", *(["list"] * (n - 1)), "DataFrame")
    steps = ("a_rather_long_global_name", *(["[0]"] * (n - 1)))
    expr = "a_rather_long_global_name" + "[0]" * (n - 1)
    return RefPath("name", expr, types_, steps, "name", "del " + expr)


def out_path():
    return RefPath(
        "output_cache", "Out[4]", ("dict", "DataFrame"), ("[4]",), "output_cache", "del Out[4]"
    )


def long_root_path():
    modname = "a_package_with_a_long_name.and_a_submodule_with_a_longer_name"
    steps = (".the_cached_dataframes_of_the_afternoon", "['df']")
    expr = modname + "".join(steps)
    return RefPath("name", expr, ("dict", "dict", "DataFrame"), steps, "name", "del " + expr)


def parse(svg):
    assert svg.startswith("<svg")
    return ET.fromstring(svg)


def view_box(root):
    x, y, w, h = map(float, root.get("viewBox").split())
    return x, y, w, h


def points(d):
    """The corners of a path of M/L/H/V commands."""
    cx = cy = 0.0
    pts = []
    for cmd, a, b in re.findall(r"([MHVL])\s*([-\d.]+)(?:,([-\d.]+))?", d):
        if cmd in "ML":
            cx, cy = float(a), float(b)
        elif cmd == "H":
            cx = float(a)
        else:
            cy = float(a)
        pts.append((cx, cy))
    return pts


def extents(root):
    """(kind, x0, y0, x1, y1) of every drawn element (text estimated from
    its length at the font's advance width)."""
    out = []
    for el in root.iter():
        tag = el.tag.replace(SVG, "")
        if el.get("id") == "altgc-arrow" or tag in ("marker", "defs"):
            continue
        if tag == "rect":
            x, y = float(el.get("x")), float(el.get("y"))
            out.append(("rect", x, y, x + float(el.get("width")), y + float(el.get("height"))))
        elif tag == "text":
            size = float(el.get("font-size", "11"))
            x, y = float(el.get("x")), float(el.get("y"))
            w = len(el.text or "") * size * 0.61
            out.append(("text " + (el.text or ""), x, y - size, x + w, y + 3))
        elif tag == "path" and "marker-end" in el.attrib:
            pts = points(el.get("d"))
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            out.append(("path", min(xs), min(ys), max(xs), max(ys)))
    return out


def assert_inside(svg):
    root = parse(svg)
    x, y, w, h = view_box(root)
    assert float(root.get("width")) == w and float(root.get("height")) == h
    assert "max-width:100%" in root.get("style").replace(" ", "")
    drawn = extents(root)
    assert drawn
    for kind, x0, y0, x1, y1 in drawn:
        assert x <= x0 and x1 <= x + w and y <= y0 and y1 <= y + h, (kind, x0, y0, x1, y1, w, h)
    return root


def boxes(root, kind):
    return [g for g in root.iter(SVG + "g") if f" {kind}" in " " + g.get("class", "")]


def box_text(g):
    """A box's lines joined back: a line broken after "." "_" "[" or
    "/" continues without a space."""
    out = ""
    for t in g.iter(SVG + "text"):
        out += ("" if not out or out[-1] in "._[(/:" else " ") + (t.text or "")
    return out


# ---------------------------------------------------------------------------
# geometry, colours, names
# ---------------------------------------------------------------------------


def test_svg_has_a_viewbox_and_scales():
    root = assert_inside(by_hand(out_path())._svg())
    assert root.get("viewBox").startswith("0 0 ")
    assert root.get("preserveAspectRatio") == "xMinYMin meet"


def test_long_path_wraps_inside_the_viewbox():
    e = by_hand(long_path(15))
    root = assert_inside(e._svg())
    _x, _y, w, _h = view_box(root)
    assert w <= 700  # wrapped into rows, not one 3000-px line
    objs = boxes(root, "object")
    assert len(objs) == 14 and len(boxes(root, "target")) == 1
    rows = {float(next(g.iter(SVG + "rect")).get("y")) for g in objs}
    assert len(rows) >= 4
    # every step is labelled under its own arrow: 14 "[0]" labels
    labels = [t.text for t in root.iter(SVG + "text") if t.get("class") == "label"]
    assert labels.count("[0]") == 14


def test_long_root_name_is_wrapped_not_cut_mid_word():
    e = by_hand(long_root_path())
    root = assert_inside(e._svg())
    (rbox,) = boxes(root, "root")
    lines = [t.text for t in rbox.iter(SVG + "text")]
    assert 2 <= len(lines) <= 3
    # the global's name is whole; the package gave way to an ellipsis
    assert "the_cached_dataframes_of_the_afternoon" in "".join(lines)
    assert lines[0].startswith("\u2026")
    # lines break after "." or "_", never inside a word
    for line in lines[:-1]:
        assert line[-1] in "._", lines
    # the title keeps the whole name
    assert "the_cached_dataframes_of_the_afternoon" in rbox.find(SVG + "title").text


def test_colours_follow_the_page():
    e = by_hand(long_path(5), out_path())
    svg = e._svg()
    root = parse(svg)
    assert not re.search(r"(fill|stroke)=\"(black|#000(000)?)\"", svg)
    for t in root.iter(SVG + "text"):
        assert t.get("fill") == "currentColor", t.text
    for p in root.iter(SVG + "path"):
        if "marker-end" in p.attrib:
            assert p.get("stroke") == "currentColor"
    (marker,) = root.iter(SVG + "marker")
    assert marker.find(SVG + "path").get("fill") == "currentColor"
    for r in root.iter(SVG + "rect"):
        assert r.get("stroke") == "currentColor"
        assert float(r.get("fill-opacity")) < 0.5  # a tint, readable on both
    assert "background:transparent" in root.get("style")


@pytest.mark.parametrize(
    "path, name",
    [
        (out_path(), "Out[4]"),
        (RefPath("name", "df", ("dict", "DataFrame"), ("df",), "name", "del df"), "globals: df"),
        (
            RefPath(
                "matplotlib",
                "matplotlib._pylab_helpers.Gcf.figs[2]",
                ("OrderedDict", "FigureManagerBase", "Figure"),
                ("[2]", ".canvas"),
                "matplotlib",
                "plt.close(fig)",
            ),
            "pyplot figure 2",
        ),
        (
            RefPath("name", "_4", ("dict", "DataFrame"), ("_4",), "output_cache", "del _4"),
            "Out[4] (as _4)",
        ),
        (
            RefPath("local", "frame", ("DataFrame",), (), "local", "del frame   (in load())"),
            "local frame in load()",
        ),
        (
            RefPath(
                "traceback",
                "sys.last_exc.__traceback__.tb_frame.f_locals['df']",
                ("ValueError", "traceback", "frame", "DataFrame"),
                (".__traceback__", ".tb_frame", "local df"),
                "traceback",
                "sys.last_exc = None",
            ),
            "sys.last_exc",
        ),
    ],
)
def test_root_is_named_as_the_user_knows_it(path, name):
    root = assert_inside(by_hand(path)._svg())
    (rbox,) = boxes(root, "root")
    assert box_text(rbox) == name
    svg = by_hand(path)._svg()
    for internal in ("output_cache:", "matplotlib:", "name:", "OrderedDic"):
        assert internal not in svg.split("<title>")[0] + "".join(
            t.text or "" for t in root.iter(SVG + "text")
        )
    assert name in by_hand(path).to_dot()


def test_real_module_global_is_named(mod):
    mod.holder = {"k": [Node()]}
    e = altgc.explain(mod.holder["k"][0], max_paths=1)
    root = assert_inside(e._svg())
    (rbox,) = boxes(root, "root")
    assert box_text(rbox) == "altgc_test_mod.holder"
    # the rest of the path: dict -> list -> the object, labels in order
    labels = [t.text for t in root.iter(SVG + "text") if t.get("class") == "label"]
    assert labels == ["['k']", "[0]"]


def context_variable_pictures(mod):
    """Explanations of two objects held by context variables (set in a
    copied context, dropped with it): one a module global binds, one no
    module names."""
    mod.cv = contextvars.ContextVar("picture_cv")
    unnamed = contextvars.ContextVar("picture 'odd' >name")

    def explain_both():
        mod.cv.set(Node())
        unnamed.set([Node()])
        named_e = altgc.explain(mod.cv.get(), max_paths=1)
        unnamed_e = altgc.explain(unnamed.get()[0], max_paths=1)
        mod.cv.set(None)
        unnamed.set(None)
        return named_e, unnamed_e

    return contextvars.copy_context().run(explain_both)


def test_context_variable_root_is_named_as_the_user_knows_it(mod):
    named, unnamed = context_variable_pictures(mod)
    assert named.paths[0].expr == "altgc_test_mod.cv.get()", str(named)
    assert unnamed.paths[0].expr.startswith("<ContextVar "), str(unnamed)
    for e, name in (
        (named, "ContextVar altgc_test_mod.cv"),
        (unnamed, "ContextVar \"picture 'odd' >name\""),
    ):
        # the SVG, the SVG inside the HTML, and the Graphviz text
        page = e._repr_html_()
        svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
        for picture_svg in (e._svg(), svg):
            (rbox,) = boxes(assert_inside(picture_svg), "root")
            assert box_text(rbox) == name
        dot_name = name.replace('"', '\\"')
        assert f'[label="{dot_name}", style=rounded]' in e.to_dot()


def test_folded_instance_dict_keeps_labels_under_their_arrows():
    # obj.__dict__ folded into ".attr" by the path search: the dict box is
    # not drawn and ".attr" labels the arrow Holder -> list
    p = RefPath(
        "name",
        "h.attr[0]",
        ("dict", "Holder", "dict", "list", "DataFrame"),
        ("h", ".attr", "[0]"),
        "name",
        "del h.attr[0]",
    )
    chain, labels = picture.chain_of(p)
    assert chain == [0, 1, 3, 4] and labels == ["h", ".attr", "[0]"]
    root = assert_inside(by_hand(p)._svg())
    assert [box_text(g) for g in boxes(root, "object")] == ["Holder", "list"]


# ---------------------------------------------------------------------------
# cycles
# ---------------------------------------------------------------------------


class Linked:
    """A node whose methods name its attributes (explain names a cycle's
    inline attributes from them, without making the instance's dict)."""

    def __init__(self):
        self.next = self.prev = None


def three_cycle(mod):
    a, b, c = Linked(), Linked(), Linked()
    a.next, b.next, c.next = b, c, a
    mod.keep = a
    return c


def test_cycle_is_found_and_drawn(mod):
    c = three_cycle(mod)
    cyc = picture.find_cycle(c)
    assert cyc == picture.Cycle(("Linked", "Linked", "Linked"), (".next", ".next", ".next"))
    e = altgc.explain(c, max_paths=1)
    svg = picture.render_svg(e, cyc)
    root = assert_inside(svg)
    members = boxes(root, "cycle")
    targets = boxes(root, "target")
    assert len(members) == 2 and len(targets) == 2  # the path's and the cycle's
    (back,) = [p for p in root.iter(SVG + "path") if "back" in p.get("class", "")]
    assert back.get("marker-end") == "url(#altgc-arrow)"
    assert "reference cycle of 3 objects" in svg
    # the back edge ends at the cycle's first box (the object)
    tgt = next(targets[1].iter(SVG + "rect"))
    x, y = float(tgt.get("x")), float(tgt.get("y"))
    w, h = float(tgt.get("width")), float(tgt.get("height"))
    ex, ey = points(back.get("d"))[-1]
    assert x <= ex <= x + w and y <= ey <= y + h


class InSet:
    """Holds a set that holds it: the set's reference has no name."""

    def __init__(self):
        self.s = {self}


def test_an_unnamed_step_of_a_cycle_is_the_arrow(mod):
    # A set's member has no expression: before, the text read
    # "InSet.s -> set-> -> back to ..." and the picture labelled the arrow "->".
    mod.x = InSet()
    e = altgc.explain(mod.x, max_paths=1)
    assert e.cycle == picture.Cycle(("InSet", "set"), (".s", "->"))
    (line,) = [ln for ln in str(e).splitlines() if "reference cycle" in ln]
    assert line.endswith("object(s): InSet.s -> set -> back to " + e.label), line
    svg = e._svg()
    assert "back to " + e.label + "<" in svg or "back to " + e.label + '"' in svg, svg
    assert "-&gt;" not in svg and "->" not in re.sub(r"<[^>]*>", "", svg)


def test_explain_attaches_the_cycle_and_draws_it(mod):
    """explain() of an object in a reference cycle carries the cycle (the
    members and the closing edge) and _svg()/_repr_html_() draw it."""
    c = three_cycle(mod)
    e = altgc.explain(c, max_paths=1)
    assert e.cycle == picture.Cycle(("Linked", "Linked", "Linked"), (".next", ".next", ".next"))
    assert e.as_dict()["cycle"] == {"types": ["Linked"] * 3, "steps": [".next"] * 3}
    assert "in a reference cycle of 3 object(s)" in str(e)
    root = assert_inside(e._svg())
    assert len(boxes(root, "cycle")) == 2
    assert 'class="edge back"' in e._repr_html_()
    # a cycle through the object's class is none the user made
    mod.solo = Node()
    assert altgc.explain(mod.solo).cycle is None


def test_explain_of_an_unreachable_cycle_draws_it(mod):
    gc.disable()
    try:
        a, b = Linked(), Linked()
        a.next, b.prev = b, a
        ref = weakref.ref(a)
        altgc.watch(a, "cyc_a")
        del a, b
        e = altgc.explain("cyc_a")
        assert e.in_unreachable_cycle and e.cycle is not None
        assert e.cycle.steps == (".next", ".prev")
        assert 'class="edge back"' in e._svg()
        assert ref() is not None  # explaining changed nothing
    finally:
        gc.enable()
        altgc.unwatch("cyc_a")
    gc.collect()
    assert ref() is None


def test_long_cycle_wraps_inside_the_viewbox(mod):
    nodes = [Linked() for _ in range(9)]
    for a, b in zip(nodes, nodes[1:] + nodes[:1], strict=True):
        a.next = b
    mod.keep = nodes[0]
    cyc = picture.find_cycle(nodes[4])
    assert cyc is not None and len(cyc.types) == 9
    root = assert_inside(picture.render_svg(altgc.explain(nodes[4], max_paths=1), cyc))
    assert len(boxes(root, "cycle")) == 8


def test_no_cycle_no_cycle_drawn(mod):
    mod.x = [Node()]
    assert picture.find_cycle(mod.x[0]) is None
    assert 'class="box cycle"' not in altgc.explain(mod.x[0])._svg()


# ---------------------------------------------------------------------------
# text, IPython, sanitized HTML
# ---------------------------------------------------------------------------


class Printer:
    def __init__(self):
        self.out = []

    def text(self, s):
        self.out.append(s)


def test_repr_pretty_is_the_text(mod):
    mod.x = [1]
    e = altgc.explain(mod.x)
    p = Printer()
    e._repr_pretty_(p, False)
    assert "".join(p.out) == str(e)
    try:
        from IPython.lib.pretty import pretty
    except ImportError:
        return
    assert pretty(e) == str(e)


def test_sizes_in_binary_units():
    assert fmt_bytes(1023) == "1023 bytes"
    assert fmt_bytes(812 * 2**20) == "812.0 MiB"
    assert fmt_bytes(3 * 2**30) == "3.0 GiB"
    assert "812.0 MiB retained" in str(by_hand(out_path()))
    assert " MB" not in by_hand(out_path())._repr_html_()


def test_html_leads_with_the_text(mod):
    mod.x = [1]
    e = altgc.explain(mod.x)
    page = e._repr_html_()
    pre = re.search(r"<pre[^>]*>(.*?)</pre>", page, re.S)
    assert pre and pre.group(1) == str(e).replace("&", "&amp;").replace("<", "&lt;").replace(
        ">", "&gt;"
    ).replace('"', "&quot;").replace("'", "&#x27;")
    assert page.index("<pre") < page.index("<svg")


def test_sanitized_html_stays_readable(mod):
    """nbconvert's ``--sanitize-html`` (its ``clean_html`` filter) keeps the
    text version as a ``<pre>`` ahead of whatever it escapes."""
    mod.x = [1]
    e = altgc.explain(mod.x)
    try:
        from nbconvert.filters.strings import clean_html
    except ImportError:
        pytest.skip("nbconvert is not installed")
    clean = str(clean_html(e._repr_html_()))
    pre = re.search(r"<pre[^>]*>(.*?)</pre>", clean, re.S)
    assert pre, clean[:300]
    first = str(e).splitlines()[0]
    assert first.replace("<", "&lt;").replace(">", "&gt;") in pre.group(1)
    assert clean.index("<pre") < clean.find("&lt;svg")


# ---------------------------------------------------------------------------
# in a browser: 400 px, max-width:100%, light and dark pages
# ---------------------------------------------------------------------------

_CHECK = """
<script>
(function () {
  var box = document.getElementById('box').getBoundingClientRect();
  var svg = document.querySelector('#box svg');
  var s = svg.getBoundingClientRect();
  var bad = [];
  svg.querySelectorAll('rect, text, path').forEach(function (el) {
    if (el.closest('marker')) return;
    var r = el.getBoundingClientRect();
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
        r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5)
      bad.push(el.tagName + ':' + (el.textContent || '').slice(0, 20) + '@' +
               Math.round(r.left) + ',' + Math.round(r.right));
  });
  var color = getComputedStyle(svg.querySelector('text')).fill;
  document.body.setAttribute('data-svg-width', String(Math.round(s.width)));
  document.body.setAttribute('data-outside', String(bad.length));
  document.body.setAttribute('data-bad', bad.join(' | '));
  document.body.setAttribute('data-text-fill', color);
})();
</script>
"""

THEMES = {"light": ("#ffffff", "#1f1f1f"), "dark": ("#111111", "#e6e6e6")}


def _page(svg, theme):
    bg, fg = THEMES[theme]
    return (
        f'<!DOCTYPE html><html><body style="margin:0;background:{bg};color:{fg}">'
        '<div id="box" style="width:400px;overflow:hidden">'
        "<style>#box svg { max-width: 100%; }</style>"
        f"{svg}</div>{_CHECK}</body></html>"
    )


def _chromium(args, page, tmp):
    """Chromium's output (the DOM when dumped) for the page and flags."""
    return run_chromium(page, *args).stdout


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_picture_fits_a_narrow_page(mod, tmp_path, theme):
    c = three_cycle(mod)
    e = by_hand(long_path(15), long_root_path(), out_path())
    svg = picture.render_svg(e, picture.find_cycle(c))
    page = _page(svg, theme)
    with tempfile.TemporaryDirectory() as tmp:
        dom = _chromium(["--virtual-time-budget=2000", "--dump-dom"], page, tmp)
        shot = tmp_path / f"explain-{theme}.png"
        height = int(float(parse(svg).get("height")) * 400 / float(parse(svg).get("width"))) + 40
        _chromium([f"--window-size=400,{height}", f"--screenshot={shot}"], page, tmp)
    assert re.search(r'data-outside="0"', dom), re.search(r'data-bad="[^"]*"', dom)
    width = int(re.search(r'data-svg-width="(\d+)"', dom).group(1))
    assert width <= 400
    # the text takes the page's colour
    fg = THEMES[theme][1].lstrip("#")
    rgb = tuple(int(fg[i : i + 2], 16) for i in (0, 2, 4))
    assert f'data-text-fill="rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"' in dom
    # the screenshot shows text in the page's colour on its background
    mpimg = pytest.importorskip("matplotlib.image")
    img = mpimg.imread(str(shot))[:, :, :3]
    lum = img.mean(axis=2)
    if theme == "dark":
        assert (lum > 0.7).sum() > 500  # light strokes and text on black
    else:
        assert (lum < 0.3).sum() > 500


_NOTICE_CHECK = """
<script>
(function () {
  var n = document.querySelector('.altgc-notice');
  var r = n.getBoundingClientRect();
  document.body.setAttribute('data-notice-color', getComputedStyle(n).color);
  document.body.setAttribute('data-notice-height', String(Math.round(r.height)));
  document.body.setAttribute('data-notice-right', String(Math.round(n.scrollWidth - r.width)));
})();
</script>
"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_notice_reads_in_both_themes(tmp_path, theme):
    """The post-cell notice: one line in the page's text colour, set apart
    by a tinted band (not the user's own output)."""
    from altgc._explain.notice import Notice, what

    n = Notice(
        what("df", "DataFrame", 132 * 2**20),
        ("Out[4]", "_", "__"),
        "%altgc release df",
        "del Out[4]\ndel get_ipython().user_ns_hidden['_']",
    )
    assert str(n) == (
        "altgc: df (DataFrame, 132.0 MiB) still alive: Out[4], _, __ \u2192 %altgc release df"
    )
    assert "`Out[4]`" in n._repr_markdown_()
    bg, fg = THEMES[theme]
    page = (
        f'<!DOCTYPE html><html><body style="margin:0;background:{bg};color:{fg}">'
        f'<div style="width:700px">{n._repr_html_()}</div>{_NOTICE_CHECK}</body></html>'
    )
    with tempfile.TemporaryDirectory() as tmp:
        dom = _chromium(["--virtual-time-budget=2000", "--dump-dom"], page, tmp)
        shot = tmp_path / f"notice-{theme}.png"
        _chromium(["--window-size=700,60", f"--screenshot={shot}"], page, tmp)
    rgb = tuple(int(fg.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    assert f'data-notice-color="rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"' in dom
    assert int(re.search(r'data-notice-height="(\d+)"', dom).group(1)) < 40  # one line
    mpimg = pytest.importorskip("matplotlib.image")
    lum = mpimg.imread(str(shot))[:, :, :3].mean(axis=2)
    if theme == "dark":
        assert (lum > 0.7).sum() > 200
    else:
        assert (lum < 0.3).sum() > 200


def test_explaining_a_cycle_of_instances_makes_no_instance_dict(mod):
    """Naming the cycle's steps never reads an inline-attribute instance's
    __dict__ (that would create it, changing the heap explain() describes);
    a step whose name no code of the class mentions is named as an
    attribute, one it mentions by that name."""
    a, b = Node(), Node()
    setattr(a, "x" + "1", b)  # names no code uses
    setattr(b, "y" + "1", a)
    mod.keep = [a]
    del a, b
    e = altgc.explain(mod.keep[0])
    assert e.cycle is not None and e.cycle.types == ("Node", "Node")
    assert e.cycle.steps == (".<attribute>", ".<attribute>")
    for o in (mod.keep[0], getattr(mod.keep[0], "x" + "1")):
        assert not [r for r in gc.get_referents(o) if type(r) is dict], "a __dict__ was made"
    c, d = Linked(), Linked()
    c.next, d.prev = d, c
    mod.keep = [c]
    del c, d
    e = altgc.explain(mod.keep[0])
    assert e.cycle is not None and e.cycle.steps == (".next", ".prev")
    for o in (mod.keep[0], mod.keep[0].next):
        assert not [r for r in gc.get_referents(o) if type(r) is dict], "a __dict__ was made"


def test_a_path_through_an_inline_attribute_makes_no_instance_dict(mod):
    """A holder's path that steps through an instance whose attributes live
    inline names the step without making that instance's __dict__: by the
    name code mentions, else as an attribute with no spelling (the release
    then deletes what holds the instance)."""
    a, b = Node(), Node()
    setattr(a, "x" + "1", b)  # names no code uses
    setattr(b, "y" + "1", a)
    held = b  # a local of this function: the path held -> b -> a
    mod.keep = [a]
    del a, b
    e = altgc.explain(mod.keep[0])
    exprs = [p.expr for p in e.paths]
    assert "held -> Node .<attribute>" in exprs, str(e)
    assert "del held" in str(e)
    for o in (held, mod.keep[0]):
        assert not [r for r in gc.get_referents(o) if type(r) is dict], "a __dict__ was made"
    c, d = Linked(), Linked()
    c.next, d.prev = d, c
    held = d
    mod.keep = [c]
    del c, d
    e = altgc.explain(mod.keep[0])
    assert "held.prev" in [p.expr for p in e.paths], str(e)
    for o in (held, mod.keep[0]):
        assert not [r for r in gc.get_referents(o) if type(r) is dict], "a __dict__ was made"


def test_a_long_chain_of_inline_attributes_is_named_once_per_class(mod, monkeypatch):
    """Every step of a 3000-instance chain reads `.next`, no instance gets a
    __dict__, and the class's candidate names are gathered once for the
    whole path (not once a step: a path may be 10**6 steps long)."""
    from altgc._explain import paths

    gathered = []
    real = paths._candidate_names

    def counting(t):
        gathered.append(t)
        return real(t)

    monkeypatch.setattr(paths, "_candidate_names", counting)
    mod.head = n = Node()
    for _ in range(3000):
        n.next = Node()  # no code of Node's mentions next; this one does
        n = n.next
    altgc.watch(n, "chain-tail")
    del n
    e = altgc.explain("chain-tail")
    assert e.paths[0].steps == (".head",) + (".next",) * 3000
    assert gathered.count(Node) == 1
    node = mod.head
    while node is not None:
        assert not [r for r in gc.get_referents(node) if type(r) is dict], "a __dict__ was made"
        node = getattr(node, "next", None)
