"""Reading the running stack: its frames, altgc's own among them, and a
frame's local variables without leaving references behind."""

from __future__ import annotations

import _thread
import inspect
import os
import sys
import types
from typing import Any

from .. import _core

#: The altgc package directory: frames of files under it are altgc's own.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def frame_locals(frame: types.FrameType) -> list[tuple[str, Any]]:
    """(name, value) of a frame's bound locals.

    Not ``frame.f_locals``: before 3.13 that caches a dict of the locals in
    the frame -- a new reference to each, outliving a later ``del`` -- so
    the C core reads them (see ``src/frames.c``).
    """
    pairs = _core._frame_locals(frame)
    if pairs is None:  # 3.13+: a proxy, nothing cached
        pairs = list(frame.f_locals.items())
    return pairs


def stack_frames() -> list[types.FrameType]:
    """The frames of the current stack, the caller's first."""
    out = []
    f: types.FrameType | None = sys._getframe(1)
    while f is not None:
        out.append(f)
        f = f.f_back
    return out


def other_thread_frames() -> list[tuple[str, types.FrameType]]:
    """(thread name, frame) of each frame running in another thread, each
    thread's innermost first: their locals hold objects as the current
    stack's do, invisible to the heap."""
    me = _thread.get_ident()
    threading = sys.modules.get("threading")
    names: dict[int, str] = {}
    if threading is not None:
        for t in threading.enumerate():
            if type(t.ident) is int and type(t.name) is str:
                names[t.ident] = t.name
    frames = sys._current_frames()
    # this very frame: kept, it would hold (through its locals) the dict
    # that holds it, a cycle keeping the other threads' frames alive
    frames.pop(me, None)
    out = []
    for tid, top in frames.items():
        name = names.get(tid, f"{tid:#x}")
        f: types.FrameType | None = top
        while f is not None:
            out.append((name, f))
            f = f.f_back
    frames.clear()
    return out


def own_frames() -> list[types.FrameType]:
    """Frames of altgc's own functions on the current stack."""
    return [
        f
        for f in stack_frames()
        if os.path.abspath(f.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep)
    ]


def is_function_frame(frame: types.FrameType) -> bool:
    """Whether ``frame`` runs a function (``CO_OPTIMIZED``: its locals are
    fast locals, not a namespace dict)."""
    return bool(frame.f_code.co_flags & inspect.CO_OPTIMIZED)
