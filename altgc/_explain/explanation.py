"""What :func:`altgc.explain` answers: the :class:`Explanation` type, its
reference paths (:class:`RefPath`) and causes (:data:`CAUSES`), and how it
renders as text, JSON, Graphviz and HTML with an inline SVG."""

from __future__ import annotations

import dataclasses
import html
import json
import os
from typing import Any

from . import picture
from .index import HeapIndex, _ipython_display
from .roots import ipython_shell

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
    "lru_cache": "a functools.lru_cache holds it",
    "context_variable": "a variable of the current context (a contextvars.ContextVar) holds it",
    "signal_handler": "a signal handler (set by signal.signal()) holds it",
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
    #: the code that frees it, run verbatim (one statement or IPython magic
    #: a line; "" when nothing to do or no code can: see release_note)
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
    #: prose about ``release``: why it is empty (a running function's local,
    #: a C extension), what a statement does beyond freeing
    release_note: str = ""
    #: the shortest reference cycle through the object, when it is in one:
    #: its members' types and the references between them, the last one
    #: closing the cycle (drawn by ``_repr_html_``)
    cycle: picture.Cycle | None = None

    # -- data -------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["paths"] = [p.as_dict() for p in self.paths]
        d["notes"] = list(self.notes)
        if self.cycle is not None:
            d["cycle"] = {"types": list(self.cycle.types), "steps": list(self.cycle.steps)}
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
            chain, labels = picture.chain_of(p)
            name, covers = picture.root_name(p, labels[0] if labels else None)
            if covers:
                chain, labels = chain[1:], ["", *labels[1:]]
            else:
                labels = ["", *labels]
            ids = [_dot_id(f"p{i}r")]
            lines.append(f'  {ids[0]} [label="{_dot_esc(name)}", style=rounded];')
            for ti in chain:
                if ti == len(p.types) - 1:
                    ids.append(target)
                else:
                    ids.append(_dot_id(f"p{i}n{ti}"))
                    lines.append(f'  {ids[-1]} [label="{_dot_esc(p.types[ti])}"];')
            for k, step in enumerate(labels[: len(ids) - 1]):
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
            if self.release_note:
                lines.append(f"  {self.release_note}")
            return "\n".join(lines)
        lines = [f"{self.label} ({self.type_name}{size}) is still alive:"]
        lines.append(f"  {self.cause_text}")
        for p in self.paths:
            # the headline says the cause: a path names its own only when it differs
            own = "" if p.cause == self.cause else f"   [{CAUSES[p.cause]}]"
            lines.append(f"  held by {p.expr}{own}")
        if self.cycle is not None:
            ring = " -> ".join(
                # an unnamed reference ("->", e.g. a set's member) is the arrow
                f"{t}{'' if s == '->' else s}"
                for t, s in zip(self.cycle.types, self.cycle.steps, strict=False)
            )
            lines.append(
                f"  in a reference cycle of {len(self.cycle.types)} object(s): "
                f"{ring} -> back to {self.label}"
            )
        if self.collector_status:
            lines.append(f"  {self.collector_status}")
        for n in self.notes:
            lines.append(f"  {n}")
        if self.release:
            lines.append("  release it: " + self.release.replace("\n", "\n              "))
        if self.release_note:
            lines.append(f"  {self.release_note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<Explanation {self.label!r}: "
            f"{'alive' if self.alive else 'freed'}, cause={self.cause}>"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """Terminal IPython prints the same text as ``str()``."""
        p.text(str(self))

    def _repr_html_(self) -> str:
        """The text (a ``<pre>`` that survives any HTML sanitizer) and the
        picture of the paths (an inline SVG, see :meth:`_svg`)."""
        return (
            '<div class="altgc-explanation">'
            f'<pre class="altgc-text" style="{_PRE}">'
            f"{html.escape(str(self))}</pre>{self._svg()}</div>"
        )

    def _svg(self) -> str:
        """An inline SVG drawing of the paths (and of the reference cycle
        the object is in, when known): scales to its container, takes the
        page's text colour (see :mod:`altgc._explain.picture`)."""
        return picture.render_svg(self)

    def _ipython_display_(self) -> None:
        """How IPython shows an explanation: in a notebook kernel, two
        outputs, so that whatever renders the notebook shows something
        readable and never raw markup.

        1. The text, as ``text/plain`` and as a ``<pre>`` (HTML sanitizers
           such as nbconvert's ``--sanitize-html`` keep both), followed by
           an empty slot for the picture.
        2. The picture: ``text/html`` with the inline SVG (JupyterLab and
           Notebook 7 prefer it, and theme it), and an
           ``application/javascript`` twin that puts the same SVG into
           the slot of output 1 (nbconvert's HTML and VS Code prefer
           JavaScript to HTML). A sanitizer drops the script, and with it
           the picture; nothing of it shows as escaped text.

        Outside a kernel (terminal IPython) the text only.
        """
        publish_display_data = _ipython_display().publish_display_data
        text = str(self)
        svg = self._svg()
        if not svg or getattr(ipython_shell(), "kernel", None) is None:
            publish_display_data({"text/plain": text})
            return
        slot = "altgc-picture-" + os.urandom(8).hex()
        publish_display_data(
            {
                "text/plain": text,
                "text/html": (
                    '<div class="altgc-explanation">'
                    f'<pre class="altgc-text" style="{_PRE}">'
                    f'{html.escape(text)}</pre><div class="altgc-picture" id="{slot}"></div>'
                    "</div>"
                ),
            }
        )
        publish_display_data(
            {"text/plain": "", "text/html": svg, "application/javascript": _fill_slot(slot, svg)}
        )


#: the text's style: monospace, wrapped at spaces and only then inside a
#: word (JupyterLab breaks a <pre> at any letter: "1.9 Mi|B"), a long key
#: rather than widening the output past the page; in the page's colours
_PRE = (
    "white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;font-family:monospace;"
    "color:inherit"
)


def _js_string(s: str) -> str:
    """``s`` as a JavaScript string literal that is safe inside an HTML
    ``<script>`` (no ``<``, ``>`` or ``&`` left to end or open a tag)."""
    return json.dumps(s).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fill_slot(slot: str, markup: str) -> str:
    """JavaScript that puts ``markup`` into the element ``slot`` (an id),
    or else into the element the script runs in (nbconvert's ``element``,
    or the script's parent)."""
    return (
        "(function () {\n"
        f"  var host = document.getElementById({_js_string(slot)});\n"
        "  if (!host && typeof element !== 'undefined') { host = element[0] || element; }\n"
        "  if (!host && document.currentScript) { host = document.currentScript.parentElement; }\n"
        f"  if (host) {{ host.innerHTML = {_js_string(markup)}; }}\n"
        "})();\n"
    )


def _dot_id(s: str) -> str:
    return '"' + s + '"'


def _dot_esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def fmt_bytes(n: float) -> str:
    """A size in bytes, in binary units (KiB, MiB, GiB).

    >>> fmt_bytes(999), fmt_bytes(1536), fmt_bytes(5 * 2**20), fmt_bytes(2_500_000_000_000)
    ('999 bytes', '1.5 KiB', '5.0 MiB', '2328.3 GiB')
    """
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} GiB"
