/*
 * compat.h -- what altgc needs to know about each CPython version, in one
 * place.  Supported: CPython 3.11, 3.12, 3.13, 3.14 and 3.15, default
 * (GIL) builds.  The Python package refuses other interpreters at import
 * with a clear ImportError (altgc/_version_check.py); the build refuses
 * them here.
 *
 * Per concern:
 *   - the free-listed container types, whose dead objects never reach the
 *     allocator (AGC_FREELIST_KINDS below; hooks.c interposes their
 *     tp_dealloc);
 *   - the non-container types with free lists (agc_nongc_freelisted: the
 *     watch table cannot see those deaths through the allocator);
 *   - the trashcan: inside each container deallocator until 3.13, inside
 *     _Py_Dealloc for every GC object from 3.14 (AGC_DEALLOC_TRASHCAN);
 *   - the pre-header before an object (agc_has_pre32);
 *   - immortal objects (3.12+), static builtin types' weakref lists;
 *   - borrowed stack references in frames, generators and coroutines
 *     (3.14+, agc_may_borrow; read by frames.c);
 *   - private functions libpython exports and the headers no longer
 *     declare (_PyWeakref_ClearRef);
 *   - collection semantics that changed (weakref clearing, 3.15).
 * Everything else in the C sources is version independent.
 */
#ifndef ALTGC_COMPAT_H
#define ALTGC_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <time.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x03100000
#  error "altgc supports CPython 3.11 to 3.15"
#endif
#ifdef Py_GIL_DISABLED
#  error "altgc does not support free-threaded CPython (docs/FREE-THREADED.md)"
#endif

/* ---- free-listed container types -------------------------------------
 *
 * X(KIND, TYPE, NAME): the built-in GC types whose deallocators keep dead
 * exact instances on a free list (struct _Py_freelists in
 * Include/internal/pycore_freelist_state.h since 3.13; per-file free lists
 * before).  Each deallocator tests the exact type or is the type's own
 * (subclass instances reach subtype_dealloc and the allocator), so one
 * interposed tp_dealloc per type sees every death that skips the
 * allocator.  From CPython's sources, _Py_FREELIST_FREE/_Py_FREELIST_PUSH
 * call sites (3.13+) and their hand-written predecessors:
 *   list, dict, tuple (sizes 1-19)         3.11+
 *   slice                                  3.11+ (one cached slice)
 *   contextvars.Context                    3.11+
 *   async generator asend                  3.11+
 *   async generator wrapped value          3.11-3.12 (not GC from 3.13)
 *   list_iterator, tuple_iterator          3.14+
 *   builtin_function_or_method (PyCFunction_Type), builtin_method
 *   (PyCMethod_Type), method (bound methods)            3.14+
 *   _asyncio.FutureIter: a heap type of the _asyncio module, free-listed
 *   on every version (module state until 3.13, _Py_freelists since);
 *   handled apart (AGC_KIND_FUTUREITER*, below) because its type object
 *   is only known once _asyncio is imported, and each fresh import of
 *   _asyncio makes another.
 * tests/test_deaths.py generates a free-list reuse test for every kind
 * from _core._freelist_kinds(). */
/* clang-format off */
#define AGC_FREELIST_KINDS_ALL(X)                                       \
    X(AGC_KIND_LIST, PyList_Type, list)                                 \
    X(AGC_KIND_DICT, PyDict_Type, dict)                                 \
    X(AGC_KIND_TUPLE, PyTuple_Type, tuple)                              \
    X(AGC_KIND_SLICE, PySlice_Type, slice)                              \
    X(AGC_KIND_CONTEXT, PyContext_Type, context)                        \
    X(AGC_KIND_ASEND, _PyAsyncGenASend_Type, asend)

#if PY_VERSION_HEX < 0x030D0000
#  define AGC_FREELIST_KINDS_OLD(X)                                     \
    X(AGC_KIND_WRAPPED, _PyAsyncGenWrappedValue_Type, wrapped)
#else
#  define AGC_FREELIST_KINDS_OLD(X)
#endif

#if PY_VERSION_HEX >= 0x030E0000
#  define AGC_FREELIST_KINDS_NEW(X)                                     \
    X(AGC_KIND_LISTITER, PyListIter_Type, listiter)                     \
    X(AGC_KIND_TUPLEITER, PyTupleIter_Type, tupleiter)                  \
    X(AGC_KIND_CFUNCTION, PyCFunction_Type, cfunction)                  \
    X(AGC_KIND_CMETHOD, PyCMethod_Type, cmethod)                        \
    X(AGC_KIND_METHOD, PyMethod_Type, method)
#else
#  define AGC_FREELIST_KINDS_NEW(X)
#endif

#define AGC_FREELIST_KINDS(X)                                           \
    AGC_FREELIST_KINDS_ALL(X) AGC_FREELIST_KINDS_OLD(X)                 \
    AGC_FREELIST_KINDS_NEW(X)
/* clang-format on */

/* The _asyncio.FutureIter types altgc can interpose at once (one per
 * _asyncio module object; a process normally has one).  Objects of a
 * further FutureIter type cannot be registered (agc_freelist_kind returns
 * AGC_KIND_REFUSED). */
#define AGC_FUTUREITER_SITES 4

#define AGC_KIND_ENUM_(KIND, TYPE, NAME) KIND,
enum {
    AGC_FREELIST_KINDS(AGC_KIND_ENUM_) AGC_KIND_FUTUREITER0,
    AGC_NKINDS = AGC_KIND_FUTUREITER0 + AGC_FUTUREITER_SITES
};
#undef AGC_KIND_ENUM_

#define AGC_KIND_REFUSED (-2)

/* ---- the build ---------------------------------------------------------
 *
 * ALTGC_DEBUG builds keep assertions on and validate the registry after
 * every collection (agc_registry_validate, registry.h). */
#ifdef ALTGC_DEBUG
#  define AGC_ASSERT(cond) assert(cond)
#else
#  define AGC_ASSERT(cond) ((void)0)
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define AGC_PREFETCH(p) __builtin_prefetch(p)
#  define AGC_ALWAYS_INLINE inline __attribute__((always_inline))
#  define AGC_NOINLINE __attribute__((noinline, cold))
#else
#  define AGC_PREFETCH(p) ((void)0)
#  define AGC_ALWAYS_INLINE inline
#  define AGC_NOINLINE
#endif

/* The clock of every duration and death time altgc reports: monotonic,
 * in nanoseconds. */
static inline int64_t
agc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Until 3.13 list, dict and tuple deallocators protect deep structures
 * with Py_TRASHCAN_BEGIN keyed on their own address, which an interposed
 * tp_dealloc must then provide (hooks.c).  From 3.14 _Py_Dealloc does it
 * for every GC object, whatever its tp_dealloc. */
#if PY_VERSION_HEX < 0x030E0000
#  define AGC_DEALLOC_TRASHCAN 1
#else
#  define AGC_DEALLOC_TRASHCAN 0
#endif

/* Non-container objects whose deaths skip the allocator: a watch() on one
 * could not learn of its death.  float on every version; compact int,
 * range and range_iterator from 3.14; complex from 3.15. */
static inline int
agc_nongc_freelisted(PyObject *op)
{
    if (PyFloat_CheckExact(op)) {
        return 1;
    }
#if PY_VERSION_HEX >= 0x030E0000
    PyTypeObject *tp = Py_TYPE(op);
    if ((tp == &PyLong_Type && PyUnstable_Long_IsCompact((PyLongObject *)op))
        || tp == &PyRange_Type || tp == &PyRangeIter_Type) {
        return 1;
    }
#endif
#if PY_VERSION_HEX >= 0x030F0000
    if (PyComplex_CheckExact(op)) {
        return 1;
    }
#endif
    return 0;
}

/* A registered object is *dying* while its refcount is 0: its deallocator
 * has been called or is deferred, and its entry leaves the registry when
 * its memory is freed or free-listed.  Nothing may take a new reference to
 * it, traverse it or treat it as garbage meanwhile.  The interpreter
 * untracks it first, but PyObject_GC_IsTracked cannot be relied on to say
 * so: from 3.14 the trashcan in _Py_Dealloc defers a deep deallocation by
 * chaining the object through its GC header (_gc_next holds the link, so
 * it reads as tracked) until the C stack unwinds, and a collection or a
 * finalizer may run in between.  `op` borrowed. */
static inline int
agc_is_dying(PyObject *op)
{
    return Py_REFCNT(op) == 0;
}

/* CPython's _PyObject_IS_GC without the call PyObject_IS_GC costs: op's
 * type is a container type and, if the type has tp_is_gc (type objects
 * do), op says it is a container.  `op` borrowed. */
static inline int
agc_is_gc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    return PyType_IS_GC(tp) && (tp->tp_is_gc == NULL || tp->tp_is_gc(op));
}

/* CPython's _PyObject_GC_IS_TRACKED without the call
 * PyObject_GC_IsTracked costs: op (borrowed, a container: agc_is_gc) is
 * in one of the interpreter's gc lists, whose link _gc_next -- the first
 * word of the PyGC_Head 16 bytes before op -- is 0 when it is not.  The
 * same layout on every supported version's default build (free-threaded
 * builds are refused).  Reads only; the header is the object's memory. */
static inline int
agc_gc_is_tracked(PyObject *op)
{
    return ((const uintptr_t *)op)[-2] != 0;
}

/* 1 where a dying object may read as tracked (the 3.14+ trashcan). */
#if PY_VERSION_HEX >= 0x030E0000
#  define AGC_DYING_MAY_LOOK_TRACKED 1
#else
#  define AGC_DYING_MAY_LOOK_TRACKED 0
#endif

/* 1 if objects of type tp have a 32-byte pre-header before them (3.11
 * managed dict, 3.12+ managed dict or weakref); 0: the 16-byte PyGC_Head
 * only. */
static inline int
agc_has_pre32(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030C0000
    return (tp->tp_flags
            & (Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF))
           != 0;
#else
    return (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) != 0;
#endif
}

static inline int
agc_is_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

/* Immortal objects (3.12+) count as held from outside. */
#if PY_VERSION_HEX >= 0x030C0000
#  define AGC_IS_IMMORTAL(op) _Py_IsImmortal(op)
/* _Py_TPFLAGS_STATIC_BUILTIN (internal): such types keep their weakref
 * list in the interpreter state, not at tp_weaklistoffset. */
#  define AGC_TPFLAGS_STATIC_BUILTIN (1UL << 1)
#else
#  define AGC_IS_IMMORTAL(op) 0
#  define AGC_TPFLAGS_STATIC_BUILTIN 0
#endif

/* The address of op's weakref list (borrowed), or NULL when its type
 * has none or it cannot be garbage.  3.12+: a negative tp_weaklistoffset
 * is the managed weakref slot in the pre-header; 3.11 has none, and a
 * negative offset means none. */
static inline PyObject **
agc_weaklist_of(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    if (tp->tp_weaklistoffset == 0
        || (PY_VERSION_HEX < 0x030C0000 && tp->tp_weaklistoffset < 0)) {
        return NULL;
    }
    if (PyType_Check(op)
        && (((PyTypeObject *)op)->tp_flags & AGC_TPFLAGS_STATIC_BUILTIN)) {
        return NULL;   /* immortal: never garbage */
    }
    return (PyObject **)((char *)op + tp->tp_weaklistoffset);
}

/* ---- borrowed stack references (3.14+) -------------------------------
 *
 * Since 3.14 the tp_traverse of frames, generators, coroutines and async
 * generators reports the _PyStackRefs of the frame they own, including
 * *borrowed* ones (LOAD_FAST_BORROW pushes a local without a new
 * reference), which ob_refcnt never counted.  CPython's own collector
 * skips those in its subtract pass only (_PyGC_VisitStackRef tests for
 * its visit_decref).  altgc's visitors are not visit_decref, so the
 * collector gives those references back after subtracting them:
 * agc_visit_borrowed (frames.h) calls `visit` once per borrowed
 * reference that op's tp_traverse reported.  Without it a live object
 * that a suspended generator borrows would look unreachable and be
 * cleared. */
#if PY_VERSION_HEX >= 0x030E0000
#  define AGC_HAVE_BORROWED_STACKREFS 1
static inline int
agc_may_borrow(PyTypeObject *tp)
{
    return tp == &PyGen_Type || tp == &PyCoro_Type || tp == &PyFrame_Type
           || tp == &PyAsyncGen_Type;
}
#else
#  define AGC_HAVE_BORROWED_STACKREFS 0
#  define agc_may_borrow(tp) 0
#endif

/* ---- private functions -------------------------------------------------
 *
 * Exported by libpython on every supported version (checked with nm -D on
 * 3.11-3.15), no longer declared by the public headers. */

/* Clears a weakref without calling its callback. */
PyAPI_FUNC(void) _PyWeakref_ClearRef(PyWeakReference *self);

/* ---- collection semantics ---------------------------------------------
 *
 * The builtin gc's default threshold for generation 0: 700 until 3.12,
 * 2000 from 3.13 (3.14.0-3.14.4's incremental collector too). */
#if PY_VERSION_HEX >= 0x030D0000
#  define AGC_DEFAULT_THRESHOLD0 2000
#else
#  define AGC_DEFAULT_THRESHOLD0 700
#endif

/* AGC_GC_UNTRACKS_DICTS: until 3.13 a full collection untracks the
 * surviving dicts that hold only untracked objects (untrack_dicts); 3.14
 * dropped that (dicts stay tracked from creation), while tuples are still
 * untracked by every collection (and at creation when atomic). */
#if PY_VERSION_HEX >= 0x030E0000
#  define AGC_GC_UNTRACKS_DICTS 0
#else
#  define AGC_GC_UNTRACKS_DICTS 1
#endif

/* Weakrefs to the garbage (Python/gc.c's handle_weakrefs and, from 3.14,
 * clear_weakrefs; checked against the builtin gc of 3.12.1, 3.13.0,
 * 3.14.10 and 3.15.2):
 *
 * AGC_WEAKREFS_RECLEAR: after the resurrection check, before tp_clear, a
 * second pass clears -- without calling callbacks -- every weakref to the
 * objects that are still garbage and every weakref that is itself garbage
 * (CPython's clear_weakrefs over final_unreachable, GH-91636).  On 3.14
 * the only weakrefs to garbage left by then are those that finalizers or
 * weakref callbacks created during the collection: their callbacks no
 * longer run when tp_clear frees the object.  3.13.0 has no such pass
 * (later 3.13.x releases took the same fix; altgc keeps 3.13's original
 * behaviour).
 *
 * AGC_WEAKREFS_SPLIT: 3.15 (GH-135552) clears only the weakrefs *with
 * callbacks* to the garbage before the finalizers run (and calls those
 * callbacks); the weakrefs without callbacks, and the weakrefs that are
 * garbage themselves, are left to the second pass, so a resurrected
 * object keeps its callback-less weakrefs.  Until 3.14 all of them are
 * cleared before the finalizers.
 *
 * AGC_GC_STATS_DETAIL: 3.15's gc.get_stats() entries and the callbacks'
 * info dict carry `candidates` (int: the objects the collection examined,
 * the tracked mortal objects of the generations collected) and `duration`
 * (float: the collection's seconds); get_stats() sums both per generation,
 * the "start" info has 0 and 0.0. */
#if PY_VERSION_HEX >= 0x030E0000
#  define AGC_WEAKREFS_RECLEAR 1
#else
#  define AGC_WEAKREFS_RECLEAR 0
#endif
#if PY_VERSION_HEX >= 0x030F0000
#  define AGC_WEAKREFS_SPLIT 1
#  define AGC_GC_STATS_DETAIL 1
#else
#  define AGC_WEAKREFS_SPLIT 0
#  define AGC_GC_STATS_DETAIL 0
#endif

#endif /* ALTGC_COMPAT_H */
