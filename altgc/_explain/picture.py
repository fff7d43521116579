"""The picture of an :class:`~altgc._explain.explanation.Explanation`: its
reference paths (and the reference cycle the object sits in, when there is
one) drawn as an inline SVG that scales to its container and reads on light
and dark backgrounds.

Layout: one block per path, each a chain of boxes laid out in rows that
snake (left to right, then right to left) so a long path wraps instead of
running off the page.  The first box names the root as the user knows it
(``Out[4]``, ``globals: df``, ``pyplot figure 2``), the last is the object.
Text, strokes and arrowheads use ``currentColor``; fills are translucent
tints, so the drawing takes the page's colours.
"""

from __future__ import annotations

import dataclasses
import html
import re
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .explanation import Explanation, RefPath

#: the drawing's natural width in px (it scales down below that)
WIDTH = 3 * 124 + 2 * 76 + 2 * 14
BOX_W = 124
GAP = 76  # horizontal room for an arrow and its label
CHAR_W = 6.8  # width of a character of the 11 px monospace font, generously
LINE_H = 14
PAD = 6
ROW_GAP = 34  # vertical room for a wrapping arrow and its label
MARGIN = 14
BOX_CHARS = int((BOX_W - 2 * PAD) / CHAR_W)  # characters that fit a box line
LINE_CHARS = int((WIDTH - 2 * MARGIN - 4) / (CHAR_W * 10 / 11))  # a 10 px line across
LABEL_CHARS = int((GAP - 6) / (CHAR_W * 10 / 11))  # at the 10 px label font

_FILL = {
    "root": "#3b82f6",
    "object": "#9ca3af",
    "target": "#ef4444",
    "cycle": "#f59e0b",
}


@dataclasses.dataclass(frozen=True)
class Cycle:
    """A reference cycle through the object: ``types[0]`` is the object,
    ``steps[k]`` leads from ``types[k]`` to ``types[k + 1]``, and the last
    step leads from ``types[-1]`` back to the object."""

    types: tuple[str, ...]
    steps: tuple[str, ...]


#: not crossed by find_cycle(): every instance reaches its class and module,
#: a cycle through them is no cycle the user made
_NO_CYCLE = (type, types.ModuleType)


def find_cycle(obj: Any, max_objects: int = 20_000, max_len: int = 12) -> Cycle | None:
    """The shortest reference cycle through ``obj`` (breadth-first over
    ``gc.get_referents``, at most ``max_objects`` objects and ``max_len``
    references, not through classes or modules), or None."""
    import gc

    parent: dict[int, tuple[Any, Any]] = {}  # id -> (object, its parent)
    frontier = [obj]
    seen = 0
    for _depth in range(max_len):
        nxt: list[Any] = []
        for src in frontier:
            for dst in gc.get_referents(src):
                if dst is obj:
                    chain = [src]
                    while chain[-1] is not obj:
                        chain.append(parent[id(chain[-1])][1])
                    chain.reverse()  # obj, ..., src
                    return _cycle_of(chain)
                if (
                    id(dst) in parent
                    or not gc.is_tracked(dst)
                    or issubclass(type(dst), _NO_CYCLE)  # not isinstance: see .paths
                ):
                    continue
                parent[id(dst)] = (dst, src)
                nxt.append(dst)
                seen += 1
                if seen >= max_objects:
                    return None
        frontier = nxt
        if not frontier:
            break
    return None


def _cycle_of(chain: list[Any]) -> Cycle:
    """Name the references of ``chain`` (closed back to ``chain[0]``); an
    instance ``__dict__`` on the way is folded into an attribute step."""
    from .paths import names_remembered

    with names_remembered():
        return _name_cycle(chain)


def _name_cycle(chain: list[Any]) -> Cycle:
    """:func:`_cycle_of`'s work, inside its ``names_remembered()``."""
    from .paths import _step, existing_dict

    ring = [*chain, chain[0]]
    types: list[str] = []
    steps: list[str] = []
    k = 0
    while k < len(ring) - 1:
        a, b = ring[k], ring[k + 1]
        own = existing_dict(a)  # never made here: reading it would create it
        if k + 2 < len(ring) and own is not None and own is b:
            c = ring[k + 2]
            key = next((kk for kk, v in own.items() if v is c), None)
            if type(key) is str:
                types.append(type(a).__name__)
                steps.append("." + key)
                k += 2
                continue
        types.append(type(a).__name__)
        steps.append(_step(a, b)[0])
        k += 1
    return Cycle(tuple(types), tuple(steps))


# -- words ------------------------------------------------------------------


def ellipsize(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters at a word (or punctuation)
    boundary, with an ellipsis when something was cut."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    m = re.search(r"^(.*[\s.\[(,:_/-])", cut)
    if m and len(m.group(1).rstrip()) >= width // 2:
        cut = m.group(1).rstrip()
    return cut + "\u2026"


def wrap(text: str, width: int, lines: int) -> list[str]:
    """``text`` in at most ``lines`` lines of ``width`` characters, broken
    at words (or after ``.``/``_``/``[``/``:``), the last one ellipsized."""
    out: list[str] = []
    rest = text
    while rest and len(out) < lines - 1 and len(rest) > width:
        cut = rest[:width]
        m = re.search(r"^(.*[\s.\[(,:/_])", cut) or re.search(r"^(.*[a-z])(?=[A-Z])", cut)
        head = m.group(1) if m and len(m.group(1)) >= width // 3 else cut
        out.append(head.rstrip())
        rest = rest[len(head) :].lstrip()
    if rest:
        out.append(ellipsize(rest, width))
    return out


def fit_name(name: str, width: int, lines: int) -> list[str]:
    """A dotted name in ``lines`` lines: when it is too long, its leading
    parts (the package) give way to an ellipsis, so the end -- the name
    the user typed -- stays whole."""
    parts = name.split(".")
    while len(name) > width * lines - 2 and len(parts) > 1:
        parts = parts[1:]
        name = "\u2026" + ".".join(parts)
    return wrap(name, width, lines)


def root_name(p: RefPath, first_step: str | None) -> tuple[str, bool]:
    """The root of path ``p`` as the user knows it, and whether that name
    already covers the first reference (``first_step``) out of the root
    object (``Out[4]`` names the reference out of ``Out``; ``sys.last_exc``
    names the root object itself)."""
    expr, kind = p.expr, p.root
    if kind == "local":
        var = re.match(r"[A-Za-z_]\w*", expr)
        fn = re.search(r"\(in ([^()]*)\(\)\)", p.release)
        name = f"local {var.group(0) if var else expr}"
        return (name + (f" in {fn.group(1)}()" if fn else "")), False
    if first_step is None:
        return _root_object_name(p), False
    if kind == "name":
        ident = first_step.lstrip(".")
        if p.cause == "output_cache":
            m = re.fullmatch(r"_(\d+)", ident)
            if m:
                return f"Out[{m.group(1)}] (as {ident})", True
            return f"{ident} (IPython's last output)", True
        if not ident.isidentifier():
            return "a module's globals", False
        if first_step.startswith(".") and first_step in expr:
            return expr[: expr.index(first_step)] + first_step, True
        if first_step == ".Logger" and expr.startswith("logging.getLogger("):
            return "logging.Logger", True  # the path's logger, spelled by its name
        return f"globals: {ident}", True
    if kind == "output_cache" and re.match(r"(Out|_oh)\b", expr):
        return f"{'_oh' if expr.startswith('_oh') else 'Out'}{first_step}", True
    if kind == "matplotlib":
        m = re.fullmatch(r"\[(\d+)\]", first_step)
        if m:
            return f"pyplot figure {m.group(1)}", True
        return "pyplot's open figures", False
    if kind == "garbage":
        base = "altgc.garbage" if expr.startswith("altgc.") else "gc.garbage"
        return base + first_step, True
    return _root_object_name(p), False


#: the root expression of a context variable no module global names
#: (``<ContextVar 'name'>.get()``, as :func:`.roots.context_variables` spells it)
_UNNAMED_CONTEXT_VAR = re.compile(
    r"""<ContextVar ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")>\.get\(\)"""
)


def _context_variable_name(expr: str) -> str:
    """The context variable a ``context_variable`` root's path starts from,
    as the user knows it: ``ContextVar 'name'`` (its ``.name``) or
    ``ContextVar mod.cv`` (the module global binding it)."""
    m = _UNNAMED_CONTEXT_VAR.match(expr)
    if m:
        return f"ContextVar {m.group(1)}"
    spelled, dot_get, _rest = expr.partition(".get()")
    return f"ContextVar {spelled}" if dot_get and spelled else "a context variable"


def _root_object_name(p: RefPath) -> str:
    """The root object of path ``p`` (the first reference out of it is not
    part of the name) as the user knows it."""
    expr = p.expr
    if p.root == "context_variable":
        return _context_variable_name(expr)
    m = re.match(r"signal\.getsignal\((?:signal\.)?(\w+)\)", expr)
    if p.root == "signal_handler" and m:
        return f"signal handler {m.group(1)}"
    m = re.match(r"sys\.last_\w+", expr)
    if m:
        return m.group(0)
    for key, name in (
        (".displayhook", "IPython displayhook"),
        (".last_execution_result", "IPython's last result"),
        (".InteractiveTB", "IPython's stored traceback"),
        (".user_ns_hidden", "IPython's hidden namespace"),
    ):
        if expr.startswith("get_ipython()" + key):
            return name
    if p.root == "garbage":
        return "gc.garbage"
    if p.root == "matplotlib":
        return "pyplot's open figures"
    if p.root == "output_cache":
        return "IPython's output cache"
    head = re.match(r"[\w.]+", expr)
    return head.group(0) if head else p.root


def chain_of(p: RefPath) -> tuple[list[int], list[str]]:
    """The boxes of ``p`` as indices into ``p.types`` and the label of the
    arrow after each: an instance ``__dict__`` whose step the path folded
    into an attribute (``obj.attr``) is not drawn, so every label sits
    under the arrow it belongs to."""
    n = len(p.types)
    deficit = n - 1 - len(p.steps)
    chain, labels = [0], []
    i = j = 0
    while i < n - 1:
        step = p.steps[j] if j < len(p.steps) else ""
        if (
            deficit > 0
            and i + 2 < n
            and p.types[i + 1] == "dict"
            and step.startswith(".")
            and step != ".__dict__"
        ):
            chain.append(i + 2)
            deficit -= 1
            i += 2
        else:
            chain.append(i + 1)
            i += 1
        labels.append(step)
        j += 1
    return chain, labels


# -- drawing ----------------------------------------------------------------


@dataclasses.dataclass
class _Box:
    lines: list[str]
    kind: str  # a _FILL key
    tip: str
    label_after: str = ""  # label of the arrow leaving this box


class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.y: float = MARGIN
        self.width = WIDTH

    def text(self, x: float, y: float, s: str, cls: str = "", size: int = 11) -> None:
        attrs = f' class="{cls}"' if cls else ""
        weight = ' font-weight="bold"' if cls == "name" else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="currentColor"'
            f"{weight}{attrs}>{html.escape(s)}</text>"
        )

    def caption(self, s: str) -> None:
        self.y += 12
        self.text(MARGIN, self.y, ellipsize(s, int((self.width - 2 * MARGIN) / CHAR_W)), "caption")
        self.y += 8

    def chain(self, boxes: Sequence[_Box], close: str | None = None) -> None:
        """Boxes joined by arrows, snaking over rows; ``close`` draws the
        edge from the last box back to the first, labelled so."""
        per_row = max(1, int((self.width - 2 * MARGIN + GAP) // (BOX_W + GAP)))
        box_h = max(len(b.lines) for b in boxes) * LINE_H + 2 * PAD - 2
        row_h = box_h + ROW_GAP
        top = self.y + 4
        pos: list[tuple[float, float]] = []
        for k in range(len(boxes)):
            r, c = divmod(k, per_row)
            if r % 2:
                c = per_row - 1 - c
            pos.append((MARGIN + c * (BOX_W + GAP), top + r * row_h))
        for k, b in enumerate(boxes):
            x, y = pos[k]
            self.parts.append(
                f'<g class="box {b.kind}"><title>{html.escape(b.tip)}</title>'
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{box_h}" '
                f'rx="{10 if b.kind == "root" else 4}" fill="{_FILL[b.kind]}" '
                f'fill-opacity="0.2" stroke="currentColor" stroke-width="1"/>'
            )
            for li, line in enumerate(b.lines):
                cls = "name" if li == 0 or b.kind == "root" else "type"
                self.text(x + PAD, y + PAD + 9 + li * LINE_H, line, cls)
            self.parts.append("</g>")
        for k in range(len(boxes) - 1):
            (x0, y0), (x1, y1) = pos[k], pos[k + 1]
            label = wrap(boxes[k].label_after, LABEL_CHARS, 2)
            if y0 == y1:  # same row: horizontal arrow, label under it
                xa, xb = (x0 + BOX_W, x1) if x1 > x0 else (x0, x1 + BOX_W)
                ym = y0 + box_h / 2
                self._arrow(f"M{xa:.1f},{ym:.1f} H{xb:.1f}", "edge")
                for li, line in enumerate(label):
                    self.text(min(xa, xb) + 4, ym + 13 + li * 11, line, "label", 10)
            else:  # next row: straight down, label beside it
                xm = x0 + BOX_W / 2
                self._arrow(f"M{xm:.1f},{y0 + box_h:.1f} V{y1:.1f}", "edge")
                for li, line in enumerate(label):
                    self.text(xm + 5, y0 + box_h + ROW_GAP / 2 + li * 11, line, "label", 10)
        bottom: float = pos[-1][1] + box_h
        if close is not None and len(boxes) > 1:
            # from the last box down below the rows, then into the first
            # box: from below when it is in the same row, else from the left
            x_last = pos[-1][0] + BOX_W / 2
            yb = max(y for _x, y in pos) + box_h + 14
            x_first, y_first = pos[0]
            if y_first == pos[-1][1]:
                route = f"H{x_first + BOX_W / 2:.1f} V{y_first + box_h:.1f}"
            else:
                route = f"H{MARGIN / 3:.1f} V{y_first + box_h / 2:.1f} H{x_first:.1f}"
            self._arrow(f"M{x_last:.1f},{bottom:.1f} V{yb:.1f} {route}", "edge back")
            self.text(MARGIN + 4, yb + 12, ellipsize(close, LINE_CHARS), "label", 10)
            bottom = yb + 14
        self.y = max(self.y, bottom) + 6

    def _arrow(self, d: str, cls: str) -> None:
        self.parts.append(
            f'<path class="{cls}" d="{d}" fill="none" stroke="currentColor" '
            f'stroke-width="1.2" marker-end="url(#altgc-arrow)"/>'
        )

    def done(self) -> str:
        w, h = self.width, self.y + MARGIN
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="altgc-paths" '
            f'width="{w}" height="{h:.0f}" viewBox="0 0 {w} {h:.0f}" '
            f'preserveAspectRatio="xMinYMin meet" '
            f'style="max-width:100%;height:auto;background:transparent" '
            f'font-family="monospace" font-size="11" role="img" '
            f'aria-label="reference paths">'
            '<defs><marker id="altgc-arrow" viewBox="0 0 8 8" markerWidth="7" '
            'markerHeight="7" refX="8" refY="4" orient="auto" markerUnits="strokeWidth">'
            '<path d="M0,0 L8,4 L0,8 z" fill="currentColor"/></marker></defs>'
            + "".join(self.parts)
            + "</svg>"
        )


def path_boxes(p: RefPath, label: str, type_name: str) -> list[_Box]:
    """The boxes of one path: the root's name, the objects, the object."""
    chain, labels = chain_of(p)
    name, covers = root_name(p, labels[0] if labels else None)
    boxes = [_Box(fit_name(name, BOX_CHARS, 3), "root", f"{name}  ({p.expr})")]
    if covers:
        chain, labels = chain[1:], labels[1:]
    for k, ti in enumerate(chain):
        t = p.types[ti]
        last = ti == len(p.types) - 1
        if last:
            b = _Box(
                [ellipsize(label, BOX_CHARS), ellipsize(type_name, BOX_CHARS)],
                "target",
                f"{label} ({type_name})",
            )
        else:
            b = _Box(wrap(t, BOX_CHARS, 2), "object", t)
        b.label_after = labels[k] if k < len(labels) else ""
        boxes.append(b)
    return boxes


def render_svg(e: Explanation, cycle: Cycle | None = None) -> str:
    """The picture of ``e``: its paths, and ``cycle`` (or ``e.cycle`` when
    the explanation carries one) with the edge that closes it."""
    from .explanation import CAUSES

    if cycle is None:
        cycle = getattr(e, "cycle", None)
    if not e.paths and cycle is None:
        return ""
    svg = _Svg()
    for i, p in enumerate(e.paths):
        svg.caption(f"{i + 1}. held by {p.expr}: {CAUSES.get(p.cause, p.cause)}")
        svg.chain(path_boxes(p, e.label, e.type_name))
    if cycle is not None and cycle.types:
        svg.caption(
            f"{e.label} is in a reference cycle of {len(cycle.types)} objects "
            "(the lower arrow closes it)"
        )
        boxes = [
            _Box(
                [ellipsize(e.label, BOX_CHARS), ellipsize(e.type_name, BOX_CHARS)],
                "target",
                f"{e.label} ({e.type_name})",
            )
        ]
        boxes += [_Box(wrap(t, BOX_CHARS, 2), "cycle", t) for t in cycle.types[1:]]
        steps = ["" if s == "->" else s for s in cycle.steps]  # unnamed: the arrow
        for b, s in zip(boxes, steps, strict=False):
            b.label_after = s
        back = steps[-1] if steps else ""
        svg.chain(boxes, close=f"back to {e.label}" + (f": {back}" if back else ""))
    return svg.done()
