"""The records altgc's statistics functions return, and :func:`fmt_ns`.

:class:`Stats` and :class:`GenerationStats` (:func:`altgc.stats`),
:class:`CollectionInfo` (:func:`altgc.last_collection`) and
:class:`InstallInfo` (:func:`altgc.install_info`): read-only records over
the plain dicts of the C core.  They live apart from the collector's API so
that ``import altgc`` does not load them: the package loads this module on
first use.

This module imports nothing, because those functions are the ones a
collection callback calls, and an automatic collection can run in the
middle of any import.  A record module that imported :mod:`dataclasses` or
:mod:`typing` failed there: a callback calling ``last_collection()`` during
``import typing`` got ``ImportError: cannot import name 'Any' from
partially initialized module 'typing'``.  So the records are not
dataclasses but :class:`_Record`'s subclasses, which behave as frozen
dataclasses do for their users: keyword or positional construction,
``repr``, ``==``, read-only fields, ``copy``/``pickle``,
:func:`copy.replace`, ``match`` patterns, and ``as_dict()`` in place of
:func:`dataclasses.asdict`.

    >>> from altgc._stats import GenerationStats
    >>> g = GenerationStats(1, 2, 0, 300, 100, 200, 5)
    >>> g.collected, g == GenerationStats(**g.as_dict())
    (2, True)
"""

from __future__ import annotations

# Known to type checkers only: importing typing here is what this module
# must not do (see above).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, dataclass_transform
else:

    def dataclass_transform(**kwargs):
        return lambda cls: cls


def fmt_ns(ns: float) -> str:
    """A duration in nanoseconds, in the unit that reads best.

    >>> fmt_ns(999), fmt_ns(1500), fmt_ns(2_500_000), fmt_ns(3_000_000_000)
    ('999 ns', '1.5 us', '2.50 ms', '3.00 s')
    """
    ns = int(ns)
    if ns >= 1_000_000_000:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1_000_000:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1e3:.1f} us"
    return f"{ns} ns"


def _plain(value: Any) -> Any:
    """``value`` with every record in it turned into a dict, and lists,
    tuples and dicts copied (what :func:`dataclasses.asdict` does)."""
    if isinstance(value, _Record):
        return {name: _plain(getattr(value, name)) for name in value._fields}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


@dataclass_transform(frozen_default=True)
class _Record:
    """A read-only record whose fields are its class's annotated names, in
    order.

    >>> class Pair(_Record):
    ...     a: int
    ...     b: list[int]
    >>> p = Pair(1, b=[2])
    >>> p, p.as_dict(), p == Pair(1, [2]), Pair(*p.as_dict().values()) == p
    (Pair(a=1, b=[2]), {'a': 1, 'b': [2]}, True, True)
    >>> p.a = 3
    Traceback (most recent call last):
    ...
    AttributeError: cannot assign to field 'a' of a read-only Pair
    >>> Pair(1)
    Traceback (most recent call last):
    ...
    TypeError: Pair() missing 1 required argument: 'b'
    """

    #: the field names, in order (set for each subclass)
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A class's own annotations, in order (strings, under the
        # __future__ import), on every supported version; not inspect's
        # get_annotations, which this module must not import.
        cls._fields = tuple(cls.__annotations__)
        # (Through type.__setattr__: type checkers make __match_args__ up
        # from the fields themselves and refuse an assignment.)
        type.__setattr__(cls, "__match_args__", cls._fields)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if not args and len(kwargs) == len(fields):
            # The records' own path (the C core's dicts): every field by
            # keyword.  (No __init__ compiled per class, as dataclasses
            # does: compiling it at import cost import altgc 76 KiB.)
            try:
                for f in fields:
                    object.__setattr__(self, f, kwargs[f])
                return
            except KeyError:
                pass
        name = type(self).__name__
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} arguments but {len(args)} were given")
        values = dict(zip(fields, args, strict=False))
        for key, value in kwargs.items():
            if key not in fields:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            if key in values:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            values[key] = value
        missing = [f for f in fields if f not in values]
        if missing:
            s = "" if len(missing) == 1 else "s"
            raise TypeError(
                f"{name}() missing {len(missing)} required argument{s}: "
                + ", ".join(repr(f) for f in missing)
            )
        for f in fields:
            object.__setattr__(self, f, values[f])

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"cannot assign to field {name!r} of a read-only {type(self).__name__}"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a read-only {type(self).__name__}")

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._values())

    def __replace__(self, **changes: Any) -> Any:
        """A copy with ``changes`` (:func:`copy.replace`, Python 3.13+)."""
        values = dict(zip(self._fields, self._values(), strict=True))
        values.update(changes)
        return type(self)(**values)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict, nested records and containers copied."""
        d: dict[str, Any] = _plain(self)
        return d


class GenerationStats(_Record):
    """Counters of one generation (see :func:`stats`)."""

    collections: int
    collected: int
    uncollectable: int
    total_pause_ns: int
    last_pause_ns: int
    max_pause_ns: int
    size: int


class Stats(_Record):
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
        """The fields as a dict, with ``bytes_per_object``."""
        d = super().as_dict()
        d["bytes_per_object"] = self.bytes_per_object
        return d

    def __str__(self) -> str:
        lines = ["gen  size       collections  collected  uncollectable  total pause  max pause"]
        for i, g in enumerate(self.generations):
            lines.append(
                f"{i:<4} {g.size:<10} {g.collections:<12} {g.collected:<10} "
                f"{g.uncollectable:<14} {fmt_ns(g.total_pause_ns):<12} "
                f"{fmt_ns(g.max_pause_ns)}"
            )
        lines.append(
            f"permanent: {self.permanent_size}; registry: "
            f"{self.registry_size} objects, {self.registry_bytes} "
            f"bytes ({self.bytes_per_object:.1f} per object)"
        )
        return "\n".join(lines)


class CollectionInfo(_Record):
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

    def __str__(self) -> str:
        kind = "automatic" if self.automatic else "explicit"
        phases = ", ".join(f"{k} {fmt_ns(v)}" for k, v in self.phases_ns.items())
        lines = [
            f"{kind} collection of generation {self.generation}: examined "
            f"{self.examined}, unreachable {self.unreachable}, collected "
            f"{self.collected}, uncollectable {self.uncollectable}, "
            f"resurrected {self.resurrected} in {fmt_ns(self.total_ns)}",
            f"  phases: {phases}",
        ]
        for group in self.cycles[:10]:
            names = ", ".join(f"{t}@{i:#x}" for t, i in group[:6])
            more = f" (+{len(group) - 6} more)" if len(group) > 6 else ""
            lines.append(f"  cycle of {len(group)}: {names}{more}")
        if len(self.cycles) > 10 or self.cycles_truncated:
            lines.append("  ...")
        return "\n".join(lines)


class InstallInfo(_Record):
    """What install mode has done since the process started.

    ``adopted`` objects in ``adoptions`` adoption passes taking
    ``adopt_ns``; ``polls`` times the builtin gc's own trigger (its
    threshold0, armed for the program's count0) made altgc check count0,
    taking ``poll_ns`` (adoptions and collections not included);
    ``triggers`` the automatic collections those checks started.
    """

    installed: bool
    adopted: int
    adoptions: int
    polls: int
    triggers: int
    adopt_ns: int
    poll_ns: int
