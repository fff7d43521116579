"""A leak zoo: objects a user deleted that stay alive through a common
real-world holder (a stored exception, a suspended generator, a class
registry, a property, a functools.partial, copyreg's table), and what
explain() says about each: the holder's path, the cause and release code
that frees the object without tearing down the holder."""

import asyncio
import atexit
import contextlib
import contextvars
import copyreg
import dataclasses
import functools
import gc
import re
import signal
import warnings
import weakref

import pytest
from support import other_threads_alive, run_alone, run_python

import altgc


class Blob:
    """A weakly referenceable payload."""

    def __init__(self):
        self.data = bytearray(100)


def run(code):
    exec(compile(code, "<release>", "exec"), {})


def explain_fresh(make):
    """``make()``'s object, explained with no reference of the test's own,
    and a weak reference to it."""
    obj = make()
    ref = weakref.ref(obj)
    altgc.watch(obj, "zoo")
    del obj
    try:
        return altgc.explain("zoo"), ref
    finally:
        altgc.unwatch("zoo")


def fail(x):
    raise ValueError("boom")


def test_exception_kept_in_a_global_holds_the_frame_locals(mod):
    def store():
        try:
            fail(Blob())
        except ValueError as exc:
            mod.saved = exc
        return mod.saved.__traceback__.tb_next.tb_frame.f_locals["x"]

    e, ref = explain_fresh(store)
    assert e.cause == "traceback"
    assert e.paths[0].expr == "altgc_test_mod.saved.__traceback__.tb_next.tb_frame.f_locals['x']"
    # deleting from f_locals frees nothing: the exception goes
    assert "f_locals" not in e.release
    assert "del altgc_test_mod.saved" in e.release.splitlines()
    run(e.release)
    gc.collect()
    assert ref() is None


def test_exception_kept_in_a_list(mod):
    mod.errors = []

    def store():
        try:
            fail(Blob())
        except ValueError as exc:
            mod.errors.append(exc)
        return mod.errors[0].__traceback__.tb_next.tb_frame.f_locals["x"]

    e, ref = explain_fresh(store)
    assert e.cause == "traceback"
    assert e.paths[0].expr.startswith("altgc_test_mod.errors[0].__traceback__.")
    assert "del altgc_test_mod.errors[0]" in e.release.splitlines()
    run(e.release)
    gc.collect()
    assert ref() is None and mod.errors == []


def test_local_of_a_suspended_generator(mod):
    def gen(x):
        yield 1

    def start():
        mod.g = gen(Blob())
        next(mod.g)
        return mod.g.gi_frame.f_locals["x"]

    e, ref = explain_fresh(start)
    assert e.paths[0].expr == "altgc_test_mod.g.gi_frame.f_locals['x']"
    assert e.release.splitlines()[-1] == "del altgc_test_mod.g"
    assert "local variable (x) cannot be deleted" in e.release_note
    run(e.release)
    assert ref() is None


def test_local_of_a_suspended_coroutine(mod):
    class Step:
        def __await__(self):
            yield

    async def work(x):
        await Step()

    def start():
        mod.c = work(Blob())
        mod.c.send(None)
        return mod.c.cr_frame.f_locals["x"]

    e, _ref = explain_fresh(start)
    assert e.paths[0].expr == "altgc_test_mod.c.cr_frame.f_locals['x']"
    assert e.release.splitlines()[-1] == "del altgc_test_mod.c"
    mod.c.close()


def test_class_registry_releases_the_item_not_the_registry(mod):
    class Registry:
        items = []  # noqa: RUF012 - the leak under study

    mod.Registry = Registry
    del Registry

    def make():
        b = Blob()
        mod.Registry.items.append(b)
        return b

    e, ref = explain_fresh(make)
    assert e.cause == "class_attribute"
    assert e.paths[0].expr == "altgc_test_mod.Registry.items[0]"
    assert e.release.splitlines()[-1] == "del altgc_test_mod.Registry.items[0]"
    run(e.release)
    assert ref() is None
    assert mod.Registry.items == []  # the registry itself stays


def test_class_attribute_itself_is_still_deleted_whole(mod):
    class Config:
        pass

    Config.table = Blob()
    mod.Config = Config
    del Config
    e, _ref = explain_fresh(lambda: mod.Config.table)
    assert e.release.splitlines()[-1] == "del altgc_test_mod.Config.table"


def test_property_getter_closure_is_spelled(mod):
    def make_property(value):
        return property(lambda self: value)

    class P:
        pass

    mod.P = P
    del P

    def make():
        b = Blob()
        mod.P.x = make_property(b)
        return b

    e, _ref = explain_fresh(make)
    assert e.paths[0].expr == "altgc_test_mod.P.x.fget.__closure__[0].cell_contents"
    # fget is read-only: the cell is emptied, never "del ...fget"
    assert ".fget\n" not in e.release + "\n"


def test_partial_in_a_list_is_spelled_and_released_whole(mod):
    mod.parts = []

    def make():
        b = Blob()
        mod.parts.append(functools.partial(print, b))
        return b

    e, ref = explain_fresh(make)
    assert e.paths[0].expr == "altgc_test_mod.parts[0].args[0]"
    assert e.release.splitlines()[-1] == "del altgc_test_mod.parts[0]"
    assert "args cannot be deleted" in e.release_note
    run(e.release)
    assert ref() is None


def test_copyreg_registration_never_releases_a_module(mod):
    class Registered:
        pass

    copyreg.pickle(Registered, lambda o: (Registered, ()))
    try:
        e, _ref = explain_fresh(lambda: Registered)
        text = e.release + e.release_note
        assert "sys.modules" not in text and "del _pickle" not in text
        assert "the module _pickle holds that dict" in e.release_note
    finally:
        del copyreg.dispatch_table[Registered]


def test_argument_of_a_running_thread_is_its_local_not_a_c_extension():
    import threading

    go = threading.Event()
    started = threading.Event()

    def target(payload):
        started.set()
        go.wait(10)

    def start():
        b = Blob()
        t = threading.Thread(target=target, args=(b,), name="zoo-worker", daemon=True)
        t.start()
        return b, t

    (obj, thread) = start()
    started.wait(10)
    ref = weakref.ref(obj)
    altgc.watch(obj, "zoo")
    del obj
    try:
        e = altgc.explain("zoo")
        assert e.cause == "local", str(e)
        assert e.unexplained_refs == 0
        assert "payload" in [p.expr for p in e.paths]
        assert "'payload' of the running target() in thread 'zoo-worker'" in e.release_note
        assert "C extension" not in str(e)
    finally:
        go.set()
        thread.join(10)
        altgc.unwatch("zoo")
    del thread
    # explaining left no frame of the thread behind (a cycle through its locals)
    assert ref() is None


def in_a_copied_context(test):
    """Run ``test`` in a copy of the current context: a variable it sets
    goes with the copy (set in the test's own context it would stay, one
    more entry per run, which the refleak stage reads as a leak)."""

    @functools.wraps(test)
    def run_it(*args, **kwargs):
        return contextvars.copy_context().run(test, *args, **kwargs)

    return run_it


@in_a_copied_context
def test_context_variable_is_a_root_with_a_working_release(mod):
    mod.cv = contextvars.ContextVar("zoo_cv")

    def make():
        b = Blob()
        mod.cv.set(b)
        return b

    try:
        e, ref = explain_fresh(make)
        assert e.cause == "context_variable", str(e)
        assert e.paths[0].expr == "altgc_test_mod.cv.get()"
        assert e.release.splitlines()[-1] == "import altgc_test_mod; altgc_test_mod.cv.set(None)"
        run(e.release)
        assert ref() is None
        assert mod.cv.get() is None
        # explaining left no copy of the context behind
        b = make()
        ref = weakref.ref(b)
        del b
        altgc.explain(ref())
        mod.cv.set(None)
        assert ref() is None
    finally:
        mod.cv.set(None)


@in_a_copied_context
def test_context_variable_unnamed_by_any_module_is_found_by_its_name():
    def make():
        b = Blob()
        cv.set([b])
        return b

    cv = contextvars.ContextVar("zoo_unnamed_cv")
    try:
        e, ref = explain_fresh(make)
        del make
        assert e.cause == "context_variable", str(e)
        assert e.paths[0].expr == "<ContextVar 'zoo_unnamed_cv'>.get()[0]"
        run(e.release)
        assert ref() is None
    finally:
        cv.set(None)


def test_context_mapping_is_probed_on_first_use_not_at_import():
    """Importing the explain package makes no probe context variables; the
    first release of a context variable's value makes them, once."""
    proc = run_python(
        """
        import contextvars, weakref
        real = contextvars.ContextVar
        probes = []

        def counting(name, *args, **kwargs):
            if name.startswith("altgc_probe"):
                probes.append(name)
            return real(name, *args, **kwargs)

        contextvars.ContextVar = counting
        import altgc
        altgc.explain  # imports the explain package
        import altgc._explain.releasing
        print(len(probes))
        cv = real("subject")

        class Blob:
            pass

        def explain_and_release():
            cv.set(Blob())
            ref = weakref.ref(cv.get())
            e = altgc.explain(ref())
            assert e.cause == "context_variable", str(e)
            exec(e.release, globals())
            return ref() is None

        for _ in range(2):
            print(contextvars.copy_context().run(explain_and_release), len(probes))
        """
    )
    imported, (freed1, after1), (freed2, after2) = (
        line.split() for line in proc.stdout.splitlines()
    )
    assert imported == ["0"], proc.stdout  # no probe at import
    assert freed1 == freed2 == "True", proc.stdout  # the release works
    assert int(after1) > 0 and after2 == after1, proc.stdout  # one probe, cached


needs_sigusr = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 here")


@contextlib.contextmanager
def handler_restored(signum):
    """The handler of ``signum`` as it was, once the block is done."""
    before = signal.getsignal(signum)
    try:
        yield
    finally:
        signal.signal(signum, before)


def explain_signal_held(make):
    """:func:`explain_fresh`, for an object that a signal handler holds."""
    e, ref = explain_fresh(make)
    assert e.cause == "signal_handler", str(e)
    return e, ref


class Listener:
    """An object whose bound method handles a signal."""

    def __init__(self):
        self.blob = Blob()

    def on_signal(self, signum, frame):
        return self.blob


@needs_sigusr
def test_signal_handler_closure_is_a_root_with_a_working_release():
    def make():
        b = Blob()

        def handler(signum, frame):
            return b

        signal.signal(signal.SIGUSR1, handler)
        return b

    with handler_restored(signal.SIGUSR1):
        e, ref = explain_signal_held(make)
        assert e.paths[0].expr == "signal.getsignal(signal.SIGUSR1).__closure__[0].cell_contents"
        assert e.release == "import signal; signal.signal(signal.SIGUSR1, signal.SIG_DFL)"
        (rbox,) = re.findall(r'class="box root"><title>([^<(]*)', e._svg())
        assert rbox.strip() == "signal handler SIGUSR1"
        run(e.release)
        assert ref() is None
        assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


@needs_sigusr
def test_signal_handler_bound_method_and_the_handler_itself():
    def make():
        listener = Listener()
        signal.signal(signal.SIGUSR2, listener.on_signal)
        return listener.blob

    release = "import signal; signal.signal(signal.SIGUSR2, signal.SIG_DFL)"
    with handler_restored(signal.SIGUSR2):
        e, ref = explain_signal_held(make)
        assert e.paths[0].expr == "signal.getsignal(signal.SIGUSR2).__self__.blob"
        assert e.release == release
        run(e.release)
        assert ref() is None
        # the handler itself: the signal module's reference is the root's,
        # not an unknown C extension's
        signal.signal(signal.SIGUSR2, Listener().on_signal)
        e, ref = explain_signal_held(lambda: signal.getsignal(signal.SIGUSR2))
        assert e.paths[0].expr == "signal.getsignal(signal.SIGUSR2)"
        assert "outside Python's heap" not in str(e)
        assert e.release == release
        run(e.release)
        assert ref() is None


def test_sigint_handler_is_released_to_pythons_own():
    def make():
        b = Blob()
        signal.signal(signal.SIGINT, lambda signum, frame, held=b: held)
        return b

    with handler_restored(signal.SIGINT):
        e, ref = explain_signal_held(make)
        assert e.paths[0].expr == "signal.getsignal(signal.SIGINT).__defaults__[0]"
        # SIG_DFL would let Ctrl-C kill the process: KeyboardInterrupt again
        restore = "signal.signal(signal.SIGINT, signal.default_int_handler)"
        assert e.release == "import signal; " + restore
        run(e.release)
        assert ref() is None
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_logging_handler_is_spelled_from_the_logging_module():
    import asyncio  # noqa: F401 - modules holding a logger of their own
    import concurrent.futures  # noqa: F401
    import logging

    class Keep(logging.Handler):
        def __init__(self, obj):
            super().__init__()
            self.obj = obj

        def emit(self, record):
            pass

    def make():
        b = Blob()
        logging.getLogger("zoo.x").addHandler(Keep(b))
        return b

    try:
        e, ref = explain_fresh(make)
        expr = e.paths[0].expr
        # not the `logger` global of whichever module the search met first,
        # nor logging.Logger.manager.loggerDict['zoo.x']: the logger as
        # users get it
        assert expr == "logging.getLogger('zoo.x').handlers[0].obj", str(e)
        assert e.cause == "name", str(e)
        assert e.release.splitlines()[0] == "import logging"
        assert e.release.splitlines()[-1] == "del " + expr
        rbox = re.findall(r'class="box root"><title>([^<(]*)', e._svg())[0]
        assert rbox.strip() == "logging.Logger"
        run(e.release)
        assert ref() is None
        # the logger itself: no getLogger() can be deleted, its table entry is
        e, ref = explain_fresh(lambda: logging.getLogger("zoo.x"))
        assert e.paths[0].expr == "logging.Logger.manager.loggerDict['zoo.x']", str(e)
        assert "del logging.Logger.manager.loggerDict['zoo.x']" in e.release.splitlines()
    finally:
        logger = logging.getLogger("zoo.x")
        for h in logger.handlers[:]:
            logger.removeHandler(h)


def test_threading_local_attribute_of_this_thread_is_spelled(mod, request):
    import threading

    if other_threads_alive():
        # explain reads a local's attributes only while one thread is alive
        # (test_threading_local_is_not_read_while_another_thread_runs): run it alone
        run_alone(request)
        return
    inits = []

    class Local(threading.local):
        def __init__(self):
            inits.append(1)  # user code: explain must not run it

    mod.tl = Local()

    def make():
        b = Blob()
        mod.tl.x = b
        return b

    e, ref = explain_fresh(make)
    assert e.paths[0].expr == "altgc_test_mod.tl.x", str(e)
    assert e.release.splitlines()[-1] == "del altgc_test_mod.tl.x"
    assert inits == [1]
    run(e.release)
    assert ref() is None
    assert vars(mod.tl) == {}


def test_threading_local_is_not_read_while_another_thread_runs(mod):
    import threading

    inits = []

    class Local(threading.local):
        def __init__(self):
            inits.append(threading.get_ident())

    go = threading.Event()
    started = threading.Event()

    def target():
        mod.tl.y = 1  # the worker's own dict (its __init__ ran there)
        started.set()
        go.wait(10)

    def make():
        b = Blob()
        mod.tl.x = b
        return b

    mod.tl = Local()
    t = threading.Thread(target=target, daemon=True)
    t.start()
    try:
        started.wait(10)
        e, _ref = explain_fresh(make)
        # which thread's dict holds it is not told without reading the
        # local from this thread: no attribute is spelled
        assert ".x" not in e.paths[0].expr
        assert len(inits) == 2
    finally:
        go.set()
        t.join(10)
    del mod.tl.x


def test_weakref_finalize_registry_is_never_deleted(mod):
    class Other:
        pass

    mod.other = Other()

    def make():
        b = Blob()
        mod.fin = weakref.finalize(mod.other, print, b)
        return b

    e, ref = explain_fresh(make)
    assert e.release == "", e.release
    assert "_registry" not in e.release
    note = e.release_note
    assert "weakref.finalize._registry holds it" in note
    assert "the library's own state" in note
    # the finalizer the user keeps is the handle: its detach() lets go
    assert note.endswith("let go through its API: altgc_test_mod.fin.detach()"), note
    assert weakref.finalize._registry  # still there
    run("import altgc_test_mod; altgc_test_mod.fin.detach()")
    assert ref() is None


def test_weakref_finalize_unnamed_names_its_handle(mod):
    class Other:
        pass

    mod.other = Other()

    def make():
        b = Blob()
        weakref.finalize(mod.other, print, b)
        return b

    e, ref = explain_fresh(make)
    assert e.release == ""
    assert "the weakref.finalize object <finalize object at" in e.release_note
    assert "its detach() lets go" in e.release_note
    del mod.other  # the finalizer runs (print(b)) and lets go
    assert ref() is None


def test_singledispatch_registry_is_never_deleted(mod):
    @functools.singledispatch
    def show(x):
        return x

    mod.show = show
    del show

    def make():
        b = Blob()
        mod.show.register(Blob, lambda x, keep=b: keep)
        return b

    e, _ref = explain_fresh(make)
    assert e.release == "", e.release
    assert "altgc_test_mod.show.registry holds it" in e.release_note
    assert "made by the library code of functools.py" in e.release_note
    assert "the library's own state" in e.release_note
    assert callable(mod.show.registry[Blob])  # nothing was deleted


# ---------------------------------------------------------------------------
# everyday leaks: how the answer reads
# ---------------------------------------------------------------------------


def test_every_cause_text_picks_its_article_by_the_next_sound():
    from altgc._explain.explanation import CAUSES

    for key, text in CAUSES.items():
        for article, word in re.findall(r"\b(an?) (\w+)", text):
            assert (article == "an") == (word[0].lower() in "aeiou"), (key, text)


def test_lru_cache_entry_reads_as_the_functions_cache_and_key(mod):
    @functools.lru_cache(None)
    def load(n):
        return bytearray(n)

    mod.load = load
    del load
    r = mod.load(4000)
    altgc.watch(r, "v")
    del r
    e = altgc.explain("v")
    assert e.cause_text == "a functools.lru_cache holds it"
    assert e.paths[0].expr == "altgc_test_mod.load's cache, key 4000"
    assert e.release.splitlines()[-1] == "altgc_test_mod.load.cache_clear()"
    assert "an functools" not in str(e)


def test_stored_exception_note_is_one_sentence(mod):
    def f():
        p = bytearray(3000)
        altgc.watch(p, "p")
        raise RuntimeError

    try:
        f()
    except RuntimeError as exc:
        mod.saved = exc
    e = altgc.explain("p")
    assert "del altgc_test_mod.saved" in e.release.splitlines()
    assert e.release_note == (
        "del altgc_test_mod.saved frees the RuntimeError, its traceback and the frame it "
        "keeps, with that frame's local variables (p holds it): no statement deletes a "
        "finished frame's local, a traceback's frame or an exception's traceback alone"
    )
    run(e.release)
    assert not altgc.explain("p").alive


def test_closure_in_a_callback_list_releases_the_entry_not_the_cell(mod):
    mod.callbacks = []

    def setup():
        big = bytearray(1000)
        mod.callbacks.append(lambda: len(big))
        altgc.watch(big, "b")

    setup()
    e = altgc.explain("b")
    assert e.cause == "closure"
    assert e.release.splitlines()[-1] == "del altgc_test_mod.callbacks[0]"
    # the cell, only as the alternative for a function that must stay
    assert (
        "to keep the function, empty the cell instead: "
        "del altgc_test_mod.callbacks[0].__closure__[0].cell_contents"
    ) in e.release_note
    run(e.release)
    assert mod.callbacks == []
    assert not altgc.explain("b").alive


def test_path_lines_name_a_cause_only_when_it_differs_from_the_headline(mod):
    mod.REGISTRY = []
    x = bytearray(1000)
    mod.REGISTRY.append(x)
    altgc.watch(x, "r")
    del x
    e = altgc.explain("r")
    assert "  held by altgc_test_mod.REGISTRY[0]\n" in str(e) + "\n"
    assert str(e).count(e.cause_text) == 1
    other = dataclasses.replace(e.paths[0], cause="closure", expr="f.__closure__[0]")
    text = str(dataclasses.replace(e, paths=(*e.paths, other)))
    assert "  held by f.__closure__[0]   [a closure cell holds it]" in text
    assert "  held by altgc_test_mod.REGISTRY[0]\n" in text


class SelfRef:
    pass


def test_self_cycle_of_an_instance_names_its_inline_attribute():
    n = SelfRef()
    n.me = n
    ref = weakref.ref(n)
    altgc.watch(n, "c")
    del n
    e = altgc.explain("c")
    assert e.cycle is not None and e.cycle.steps == (".me",)
    assert "in a reference cycle of 1 object(s): SelfRef.me -> back to c" in str(e)
    # named without making the instance's __dict__
    assert not [r for r in gc.get_referents(ref()) if type(r) is dict]
    gc.collect()
    assert ref() is None


async def hold_in_a_local(blob):
    buf = blob
    del blob
    await asyncio.sleep(3600)
    return buf


def new_quiet_loop():
    """A new event loop that says nothing of the pending Tasks it drops."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)
    return loop


def close_quietly(loop):
    """Close ``loop`` and collect, without the never-awaited warning of a
    Task's coroutine that never started."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        loop.close()
        gc.collect()


@pytest.mark.parametrize("stepped", [False, True], ids=["never_started", "waiting"])
def test_pending_asyncio_task_is_named_and_freed_by_closing_its_loop(mod, stepped):
    mod.loop = new_quiet_loop()
    try:

        def start():
            blob = Blob()
            mod.loop.create_task(hold_in_a_local(blob))
            if stepped:
                mod.loop.run_until_complete(asyncio.sleep(0))
            return blob

        e, ref = explain_fresh(start)
        local = "buf" if stepped else "blob"
        expr = e.paths[0].expr
        assert expr.startswith("altgc_test_mod.loop."), expr
        shown = r"the pending asyncio Task 'Task-\d+' \(coroutine hold_in_a_local\(\)\)"
        assert re.search(shown + rf"\)?, local {local}$", expr), expr
        note = next(n for n in e.notes if "asyncio Task" in n)
        assert re.match(shown + r" holds it: task\.cancel\(\) frees it only once the loop", note)
        assert "loop.close()" in note
        assert ref() is not None
        close_quietly(mod.loop)
        assert ref() is None
    finally:
        close_quietly(mod.loop)


def test_pending_asyncio_task_is_freed_by_cancel_once_the_loop_runs(mod):
    mod.loop = new_quiet_loop()
    try:

        def start():
            blob = Blob()
            mod.loop.create_task(hold_in_a_local(blob))
            mod.loop.run_until_complete(asyncio.sleep(0))
            return blob

        e, ref = explain_fresh(start)
        assert any("task.cancel() frees it only once the loop runs again" in n for n in e.notes)
        (task,) = asyncio.all_tasks(mod.loop)
        task.cancel()
        del task
        assert ref() is not None
        mod.loop.run_until_complete(asyncio.sleep(0))
        gc.collect()
        assert ref() is None
    finally:
        close_quietly(mod.loop)


def save_at_exit(blob):
    return blob


class Saver:
    def __init__(self):
        self.blob = Blob()

    def save(self):
        return self.blob


def atexit_held(register_one):
    """``register_one()`` registers with atexit a callable holding a Blob and
    returns the Blob and a function giving the registered callable (holding
    it weakly only); the Blob explained, held by nothing else, then released
    as the note says; the registration is undone in any case."""
    registered = []

    def make():
        blob, which = register_one()
        registered.append(which)
        return blob

    try:
        e, ref = explain_fresh(make)
        assert e.cause == "unknown", str(e)
        assert ref() is not None
        atexit.unregister(registered.pop()())
        gc.collect()
        assert ref() is None
        return e
    finally:
        for which in registered:
            fn = which()
            if fn is not None:
                atexit.unregister(fn)


def atexit_note(e):
    return next(n for n in e.notes if "atexit" in n)


def test_atexit_partial_names_the_partial_and_unregister():
    def register_one():
        blob = Blob()
        fn = functools.partial(save_at_exit, blob)
        atexit.register(fn)
        return blob, weakref.ref(fn)

    note = atexit_note(atexit_held(register_one))
    assert note.startswith("that holder is a functools.partial of save_at_exit, ")
    assert "such as an atexit.register() registration, a C extension's callback" in note
    assert note.endswith("atexit.unregister(<that partial of save_at_exit>) releases it")


def test_atexit_bound_method_names_its_class():
    def register_one():
        saver = Saver()
        atexit.register(saver.save)
        saver_ref = weakref.ref(saver)
        return saver.blob, lambda: saver_ref().save

    note = atexit_note(atexit_held(register_one))
    assert note.startswith("that holder is the bound method Saver.save of a Saver instance")
    assert note.endswith("atexit.unregister(<that Saver>.save) releases it")


def test_atexit_closure_names_the_function():
    def register_one():
        blob = Blob()

        def flush():
            return blob

        atexit.register(flush)
        return blob, weakref.ref(flush)

    note = atexit_note(atexit_held(register_one))
    qualname = "test_atexit_closure_names_the_function.<locals>.register_one.<locals>.flush"
    assert note.startswith(f"that holder is the function {qualname}, ")
    assert note.endswith(f"if atexit registered it, atexit.unregister({qualname}) releases it")


def test_atexit_note_in_a_frozen_heap():
    # In a heap frozen with gc.freeze() (a fork server's, tools/refleak.py's)
    # atexit's own list (3.14+) is frozen: gc.get_referrers() does not see
    # it, the heap index does, and the note is given all the same.
    out = run_python("""
        import atexit, functools, gc
        import altgc

        def save_at_exit(blob):
            pass

        class Blob:
            pass

        gc.collect()
        gc.freeze()
        blob = Blob()
        fn = functools.partial(save_at_exit, blob)
        atexit.register(fn)
        del fn
        altgc.watch(blob, "b")
        del blob
        e = altgc.explain("b")
        print(e.cause, sum("atexit.unregister(<that partial of save_at_exit>)" in n
                           for n in e.notes))
    """).stdout
    assert out.split() == ["unknown", "1"], out


def test_outside_held_container_gets_no_atexit_note():
    ctypes = pytest.importorskip("ctypes")
    incref, decref = ctypes.pythonapi.Py_IncRef, ctypes.pythonapi.Py_DecRef
    incref.argtypes = decref.argtypes = [ctypes.py_object]
    leaked = []

    def make():
        blob = Blob()
        holder = [blob]
        incref(holder)  # a reference only C code holds
        leaked.append(weakref.ref(blob))
        leaked.append(id(holder))
        return blob

    try:
        e, _ref = explain_fresh(make)
        assert e.cause == "unknown", str(e)
        assert any("has no name" in n for n in e.notes)
        assert not any("atexit" in n for n in e.notes)
    finally:
        blob = leaked[0]()
        holders = [r for r in gc.get_referrers(blob) if id(r) == leaked[1]]
        del blob
        decref(holders[0])


def test_an_attribute_shadowing_a_plain_class_attribute_is_named_without_running_code(mod):
    # IPython's ExecutionResult declares `error_in_exec = None` on the
    # class and sets it on the instance: the instance's attribute is named
    # (a read through a plain class value runs no code); a property is
    # never called, and no __dict__ is made
    calls = []

    class Result:
        error = None

        @property
        def summary(self):
            calls.append(1)
            return mod.res.error

    mod.res = Result()

    def make():
        b = Blob()
        mod.res.error = b
        return b

    e, ref = explain_fresh(make)
    assert e.paths[0].expr == "altgc_test_mod.res.error", str(e)
    assert e.release.splitlines()[-1] == "del altgc_test_mod.res.error", e.release
    assert calls == []
    assert not [r for r in gc.get_referents(mod.res) if type(r) is dict], "a __dict__ was made"
    run(e.release)
    assert ref() is None
    assert mod.res.error is None
