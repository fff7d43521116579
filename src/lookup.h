/*
 * lookup.h -- the collector's scratch state and the lookup of referents
 * (included by collector.c only).
 *
 * A collection of generation g looks at the "young" objects: the registry
 * range [start[g], n) as it is when the collection starts.  Per young
 * object it keeps, in scratch arrays indexed by (index - young start):
 *
 *   shadow     the shadow reference count (CPython's gc_refs)
 *   state      where the object stands, one of the ST_* values below
 *
 * (both in one agc_node).  Everything here answers one question fast:
 * "is this referent young, and at which index?" -- for young collections
 * through marks left in the young objects' own GC headers while no Python
 * code can run (hdr_*), or a private young index (ytab_*); else through
 * batched, prefetched probes of the registry's table (flush_batch), with a
 * small cache of referents known not to be young -- and applies the
 * pass's update to the answer (apply_update).  The subtract pass also
 * captures the young-to-young edges it meets, for the later passes.
 *
 * The functions are static, and this header is included by collector.c
 * alone, so that the compiler inlines them into the collector's loops as
 * one translation unit: the collection's instruction counts depend on it.
 */
#ifndef ALTGC_LOOKUP_H
#define ALTGC_LOOKUP_H

#include "pages.h"
#include "registry.h"

enum {
    ST_TENTATIVE = 0,  /* not (yet) known reachable */
    ST_HOLE,           /* no object at this index any more */
    ST_REACHABLE,      /* reachable from outside the young set */
    ST_UNREACHABLE,    /* collectable garbage */
    ST_LEGACY,         /* garbage kept alive by a legacy tp_del */
    ST_RESURRECTED,    /* garbage made reachable again by a finalizer */
    ST_OUTSIDE,        /* registered, but the interpreter has untracked it,
                          or it is dying (refcount 0, agc_is_dying: its
                          deallocation may be deferred by the trashcan):
                          as the builtin gc, which only examines tracked
                          objects, the collection neither examines nor
                          traverses it */
    ST_DOOMED,         /* garbage held by delete_garbage until released */
};

/* ---- scratch memory kept from one collection to the next ----------- */

/* A collection's big arrays (its nodes, stack, young index, captured
 * edges) are given back here when it ends and taken again by the next
 * one, instead of being freed and allocated anew: fresh memory is fresh
 * pages, and a full collection of ~25k objects took 3.2 ms with fresh
 * arrays (page faults, a young index in cold memory) against 2.4 ms with
 * kept ones.  One buffer is kept per kind, owned by the pool while kept:
 * a collection that finds the pool empty allocates its own, and one that
 * finds a smaller buffer grows it.
 *
 * What stays kept after a collection is bounded by what the collections
 * of late needed (scratch_trim) and, beyond this collection's own need,
 * by scratch_limit(): 2 MiB, or less for a small registry (64 bytes per
 * registered object plus 64 KiB).  So a run of big collections (a
 * benchmark's, or a program's full collections back to back) reuses warm
 * arrays, and the young collections after them give the excess back.
 *
 * The buffers come from pages.h: from 256 KiB up they are mapped, so
 * that a growing buffer keeps its pages (mremap) and a shrinking one
 * returns them.  Taken from malloc, a big collection's freed arrays
 * raised glibc's mmap threshold; the next, larger ones then came from
 * the heap, which kept the holes they left (pyperformance's async_tree
 * on 3.12: peak RSS 110.8 MiB then, 103.6 MiB mapped).  Like the
 * registry, the pool lives as long as the process. */
enum {
    SCR_NODES,
    SCR_STACK,
    SCR_BITS,
    SCR_YTAB,
    SCR_CAP_EDGES,
    SCR_CAP_OFF,
    SCR_GARBAGE,
    SCR_HDR,
    SCR_NUM
};

/* Young sets from this size up are prefetched in every collection (see
 * agc_work.prefetch); a full collection always prefetches.  A young
 * collection's objects were made since the last one and are still in the
 * caches: prefetching them costs instructions and saves no wait.
 * Measured (benchmarks/RESULTS.md, 2026-12-06): young collections of 700
 * to 64,000 new objects ran as fast or faster without. */
#define AGC_PREFETCH_MIN ((Py_ssize_t)1 << 16)

#define SCRATCH_KEEP_MAX ((size_t)2 << 20)
#define SCRATCH_PER_OBJECT 64
#define SCRATCH_FLOOR ((size_t)64 << 10)

static struct {
    void *p;        /* owned by the pool, or NULL */
    size_t bytes;   /* its size */
    size_t need;    /* the most bytes of this kind the collection under
                       way asked for (0: none yet) */
    size_t recent;  /* the needs of the collections before it, each
                       forgotten by a 32nd per collection */
} scratch_pool[SCR_NUM];

/* The collection under way needs `bytes` bytes of this kind. */
static inline void
scratch_need(int kind, size_t bytes)
{
    if (scratch_pool[kind].need < bytes) {
        scratch_pool[kind].need = bytes;
    }
}

/* A buffer of at least `bytes` bytes (new: the caller owns it and gives it
 * back with scratch_give), its usable size in *got when got is not NULL;
 * or NULL, with no exception set, when memory is short.  Its contents are
 * undefined. */
static void *
scratch_take(int kind, size_t bytes, size_t *got)
{
    void *p = scratch_pool[kind].p;
    size_t have = scratch_pool[kind].bytes;
    scratch_pool[kind].p = NULL;
    scratch_pool[kind].bytes = 0;
    if (bytes == 0) {
        bytes = 1;
    }
    scratch_need(kind, bytes);
    if (p != NULL && have < bytes) {
        /* Mapped to mapped: the pages move, none is copied. */
        void *q = agc_pages_mapped(have) && agc_pages_mapped(bytes)
                      ? agc_pages_realloc(p, have, bytes)
                      : NULL;
        if (q == NULL) {
            agc_pages_free(p, have);
        }
        p = q;
        have = bytes;
    }
    if (p == NULL) {
        have = bytes;
        p = agc_pages_alloc(have);
    }
    if (got != NULL) {
        *got = p != NULL ? have : 0;
    }
    return p;
}

/* Bytes the pool keeps now. */
static size_t
scratch_kept(void)
{
    size_t total = 0;
    for (int k = 0; k < SCR_NUM; k++) {
        total += scratch_pool[k].bytes;
    }
    return total;
}

/* The most bytes a kept buffer may have beyond what the last collection
 * needed, for the registry as it is now. */
static size_t
scratch_limit(void)
{
    size_t limit = (size_t)agc_registry_size(&agc_reg) * SCRATCH_PER_OBJECT
                   + SCRATCH_FLOOR;
    return limit < SCRATCH_KEEP_MAX ? limit : SCRATCH_KEEP_MAX;
}

/* Takes back the buffer p of `bytes` bytes (stolen; NULL is ignored):
 * kept if the pool has none of this kind (scratch_trim bounds it when the
 * collection ends), else freed. */
static void
scratch_give(int kind, void *p, size_t bytes)
{
    if (p == NULL) {
        return;
    }
    if (scratch_pool[kind].p == NULL) {
        scratch_pool[kind].p = p;
        scratch_pool[kind].bytes = bytes;
        return;
    }
    agc_pages_free(p, bytes);
}

/* When a collection ends: cuts each kept buffer down to what the
 * collections of late need of its kind (a mapped buffer by mremap, which
 * gives the tail's pages back).  The target is this collection's
 * need, or, when larger, the recent needs (a 32nd forgotten per
 * collection) up to scratch_limit().  A buffer is cut when it is above
 * scratch_limit() or twice its target; one whose target is small is
 * freed, and the next collection allocates what it needs.  So a big
 * collection's arrays serve the big collections right after it, a
 * generation-1 collection's the next one (ten young collections later),
 * and both are given back within a few dozen young collections. */
static void
scratch_trim(void)
{
    size_t limit = scratch_limit();
    for (int k = 0; k < SCR_NUM; k++) {
        size_t need = scratch_pool[k].need;
        size_t recent = scratch_pool[k].recent;
        recent -= recent / 32;
        recent = recent > need ? recent : need;
        scratch_pool[k].recent = recent;
        scratch_pool[k].need = 0;
        size_t keep = recent < limit ? recent : limit;
        keep = keep > need ? keep : need;
        size_t bytes = scratch_pool[k].bytes;
        if (bytes <= keep || (bytes <= limit && bytes / 2 <= keep)) {
            continue;
        }
        void *q = NULL;
        if (keep != 0 && agc_pages_mapped(keep)) {
            q = agc_pages_realloc(scratch_pool[k].p, bytes, keep);
        }
        if (q == NULL) {
            agc_pages_free(scratch_pool[k].p, bytes);
            keep = 0;
        }
        scratch_pool[k].p = q;
        scratch_pool[k].bytes = keep;
    }
}

#define AGC_BATCH 64
#define AGC_MISSES 8        /* entries of the known-not-young cache */

/* Scratch state of one young object.  `op` is a copy of its registry
 * entry's address (valid for confirming a table lookup: a slot that maps
 * to young index j belongs to the live object there) with the ST_* state
 * in its low 3 bits; `shadow` is the shadow reference count.  Keeping
 * both in one 16-byte node makes a referent's update touch one cache line
 * besides its table slot. */
typedef struct {
    uintptr_t op;
    Py_ssize_t shadow;
} agc_node;

#define STATE(w, j) ((uint8_t)((w)->nodes[j].op & 7))
#define SET_STATE(w, j, s)                                                    \
    ((w)->nodes[j].op = ((w)->nodes[j].op & ~(uintptr_t)7) | (uintptr_t)(s))
#define NODE_OBJ(w, j) ((PyObject *)((w)->nodes[j].op & ~(uintptr_t)7))

enum {
    MODE_DECREF,
    MODE_DECREF_WITHIN,
    MODE_MARK
};

typedef struct {
    agc_registry *reg;
    /* The registry's address range when the collection started: every
     * young object lies in it (the range only grows while objects are
     * registered, and is reset only when none is). */
    uintptr_t lo_addr;
    uintptr_t hi_addr;
    Py_ssize_t ys;            /* young range [ys, ye) */
    Py_ssize_t ye;
    agc_node *nodes;
    uint32_t *stack;
    Py_ssize_t sp;
    uint8_t from;             /* MODE_MARK: state that may change ... */
    uint8_t to;               /* ... into this one */
    Py_ssize_t scan;          /* MODE_MARK: nodes below this are pushed on
                                 the stack; the others the scan will meet */
    uint8_t within;           /* MODE_DECREF_WITHIN: the set's state */
    /* Referents reported by tp_traverse wait in `batch` and are looked up
     * a batch at a time, their table slots and entries prefetched first:
     * the lookups' cache misses then overlap instead of following one
     * another.  `mode` says what a found referent's update is. */
    int mode;
    visitproc visit;          /* the visitor of `mode` (set_mode) */
    int python_ran;           /* a callback or finalizer was called */
    /* The passes over the young set prefetch a few iterations ahead
     * (work_init: not in a young collection of fewer than
     * AGC_PREFETCH_MIN objects, which the caches still hold). */
    int prefetch;
    /* What the garbage's types can need of the phases that run Python
     * code (GK_* in collector.c), found by move_legacy_finalizers: a
     * phase with nothing to do is skipped instead of walking the garbage
     * to find that out. */
    unsigned garbage_kinds;
    /* Young objects that are exact tuples or dicts, a bit each (set by
     * deduce_unreachable, which reads every object's header anyway):
     * the only objects untrack_atomic needs to look at. */
    uint64_t *atomic_bits;
    /* The young indices deduce_unreachable found unreachable, ascending
     * (collector.c, garbage_at): the phases after it run over these
     * instead of the whole young set.  NULL when memory was short. */
    uint32_t *garbage;
    Py_ssize_t ngarbage;
    Py_ssize_t candidates;    /* deduce_unreachable: tracked mortal young
                                 objects (CPython's update_refs count) */
    int nbatch;
    PyObject *batch[AGC_BATCH];
    /* Referents the subtract pass's visitors were given, and how many of
     * them were not young (not containers, old, or not registered): the
     * share that tells ytab_wanted which lookup suits this heap. */
    Py_ssize_t visits;
    Py_ssize_t not_young;
    /* The batched probes (flush_batch): referents looked up, and how many
     * of them the registry does not hold (the tag filter said so, or the
     * probe found no candidate); and whether this collection skips the
     * tag filter (batch_skip_filter). */
    Py_ssize_t batched;
    Py_ssize_t batch_absent;
    int batch_nofilter;
    /* The size in bytes of each scratch buffer this collection took
     * (scratch_take), to give it back with (work_fini). */
    size_t scr_bytes[SCR_NUM];
    /* Young index: a private open-addressing table from address to young
     * index, for the lookups header marks cannot answer (after Python code
     * may have run, or in a recorded collection): when a young lookup
     * suits the collection (ytab_wanted), every such lookup stays in this
     * small, cache-resident table -- a referent that is not in it is not
     * young, whatever else it is -- instead of probing the registry's
     * table, which holds the whole heap.  NULL: not built (yet), or the
     * registry's table serves.  A slot is a young index plus one (0:
     * empty), 4 bytes, so that the table of a 2^15-object young set
     * (256 KiB) stays in the L2 cache; a candidate is confirmed against
     * its node's address (NODE_OBJ), which the shadow pass sets (the
     * update a hit applies reads that node anyway).  Entries of young
     * objects that die during the collection stay; their nodes keep the
     * address and are ST_HOLE by then, which no update touches. */
    uint32_t *ytab;
    size_t ytab_mask;
    /* A young lookup suits this collection (ytab_wanted), and no young
     * index is built yet: young_index() and set_mode() build it when a
     * phase after the header marks needs one (ytab_need). */
    int ytab_pending;
    /* deduce_unreachable has ended: from then on every lookup asks about
     * the garbage (the legacy finalizers' propagation, the weakrefs'
     * callbacks, resurrection, the garbage's groups), so a young index
     * built then holds the garbage only. */
    int deduced;
    /* Header marks (see hdr_mark): hdr_saved[j] is young object j's
     * _gc_prev word as it was before the mark, for the objects marked
     * (those ST_TENTATIVE after the shadow pass); hdr_live is 1 while the
     * marks are in the headers.  NULL when the collection does not use
     * them. */
    uintptr_t *hdr_saved;
    int hdr_live;
    /* Young-to-young edges captured by the subtract pass, so that the
     * reachability pass and the garbage's components read them instead of
     * traversing and looking every referent up again: the referents'
     * young indices, cap_edges[cap_off[j] .. cap_off[j + 1]) for young
     * object j < cap_upto (the sources whose lists are complete; the
     * capture stops when CAPTURE_PER_OBJECT edges per young object are
     * used up or memory is short).  Valid until Python code runs: only
     * deduce_unreachable and garbage_subgraph read them.  Sources come
     * in index order, so cap_off is filled lazily up to cap_next. */
    uint32_t *cap_edges;
    uint32_t *cap_off;
    size_t cap_n;
    size_t cap_size;
    size_t cap_max;
    Py_ssize_t cap_next;      /* cap_off[0 .. cap_next) are set */
    Py_ssize_t cap_upto;
    Py_ssize_t cap_src;       /* the object being traversed */
    int capturing;
    int32_t batch_src[AGC_BATCH];   /* source of each batched referent */
    Py_ssize_t batch_cnt[AGC_BATCH];  /* ... and how many times in a row
                                          that source visited it */
    /* The young index's last answer (visit_*_ytab): consecutive visits of
     * one referent, [x] * n, need one probe.  Reset by set_mode. */
    PyObject *last_ref;
    Py_ssize_t last_j;
    Py_ssize_t last_src;      /* visit_decref_ytab: the source it last
                               * counted an edge to last_ref of */
    /* The last edge captured, so that a run of the same edge is kept
     * once (duplicates change no reachability and no component). */
    Py_ssize_t cap_last_src;
    Py_ssize_t cap_last_t;
    /* edge collection for the strongly connected components */
    Py_ssize_t *local;        /* young index -> node number, or -1 */
    uint32_t *edges;
    Py_ssize_t nedges;
    Py_ssize_t edges_cap;
    int edges_failed;
    /* A recorded collection (collector.h, agc_recorder): the recorder,
     * and the visitor every mode uses then (collector.c's, unbatched, no
     * young index shortcut, no edge capture: it reports each update). */
    struct agc_recorder *rec;
    visitproc rec_visit;
    /* Referents found not young (old, or not registered), direct-mapped:
     * the type an instance heap's every object visits, say, is then
     * dropped without hashing it again.  Never reset: the young set only
     * shrinks during a collection, so what was not young stays so. */
    PyObject *miss[AGC_MISSES];
} agc_work;

static inline Py_ssize_t ytab_find(const agc_work *w, PyObject *ref);
static inline Py_ssize_t hdr_find(const agc_work *w, PyObject *ref,
                                  PyTypeObject *tp);
static void ytab_build(agc_work *w);

/* A phase after the header marks needs the young index it was spared
 * until then (ytab_pending): builds it (or, when memory is short, leaves
 * the registry's table to answer). */
static inline void
ytab_need(agc_work *w)
{
    if (w->ytab_pending) {
        w->ytab_pending = 0;
        ytab_build(w);
    }
}

/* Young index of `ref` (borrowed), or -1 when it is not a registered young
 * object.  Through the young index, when there is one, the index may be
 * that of a young object that has died since (its node is ST_HOLE): the
 * callers check the state. */
static inline Py_ssize_t
young_index(agc_work *w, PyObject *ref)
{
    if (ref == NULL) {
        return -1;      /* a hostile tp_traverse may visit NULL */
    }
    if (w->hdr_live) {
        PyTypeObject *tp = Py_TYPE(ref);
        return PyType_IS_GC(tp) ? hdr_find(w, ref, tp) : -1;
    }
    ytab_need(w);
    if (w->ytab != NULL) {
        return ytab_find(w, ref);
    }
    Py_ssize_t idx = agc_registry_find(w->reg, ref);
    if (idx < w->ys || idx >= w->ye) {
        return -1;
    }
    return idx - w->ys;
}

/* Object at young index j (borrowed), or NULL for a hole. */
static inline PyObject *
young_obj(const agc_work *w, Py_ssize_t j)
{
    return agc_registry_obj(w->reg, w->ys + j);
}

/* The hot visitors (defined below): each is a body, *_in, that the item
 * loops of traverse() inline, and the visitproc that calls it. */
static int visit_batched(PyObject *ref, void *arg);
static int visit_mark_ytab(PyObject *ref, void *arg);
static int visit_decref_ytab(PyObject *ref, void *arg);
static inline int visit_batched_in(PyObject *ref, agc_work *w);
static inline int visit_mark_ytab_in(PyObject *ref, agc_work *w);
static inline int visit_decref_ytab_in(PyObject *ref, agc_work *w);

/* Visits items[n - 1] down to items[0], as list_traverse and
 * tupletraverse do, skipping NULLs as Py_VISIT does (a list under
 * construction may hold some), with `visit` called directly: one of the
 * hot visitors, which the compiler inlines into each loop.  The items are
 * borrowed. */
#define VISIT_ITEMS(visit, items, n)                                          \
    do {                                                                      \
        for (Py_ssize_t i_ = (n) - 1; i_ >= 0; i_--) {                        \
            PyObject *r_ = (items)[i_];                                       \
            if (r_ != NULL) {                                                 \
                (void)visit(r_, w);                                           \
            }                                                                 \
        }                                                                     \
    } while (0)

/* Reports op's referents to `visit` (op borrowed), as its tp_traverse
 * does.  An exact list's or tuple's items are visited here when `visit`
 * is one of the hot visitors: through list_traverse or tupletraverse,
 * each item cost an indirect call and the visitor's prologue (a list
 * holding one object 500 times, pyperformance's gc_traversal: 17
 * instructions per item in visit_decref_ytab).  The same items in the
 * same order; any other visitor (a recorder's, the components') gets
 * the type's own tp_traverse. */
static void
traverse(PyObject *op, visitproc visit, agc_work *w)
{
    PyTypeObject *type = Py_TYPE(op);
    if (type == &PyList_Type || type == &PyTuple_Type) {
        PyObject **items = type == &PyTuple_Type
                               ? ((PyTupleObject *)op)->ob_item
                               : ((PyListObject *)op)->ob_item;
        Py_ssize_t n = Py_SIZE(op);
        if (visit == visit_decref_ytab) {
            VISIT_ITEMS(visit_decref_ytab_in, items, n);
            return;
        }
        if (visit == visit_batched) {
            VISIT_ITEMS(visit_batched_in, items, n);
            return;
        }
        if (visit == visit_mark_ytab) {
            VISIT_ITEMS(visit_mark_ytab_in, items, n);
            return;
        }
    }
    traverseproc tp = type->tp_traverse;
    if (tp != NULL) {
        (void)tp(op, visit, w);
    }
}

/* The update a referent at young index j receives, by mode, for `times`
 * references to it. */
static inline void
apply_update(agc_work *w, Py_ssize_t j, PyObject *ref, Py_ssize_t times)
{
    switch (w->mode) {
    case MODE_DECREF:
        w->nodes[j].shadow -= times;
        break;
    case MODE_DECREF_WITHIN:
        if (STATE(w, j) == w->within) {
            w->nodes[j].shadow -= times;
        }
        break;
    default:   /* MODE_MARK */
        if (STATE(w, j) == w->from) {
            SET_STATE(w, j, w->to);
            if (j < w->scan) {
                w->stack[w->sp++] = (uint32_t)j;
                AGC_PREFETCH(ref);      /* it will be traversed soon */
            }
        }
        break;
    }
}

static inline size_t
ytab_home(PyObject *ref, size_t mask)
{
    uint64_t a = (uint64_t)(uintptr_t)ref >> 4;
    return (size_t)((a * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

/* Young index of `ref` through the young index, or -1. */
static inline Py_ssize_t
ytab_find(const agc_work *w, PyObject *ref)
{
    size_t i = ytab_home(ref, w->ytab_mask);
    for (;;) {
        uint32_t s = w->ytab[i];
        if (s == 0) {
            return -1;
        }
        if (NODE_OBJ(w, s - 1) == ref) {
            return (Py_ssize_t)s - 1;
        }
        i = (i + 1) & w->ytab_mask;
    }
}

/* Which lookup a collection uses (ytab_wanted).  A young lookup -- header
 * marks while they last, then the young index -- when the young set is at
 * most a quarter of the registry, or small enough (YTAB_SMALL objects, a
 * young index of at most 256 KiB) for the lookup to stay in the cache even
 * when the young set is most of the registry: a mark or a direct
 * address -> index probe is cheaper than the registry's tag, slot and
 * confirmation.  The registry's table otherwise.
 *
 * Between YTAB_SMALL and YTAB_MIXED objects the better lookup depends on
 * the heap.  A young lookup's visitor reads each referent's type, to drop
 * what cannot be a container without a probe; the batched probes of the
 * registry's table read nothing of a referent.  In a heap of containers
 * that refer to containers at random (every referent a miss of the cache
 * and young), that read costs more than it saves: 2.0x the builtin gc's
 * time at 20,000 random lists with the young index, 1.4x batched.  In a
 * program's heap (functions, dicts, types: about half of the referents
 * strings and ints), it saves the probes: pyperformance's gc_collect, full
 * collections of 33-36k objects, subtracted in 1.5 ms with the young index
 * against 2.1 ms batched.  So above YTAB_SMALL a young lookup is used only
 * when the last big collection (ytab_note_share) found at most
 * YTAB_MIXED_SHARE permille of its referents young. */
#define YTAB_SMALL ((Py_ssize_t)1 << 15)
#define YTAB_MIXED ((Py_ssize_t)1 << 16)
#define YTAB_MIXED_SHARE 700
#define YTAB_SHARE_MIN_VISITS 4096

/* Permille of the referents found young by the last subtract pass that
 * saw at least YTAB_SHARE_MIN_VISITS referents; -1 before the first. */
static int ytab_young_share = -1;

/* The last collection (or analysis) used a young lookup
 * (agc_collector_info). */
static int young_lookup_used = 0;

/* The last collection's (or analysis's) subtract pass found young
 * referents through header marks (agc_collector_info). */
static int hdr_last_used = 0;

/* The last collection's (or analysis's) passes over the young set
 * prefetched ahead (agc_work.prefetch; agc_collector_info). */
static int prefetch_last_used = 0;

/* Records the share of young referents of the subtract pass that ends,
 * when its young set is at least half of the registry: in a young
 * collection most referents are old, which says nothing of the heap. */
static void
ytab_note_share(const agc_work *w)
{
    Py_ssize_t m = w->ye - w->ys;
    if (w->visits >= YTAB_SHARE_MIN_VISITS
        && m * 2 >= agc_registry_size(w->reg)) {
        Py_ssize_t young = w->visits - w->not_young;
        ytab_young_share = (int)(young * 1000 / w->visits);
    }
}

/* 1 if a young lookup (header marks, else a young index) suits this
 * collection's young set, 0 if the registry's table does (the rule
 * above).  Records the choice for agc_collector_info. */
static int
ytab_wanted(const agc_work *w)
{
    Py_ssize_t m = w->ye - w->ys;
    int mixed = m <= YTAB_MIXED && ytab_young_share >= 0
                && ytab_young_share <= YTAB_MIXED_SHARE;
    young_lookup_used = !(
        m == 0 || (size_t)m >= UINT32_MAX
        || (m > YTAB_SMALL && !mixed
            && (size_t)m * 4 > (size_t)agc_registry_size(w->reg)));
    return young_lookup_used;
}

/* Builds the young index: over the young objects still in the registry,
 * or once deduce_unreachable has ended, over the garbage alone (see
 * `deduced`; a young object left out reads as not young, which every
 * later lookup takes it to be).  Leaves w->ytab NULL (the registry's table
 * answers) when memory is short.  Writes no node: a candidate is
 * confirmed against its node's address, which the shadow pass sets before
 * any lookup. */
static void
ytab_build(agc_work *w)
{
    int garbage_only = w->deduced && w->garbage != NULL;
    Py_ssize_t n = garbage_only ? w->ngarbage : w->ye - w->ys;
    size_t size = 64;
    while (size < (size_t)n * 2) {
        size *= 2;
    }
    w->ytab = scratch_take(SCR_YTAB, size * sizeof(*w->ytab),
                           &w->scr_bytes[SCR_YTAB]);
    if (w->ytab == NULL) {
        return;
    }
    memset(w->ytab, 0, size * sizeof(*w->ytab));
    w->ytab_mask = size - 1;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t j = garbage_only ? (Py_ssize_t)w->garbage[k] : k;
        PyObject *op = young_obj(w, j);
        if (op == NULL) {
            continue;
        }
        size_t i = ytab_home(op, w->ytab_mask);
        while (w->ytab[i] != 0) {
            i = (i + 1) & w->ytab_mask;
        }
        w->ytab[i] = (uint32_t)(j + 1);
    }
}

/* ---- header marks --------------------------------------------------
 *
 * The builtin gc answers "is this referent in the generation being
 * collected?" from the referent's own PyGC_Head, beside the type it reads
 * first.  altgc does the same, with marks of its own, for the span of a
 * collection in which no Python code runs, nothing is freed and no Python
 * object is allocated -- the shadow, subtract and reachability passes of
 * deduce_unreachable (collector.c) -- and at no other time:
 *
 *   - the shadow pass saves the _gc_prev word of each young object it
 *     makes ST_TENTATIVE (tracked and alive) in hdr_saved[j], and writes
 *     (j << AGC_HDR_SHIFT) | AGC_HDR_MARK | its two flag bits in its place
 *     (hdr_mark).  _gc_prev is the builtin gc's back link with its flags
 *     (FINALIZED, COLLECTING) in bits 0-1, the same on 3.11-3.15; _gc_next
 *     (the forward link, which also says "tracked") is never written;
 *   - a referent is young if its type is a container type, tp_is_gc (where
 *     the type has it: a static type object has no header) says it is one,
 *     its _gc_prev has AGC_HDR_MARK, and the node at the index the word
 *     gives holds its address (hdr_find).  A link is 8-byte aligned, so
 *     bit 2 is clear in every word but a mark; and whatever a word holds,
 *     only an object this pass marked passes the last test;
 *   - the last loop of deduce_unreachable writes every saved word back
 *     (hdr_unmark) before anything else may read a header.  Invariant H1
 *     (hdr_check, in the debug build): while hdr_live, exactly the young
 *     objects in state ST_TENTATIVE, ST_REACHABLE or ST_UNREACHABLE carry
 *     their own mark; once it is 0, none does.
 *
 * It spares a young collection the young index (one hash insert per
 * young object) and a hash probe per referent.  A phase that needs a
 * lookup later, after Python code may have run, builds the young index
 * then (ytab_need).  Recorded collections do not mark: their recorder is
 * told of each update as it happens. */
#define AGC_HDR_MARK ((uintptr_t)4)
#define AGC_HDR_FLAGS ((uintptr_t)3)
#define AGC_HDR_SHIFT 3

/* The _gc_prev word of op (borrowed, a container): the second word of the
 * PyGC_Head 16 bytes before it. */
static inline uintptr_t *
hdr_word(PyObject *op)
{
    return &((uintptr_t *)op)[-1];
}

/* Marks young object j, op (borrowed, tracked, alive). */
static inline void
hdr_mark(agc_work *w, Py_ssize_t j, PyObject *op)
{
    uintptr_t *p = hdr_word(op);
    uintptr_t old = *p;
    AGC_ASSERT((old & AGC_HDR_MARK) == 0);
    w->hdr_saved[j] = old;
    *p = ((uintptr_t)j << AGC_HDR_SHIFT) | AGC_HDR_MARK
         | (old & AGC_HDR_FLAGS);
}

/* Gives young object j, op (borrowed, marked by hdr_mark), its word
 * back. */
static inline void
hdr_unmark(const agc_work *w, Py_ssize_t j, PyObject *op)
{
    uintptr_t *p = hdr_word(op);
    AGC_ASSERT(*p
               == (((uintptr_t)j << AGC_HDR_SHIFT) | AGC_HDR_MARK
                   | (w->hdr_saved[j] & AGC_HDR_FLAGS)));
    *p = w->hdr_saved[j];
}

/* Young index of ref (borrowed, alive; tp, its type, a container type)
 * through its mark, or -1. */
static inline Py_ssize_t
hdr_find(const agc_work *w, PyObject *ref, PyTypeObject *tp)
{
    if (tp->tp_is_gc != NULL && !tp->tp_is_gc(ref)) {
        return -1;
    }
    uintptr_t word = *hdr_word(ref);
    size_t j = (size_t)(word >> AGC_HDR_SHIFT);
    if (!(word & AGC_HDR_MARK) || j >= (size_t)(w->ye - w->ys)
        || NODE_OBJ(w, j) != ref) {
        return -1;
    }
    return (Py_ssize_t)j;
}

#ifdef ALTGC_DEBUG
/* Invariant H1 (see above); aborts when it does not hold. */
static void
hdr_check(agc_work *w)
{
    for (Py_ssize_t j = 0; j < w->ye - w->ys; j++) {
        uint8_t st = STATE(w, j);
        if (st != ST_TENTATIVE && st != ST_REACHABLE && st != ST_UNREACHABLE) {
            continue;
        }
        PyObject *op = NODE_OBJ(w, j);
        int marked = hdr_find(w, op, Py_TYPE(op)) == j;
        assert(marked == w->hdr_live);
        (void)marked;
    }
}
#else
#  define hdr_check(w) ((void)0)
#endif

static inline size_t
miss_slot(PyObject *ref)
{
    return ((uintptr_t)ref >> 4) & (AGC_MISSES - 1);
}

/* ref (borrowed) is not young. */
static inline void
note_miss(agc_work *w, PyObject *ref)
{
    w->miss[miss_slot(ref)] = ref;
}

/* Edge capture (see agc_work).  A young set captures up to this many
 * young referents per object on average (4 bytes each, freed when the
 * collection ends). */
#define CAPTURE_PER_OBJECT 8

/* The capture buffer is full: doubles it up to cap_max.  0, or -1 when it
 * cannot grow: the capture ends at src (whose list is incomplete).  Kept
 * out of line so that the visitors' hot path stays small. */
static AGC_NOINLINE int
cap_grow(agc_work *w, Py_ssize_t src)
{
    size_t size = w->cap_size * 2;
    if (size > w->cap_max) {
        size = w->cap_max;
    }
    uint32_t *e = size > w->cap_size
                      ? agc_pages_realloc(w->cap_edges,
                                          w->scr_bytes[SCR_CAP_EDGES],
                                          size * sizeof(*e))
                      : NULL;
    if (e == NULL) {
        w->capturing = 0;
        w->cap_upto = src;
        return -1;
    }
    w->cap_edges = e;
    w->cap_size = size;
    w->scr_bytes[SCR_CAP_EDGES] = size * sizeof(*e);
    scratch_need(SCR_CAP_EDGES, size * sizeof(*e));
    return 0;
}

/* Opens the lists of edges up to young object src's (sources come in
 * index order): the subtract loop before traversing src when the young
 * index serves, cap_append lazily for the batched visitor, capture_end
 * for all of them. */
static inline void
cap_open(agc_work *w, Py_ssize_t src)
{
    while (w->cap_next <= src) {
        w->cap_off[w->cap_next++] = (uint32_t)w->cap_n;
    }
}

/* Appends the edge src -> t to src's open list, or ends the capture at
 * src when the buffer is full and cannot grow. */
static inline void
cap_push(agc_work *w, Py_ssize_t src, Py_ssize_t t)
{
    if (w->cap_n == w->cap_size && cap_grow(w, src) < 0) {
        return;
    }
    w->cap_edges[w->cap_n++] = (uint32_t)t;
}

/* Records the edge src -> t (young indices) for the batched visitor,
 * keeping a run of the same edge once. */
static inline void
cap_append(agc_work *w, Py_ssize_t src, Py_ssize_t t)
{
    if (src == w->cap_last_src && t == w->cap_last_t) {
        return;
    }
    w->cap_last_src = src;
    w->cap_last_t = t;
    cap_open(w, src);
    cap_push(w, src, t);
}

/* The tag filter in the batched probes.  It answers most lookups of
 * unregistered referents (strings, ints) from a bitmap a sixteenth to an
 * eighth of the table's size, but every registered referent pays its
 * read on top of the probe: in a heap of containers referring to
 * containers, a cache miss per referent for nothing (a full collection
 * of 10^7 random lists: 2.01 s with the filter, 1.83 s without).  So a
 * collection skips it when the last one that batched at least
 * BATCH_MEASURE_MIN referents found at most BATCH_NOFILTER_ABSENT
 * permille of them not registered; the count goes on without the filter
 * (the probe that finds no candidate counts), so a heap that changes
 * turns it back on. */
#define BATCH_MEASURE_MIN 4096
#define BATCH_NOFILTER_ABSENT 200

/* Permille of the batched referents the last measuring collection found
 * not registered; -1 before the first. */
static int batch_absent_share = -1;

/* Records the batched probes' share of unregistered referents, when there
 * were enough of them to say something of the heap. */
static void
batch_note_absent(const agc_work *w)
{
    if (w->batched >= BATCH_MEASURE_MIN) {
        batch_absent_share = (int)(w->batch_absent * 1000 / w->batched);
    }
}

/* The last collection (or analysis) skipped the tag filter in its
 * batched probes (agc_collector_info). */
static int batch_nofilter_used = 0;

/* 1 if this collection's batched probes skip the tag filter (above).
 * Records the choice for agc_collector_info. */
static int
batch_skip_filter(void)
{
    batch_nofilter_used = batch_absent_share >= 0
                          && batch_absent_share <= BATCH_NOFILTER_ABSENT;
    return batch_nofilter_used;
}

/* Looks up the batched referents and applies the mode's update to those
 * that are young.  Three passes: compute home slots and prefetch them;
 * probe the table and prefetch the candidate entry and its scratch
 * state; confirm the candidate (a slot match is not proof) and update. */
static void
flush_batch(agc_work *w)
{
    agc_registry *reg = w->reg;
    int n = w->nbatch;
    size_t pos[AGC_BATCH];
    uint64_t hashes[AGC_BATCH];
    Py_ssize_t cand[AGC_BATCH];
    w->nbatch = 0;
    w->visits += n; /* a run of one referent ([x] * n) counts once */
    for (int i = 0; i < n; i++) {
        hashes[i] = agc_hash_of(w->batch[i]);
        uint32_t tag = (uint32_t)(hashes[i] >> 32);
        pos[i] = w->batch_nofilter ? agc_registry_probe_home(reg, tag)
                                   : agc_registry_probe_start(reg, tag);
    }
    w->batched += n;
    for (int i = 0; i < n; i++) {
        /* The first slot that may hold the referent (registry.h: its check
         * field) is the candidate.  A young candidate is confirmed in the
         * next pass against its (prefetched) node.  An
         * old one needs no confirmation if no other slot of the probe run
         * may hold it: the referent is then that old object or not
         * registered, young either way not.  Walking on to the end of the
         * run reads adjacent slots, cheaper than the random read of the
         * old entry; a second candidate takes the slow path. */
        size_t p = pos[i];
        Py_ssize_t k = -1;
        int matches = 0;
        for (;;) {
            if (p == (size_t)-1) {
                break;
            }
            uint32_t s = agc_registry_probe_slot(reg, p);
            if (s == 0) {
                break;
            }
            if (agc_slot_may_be(reg, s, hashes[i])) {
                if (matches++ == 0) {
                    k = agc_slot_index(reg, s);
                    if (k >= w->ys && k < w->ye) {
                        break;
                    }
                }
            }
            p = agc_registry_probe_next(reg, p);
        }
        if (k >= w->ys && k < w->ye) {
            AGC_PREFETCH(&w->nodes[k - w->ys]);
            cand[i] = k;
        }
        else {
            cand[i] = matches > 1 ? -2 : -1;
        }
        w->batch_absent += matches == 0;
    }
    for (int i = 0; i < n; i++) {
        Py_ssize_t k = cand[i];
        PyObject *ref = w->batch[i];
        if (k == -1) {
            note_miss(w, ref); /* old or not registered */
            w->not_young++;
            continue;
        }
        if (k == -2 || NODE_OBJ(w, k - w->ys) != ref) {
            k = agc_registry_find(reg, ref); /* a false candidate */
            if (k < w->ys || k >= w->ye) {
                note_miss(w, ref);
                w->not_young++;
                continue;
            }
        }
        apply_update(w, k - w->ys, ref, w->batch_cnt[i]);
        if (w->capturing && w->mode == MODE_DECREF) {
            cap_append(w, w->batch_src[i], k - w->ys);
        }
    }
}

/* The visitor every hot traversal uses: queue the referent.  `ref` is
 * borrowed; NULL (a hostile tp_traverse) and addresses outside the
 * registry's range are dropped at once. */
static AGC_ALWAYS_INLINE int
visit_batched_in(PyObject *ref, agc_work *w)
{
    uintptr_t a = (uintptr_t)ref;
    if (a < w->lo_addr || a > w->hi_addr) {
        w->visits++;
        w->not_young++;
        return 0; /* also NULL */
    }
    if (w->ytab != NULL) {
        Py_ssize_t j = ytab_find(w, ref);
        if (j >= 0) {
            apply_update(w, j, ref, 1);
        }
        return 0;
    }
    if (w->miss[miss_slot(ref)] == ref) {
        w->visits++;
        w->not_young++;
        return 0;
    }
    int n = w->nbatch;
    if (n > 0 && w->batch[n - 1] == ref
        && w->batch_src[n - 1] == (int32_t)w->cap_src) {
        w->batch_cnt[n - 1]++; /* the same referent again: [x] * n */
        return 0;
    }
    w->batch_src[n] = (int32_t)w->cap_src;
    w->batch_cnt[n] = 1;
    w->batch[w->nbatch++] = ref;
    if (w->nbatch == AGC_BATCH) {
        flush_batch(w);
    }
    return 0;
}

/* visit_batched_in as a visitproc, for tp_traverse. */
static int
visit_batched(PyObject *ref, void *arg)
{
    return visit_batched_in(ref, (agc_work *)arg);
}

/* Young index of ref (borrowed, not NULL) through the header marks while
 * they last, else the young index; or -1.  Remembered as the last answer
 * (last_ref, last_j). */
static inline Py_ssize_t
ytab_find_new(agc_work *w, PyObject *ref)
{
    w->last_ref = ref;
    /* A referent whose type is not a container type (a str, an int, a
     * code object) is never registered: its type's flags answer without
     * hashing, as CPython's own visitors ask first.  Reading the type is
     * safe: a referent a live object reports is alive. */
    PyTypeObject *tp = Py_TYPE(ref);
    Py_ssize_t j = -1;
    if (tp->tp_flags & Py_TPFLAGS_HAVE_GC) {
        j = w->hdr_live ? hdr_find(w, ref, tp) : ytab_find(w, ref);
    }
    w->last_j = j;
    return j;
}

/* The same, answered without a probe when ref is the last referent. */
static inline Py_ssize_t
ytab_find_last(agc_work *w, PyObject *ref)
{
    return ref == w->last_ref ? w->last_j : ytab_find_new(w, ref);
}

/* The visitors of the two hot modes when a young lookup serves (header
 * marks or the young index): one mark read or one probe of the small
 * table, no batching, no mode switch.  `ref` borrowed; NULL
 * (a hostile tp_traverse) dropped. */
static AGC_ALWAYS_INLINE int
visit_mark_ytab_in(PyObject *ref, agc_work *w)
{
    if (ref != NULL) {
        Py_ssize_t j = ytab_find_last(w, ref);
        if (j >= 0 && STATE(w, j) == w->from) {
            SET_STATE(w, j, w->to);
            if (j < w->scan) {
                w->stack[w->sp++] = (uint32_t)j;
                AGC_PREFETCH(ref);
            }
        }
    }
    return 0;
}

/* visit_mark_ytab_in as a visitproc, for tp_traverse. */
static int
visit_mark_ytab(PyObject *ref, void *arg)
{
    return visit_mark_ytab_in(ref, (agc_work *)arg);
}

/* Sets up the capture for a young set of m objects; capturing stays 0
 * when memory is short. */
static void
capture_start(agc_work *w, Py_ssize_t m)
{
    w->cap_max = (size_t)m * CAPTURE_PER_OBJECT + 64;
    if (w->cap_max > UINT32_MAX) {
        w->cap_max = UINT32_MAX;
    }
    size_t want = (size_t)m * 2 + 64;
    if (want > w->cap_max) {
        want = w->cap_max;
    }
    /* A kept buffer larger than wanted is used whole (up to cap_max). */
    w->cap_edges = scratch_take(SCR_CAP_EDGES, want * sizeof(uint32_t),
                                &w->scr_bytes[SCR_CAP_EDGES]);
    w->cap_size = w->scr_bytes[SCR_CAP_EDGES] / sizeof(uint32_t);
    if (w->cap_size > w->cap_max) {
        w->cap_size = w->cap_max;
    }
    w->cap_off = scratch_take(SCR_CAP_OFF, ((size_t)m + 1) * sizeof(uint32_t),
                              &w->scr_bytes[SCR_CAP_OFF]);
    w->cap_n = 0;
    w->cap_next = 0;
    w->cap_upto = 0;
    w->cap_last_src = -1;
    w->capturing = w->cap_edges != NULL && w->cap_off != NULL
                   && w->rec_visit == NULL;
}

/* After the subtract pass over m objects: the lists still being captured
 * are complete. */
static void
capture_end(agc_work *w, Py_ssize_t m)
{
    if (w->capturing) {
        cap_open(w, m);
        w->cap_upto = m;
        w->capturing = 0;
    }
}

/* The MODE_DECREF visitor when a young lookup serves; also captures the
 * edge while the capture lasts, into the list the subtract loop opened
 * (cap_open).  A run of visits of one referent from one source (the young
 * index's last answer again, last_src unchanged) is captured once. */
static AGC_ALWAYS_INLINE int
visit_decref_ytab_in(PyObject *ref, agc_work *w)
{
    if (ref == NULL) {
        return 0;
    }
    int again = ref == w->last_ref;
    Py_ssize_t j = again ? w->last_j : ytab_find_new(w, ref);
    w->visits++;
    if (j < 0) {
        w->not_young++;
        return 0;
    }
    w->nodes[j].shadow--;
    if (again && w->last_src == w->cap_src) {
        return 0; /* the same edge again: captured once */
    }
    w->last_src = w->cap_src;
    if (w->capturing) {
        cap_push(w, w->cap_src, j);
    }
    return 0;
}

/* visit_decref_ytab_in as a visitproc, for tp_traverse. */
static int
visit_decref_ytab(PyObject *ref, void *arg)
{
    return visit_decref_ytab_in(ref, (agc_work *)arg);
}

/* Sets the update the visitor applies, and the visitor. */
static void
set_mode(agc_work *w, int mode)
{
    w->mode = mode;
    w->last_ref = NULL; /* Python code may have run since */
    if (!w->hdr_live) {
        ytab_need(w);
    }
    int young_lookup = w->hdr_live || w->ytab != NULL;
    if (w->rec_visit != NULL) {
        w->visit = w->rec_visit;
    }
    else if (!young_lookup || mode == MODE_DECREF_WITHIN) {
        w->visit = visit_batched;
    }
    else if (mode == MODE_DECREF) {
        w->visit = visit_decref_ytab;
    }
    else {
        w->visit = visit_mark_ytab;
    }
}

static void work_fini(agc_work *w);

/* Sets up w for a collection of `generation`: 0, or -1 with MemoryError
 * (w then holds nothing, and work_fini may still be called). */
static int
work_init(agc_work *w, int generation)
{
    memset(w, 0, sizeof(*w));
    w->reg = &agc_reg;
    agc_registry_range(w->reg, &w->lo_addr, &w->hi_addr);
    w->ys = agc_registry_gen_start(w->reg, generation);
    w->ye = agc_registry_end(w->reg);
    size_t m = (size_t)(w->ye - w->ys) + 1;
    size_t nbits = (m / 64 + 1) * sizeof(uint64_t);
    w->nodes = scratch_take(SCR_NODES, m * sizeof(agc_node),
                            &w->scr_bytes[SCR_NODES]);
    w->stack = scratch_take(SCR_STACK, m * sizeof(uint32_t),
                            &w->scr_bytes[SCR_STACK]);
    w->atomic_bits = scratch_take(SCR_BITS, nbits, &w->scr_bytes[SCR_BITS]);
    if (w->nodes == NULL || w->stack == NULL || w->atomic_bits == NULL) {
        work_fini(w);
        memset(w, 0, sizeof(*w));
        w->reg = &agc_reg;
        PyErr_NoMemory();
        return -1;
    }
    memset(w->atomic_bits, 0, nbits);
    w->prefetch = generation == AGC_NUM_GENERATIONS - 1
                  || w->ye - w->ys >= AGC_PREFETCH_MIN;
    prefetch_last_used = w->prefetch;
    w->ytab_pending = ytab_wanted(w);
    w->batch_nofilter = batch_skip_filter();
    return 0;
}

/* Gives the collection's scratch buffers back to the pool (or frees them)
 * and frees the rest.  The buffers may be NULL. */
static void
work_fini(agc_work *w)
{
    /* The capture may have used a kept buffer beyond what it asked for. */
    scratch_need(SCR_CAP_EDGES, w->cap_n * sizeof(uint32_t));
    scratch_give(SCR_CAP_EDGES, w->cap_edges, w->scr_bytes[SCR_CAP_EDGES]);
    scratch_give(SCR_CAP_OFF, w->cap_off, w->scr_bytes[SCR_CAP_OFF]);
    scratch_give(SCR_YTAB, w->ytab, w->scr_bytes[SCR_YTAB]);
    scratch_give(SCR_NODES, w->nodes, w->scr_bytes[SCR_NODES]);
    scratch_give(SCR_STACK, w->stack, w->scr_bytes[SCR_STACK]);
    scratch_give(SCR_BITS, w->atomic_bits, w->scr_bytes[SCR_BITS]);
    scratch_give(SCR_GARBAGE, w->garbage, w->scr_bytes[SCR_GARBAGE]);
    scratch_give(SCR_HDR, w->hdr_saved, w->scr_bytes[SCR_HDR]);
    scratch_trim();
    PyMem_RawFree(w->edges);
}

#endif /* ALTGC_LOOKUP_H */
