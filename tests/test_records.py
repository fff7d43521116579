"""The records of ``stats()``, ``last_collection()`` and ``install_info()``.

Collection callbacks call these functions, and an automatic collection can
run in the middle of any import; so the records' module imports nothing
(``altgc/_stats.py``), and its records are not dataclasses but behave as
frozen ones do.  The callback scenarios run in fresh interpreters, where
the modules they import mid-collection are not loaded yet.
"""

import copy
import pickle
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import run_python

import altgc
from altgc._stats import CollectionInfo, GenerationStats, InstallInfo, Stats

# ---- a callback during an import ---------------------------------------------

#: A child that installs altgc with a small threshold, so that automatic
#: collections run while MODULE executes its body, and whose callback reads
#: all three records at every collection.  Prints the number of collections,
#: of records read and of collections during MODULE's import.
CALLBACK_DURING_IMPORT = """
    import sys
    MODULE = {module!r}
    assert MODULE not in sys.modules, MODULE
    import altgc
    altgc.install()
    altgc.set_threshold(50)
    stops, records, during = 0, [], 0

    def callback(phase, info):
        global stops, during
        if phase != "stop":
            return
        stops += 1
        m = sys.modules.get(MODULE)
        if m is not None and getattr(m.__spec__, "_initializing", False):
            during += 1
        records.append((altgc.last_collection(), altgc.stats(), altgc.install_info()))

    altgc.callbacks.append(callback)
    __import__(MODULE)
    altgc.callbacks.remove(callback)
    altgc.uninstall()
    kinds = {{tuple(type(r).__name__ for r in rs) for rs in records}}
    assert kinds == {{("CollectionInfo", "Stats", "InstallInfo")}}, kinds
    assert all(rs[0].generation in (0, 1, 2) for rs in records)
    print(stops, len(records), during)
"""


@pytest.mark.parametrize("module", ["typing", "dataclasses", "inspect", "json"])
def test_callback_reads_the_records_while_a_module_is_half_imported(module):
    # Before the records' module stopped importing dataclasses and typing,
    # "typing" and "dataclasses" failed here: "ImportError: cannot import
    # name 'Any' from partially initialized module 'typing'", printed as an
    # ignored exception of the callback, and no record for that collection.
    proc = run_python(CALLBACK_DURING_IMPORT.format(module=module))
    stops, records, during = proc.stdout.split()
    assert "Exception ignored" not in proc.stderr, proc.stderr[-2000:]
    assert int(stops) == int(records) > 0
    assert int(during) > 0  # the scenario happened: collections mid-import


def test_the_records_module_imports_nothing():
    # Loaded from its file under another name in a fresh interpreter, so
    # that nothing it needs can be there already.
    out = run_python("""
        import importlib.util, sys
        import altgc._stats as loaded
        spec = importlib.util.spec_from_file_location("records_alone", loaded.__file__)
        module = importlib.util.module_from_spec(spec)
        before = set(sys.modules)
        spec.loader.exec_module(module)
        print(sorted(set(sys.modules) - before), module.CollectionInfo._fields[0])
    """).stdout.split()
    assert out == ["[]", "generation"]


# ---- the records behave as frozen dataclasses --------------------------------


def _collection_info():
    a = []
    a.append(a)
    altgc.track(a)
    del a
    assert altgc.collect() == 1
    info = altgc.last_collection()
    assert info is not None
    return info


def test_fields_are_the_annotations_in_order():
    assert GenerationStats._fields == (
        "collections",
        "collected",
        "uncollectable",
        "total_pause_ns",
        "last_pause_ns",
        "max_pause_ns",
        "size",
    )
    for cls in (GenerationStats, Stats, CollectionInfo, InstallInfo):
        assert cls._fields == tuple(cls.__annotations__)
        assert cls.__match_args__ == cls._fields


def test_repr_eq_hash_and_read_only():
    g = GenerationStats(1, 2, 0, 300, 100, 200, 5)
    assert repr(g) == (
        "GenerationStats(collections=1, collected=2, uncollectable=0, "
        "total_pause_ns=300, last_pause_ns=100, max_pause_ns=200, size=5)"
    )
    assert g == GenerationStats(**g.as_dict())
    assert g != GenerationStats(1, 2, 0, 300, 100, 200, 6)
    assert g != (1, 2, 0, 300, 100, 200, 5)
    assert hash(g) == hash(GenerationStats(1, 2, 0, 300, 100, 200, 5))
    with pytest.raises(AttributeError, match="cannot assign to field 'size'"):
        g.size = 6
    with pytest.raises(AttributeError, match="cannot assign to field 'other'"):
        g.other = 1
    with pytest.raises(AttributeError, match="cannot delete field 'size'"):
        del g.size
    assert g.size == 5
    info = _collection_info()
    with pytest.raises(TypeError, match="unhashable"):
        hash(info)  # its cycles are a list, as a frozen dataclass's would be


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1, 2, 3, 4, 5, 6, 7, 8), {}, r"takes 7 arguments but 8 were given"),
        ((1, 2, 3, 4, 5, 6), {}, r"missing 1 required argument: 'size'"),
        ((), {"size": 1}, r"missing 6 required arguments: 'collections', 'collected'"),
        ((1, 2, 3, 4, 5, 6, 7), {"size": 1}, r"got multiple values for argument 'size'"),
        ((1, 2, 3, 4, 5, 6, 7), {"sizes": 1}, r"got an unexpected keyword argument 'sizes'"),
        (
            (),
            {**dict.fromkeys(GenerationStats._fields[1:], 0), "sizes": 1},
            r"got an unexpected keyword argument 'sizes'",
        ),
    ],
)
def test_bad_construction_names_the_argument(args, kwargs, message):
    with pytest.raises(TypeError, match=r"GenerationStats\(\) " + message):
        GenerationStats(*args, **kwargs)


def test_as_dict_copies_nested_records_and_containers():
    s = altgc.stats()
    d = s.as_dict()
    assert d["generations"][0] == s.generations[0].as_dict()
    assert type(d["generations"]) is list and type(d["generations"][0]) is dict
    assert d["bytes_per_object"] == s.bytes_per_object
    info = _collection_info()
    d = info.as_dict()
    assert list(d) == list(CollectionInfo._fields)
    d["cycles"][0].append(("x", 0))
    d["phases_ns"]["clear"] = -1
    assert len(info.cycles[0]) == 1 and info.phases_ns["clear"] >= 0
    assert CollectionInfo(**d) != info


def test_pickle_copy_and_replace():
    info = _collection_info()
    for other in (pickle.loads(pickle.dumps(info)), copy.copy(info), copy.deepcopy(info)):
        assert type(other) is CollectionInfo and other == info
    assert copy.deepcopy(info).cycles is not info.cycles
    new = info.__replace__(generation=1)
    assert new.generation == 1 and new.examined == info.examined and info.generation == 2
    if sys.version_info >= (3, 13):
        assert copy.replace(info, automatic=True).automatic is True
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        info.__replace__(nope=1)


def test_match_by_position_and_keyword():
    info = _collection_info()
    match info:
        case CollectionInfo(2, examined, unreachable=1):
            assert examined == 1
        case _:
            pytest.fail("no match")
    match InstallInfo(False, 0, 0, 0, 0, 0, 0):
        case InstallInfo(True):
            pytest.fail("matched installed=True")
        case InstallInfo(False, adopted):
            assert adopted == 0


@given(st.lists(st.integers(min_value=0, max_value=2**62), min_size=7, max_size=7))
def test_round_trips(values):
    g = GenerationStats(*values)
    assert list(g.as_dict().values()) == values
    assert GenerationStats(**g.as_dict()) == g
    assert pickle.loads(pickle.dumps(g)) == g
    assert eval(repr(g), {"GenerationStats": GenerationStats}) == g
