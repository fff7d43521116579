#!/usr/bin/env python3
"""Check that altgc's C sources include only downwards.

    python3 tools/check_layers.py [SRC_DIR]     check src/ (default: ../src)
    python3 tools/check_layers.py --selftest    plant violations in copies

Reads the ``#include "..."`` lines of every ``*.c`` and ``*.h`` in the
source directory and checks them against LAYERS below: a file may include
the headers of its own layer and of the layers below it, never one above
(an *upward* include), and the includes must not form a *cycle*.  Every
source file must be named in the table (or in OUTSIDE).  Exits 1 with one
line per violation, 0 with a one-line summary.  No dependencies beyond the
standard library.  docs/DESIGN.md, "The layers", says what each layer is.
"""

import os
import re
import shutil
import sys
import tempfile

# The map of src/, bottom first: layer name, its headers, its .c files.  A
# layer may include itself and the layers listed before it.  Every file of
# src/ must be named here or in OUTSIDE, so the map stays true.
LAYERS = [
    # what differs between CPython versions; the build's macros; the clock
    ("compat", ["compat.h"], []),
    # memory for the registry's large arrays (mapped pages)
    ("pages", ["pages.h"], ["pages.c"]),
    # free-list kinds of types, their tp_dealloc switches, the demand
    ("kinds", ["kinds.h"], ["kinds.c"]),
    # reading frames: explain's locals, 3.14+'s borrowed stack references
    ("frames", ["frames.h"], ["frames.c"]),
    # reading the builtin gc's generation lists (install mode's adoption)
    ("gclists", ["gclists.h"], ["gclists.c"]),
    # the registry of borrowed pointers; knows nobody above it
    ("registry", ["registry.h"], ["registry.c"]),
    # SCCs, referrers, referents over the registry
    ("graph", ["graph.h"], ["graph.c"]),
    # watched objects (altgc.watch)
    ("watch", ["watch.h"], ["watch.c"]),
    # the receiver of the death hooks' events
    ("events", ["events.h"], ["events.c"]),
    # the death hooks: allocator wrapper, tp_dealloc interposition
    ("hooks", ["hooks.h"], ["hooks.c"]),
    # explain's index of the heap graph
    ("heapindex", ["heapindex.h"], ["heapindex.c"]),
    # the collector's scratch state and referent lookup (collector.c only)
    ("lookup", ["lookup.h"], []),
    # the collection algorithm, choice of generation, scheduling
    ("collector", ["collector.h"], ["collector.c"]),
    # install mode
    ("install", ["install.h"], ["install.c"]),
    # a collection told step by step (altgc.trace)
    ("trace", ["trace.h"], ["trace.c"]),
    # the Python-facing facade, altgc._core
    ("module", [], ["module.c"]),
]

# Files outside the layering: they must include no header of altgc's.
OUTSIDE = ["testobjs.c"]  # the test-only extension altgc._testobjs

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_includes(src):
    """{file name: [included names]} of src's *.c and *.h files."""
    result = {}
    for name in sorted(os.listdir(src)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(src, name), encoding="utf-8") as f:
                result[name] = INCLUDE.findall(f.read())
    return result


def find_cycle(graph):
    """A list of files forming an include cycle, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(graph, WHITE)
    for root in sorted(graph):
        if color[root] != WHITE:
            continue
        stack = [(root, iter(graph[root]))]
        path = [root]
        color[root] = GREY
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in graph:
                    continue
                if color[child] == GREY:
                    return [*path[path.index(child) :], child]
                if color[child] == WHITE:
                    color[child] = GREY
                    stack.append((child, iter(graph[child])))
                    path.append(child)
                    break
            else:
                color[node] = BLACK
                stack.pop()
                path.pop()
    return None


def check(src, layers=LAYERS, outside=OUTSIDE):
    """Returns (errors, summary)."""
    level = {}
    for i, (layer, headers, sources) in enumerate(layers):
        for name in headers + sources:
            level[name] = (i, layer)
    includes = read_includes(src)
    errors = []
    count = 0
    for name, incs in includes.items():
        incs = [i for i in incs if i in includes]  # altgc's own only
        if name in outside:
            for inc in incs:
                errors.append("%s: outside the layering, but includes %s" % (name, inc))
            continue
        if name not in level:
            errors.append("%s: not in check_layers.py's LAYERS table" % name)
            continue
        mine, my_layer = level[name]
        for inc in incs:
            count += 1
            if inc not in level:
                continue  # reported for the file itself
            theirs, their_layer = level[inc]
            if theirs > mine:
                errors.append(
                    "%s: upward include of %s (layer %s includes layer %s, "
                    "which is above it)" % (name, inc, my_layer, their_layer)
                )
    for layer, headers, sources in layers:
        for name in headers + sources:
            if name not in includes:
                errors.append(
                    "%s: in the LAYERS table (layer %s) but not in %s" % (name, layer, src)
                )
    cycle = find_cycle({n: [i for i in incs if i in includes] for n, incs in includes.items()})
    if cycle:
        errors.append("include cycle: " + " -> ".join(cycle))
    summary = "check_layers: %d files in %d layers, %d includes, all downward, no cycle" % (
        len(includes) - len(outside),
        len(layers),
        count,
    )
    return errors, summary


def run(src):
    errors, summary = check(src)
    if errors:
        for e in errors:
            print("check_layers: " + e, file=sys.stderr)
        return 1
    print(summary)
    return 0


def plant(src, name, line):
    """Adds `line` after the first #include of src/name."""
    path = os.path.join(src, name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = INCLUDE.search(text)
    at = m.end() if m else 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:at] + "\n" + line + "\n" + text[at:])


def merged(layers, a, b):
    """The layers with layer b merged into layer a (b must follow a)."""
    out = []
    for layer, headers, sources in layers:
        if layer == b:
            last = out[-1]
            out[-1] = (last[0] + "+" + b, last[1] + headers, last[2] + sources)
        else:
            out.append((layer, list(headers), list(sources)))
    assert any(layer[0] == a + "+" + b for layer in out)
    return out


def selftest(src):
    """Plants violations in copies of src; each must fail, src must pass."""
    cases = [
        # name, file, line planted, layers, what the error must say
        (
            "upward include",
            "registry.c",
            '#include "collector.h"',
            LAYERS,
            "upward include of collector.h",
        ),
        (
            "upward include (a header)",
            "compat.h",
            '#include "kinds.h"',
            LAYERS,
            "upward include of kinds.h",
        ),
        # Two files of one layer including each other: no include is
        # upward, only the cycle check can see it.
        (
            "two-file cycle",
            "watch.h",
            '#include "events.h"',
            merged(LAYERS, "watch", "events"),
            "include cycle",
        ),
        ("unknown file", None, None, LAYERS, "not in check_layers.py"),
        (
            "outside file including altgc",
            "testobjs.c",
            '#include "compat.h"',
            LAYERS,
            "outside the layering",
        ),
    ]
    failed = 0
    for what, name, line, layers, expect in cases:
        tmp = tempfile.mkdtemp(prefix="check_layers.")
        try:
            copy = os.path.join(tmp, "src")
            shutil.copytree(src, copy)
            if name is None:
                with open(os.path.join(copy, "stray.c"), "w") as f:
                    f.write('#include "compat.h"\n')
            else:
                plant(copy, name, line)
            errors, _ = check(copy, layers)
        finally:
            shutil.rmtree(tmp)
        hits = [e for e in errors if expect in e]
        if hits:
            print("selftest: %-30s caught: %s" % (what, hits[0]))
        else:
            print("selftest: %-30s NOT caught (errors: %r)" % (what, errors), file=sys.stderr)
            failed += 1
    errors, summary = check(src)
    if errors:
        print("selftest: the real tree fails: %r" % errors, file=sys.stderr)
        failed += 1
    else:
        print("selftest: the real tree passes: " + summary)
    if failed:
        print("selftest: %d case(s) failed" % failed, file=sys.stderr)
        return 1
    print("selftest: ok")
    return 0


def main(argv):
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src")
    args = [a for a in argv if a != "--selftest"]
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print(__doc__, file=sys.stderr)
        return 2
    src = os.path.normpath(args[0] if args else default)
    if "--selftest" in argv:
        return selftest(src)
    return run(src)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
