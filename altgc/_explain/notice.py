"""Notices: the one line ``%load_ext altgc`` shows after a cell when
something it watches is still alive (``df (132.0 MiB) still alive: Out[4],
_, __ → %altgc release df``), as rich display output -- HTML in Jupyter,
set apart from the user's own output, and plain text elsewhere."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Sequence
from typing import Any

from .explanation import RefPath, fmt_bytes


def holder_name(p: RefPath) -> str:
    """The root of ``p`` as the user knows it, shortly: ``Out[4]``, ``_``,
    ``keep['df']``, ``pyplot figure 2``, ``sys.last_value``."""
    from .picture import chain_of, root_name

    if p.root == "name" and re.fullmatch(r"[\w.\[\]'\"]+", p.expr):
        return p.expr
    # IPython's copies of the output-cache names: the user knows them as _, __
    m = re.match(r"get_ipython\(\)\.(?:user_ns_hidden\['(_+)'\]|displayhook\.(_+))$", p.expr)
    if m:
        return m.group(1) or m.group(2)
    _chain, labels = chain_of(p)
    name = root_name(p, labels[0] if labels else None)[0]
    m = re.fullmatch(r"(\w+) \(IPython's last output\)", name)
    if m:
        return m.group(1)
    m = re.fullmatch(r"Out\[\d+\] \(as (_\d+)\)", name)
    return m.group(1) if m else name


@dataclasses.dataclass(frozen=True)
class Notice:
    """A post-cell notice: ``what`` is still alive, ``held`` by these
    roots, released by ``command`` (the magic) which runs ``code``."""

    what: str
    held: Sequence[str] = ()
    command: str = ""
    code: str = ""
    #: the cause in words, when no holder is named
    why: str = ""

    def line(self) -> str:
        where = ", ".join(self.held) if self.held else self.why
        fix = f" \u2192 {self.command}" if self.command else ""
        if not self.command and self.code:
            fix = " \u2192 " + self.code.replace("\n", "; ")
        return f"altgc: {self.what} still alive: {where}{fix}"

    def __repr__(self) -> str:
        return self.line()

    def __str__(self) -> str:
        return self.line()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.line())

    def _repr_markdown_(self) -> str:
        where = ", ".join(_md_code(h) for h in self.held) if self.held else _md_text(self.why)
        fix = ""
        if self.command or self.code:
            fix = " \u2192 " + _md_code(self.command or self.code.replace("\n", "; "))
        return f"**altgc**: {_md_text(self.what)} still alive: {where}{fix}"

    def _repr_html_(self) -> str:
        where = (
            ", ".join(f"<code>{html.escape(h)}</code>" for h in self.held)
            if self.held
            else html.escape(self.why)
        )
        fix = ""
        if self.command or self.code:
            # the code the magic runs, on hover: the notice stays one line
            tip = f' title="runs: {html.escape(self.code)}"' if self.command and self.code else ""
            fix = f" \u2192 <code{tip}>{html.escape(self.command or self.code)}</code>"
        return (
            '<div class="altgc-notice" role="status" style="border-left:3px solid #f59e0b;'
            "padding:2px 8px;margin:2px 0;background:rgba(245,158,11,0.12);"
            "font-family:var(--jp-ui-font-family,sans-serif);color:inherit;"
            # a long key or label wraps inside the notice, never past the page
            'overflow-wrap:anywhere">'
            f"<b>altgc</b>: {html.escape(self.what)} still alive: {where}{fix}</div>"
        )


#: what Markdown reads as markup or raw HTML in running text
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>&#!|~+-])")


def _md_text(s: str) -> str:
    """``s`` as literal Markdown text: its punctuation escaped (a label
    such as ``<img src=x onerror=...>`` or ``*df*`` shows as typed), on
    one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(s.splitlines()))


def _md_code(s: str) -> str:
    """``s`` as a Markdown code span: fenced by more backticks than it
    holds in a row, on one line."""
    s = " ".join(s.splitlines())
    fence = "`" * (max((len(r) for r in re.findall("`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def what(label: str, type_name: str, nbytes: int | None) -> str:
    """``df (DataFrame, 132.0 MiB)``; a label with a line break or another
    unprintable character as its repr (``'a\\nb' (list)``): the notice
    stays one line."""
    size = f", {fmt_bytes(nbytes)}" if nbytes else ""
    if not label.replace("\t", " ").isprintable():
        label = repr(label)
    return f"{label} ({type_name}{size})"
