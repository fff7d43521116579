"""What :func:`altgc.explain` answers: the :class:`Explanation` type, its
reference paths (:class:`RefPath`) and causes (:data:`CAUSES`), and how it
renders as text, JSON, Graphviz and HTML with an inline SVG."""

from __future__ import annotations

import dataclasses
import html
import json
from typing import Any

from .index import HeapIndex

#: The causes :func:`explain` names (docs/DESIGN.md, "Why memory survives del"), with their wording.
CAUSES: dict[str, str] = {
    "name": "another name or container holds it",
    "local": "a local variable of a running function holds it",
    "closure": "a closure cell holds it",
    "class_attribute": "a class attribute holds it",
    "output_cache": "IPython's output cache holds it",
    "traceback": "a stored exception traceback holds it (a local of a frame of the failed code)",
    "cycle": "it is only in an unreachable reference cycle that has not been collected yet",
    "garbage": "it sits in the uncollectable garbage list",
    "lru_cache": "an functools.lru_cache holds it",
    "matplotlib": "a matplotlib pyplot figure manager holds it (the figure is still open)",
    "c_extension": "something outside Python's heap (a C extension) holds a reference to it",
    "unknown": "a reference altgc could not name holds it",
    "freed": "it was freed",
    "freed_rss": "it was freed, but the process's memory (RSS) did not drop",
}


@dataclasses.dataclass(frozen=True)
class RefPath:
    """One reference path from a named root to the object."""

    #: the root's kind (a :data:`CAUSES` key before path refinement)
    root: str
    #: the path as an expression: ``Out[4]``, ``cache['df']``, ...
    expr: str
    #: type names of the objects on the path, root first, target last
    types: tuple[str, ...]
    #: the step labels between them (``[4]``, ``.attr``, ``<cell>`` ...)
    steps: tuple[str, ...]
    #: the cause this path shows (a :data:`CAUSES` key)
    cause: str
    #: the command that cuts this path
    release: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found.  Holds no reference to the object."""

    label: str
    type_name: str
    alive: bool
    #: a :data:`CAUSES` key: the main reason the object is (or is not) alive
    cause: str
    #: the cause in words
    cause_text: str
    #: what to type to release it ("" if nothing to do)
    release: str
    paths: tuple[RefPath, ...] = ()
    #: bytes freeing it would release (its dominator subtree), None if freed
    retained_bytes: int | None = None
    retained_objects: int | None = None
    #: True when it is only in unreachable cycles awaiting a collection
    in_unreachable_cycle: bool = False
    #: builtin gc generation (0..2), "frozen", or None (not tracked)
    generation: Any = None
    #: what the collectors will do about it, in words
    collector_status: str = ""
    #: references no visible referrer accounts for (a C extension ...)
    unexplained_refs: int = 0
    #: seconds since it was freed (None while alive)
    freed_seconds_ago: float | None = None
    #: notes: RSS, immortal objects, stale paths ...
    notes: tuple[str, ...] = ()
    index: HeapIndex | None = None

    # -- data -------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["paths"] = [p.as_dict() for p in self.paths]
        d["notes"] = list(self.notes)
        return d

    def to_json(self, **kwargs: Any) -> str:
        """The explanation as JSON (``json.dumps`` keyword arguments)."""
        return json.dumps(self.as_dict(), default=str, **kwargs)

    def to_dot(self) -> str:
        """The paths as a Graphviz digraph (root -> ... -> object)."""
        lines = [
            "digraph altgc_explain {",
            "  rankdir=LR;",
            '  node [shape=box, fontname="monospace"];',
        ]
        target = _dot_id("target")
        lines.append(
            f'  {target} [label="{_dot_esc(self.label)} ({_dot_esc(self.type_name)})", style=bold];'
        )
        for i, p in enumerate(self.paths):
            ids = [_dot_id(f"p{i}n{k}") for k in range(len(p.types) - 1)]
            ids.append(target)
            for k, t in enumerate(p.types[:-1]):
                label = f"{p.root}: {t}" if k == 0 else t
                lines.append(f'  {ids[k]} [label="{_dot_esc(label)}"];')
            for k, step in enumerate(p.steps):
                lines.append(f'  {ids[k]} -> {ids[k + 1]} [label="{_dot_esc(step)}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    # -- text -------------------------------------------------------------

    def __str__(self) -> str:
        size = ""
        if self.retained_bytes is not None:
            size = f", {fmt_bytes(self.retained_bytes)} retained"
        if not self.alive:
            ago = (
                f" {self.freed_seconds_ago:.1f} s ago" if self.freed_seconds_ago is not None else ""
            )
            lines = [f"{self.label} ({self.type_name}) was freed{ago}."]
            lines += [f"  {n}" for n in self.notes]
            if self.release:
                lines.append(f"  release it: {self.release}")
            return "\n".join(lines)
        lines = [f"{self.label} ({self.type_name}{size}) is still alive:"]
        lines.append(f"  {self.cause_text}")
        for p in self.paths:
            lines.append(f"  held by {p.expr}   [{CAUSES[p.cause]}]")
        if self.collector_status:
            lines.append(f"  {self.collector_status}")
        for n in self.notes:
            lines.append(f"  {n}")
        if self.release:
            lines.append(f"  release it: {self.release}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<Explanation {self.label!r}: "
            f"{'alive' if self.alive else 'freed'}, cause={self.cause}>"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        head = esc(str(self).splitlines()[0])
        body = "".join(f"<li>{esc(line.strip())}</li>" for line in str(self).splitlines()[1:])
        return f'<div class="altgc-explanation"><b>{head}</b><ul>{body}</ul>{self._svg()}</div>'

    def _svg(self) -> str:
        """An inline SVG drawing of the paths (one row per path)."""
        if not self.paths:
            return ""
        esc = html.escape
        box_w, box_h, gap, row_h = 150, 26, 40, 50
        width = max(len(p.types) for p in self.paths) * (box_w + gap) + 10
        height = len(self.paths) * row_h + 10
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" font-family="monospace" font-size="11">',
            '<defs><marker id="altgc-arrow" markerWidth="8" '
            'markerHeight="8" refX="8" refY="4" orient="auto">'
            '<path d="M0,0 L8,4 L0,8 z"/></marker></defs>',
        ]
        for r, p in enumerate(self.paths):
            y = 5 + r * row_h
            for k, t in enumerate(p.types):
                x = 5 + k * (box_w + gap)
                last = k == len(p.types) - 1
                fill = "#fde2e2" if last else ("#e2ecfd" if k == 0 else "#f4f4f4")
                text = (p.root + ": " + t) if k == 0 else t
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{box_w}" '
                    f'height="{box_h}" rx="4" fill="{fill}" '
                    f'stroke="#555"/>'
                )
                parts.append(f'<text x="{x + 6}" y="{y + 17}">{esc(text[:22])}</text>')
                if not last:
                    step = p.steps[k] if k < len(p.steps) else ""
                    x1 = x + box_w
                    parts.append(
                        f'<line x1="{x1}" y1="{y + box_h / 2}" '
                        f'x2="{x1 + gap}" y2="{y + box_h / 2}" '
                        f'stroke="#555" '
                        f'marker-end="url(#altgc-arrow)"/>'
                    )
                    parts.append(f'<text x="{x1 + 2}" y="{y + box_h + 12}">{esc(step[:14])}</text>')
        parts.append("</svg>")
        return "".join(parts)


def _dot_id(s: str) -> str:
    return '"' + s + '"'


def _dot_esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def fmt_bytes(n: float) -> str:
    """A size in bytes, in decimal units.

    >>> fmt_bytes(999), fmt_bytes(1500), fmt_bytes(2_500_000_000_000)
    ('999 bytes', '2 KB', '2500 GB')
    """
    if n < 1000:
        return f"{n} bytes"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.0f} {unit}"
    return f"{n / 1000:.0f} GB"
