"""``python -m altgc``: the command line a newcomer runs first."""

import re

from support import run_python


def test_demo_runs_and_both_collectors_agree():
    proc = run_python(
        "import sys, runpy; sys.argv = ['altgc', 'demo', '--size', '30'];"
        "runpy.run_module('altgc', run_name='__main__')",
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "The two collectors agree." in out
    # 30 copies: each has 7 unreachable containers on 3.11+ (2 lists,
    # a Node + 2 dicts, a Finalized + its dict ... as counted by both).
    found = [line for line in out.splitlines() if line.startswith("unreachable found by collect()")]
    assert len(found) == 1
    altgc_n, builtin_n = found[0].split()[-2:]
    assert altgc_n == builtin_n and int(altgc_n) > 0
    assert "__del__ run" in out and " 30 " in out.split("__del__ run")[1]
    # the install-mode part: altgc collected automatically, nothing left
    inst = out.split("Install mode")[1]
    runs = re.search(r"collected on its own: (\d+)/(\d+)/(\d+)", inst)
    assert runs and int(runs.group(1)) > 0
    assert re.search(r"after: 0\b", inst)


def test_demo_rejects_a_bad_size():
    proc = run_python(
        "import sys, runpy; sys.argv = ['altgc', 'demo', '--size', '0'];"
        "runpy.run_module('altgc', run_name='__main__')",
        check=False,
    )
    assert proc.returncode == 2
    assert "--size must be at least 1" in proc.stderr


def test_no_command_prints_help_and_exits_2():
    proc = run_python(
        "import sys, runpy; sys.argv = ['altgc'];runpy.run_module('altgc', run_name='__main__')",
        check=False,
    )
    assert proc.returncode == 2
    assert "demo" in proc.stdout
