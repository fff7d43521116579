"""Every public function's docstring example runs and shows what it says."""

from support import run_python


def test_docstring_examples_run():
    out = run_python(
        # The examples build cycles and look for them: the builtin gc must
        # not free them first (the module docstring says so).
        "import doctest, gc, altgc\n"
        "gc.disable()\n"
        "import altgc._install\n"
        "r = doctest.testmod(altgc)\n"
        "r2 = doctest.testmod(altgc._install)\n"
        "import altgc._trace\n"
        "r3 = doctest.testmod(altgc._trace)\n"
        "print(r.failed + r2.failed + r3.failed, r.attempted + r2.attempted + r3.attempted)\n"
    ).stdout.split()
    failed, attempted = int(out[-2]), int(out[-1])
    assert failed == 0
    assert attempted >= 40  # the examples did run
