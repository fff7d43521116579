/*
 * altgc.h -- declarations shared by the C sources of altgc._core.
 *
 * The sources are split by concern, after CPython's split of Python/gc.c
 * (the algorithm) from Modules/gcmodule.c (the module):
 *
 *   compat.h     what differs between CPython versions (free-listed
 *                types, trashcan, stack references, private functions)
 *   registry.c   the registry of borrowed object pointers (registry.h)
 *   hooks.c      learning of deaths: PEP 445 allocator wrapper and
 *                tp_dealloc interposition for free-list types
 *   collector.c  CPython's collection algorithm over the registry
 *   frames.c     reading frames: locals (3.11-3.12), borrowed stack
 *                references (3.14+)
 *   graph.c      graph queries: referrers, referents, strongly connected
 *                components
 *   heapgraph.c  watched objects and explain()'s heap index (heapgraph.h)
 *   install.c    install mode: altgc as the process's cycle collector
 *   module.c     the Python-facing module (argument checking, stats,
 *                thresholds, scheduling of automatic collections)
 *
 * Everything runs with the GIL held.  The free-threaded build is refused.
 */
#ifndef ALTGC_H
#define ALTGC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "compat.h"
#include "registry.h"

/* ALTGC_DEBUG builds keep assertions on and validate the registry after
 * every collection (see agc_registry_validate). */
#ifdef ALTGC_DEBUG
#  define AGC_ASSERT(cond) assert(cond)
#else
#  define AGC_ASSERT(cond) ((void)0)
#endif

/* The free-list kind (compat.h) of objects of exact type tp (borrowed),
 * -1 for none, or AGC_KIND_REFUSED for an _asyncio.FutureIter type beyond
 * the AGC_FUTUREITER_SITES that can be interposed.  Most registered
 * objects are lists, dicts, tuples or instances of classes (heap types
 * that accept subclasses), which the first four tests settle. */
int agc_heap_freelist_kind(PyTypeObject *tp);   /* hooks.c: FutureIter */

static inline int
agc_freelist_kind(PyTypeObject *tp)
{
    if (tp == &PyList_Type) {
        return AGC_KIND_LIST;
    }
    if (tp == &PyDict_Type) {
        return AGC_KIND_DICT;
    }
    if (tp == &PyTuple_Type) {
        return AGC_KIND_TUPLE;
    }
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        /* Classes made by `class` accept subclasses; FutureIter does not,
         * and its name starts with "_asyncio." (a heap type from 3.12, a
         * static one on 3.11). */
        if ((tp->tp_flags & Py_TPFLAGS_BASETYPE) || tp->tp_name[0] != '_') {
            return -1;
        }
        return agc_heap_freelist_kind(tp);
    }
#define AGC_KIND_TEST_(KIND, TYPE, NAME)                                \
    if (tp == &(TYPE)) {                                                \
        return KIND;                                                    \
    }
    AGC_FREELIST_KINDS(AGC_KIND_TEST_)
#undef AGC_KIND_TEST_
    if (!(tp->tp_flags & Py_TPFLAGS_BASETYPE) && tp->tp_name[0] == '_') {
        return agc_heap_freelist_kind(tp);      /* 3.11's FutureIter */
    }
    return -1;
}

/* Interposition demand (hooks.c): how many registered entries and watched
 * objects of each free-list kind need its tp_dealloc interposed.  A kind's
 * deallocator is interposed exactly while its demand is > 0, so with
 * nothing of a kind registered or watched its deaths cost nothing extra.
 * The switch happens between deallocations, under the GIL, and is safe in
 * the middle of one (see hooks.c). */
extern Py_ssize_t agc_dealloc_demand[AGC_NKINDS];
void agc_hooks_set_interposed(int kind, int on);   /* never fails */
int agc_hooks_interposed(int kind);       /* 1: our hook is in its chain */
/* {type name: demand} of the kinds interposed now: a new reference, or
 * NULL with an exception (_core._interposed(), for tests). */
PyObject *agc_hooks_interposed_dict(void);
/* {kind number: type} of every free-list kind of this version (compat.h),
 * with the _asyncio.FutureIter types met so far: a new reference, or NULL
 * with an exception (_core._freelist_kinds(), for tests). */
PyObject *agc_hooks_freelist_types(void);

static inline void
agc_dealloc_demand_add(int kind)
{
    if (agc_dealloc_demand[kind]++ == 0) {
        agc_hooks_set_interposed(kind, 1);
    }
}

static inline void
agc_dealloc_demand_drop(int kind)
{
    AGC_ASSERT(agc_dealloc_demand[kind] > 0);
    if (--agc_dealloc_demand[kind] == 0) {
        agc_hooks_set_interposed(kind, 0);
    }
}

#define AGC_NUM_GENERATIONS 3

/* Debug flags: the same values as the gc module's. */
#define AGC_DEBUG_STATS         (1 << 0)
#define AGC_DEBUG_COLLECTABLE   (1 << 1)
#define AGC_DEBUG_UNCOLLECTABLE (1 << 2)
#define AGC_DEBUG_SAVEALL       (1 << 5)
#define AGC_DEBUG_LEAK (AGC_DEBUG_COLLECTABLE | AGC_DEBUG_UNCOLLECTABLE | \
                        AGC_DEBUG_SAVEALL)

/* Phases of a collection whose durations are recorded. */
enum {
    AGC_PHASE_SHADOW,       /* shadow count := refcount */
    AGC_PHASE_SUBTRACT,     /* subtract internal references */
    AGC_PHASE_REACH,        /* reachability + legacy finalizers */
    AGC_PHASE_FINALIZE,     /* weakrefs, tp_finalize, resurrection */
    AGC_PHASE_CLEAR,        /* tp_clear, promotion, compaction */
    AGC_NUM_PHASES
};

typedef struct {
    Py_ssize_t collections;
    Py_ssize_t collected;
    Py_ssize_t uncollectable;
    Py_ssize_t candidates;     /* objects examined, summed (3.15's key) */
    int64_t total_pause_ns;
    int64_t last_pause_ns;
    int64_t max_pause_ns;
} agc_genstats;

typedef struct {
    uintptr_t id;
    uint32_t name_off;
    uint32_t group;
} agc_cycle_rec;

/* What the last collection did (module.c turns it into a dict). */
typedef struct {
    int valid;
    int generation;
    int automatic;
    Py_ssize_t examined;
    Py_ssize_t candidates;     /* the tracked mortal objects among those
                                  examined (CPython's `candidates`) */
    Py_ssize_t unreachable;
    Py_ssize_t collected;
    Py_ssize_t uncollectable;
    Py_ssize_t resurrected;
    int64_t phase_ns[AGC_NUM_PHASES];
    int64_t total_ns;
    /* The garbage's groups, recorded without allocating Python objects
     * (so without running the builtin gc or any finalizer mid-collection):
     * for each recorded object its id, its group and the offset of its
     * type's name in `names` (a copy of tp_name: the type may die). */
    agc_cycle_rec *recs;       /* PyMem_Raw */
    Py_ssize_t nrecs;
    char *names;               /* PyMem_Raw, NUL-separated */
    size_t names_len;
    /* The subgraph among the recorded objects (PyMem_Raw, CSR), kept until
     * last_collection() asks for the groups: computing them is left to
     * that call (grouped: done, recs[].group, ngroups set). */
    Py_ssize_t *offsets;
    uint32_t *edges;
    int grouped;
    Py_ssize_t ngroups;
    int cycles_truncated;
} agc_lastinfo;

/* Builds last_collection()'s "cycles" list: a new reference, or NULL with
 * an exception. */
PyObject *agc_last_cycles(void);

/* Install mode: altgc as the process's cycle collector (install.c). */
typedef struct {
    int active;
    int poll_scheduled;        /* a poll is queued as a pending call */
    /* Object allocations left before the next poll.  Decremented by the
     * allocator hook on every object allocation; PY_SSIZE_T_MAX when not
     * installed, so the hook's test never fires then. */
    Py_ssize_t budget;
    /* The builtin gc's functions (strong), set while installed. */
    PyObject *b_get_objects;   /* 3.11, 3.14+ adoption */
    PyObject *b_get_count;
    PyObject *b_freeze;
    PyObject *b_unfreeze;
    PyObject *b_collect;
    PyObject *spare;           /* get_objects()'s list, kept (3.11, 3.14+) */
    int in_builtin_collect;    /* altgc itself called the builtin collect */
    int warned_builtin_enabled;
    /* Figures for install_info(). */
    Py_ssize_t adopted;        /* objects adopted in total */
    Py_ssize_t adoptions;      /* adoption passes */
    Py_ssize_t polls;          /* polls run */
    int64_t adopt_ns;          /* time spent adopting */
    int64_t poll_ns;           /* time spent polling (adoption excluded) */
} agc_install_state;

/* The process-wide collector.  There is one registry per process because
 * the hooks that learn of deaths (allocator, tp_dealloc) are process-wide;
 * altgc refuses to load in subinterpreters (module.c). */
typedef struct {
    agc_registry reg;
    int initialized;
    int enabled;
    int collecting;            /* a collection is under way */
    int scheduled;             /* an automatic collection is pending */
    int debug;
    int threshold[AGC_NUM_GENERATIONS];
    Py_ssize_t count[AGC_NUM_GENERATIONS];
    Py_ssize_t long_lived_total;
    Py_ssize_t long_lived_pending;
    int pending_freeze;        /* +1 freeze / -1 unfreeze asked for while
                                  collecting; applied afterwards */
    Py_ssize_t cycle_detail_limit;   /* record cycles up to this many
                                        unreachable objects */
    agc_genstats stats[AGC_NUM_GENERATIONS];
    agc_lastinfo last;
    PyObject *garbage;         /* strong: list, altgc.garbage */
    PyObject *callbacks;       /* strong: list, altgc.callbacks */
    agc_install_state inst;    /* install mode (install.c) */
} agc_state;

extern agc_state AGC;

/* module.c: CPython's gc_collect_generations over the registry (an
 * automatic collection; errors go to sys.unraisablehook). */
void agc_collect_generations(void);

/* install.c */
void agc_install_init(void);
/* Called by the allocator hook when the budget runs out: queues a poll.
 * Never calls Python, never fails. */
void agc_install_budget_spent(void);
/* Adopts every container the builtin gc tracks in its generations 0-2 and
 * freezes them there, so the builtin gc skips them.  No-op when not
 * installed.  0, or -1 with an exception. */
int agc_install_sync(void);
/* Re-arms the poll after thresholds or the enabled flag changed. */
void agc_install_rearm(void);
/* After a collection of `generation` while installed: a full one also
 * empties the interpreter's free lists, as the builtin gc's full
 * collections do.  Errors go to sys.unraisablehook. */
void agc_install_after_collect(int generation);
PyObject *agc_on_builtin_collect_fn(PyObject *module, PyObject *arg);
PyObject *agc_install_fn(PyObject *module, PyObject *args);
PyObject *agc_uninstall_fn(PyObject *module, PyObject *args);
PyObject *agc_install_info_fn(PyObject *module, PyObject *unused);

/* hooks.c */
int agc_hooks_install(void);              /* 0, or -1 with exception */
/* Re-wraps the object allocator if our hook is no longer the outermost
 * one; only safe when no other hook that wraps ours is active (called right
 * after tracemalloc.stop()).  Returns 1 if it re-installed. */
int agc_hooks_reinstall_if_dropped(void);

/* collector.c
 *
 * agc_collect: run a full collection of `generation` (0..2).  Returns the
 * number of unreachable objects found (collected + uncollectable), or -1
 * with an exception set (only MemoryError before anything was changed).
 * The caller has checked AGC.collecting == 0 and sets it around the call. */
Py_ssize_t agc_collect(int generation, int automatic);

/* agc_find_unreachable: the same analysis, nothing finalized or freed.
 * Returns a new reference to a list of lists (the strongly connected
 * groups of the unreachable set), or NULL with an exception set. */
PyObject *agc_find_unreachable(int generation);

/* graph.c */

/* Tarjan's algorithm, iterative.  The graph has `n` nodes; the successors
 * of node v are targets[offsets[v] .. offsets[v+1]).  On success fills
 * comp[v] with the component number of v (components are numbered in
 * reverse topological order) and returns the number of components; -1 on
 * memory error (no exception set: the caller decides). */
Py_ssize_t agc_scc(Py_ssize_t n, const Py_ssize_t *offsets,
                   const uint32_t *targets, Py_ssize_t *comp);

/* Returns new references to lists, or NULL with an exception set. */
PyObject *agc_get_referents(PyObject *objs);   /* objs: borrowed tuple */
PyObject *agc_get_referrers(PyObject *objs);   /* objs: borrowed tuple */

/* Monotonic clock in nanoseconds. */
int64_t agc_now_ns(void);

#endif /* ALTGC_H */
