"""Build script for altgc's C extensions.

Metadata lives in pyproject.toml; this file only describes the extensions.
Set ALTGC_DEBUG=1 in the environment to build with assertions on and the
registry validated after every collection (used by CI's debug run).
Set ALTGC_SANITIZE=address,undefined to build with sanitizers (clang).
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

# ALTGC_INSTALL=1: the start-up hook (see _altgc_autoinstall.py).  site runs
# the line at every start-up; "zz" sorts it after the other .pth files, so
# paths they add are in place when altgc installs.
PTH_NAME = "zz_altgc_autoinstall.pth"
PTH_LINE = (
    "import os; os.environ.get('ALTGC_INSTALL', '') not in ('', '0') "
    "and __import__('_altgc_autoinstall').start()\n"
)


class build_py_with_pth(build_py):
    """build_py that also writes the .pth hook at the root of the build
    (so at the root of the wheel, so in site-packages).  Editable installs
    do not get it (they install no build directory)."""

    def run(self):
        super().run()
        path = os.path.join(self.build_lib, PTH_NAME)
        if not self.dry_run:
            os.makedirs(self.build_lib, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(PTH_LINE)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH_NAME)]


# The layers, bottom first (tools/check_layers.py checks the includes).
SOURCES = [
    "src/pages.c",
    "src/kinds.c",
    "src/frames.c",
    "src/gclists.c",
    "src/registry.c",
    "src/graph.c",
    "src/watch.c",
    "src/events.c",
    "src/hooks.c",
    "src/heapindex.c",
    "src/collector.c",
    "src/install.c",
    "src/trace.c",
    "src/module.c",
]

HEADERS = [
    "src/compat.h",
    "src/pages.h",
    "src/kinds.h",
    "src/frames.h",
    "src/gclists.h",
    "src/registry.h",
    "src/graph.h",
    "src/watch.h",
    "src/events.h",
    "src/hooks.h",
    "src/heapindex.h",
    "src/lookup.h",
    "src/collector.h",
    "src/install.h",
]

# -fvisibility=hidden: only PyInit_* (PyMODINIT_FUNC) is exported, so the
# death hooks reach the collector's globals directly rather than through
# the global offset table.
compile_args = [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
    "-fno-strict-aliasing",
    "-fvisibility=hidden",
]
link_args = []
macros = []

if os.environ.get("ALTGC_DEBUG"):
    macros.append(("ALTGC_DEBUG", "1"))
    compile_args += ["-UNDEBUG", "-O1", "-g"]
else:
    compile_args += ["-O2"]

sanitize = os.environ.get("ALTGC_SANITIZE")
if sanitize:
    compile_args += ["-fsanitize=" + sanitize, "-fno-omit-frame-pointer", "-g"]
    link_args += ["-fsanitize=" + sanitize]

if os.name == "nt":  # MSVC does not take GCC flags
    compile_args, link_args = [], []

setup(
    cmdclass={"build_py": build_py_with_pth},
    ext_modules=[
        Extension(
            "altgc._core",
            sources=SOURCES,
            depends=HEADERS,
            define_macros=macros,
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        ),
        Extension(
            "altgc._testobjs",
            sources=["src/testobjs.c"],
            define_macros=macros,
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        ),
    ],
)
