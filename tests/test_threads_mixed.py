"""Threads allocating, dropping and registering while others collect and
explain (RELIABILITY.md, issue 6): no crash, no deadlock (the subprocess
has a timeout), the registry consistent afterwards."""

from conftest import run_python


def test_threads_register_collect_and_explain_concurrently():
    out = run_python("""
        import threading, time, weakref, sys
        import altgc
        sys.setswitchinterval(1e-5)          # switch threads very often
        stop = time.monotonic() + 3.0
        errors = []
        class Node:
            pass
        keep = [Node() for _ in range(50)]
        for i, k in enumerate(keep):
            altgc.watch(k, "k%d" % i)

        def churn():
            try:
                while time.monotonic() < stop:
                    a, b = Node(), Node()
                    a.b, b.a = b, a
                    altgc.track(a); altgc.track(b)
                    l = [a]; l.append(l); altgc.track(l)
                    if len(keep) < 200:
                        keep.append(Node())
                    altgc.untrack(b)
            except BaseException as e:
                errors.append(repr(e))

        def collector():
            try:
                while time.monotonic() < stop:
                    altgc.collect(0); altgc.collect()
                    altgc.find_unreachable()
            except BaseException as e:
                errors.append(repr(e))

        def explainer():
            n = 0
            try:
                while time.monotonic() < stop:
                    e = altgc.explain("k%d" % (n % 50), max_paths=1)
                    assert e.alive and e.paths, e
                    n += 1
            except BaseException as e:
                errors.append(repr(e))
            done.append(n)

        done = []
        ts = [threading.Thread(target=churn) for _ in range(3)]
        ts += [threading.Thread(target=collector),
               threading.Thread(target=explainer)]
        for t in ts: t.start()
        for t in ts: t.join(60)
        assert not any(t.is_alive() for t in ts), "deadlock"
        assert errors == [], errors
        assert done and done[0] > 0
        altgc.collect()
        altgc._core._validate()
        print("ok", done[0])
    """, timeout=240).stdout
    assert out.split()[0] == "ok"
