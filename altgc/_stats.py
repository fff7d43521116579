"""The records altgc's statistics functions return.

:class:`Stats` and :class:`GenerationStats` (:func:`altgc.stats`),
:class:`CollectionInfo` (:func:`altgc.last_collection`) and
:class:`InstallInfo` (:func:`altgc.install_info`): frozen dataclasses over
the plain dicts of the C core.  They live apart from the collector's API so
that ``import altgc`` does not load :mod:`dataclasses` (and through it
:mod:`inspect`, :mod:`ast`, :mod:`dis`): the package loads this module on
first use.

    >>> from altgc._stats import GenerationStats
    >>> GenerationStats(1, 2, 0, 300, 100, 200, 5).collected
    2
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._util import fmt_ns as _fmt_ns


@dataclasses.dataclass(frozen=True)
class GenerationStats:
    """Counters of one generation (see :func:`stats`)."""

    collections: int
    collected: int
    uncollectable: int
    total_pause_ns: int
    last_pause_ns: int
    max_pause_ns: int
    size: int


@dataclasses.dataclass(frozen=True)
class Stats:
    """What :func:`stats` returns: per-generation counters and pause times,
    and the size and memory of the registry."""

    generations: list[GenerationStats]
    permanent_size: int
    registry_size: int
    registry_bytes: int
    table_slots: int
    entry_capacity: int

    @property
    def bytes_per_object(self) -> float:
        """Registry bytes per registered object (0.0 when empty)."""
        if not self.registry_size:
            return 0.0
        return self.registry_bytes / self.registry_size

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["bytes_per_object"] = self.bytes_per_object
        return d

    def __str__(self) -> str:
        lines = ["gen  size       collections  collected  uncollectable  total pause  max pause"]
        for i, g in enumerate(self.generations):
            lines.append(
                f"{i:<4} {g.size:<10} {g.collections:<12} {g.collected:<10} "
                f"{g.uncollectable:<14} {_fmt_ns(g.total_pause_ns):<12} "
                f"{_fmt_ns(g.max_pause_ns)}"
            )
        lines.append(
            f"permanent: {self.permanent_size}; registry: "
            f"{self.registry_size} objects, {self.registry_bytes} "
            f"bytes ({self.bytes_per_object:.1f} per object)"
        )
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class CollectionInfo:
    """What one collection examined, found and freed, and how long each
    phase took (see :func:`last_collection`).

    ``cycles`` lists the strongly connected groups of the garbage as
    ``(type name, id)`` pairs, recorded before anything was freed (at most
    1000 groups, and only when at most 10000 objects were unreachable;
    ``cycles_truncated`` says when the list is partial).
    """

    generation: int
    examined: int
    unreachable: int
    collected: int
    uncollectable: int
    resurrected: int
    cycles: list[list[tuple[str, int]]]
    cycles_truncated: bool
    phases_ns: dict[str, int]
    total_ns: int
    automatic: bool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        kind = "automatic" if self.automatic else "explicit"
        phases = ", ".join(f"{k} {_fmt_ns(v)}" for k, v in self.phases_ns.items())
        lines = [
            f"{kind} collection of generation {self.generation}: examined "
            f"{self.examined}, unreachable {self.unreachable}, collected "
            f"{self.collected}, uncollectable {self.uncollectable}, "
            f"resurrected {self.resurrected} in {_fmt_ns(self.total_ns)}",
            f"  phases: {phases}",
        ]
        for group in self.cycles[:10]:
            names = ", ".join(f"{t}@{i:#x}" for t, i in group[:6])
            more = f" (+{len(group) - 6} more)" if len(group) > 6 else ""
            lines.append(f"  cycle of {len(group)}: {names}{more}")
        if len(self.cycles) > 10 or self.cycles_truncated:
            lines.append("  ...")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class InstallInfo:
    """What install mode has done since the process started.

    ``adopted`` objects in ``adoptions`` adoption passes taking
    ``adopt_ns``; ``polls`` checks of the builtin gc's count taking
    ``poll_ns`` (adoptions and collections not included).
    """

    installed: bool
    adopted: int
    adoptions: int
    polls: int
    adopt_ns: int
    poll_ns: int
