/*
 * collector.h -- CPython's collection algorithm over the registry, the
 * choice of generation and the scheduling of automatic collections
 * (collector.c), and the collector's state.
 *
 * Everything runs with the GIL held.  The free-threaded build is refused
 * (compat.h).
 */
#ifndef ALTGC_COLLECTOR_H
#define ALTGC_COLLECTOR_H

#include "events.h"
#include "graph.h"
#include "registry.h"

#define AGC_NUM_GENERATIONS 3

/* Debug flags: the same values as the gc module's. */
#define AGC_DEBUG_STATS (1 << 0)
#define AGC_DEBUG_COLLECTABLE (1 << 1)
#define AGC_DEBUG_UNCOLLECTABLE (1 << 2)
#define AGC_DEBUG_SAVEALL (1 << 5)
#define AGC_DEBUG_LEAK                                                        \
    (AGC_DEBUG_COLLECTABLE | AGC_DEBUG_UNCOLLECTABLE | AGC_DEBUG_SAVEALL)

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

/* What a mode layered above the collector (install mode) adds to every
 * collection; NULL members do nothing.  The collector calls them, never
 * names them: it knows nothing above itself. */
typedef struct {
    /* Before a requested collection or analysis (not an automatic one):
     * 0, or -1 with an exception (then nothing is collected). */
    int (*before)(void);
    /* After every collection, requested or automatic, of `generation`.
     * Errors go to sys.unraisablehook. */
    void (*after)(int generation);
    /* A second list of gc callbacks, called after altgc.callbacks with the
     * same (phase, info) (strong, or NULL; install mode: the builtin gc
     * module's list, whose entries libraries appended before install()). */
    PyObject *callbacks;
    /* Generation 0's count kept outside altgc's count0 (install mode: the
     * builtin gc's, which counts the containers created since the last
     * adoption and the adopted ones freed), added to it wherever the
     * collector reads it; and zeroed where the collector zeroes its own.
     * NULL: none. */
    Py_ssize_t (*count0_outside)(void);
    void (*count0_reset)(void);
} agc_collect_mode;

/* ---- recording a collection (the trace layer, trace.c) -------------
 *
 * A recorder learns what one collection or analysis does, object by
 * object, as it runs (agc_collect_recorded).  The collector calls it only
 * then; a normal collection has none and pays one test per phase.  Its
 * functions run in the middle of a collection: they must not run Python
 * code or allocate Python objects (they record into raw memory), and they
 * borrow every object they are given.  Young objects are named by their
 * young index j, 0 .. m-1 (registry index - ys). */

/* The phases, in CPython's order and named as its sources name them
 * (agc_trace_phase_name). */
enum {
    AGC_TP_UPDATE_REFS, /* gc_refs := refcount */
    AGC_TP_SUBTRACT_REFS, /* minus the references from young objects */
    AGC_TP_MOVE_UNREACHABLE, /* reachable from gc_refs > 0, or not */
    AGC_TP_MOVE_LEGACY, /* legacy tp_del objects and what they reach */
    AGC_TP_HANDLE_WEAKREFS, /* weakrefs cleared, callbacks called */
    AGC_TP_FINALIZE, /* tp_finalize once */
    AGC_TP_RESURRECTED, /* reachability among the garbage again */
    AGC_TP_CLEAR_WEAKREFS, /* 3.14+: the weakrefs left, without callback */
    AGC_TP_DELETE_GARBAGE, /* tp_clear, references dropped */
    AGC_TP_NUM
};

/* Per-object events. */
enum {
    AGC_TE_WEAKREF_CLEARED, /* a weakref to j (or j, a weakref) cleared */
    AGC_TE_CALLBACK, /* the callback of a weakref to j called */
    AGC_TE_FINALIZED, /* j's tp_finalize called */
    AGC_TE_CLEARED, /* j's tp_clear called */
    AGC_TE_NUM
};

/* Kinds of edge: j's traversal decremented k's gc_refs, or moved k into
 * another state (reachable, legacy, resurrected). */
enum {
    AGC_EDGE_DECREF,
    AGC_EDGE_MOVE
};

typedef struct agc_recorder agc_recorder;
struct agc_recorder {
    /* The young set is registry indices [ys, ys + m).  0, or -1 when
     * memory is short (nothing is recorded then; no exception set). */
    int (*begin)(agc_recorder *rec, Py_ssize_t ys, Py_ssize_t m);
    /* How many references to op the recorder's owner holds itself (a
     * trace's arguments): left out of op's gc_refs, as references that
     * do not belong to the program being looked at. */
    Py_ssize_t (*own_refs)(agc_recorder *rec, PyObject *op);
    /* After `phase`: young object j (NULL: gone), its gc_refs and state
     * (agc_trace_state_name). */
    void (*object)(agc_recorder *rec, int phase, Py_ssize_t j, PyObject *op,
                   Py_ssize_t gc_refs, int state);
    /* During the phase after the last `object` calls: an edge. */
    void (*edge)(agc_recorder *rec, int kind, Py_ssize_t j, Py_ssize_t k);
    /* During the phase after the last `object` calls: an event on j. */
    void (*event)(agc_recorder *rec, int event, Py_ssize_t j);
};

/* The name of a phase, and of a young object's state ("tentative",
 * "reachable", "unreachable", "legacy", "resurrected", "untracked",
 * "gone", ...): static strings. */
const char *agc_trace_phase_name(int phase);
const char *agc_trace_state_name(int state);

/* One collection of `generation` (collect != 0: a real one, like
 * agc_collect without install mode's `before`, which the caller runs) or
 * analysis (collect == 0: find_unreachable's deduction and the legacy
 * finalizers' set; nothing finalized, cleared or freed), told to `rec`.
 * Returns the number of unreachable objects found, or -1 with an
 * exception (RuntimeError during a collection, MemoryError). */
Py_ssize_t agc_collect_recorded(int generation, int collect,
                                agc_recorder *rec);

/* The process-wide collector.  There is one per process because the
 * hooks that learn of deaths (allocator, tp_dealloc) are process-wide;
 * altgc refuses to load in subinterpreters (module.c).  The registry it
 * collects is agc_reg (registry.h); generation 0's count is
 * agc_events.count0 (events.h), which the death hooks decrement. */
typedef struct {
    int initialized;
    int enabled;
    int collecting; /* a collection is under way (set and
                                  cleared by the collector only) */
    int scheduled; /* an automatic collection is pending */
    Py_ssize_t pending_runs; /* pending_collect calls that ran... */
    Py_ssize_t pending_idle; /* ...and of them, found nothing due */
    int debug;
    int threshold[AGC_NUM_GENERATIONS];
    Py_ssize_t count[AGC_NUM_GENERATIONS]; /* [1] and [2]; [0] is
                                               agc_events.count0 */
    Py_ssize_t long_lived_total;
    Py_ssize_t long_lived_pending;
    int pending_freeze; /* +1 freeze / -1 unfreeze asked for while
                                  collecting; applied afterwards */
    Py_ssize_t cycle_detail_limit; /* record cycles up to this many
                                        unreachable objects */
    agc_genstats stats[AGC_NUM_GENERATIONS];
    agc_lastinfo last;
    PyObject *garbage; /* strong: list, altgc.garbage */
    PyObject *callbacks; /* strong: list, altgc.callbacks */
    agc_collect_mode mode; /* install mode's part (install.c) */
    agc_recorder *recorder; /* the recorded collection's, else NULL */
} agc_state;

extern agc_state AGC;

/* A collection is under way: requests that arrive now (freeze, install)
 * are deferred or refused by their callers; a collection requested now
 * does not start (agc_collect). */
static inline int
agc_collecting(void)
{
    return AGC.collecting;
}

/* While a collection is under way: 1 if the registry entry at `idx` is
 * part of its garbage (found unreachable and not resurrected, legacy
 * finalizer garbage included, or held for clearing), else 0.  CPython
 * keeps that set off its generation lists until the collection ends, so
 * the builtin gc.get_objects() and gc.get_referrers() never hand it to a
 * finalizer, weakref callback or deallocation that runs meanwhile; the
 * queries that list registered objects skip it too (handed to Python
 * code, an object being cleared can crash it).  Never fails. */
int agc_collection_hides(Py_ssize_t idx);

/* The count of generation g, as gc.get_count() reports it. */
static inline Py_ssize_t
agc_gen_count(int g)
{
    if (g == 0) {
        agc_events_settle(); /* the deaths waiting to be counted */
        Py_ssize_t c = agc_events.count0;
        if (AGC.mode.count0_outside != NULL) {
            c += AGC.mode.count0_outside();
        }
        return c;
    }
    return AGC.count[g];
}

/* agc_collect: a requested collection of `generation` (0..2): collect(),
 * or the builtin gc's collect() in install mode.  Install mode's
 * AGC.mode.before runs first, AGC.mode.after last.  Returns the
 * number of unreachable objects found (collected + uncollectable); 0
 * without doing anything when a collection is under way already (the
 * re-entrancy rule: it is enforced here, for every collection, and
 * nowhere else; as gc.collect() returns 0 then); -1 with an exception
 * set (only MemoryError before anything was changed, or install mode's
 * adoption failing).  Sets and clears AGC.collecting itself. */
Py_ssize_t agc_collect(int generation);

/* agc_find_unreachable: the same analysis, nothing finalized or freed.
 * Returns a new reference to a list of lists (the strongly connected
 * groups of the unreachable set), or NULL with an exception set
 * (RuntimeError during a collection).  AGC.mode.before runs first. */
PyObject *agc_find_unreachable(int generation);

/* An object was registered (count0 went up): schedules an automatic
 * collection at the next safe point when count0 has passed threshold0, as
 * _PyObject_GC_Link does.  Never fails. */
void agc_maybe_schedule(void);

/* CPython's gc_collect_generations: collects the oldest generation whose
 * count exceeds its threshold, the full collection only when enough
 * objects await it.  An automatic collection: errors go to
 * sys.unraisablehook. */
void agc_collect_generations(void);

/* What _collector_info() reports: *young_lookup is 1 if the last
 * collection (or find_unreachable) looked its referents up through a young
 * lookup (header marks, then a young index if a later phase needed one), 0
 * if through the registry's table; *header_marks 1 if its subtract and
 * reachability passes used header marks (lookup.h); *prefetched 1 if its
 * passes over the young set prefetched ahead (lookup.h, AGC_PREFETCH_MIN:
 * full collections and large young sets); *share the permille
 * of young referents the last big collection measured (lookup.h,
 * ytab_wanted), or -1 before any; *tag_filter 1 unless its batched
 * probes of the registry's table skipped the tag filter, and *absent the
 * permille of batched referents the last big batched collection found
 * unregistered, or -1 (lookup.h, batch_skip_filter); *scratch_bytes what
 * the scratch pool keeps between collections (lookup.h).  Never fails. */
void agc_collector_info(int *young_lookup, int *header_marks, int *prefetched,
                        int *share, int *tag_filter, int *absent,
                        size_t *scratch_bytes);

/* Builds last_collection()'s "cycles" list: a new reference, or NULL with
 * an exception. */
PyObject *agc_last_cycles(void);

#endif /* ALTGC_COLLECTOR_H */
