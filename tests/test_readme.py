"""The README's examples give what their comments say, typed at the prompt.

Each block runs line by line in a fresh interpreter's interactive console
(``code.InteractiveConsole``), as a newcomer would paste it: expression
values are echoed and kept in ``_``, which can keep garbage alive (the
tour's ``altgc.find_unreachable()`` did, so the ``collect()`` after it
found nothing).
"""

import os
import re

from support import run_python

# The checkout's README (the tests may run against an installed altgc).
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def block_after(heading):
    """The first ```python block after the line `heading`."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n" + heading + "\n")
    m = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert m is not None, heading
    return m.group(1)


def at_the_prompt(source, cwd):
    """stdout of `source` typed line by line into an interactive console."""
    return run_python(
        f"""
        import code, os
        os.chdir({cwd!r})
        console = code.InteractiveConsole()
        for line in {source!r}.splitlines():
            console.push(line)
        """
    ).stdout


def test_the_short_tour(tmp_path):
    out = at_the_prompt(block_after("## A short tour"), str(tmp_path)).splitlines()
    assert out[0] == "[[[[[...]]], [[[...]]]]]"  # the comment's repr
    assert out[1] == "2"
    assert out[2].startswith("explicit collection of generation 2: examined 2, unreachable 2")


def test_watching_the_algorithm_work(tmp_path):
    source = block_after("## Watching the algorithm work")
    # The names the comments speak of, for the check below.
    source = source.replace(
        'd = {}; e = [d]; d["e"] = e',
        'd = {}; e = [d]; d["e"] = e; ids = sorted((id(d), id(e)))',
    )
    out = at_the_prompt(source + "print(sorted(t.unreachable) == ids)\n", str(tmp_path))
    assert out.splitlines()[-1] == "True", out[-3000:]
    assert (tmp_path / "trace.html").exists()
