"""explain / top / release with hostile objects in the heap and bad input:
a dead ``weakref.proxy`` or an object whose ``__class__`` raises anywhere
reachable, dict keys whose repr raises, is huge or reads as another key,
holders that cannot let go of an object (a tuple, a bound method, a set),
and argument checks.

Every release code here is run, and a weak reference tells whether it
freed the object."""

import collections
import dataclasses
import doctest
import enum
import functools
import math
import re
import sys
import types
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import altgc
from altgc import _explain
from altgc._explain import paths
from altgc._explain.releasing import runnable
from altgc._explain.roots import Root


@pytest.fixture(autouse=True)
def clean_watches():
    yield
    for label in list(_explain._watches):
        altgc.unwatch(label)


USERMOD_NAME = "altgc_test_hostile"  # the usermod fixture's module (conftest.py)


class Obj:
    """A weakly referenceable object with a method."""

    def method(self):
        return self


class Gone:
    pass


def dead_proxy():
    """A ``weakref.proxy`` whose object died: any attribute read on it,
    ``__class__`` included, raises ReferenceError."""
    target = Gone()
    proxy = weakref.proxy(target)
    del target
    with pytest.raises(ReferenceError):
        proxy.__class__  # noqa: B018 - the read is the point
    return proxy


class ClassRaises:
    """Reading ``__class__`` raises, as on a web framework's local proxy
    with nothing bound."""

    @property
    def __class__(self):
        raise RuntimeError("working outside of request context")


class ReprRaises:
    def __repr__(self):
        raise ValueError("no repr")


class HugeRepr:
    def __repr__(self):
        return "x" * 10**6


class LooksLikeOther:
    """A key whose repr reads as the str key ``'other'``."""

    def __repr__(self):
        return "'other'"


@dataclasses.dataclass(eq=False)  # hashed by identity; its repr reads as a constructor call
class Point:
    x: int
    y: int


def watched(obj, label="t"):
    """Watch ``obj`` under ``label``; a weak reference to it."""
    altgc.watch(obj, label)
    return weakref.ref(obj)


def run(code):
    """Run release code verbatim, in a namespace of its own (it imports
    the module it names)."""
    exec(compile(code, "<release>", "exec"), {})


# ---------------------------------------------------------------------------
# a dead weakref.proxy, an object whose __class__ raises
# ---------------------------------------------------------------------------


def test_explain_a_dead_proxy_explains_the_proxy_itself(usermod):
    usermod.p = dead_proxy()
    e = altgc.explain(usermod.p)
    assert e.alive and e.type_name == type(usermod.p).__name__
    assert [p.expr for p in e.paths] == ["altgc_test_hostile.p"]
    assert e.release == "import altgc_test_hostile\ndel altgc_test_hostile.p"


def test_explain_crosses_a_dead_proxy_on_the_way(usermod):
    # the search for a reference cycle through the generator reaches the
    # module's globals, and the proxy in them before the generator
    usermod.p = dead_proxy()
    exec("def gen():\n    yield 1\ng = gen()", usermod.__dict__)
    e = altgc.explain(usermod.g)
    assert e.alive and e.paths[0].expr == "altgc_test_hostile.g"
    assert e.cycle is not None and e.cycle.steps[-2:] == (".__globals__", "['g']")


def test_top_with_a_dead_proxy_among_the_globals(usermod):
    usermod.p = dead_proxy()
    usermod.big = [bytearray(2_000_000)]
    first = altgc.top(3)[0]
    assert first.label == "altgc_test_hostile.big" and first.bytes >= 2_000_000


def test_explain_and_top_with_a_dead_proxy_in_sys_modules(monkeypatch, usermod):
    monkeypatch.setitem(sys.modules, "altgc_test_dead_module", dead_proxy())
    usermod.big = [bytearray(2_000_000)]
    assert altgc.explain(usermod.big).paths[0].expr == "altgc_test_hostile.big"
    assert altgc.top(1)[0].label == "altgc_test_hostile.big"


def test_explain_an_object_whose_class_raises(usermod):
    usermod.c = ClassRaises()
    usermod.holder = {"c": usermod.c}
    e = altgc.explain(usermod.c)
    assert e.type_name == "ClassRaises"
    assert [p.expr for p in e.paths] == ["altgc_test_hostile.c"]  # the shortest of the module's
    e = altgc.explain(usermod.holder)
    assert e.paths[0].expr == "altgc_test_hostile.holder"


def test_release_through_an_object_whose_class_raises(usermod):
    usermod.c = ClassRaises()
    usermod.c.item = Obj()
    ref = watched(usermod.c.item)
    e = altgc.explain("t")
    assert e.paths[0].expr == "altgc_test_hostile.c.item"
    assert e.release == "import altgc_test_hostile\ndel altgc_test_hostile.c.item"
    run(e.release)
    assert ref() is None


def test_top_with_an_object_whose_class_raises(usermod):
    usermod.c = ClassRaises()
    usermod.c.data = bytearray(1_500_000)
    usermod.big = [bytearray(2_000_000)]
    ref = weakref.ref(usermod.c)
    holders = altgc.top(2)
    assert [h.label for h in holders] == ["altgc_test_hostile.big", "altgc_test_hostile.c"]
    assert holders[1].type_name == "ClassRaises"
    run(holders[1].release)
    assert ref() is None


# ---------------------------------------------------------------------------
# dict keys: a repr that raises or is huge, keys that are no literals
# ---------------------------------------------------------------------------


def test_key_whose_repr_raises(usermod):
    key = ReprRaises()
    usermod.d = {key: Obj()}
    ref = watched(usermod.d[key])
    e = altgc.explain("t")
    assert f"<ReprRaises object at {id(key):#x}>" in str(e)
    assert e.release == "import altgc_test_hostile\ndel altgc_test_hostile.d"
    assert "no literal" in e.release_note
    run(e.release)
    assert ref() is None


def test_global_under_a_key_whose_repr_raises(usermod):
    key = ReprRaises()
    usermod.__dict__[key] = Obj()  # a module's globals: no holder to release whole
    watched(usermod.__dict__[key])
    e = altgc.explain("t")
    assert e.release == ""
    assert e.release_note.startswith("no code can release it")
    assert f"<ReprRaises object at {id(key):#x}>" in e.release_note


def test_key_whose_repr_is_huge(usermod):
    usermod.d = {HugeRepr(): Obj()}
    ref = watched(next(iter(usermod.d.values())))
    e = altgc.explain("t")
    text = str(e)
    assert len(text) < 2_000 and "x" * 79 + "\u2026" in text
    run(e.release)
    assert ref() is None


def test_a_huge_literal_key_is_not_spelled_in_the_release_code(usermod):
    # Before, a 1 MB str key gave a 1 MB release statement.
    key = "k" * 1_000_000
    usermod.d = {key: Obj(), "other": ["kept"]}
    ref = watched(usermod.d[key])
    e = altgc.explain("t")
    assert e.release == "import altgc_test_hostile\ndel altgc_test_hostile.d"
    assert "too long to spell (over 200 characters)" in e.release_note
    assert len(str(e)) < 2_000
    run(e.release)
    assert ref() is None
    # a literal key of up to 200 characters is still spelled
    usermod.d = {"s" * 150: Obj(), "other": ["kept"]}
    watched(usermod.d["s" * 150])
    e = altgc.explain("t")
    assert e.release == "import altgc_test_hostile\ndel altgc_test_hostile.d[%r]" % ("s" * 150)
    run(e.release)
    assert usermod.d == {"other": ["kept"]}


def test_key_label_is_capped_and_never_raises():
    assert paths.key_label("k") == "'k'"
    long = paths.key_label("y" * 1000)
    assert len(long) == 80 and long == "'" + "y" * 78 + "\u2026"
    key = ReprRaises()
    assert paths.key_label(key) == f"<ReprRaises object at {id(key):#x}>"


def test_a_key_that_reads_as_another_key_is_never_spelled(usermod):
    precious = ["precious"]
    usermod.d = {LooksLikeOther(): Obj(), "other": precious}
    ref = watched(next(v for k, v in usermod.d.items() if k != "other"))
    e = altgc.explain("t")
    assert "['other']" not in e.release
    run(e.release)
    assert ref() is None
    assert precious == ["precious"]


def test_a_dataclass_key_is_never_spelled(usermod):
    usermod.d = {Point(1, 2): Obj()}
    ref = watched(next(iter(usermod.d.values())))
    e = altgc.explain("t")
    assert "Point(" not in e.release and "Point(x=1, y=2)" in e.release_note
    assert altgc.release("t").startswith("freed t")
    assert ref() is None


LITERALS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.binary(),
    lambda inner: st.lists(inner, max_size=3).map(tuple),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(value=LITERALS)
def test_literal_keys_evaluate_to_themselves(value):
    spelled = paths.literal(value)
    assert spelled is not None
    again = eval(spelled)
    assert again == value and type(again) is type(value)


class Str(str):
    def __repr__(self):
        return "'other'"


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        Str("k"),
        enum.IntEnum("Kind", "A").A,
        collections.namedtuple("NT", "a")(1),
        (1, object()),
        10**5000,  # repr() raises: longer than int_max_str_digits
        functools.reduce(lambda t, _: (t,), range(100_000), ()),  # repr() recurses too deep
        Point(1, 2),
    ],
    ids=[
        "nan",
        "inf",
        "str-subclass",
        "int-subclass",
        "namedtuple",
        "tuple-of-object",
        "huge-int",
        "deep",
        "point",
    ],
)
def test_what_is_no_literal(value):
    assert paths.literal(value) is None


def test_paths_docstring_examples():
    r = doctest.testmod(paths)
    assert r.failed == 0 and r.attempted >= 2


# ---------------------------------------------------------------------------
# holders that cannot let go of the object: the release code is runnable,
# and running it frees the object
# ---------------------------------------------------------------------------

# setup code run in the module's namespace; it binds `target`, which the
# test watches and deletes
HOLDERS = {
    "tuple": "t = (1, target)",
    "tuple_in_list": "lst = [(target,)]",
    "namedtuple": "import collections\nNT = collections.namedtuple('NT', 'a b')\nn = NT(1, target)",
    "bound_method": "m = target.method",
    "default_argument": "def f(x=target):\n    return x",
    "frozenset": "fs = frozenset([target])",
    "set": "s = {target}",
    "set_in_attribute": "holder = Obj()\nholder.s = {target}",
    "dict_key": "d = {target: 1}",
    "object_key": "d = {Obj(): target}",
    "tuple_aliased": "t = (target,)\nalias = t\nlst = [t]",
    "tuple_in_tuple": "lst = [((target,),)]",
    "dict_aliased": "d = {Obj(): [target]}\nalias = d",
    "partial": "import functools\np = functools.partial(print, target)",
}


@pytest.mark.parametrize("kind", sorted(HOLDERS))
def test_release_through_a_holder_that_cannot_let_go(kind, usermod):
    usermod.Obj = Obj
    usermod.target = Obj()
    exec(HOLDERS[kind], usermod.__dict__)
    ref = watched(usermod.target)
    del usermod.target
    e = altgc.explain("t")
    assert e.release and runnable(e.release), e.release_note
    assert re.search(r"frees the whole \w+ (that holds|and, inside it,)", e.release_note)
    assert "releases whole the" not in e.release_note
    assert all(runnable(p.release) for p in e.paths)
    run(e.release)
    assert ref() is None, (e.release, e.release_note)


def test_each_path_is_cut_above_a_step_del_cannot_delete(usermod):
    target = Obj()
    usermod.t = (1, target)
    usermod.m = target.method
    usermod.s = [{target}]
    usermod.d = {"k": target}
    ns = usermod.__dict__
    root = Root("name", "module altgc_test_hostile", "altgc_test_hostile", "")
    described = [
        paths.describe_path(objs, root)
        for objs in (
            [ns, usermod.t, target],
            [ns, usermod.m, target],
            [ns, usermod.s, usermod.s[0], target],
            [ns, usermod.d, target],
        )
    ]
    assert [(p.expr, p.release) for p in described] == [
        ("altgc_test_hostile.t[1]", "del altgc_test_hostile.t"),
        ("altgc_test_hostile.m.__self__", "del altgc_test_hostile.m"),
        ("altgc_test_hostile.s[0] -> Obj", "del altgc_test_hostile.s[0]"),
        ("altgc_test_hostile.d['k']", "del altgc_test_hostile.d['k']"),
    ]


def test_release_of_a_default_argument_says_what_it_changes(usermod):
    usermod.target = Obj()
    exec("def f(x=target):\n    return x", usermod.__dict__)
    ref = watched(usermod.target)
    del usermod.target
    e = altgc.explain("t")
    assert e.release == "import altgc_test_hostile\ndel altgc_test_hostile.f.__defaults__"
    assert "default values" in e.release_note
    run(e.release)
    assert ref() is None
    with pytest.raises(TypeError):
        usermod.f()


def test_release_of_a_deque_item_keeps_the_deque(usermod):
    usermod.q = collections.deque(["a", Obj(), "b"])
    ref = watched(usermod.q[1])
    e = altgc.explain("t")
    assert e.release == "import altgc_test_hostile\ndel altgc_test_hostile.q[1]"
    run(e.release)
    assert ref() is None and list(usermod.q) == ["a", "b"]


def test_a_tuple_held_by_a_running_function_gets_no_release_code(usermod):
    target = Obj()
    ref = watched(target)
    t = (target,)
    del target
    e = altgc.explain("t")
    assert e.release == "" and "del t   (in " in e.release_note
    del t
    assert ref() is None


# Hypothesis: the target inside random layers of holders, the outermost a
# global of the module, an inner layer maybe also bound to a second global.


class Slotted:
    __slots__ = ("v",)


def _layer(kind, inner):
    """``inner`` wrapped in one holder of the kind ``kind`` (a tuple where
    that kind needs a hashable ``inner`` and it is not)."""
    try:
        hash(inner)
    except TypeError:
        hashable = False
    else:
        hashable = True
    if kind == "list":
        return [inner]
    if kind == "tuple":
        return ("a", inner)
    if kind == "str_key":
        return {"k": inner, "other": 1}
    if kind == "tuple_key":
        return {(1, "x"): inner}
    if kind == "object_key":
        return {Obj(): inner}
    if kind == "misleading_key":
        return {LooksLikeOther(): inner, "other": 1}
    if kind == "set" and hashable:
        return {inner, 1}
    if kind == "frozenset" and hashable:
        return frozenset([inner])
    if kind == "deque":
        return collections.deque([1, inner])
    if kind == "attribute":
        # not an instance of a class of its own: off the paths it shows,
        # explain() does not spell attributes that live inline (3.12+)
        return types.SimpleNamespace(v=inner)
    if kind == "slot":
        o = Slotted()
        o.v = inner
        return o
    if kind == "closure":
        return (lambda v: lambda: v)(inner)
    if kind == "partial":
        return functools.partial(print, inner)
    return (inner,)


KINDS = [
    "list",
    "tuple",
    "str_key",
    "tuple_key",
    "object_key",
    "misleading_key",
    "set",
    "frozenset",
    "deque",
    "attribute",
    "slot",
    "closure",
    "partial",
]


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4), alias=st.integers(-1, 3))
def test_release_code_runs_and_frees_or_is_empty(kinds, alias):
    mod = types.ModuleType("altgc_test_layers")
    mod.__file__ = "/home/user/project/altgc_test_layers.py"
    sys.modules[mod.__name__] = mod
    try:
        target = Obj()
        ref = watched(target, "layers")
        obj = target
        for i, kind in enumerate(kinds):
            obj = _layer(kind, obj)
            if i == alias:
                mod.alias = obj
        mod.root = obj
        del obj, target
        e = altgc.explain("layers")
        assert e.alive
        assert e.release or e.release_note.startswith("no code can release it")
        if e.release:
            assert runnable(e.release)
            run(e.release)
            assert ref() is None, (kinds, alias, e.release, e.release_note)
    finally:
        del sys.modules[mod.__name__]
        mod.__dict__.clear()
        altgc.unwatch("layers")


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------


def test_release_checks_its_arguments():
    with pytest.raises(TypeError, match=r"release\(\) argument 'label' must be str, not list"):
        altgc.release([])
    with pytest.raises(TypeError, match=r"release\(\) argument 'label' must be str, not int"):
        altgc.release(42)
    with pytest.raises(TypeError, match=r"release\(\) argument 'label' must be str, not Proxy"):
        altgc.release(dead_proxy())
    with pytest.raises(TypeError, match=r"release\(\) argument 'dry_run' must be bool, not str"):
        altgc.release("nope", dry_run="yes")


def test_explain_checks_its_arguments():
    assert altgc.explain([], max_paths=10**30).alive  # a bound above any count of roots
    assert altgc.explain([], max_paths=2**31).alive
    with pytest.raises(TypeError, match=r"explain\(\) argument 'literal' must be bool, not str"):
        altgc.explain([], literal="yes")
    with pytest.raises(TypeError, match=r"explain\(\) argument 'refresh' must be bool, not int"):
        altgc.explain([], refresh=1)


def test_survivors_checks_max_paths():
    # checked whether or not there is a survivor to explain
    with pytest.raises(ValueError, match=r"survivors\(\) argument 'max_paths' must be >= 1"):
        altgc.survivors(-1)
    x = [1]
    altgc.watch(x, "x")
    keep = [x]
    del x
    with pytest.raises(ValueError, match=r"survivors\(\) argument 'max_paths' must be >= 1"):
        altgc.survivors(0)
    with pytest.raises(TypeError, match=r"survivors\(\) argument 'max_paths' must be int, not str"):
        altgc.survivors("3")
    assert [e.label for e in altgc.survivors(10**30)] == ["x"]
    del keep


def test_heap_index_refresh_is_a_bool():
    with pytest.raises(TypeError, match=r"heap_index\(\) argument 'refresh' must be bool, not str"):
        altgc.heap_index(refresh="x")
    with pytest.raises(TypeError, match=r"heap_index\(\) argument 'refresh' must be bool, not int"):
        altgc.heap_index(0)
    assert altgc.heap_index(False).nodes > 0
