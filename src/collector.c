/*
 * collector.c -- CPython's cycle-collection algorithm (gc_collect_main in
 * Python/gc.c) over altgc's registry, the choice of generation and the
 * scheduling of automatic collections (gc_collect_generations,
 * _PyObject_GC_Link's test).  Start reading at collect_main.
 *
 * The registry is pinned for the whole collection: a young object that
 * dies or is untracked meanwhile (a finalizer drops it, the builtin gc
 * frees it, a callback untracks it) leaves a hole at its index instead of
 * moving other entries, so every index stays valid; code that touches an
 * object after Python code may have run checks for the hole first.
 * Objects registered during the collection are appended after the young
 * range and stay in generation 0.  The young set, its scratch state and
 * the lookup of referents are lookup.h's.
 *
 * The order of the phases, and which objects each touches, follows
 * CPython (docs/DESIGN.md, "The collection"): deduce the unreachable set;
 * move legacy-finalizer objects and what they reach aside
 * (uncollectable); clear weakrefs (3.15: only those with callbacks) and
 * run the callbacks of the weakrefs that are not garbage; call
 * tp_finalize once; recompute reachability among the remaining garbage
 * (resurrection); 3.14+: clear, without callbacks, the weakrefs still
 * left to what is still garbage; call tp_clear on what is still
 * unreachable; count the uncollectable objects and hand them to
 * `garbage`.  All traversal is iterative (an explicit work stack), so a
 * 10**6-long chain needs no C recursion.
 *
 * The file reads top to bottom: the passes over the young set, the
 * garbage's components, the phases that run Python code, collect_main,
 * then the entry points (agc_collect, agc_find_unreachable) and the
 * scheduling of automatic collections.
 */
#include "collector.h"

#include "frames.h"
#include "lookup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

agc_state AGC;

/* The work of the collection under way (collect_main, from its analysis
 * to its end), else NULL: what agc_collection_hides reads. */
static const agc_work *active_work;

int
agc_collection_hides(Py_ssize_t idx)
{
    const agc_work *w = active_work;
    if (w == NULL || idx < w->ys || idx >= w->ye) {
        return 0;
    }
    uint8_t st = STATE(w, idx - w->ys);
    return st == ST_UNREACHABLE || st == ST_LEGACY || st == ST_DOOMED;
}

/* The MODE_MARK update for a captured edge to young object t. */
static inline void
mark_edge(agc_work *w, uint32_t t)
{
    if (STATE(w, t) == w->from) {
        SET_STATE(w, t, w->to);
        if (t < w->scan) {
            w->stack[w->sp++] = t;
        }
    }
}

/* MODE_MARK over young object j's referents: its captured edges when
 * `use_edges` and it has them, else a traversal. */
static inline void
mark_from(agc_work *w, Py_ssize_t j, int use_edges)
{
    if (use_edges && j < w->cap_upto) {
        for (uint32_t e = w->cap_off[j]; e < w->cap_off[j + 1]; e++) {
            mark_edge(w, w->cap_edges[e]);
        }
        return;
    }
    PyObject *op = young_obj(w, j);
    if (op != NULL) {
        w->cap_src = j; /* the source a recorder is told of */
        traverse(op, w->visit, w);
    }
}

/* Everything reachable from the stack's nodes through objects in state
 * `from` moves to state `to`.  Each node is pushed at most once, so the
 * stack (sized to the young set) cannot overflow. */
static void
propagate(agc_work *w, uint8_t from, uint8_t to, int use_edges)
{
    if (w->sp == 0 && w->nbatch == 0) {
        return; /* nothing to start from: no lookup to set up */
    }
    w->from = from;
    w->to = to;
    set_mode(w, MODE_MARK);
    w->scan = w->ye - w->ys;
    for (;;) {
        if (w->sp == 0) {
            if (w->nbatch == 0) {
                break;
            }
            flush_batch(w);
            continue;
        }
        mark_from(w, w->stack[--w->sp], use_edges);
    }
}

/* agc_visit_borrowed's visitor after a subtract pass (MODE_DECREF or
 * MODE_DECREF_WITHIN): gives back the reference the traversal subtracted
 * for a borrowed stack reference to `ref` (borrowed), which ob_refcnt
 * never counted (compat.h). */
static int
visit_give_back(PyObject *ref, void *arg)
{
    agc_work *w = arg;
    Py_ssize_t j = young_index(w, ref);
    if (j >= 0 && (w->mode == MODE_DECREF || STATE(w, j) == w->within)) {
        w->nodes[j].shadow++;
    }
    return 0;
}

/* The subtract pass's traversal of young object j: its referents' shadow
 * counts drop by one per reference it holds. */
static inline void
subtract_from(agc_work *w, Py_ssize_t j)
{
    PyObject *op = young_obj(w, j);
    traverse(op, w->visit, w);
    if (agc_may_borrow(Py_TYPE(op))) {
        agc_visit_borrowed(op, visit_give_back, w);
    }
}

static Py_ssize_t
external_count(PyObject *op)
{
    if (AGC_IS_IMMORTAL(op)) {
        return PY_SSIZE_T_MAX / 2;   /* held from outside, by definition */
    }
    return Py_REFCNT(op);
}

/* A list keeps its items in a separate block, which its tp_traverse reads
 * right after the object: once the object itself is in cache (prefetched
 * a few objects earlier), prefetch that block too.  `op` borrowed, may be
 * NULL (a hole). */
static inline void
prefetch_items(PyObject *op)
{
    if (op != NULL && Py_TYPE(op) == &PyList_Type) {
        AGC_PREFETCH(((PyListObject *)op)->ob_item);
    }
}

/* How many objects ahead the reachability scan prefetches what marking
 * from an object will read. */
#define AGC_SCAN_AHEAD 6

/* The reachability scan will mark from young object j if it is (or is
 * about to be found) reachable: prefetch the nodes its captured edges
 * lead to (random reads of the node array, otherwise one cache miss after
 * another), or, without captured edges, the object it will traverse. */
static inline void
prefetch_scan_ahead(agc_work *w, Py_ssize_t j, Py_ssize_t m)
{
    if (j >= m) {
        return;
    }
    uint8_t st = STATE(w, j);
    if (st != ST_REACHABLE
        && !(st == ST_TENTATIVE && w->nodes[j].shadow > 0)) {
        return;
    }
    if (j < w->cap_upto) {
        for (uint32_t e = w->cap_off[j]; e < w->cap_off[j + 1]; e++) {
            AGC_PREFETCH(&w->nodes[w->cap_edges[e]]);
        }
    }
    else {
        AGC_PREFETCH(young_obj(w, j));
    }
}

/* ---- recording (collector.h, agc_recorder) ------------------------- */

static const char *const phase_names[AGC_TP_NUM] = {
    "update_refs",
    "subtract_refs",
    "move_unreachable",
    "move_legacy_finalizers",
#if AGC_WEAKREFS_SPLIT
    "handle_weakref_callbacks",
#else
    "handle_weakrefs",
#endif
    "finalize_garbage",
    "handle_resurrected_objects",
    "clear_weakrefs",
    "delete_garbage",
};

const char *
agc_trace_phase_name(int phase)
{
    return phase >= 0 && phase < AGC_TP_NUM ? phase_names[phase] : "?";
}

const char *
agc_trace_state_name(int state)
{
    switch (state) {
    case ST_TENTATIVE:
        return "tentative";
    case ST_HOLE:
        return "gone";
    case ST_REACHABLE:
        return "reachable";
    case ST_UNREACHABLE:
        return "unreachable";
    case ST_LEGACY:
        return "legacy";
    case ST_RESURRECTED:
        return "resurrected";
    case ST_OUTSIDE:
        return "untracked";
    case ST_DOOMED:
        return "held";
    default:
        return "?";
    }
}

/* The visitor of every mode in a recorded collection: the update of
 * visit_batched, one referent (borrowed) at a time, and the recorder told
 * of each edge that changed something (the source is w->cap_src). */
static int
visit_recording(PyObject *ref, void *arg)
{
    agc_work *w = arg;
    Py_ssize_t j = young_index(w, ref);
    /* a hole, or an object not examined: no update matters to it */
    if (j < 0 || STATE(w, j) == ST_HOLE || STATE(w, j) == ST_OUTSIDE) {
        return 0;
    }
    uint8_t before = STATE(w, j);
    if (w->mode == MODE_DECREF
        || (w->mode == MODE_DECREF_WITHIN && before == w->within)) {
        apply_update(w, j, ref, 1);
        w->rec->edge(w->rec, AGC_EDGE_DECREF, w->cap_src, j);
        return 0;
    }
    if (w->mode == MODE_MARK) {
        apply_update(w, j, ref, 1);
        if (STATE(w, j) != before) {
            w->rec->edge(w->rec, AGC_EDGE_MOVE, w->cap_src, j);
        }
    }
    return 0;
}

/* Starts recording into `rec` (NULL: none) over the young set of w. */
static void
rec_start(agc_work *w, agc_recorder *rec)
{
    if (rec != NULL && rec->begin(rec, w->ys, w->ye - w->ys) == 0) {
        w->rec = rec;
        w->rec_visit = visit_recording;
    }
}

/* Tells the recorder every young object's numbers after `phase`. */
static void
rec_phase(agc_work *w, int phase)
{
    agc_recorder *rec = w->rec;
    if (rec == NULL) {
        return;
    }
    Py_ssize_t m = w->ye - w->ys;
    for (Py_ssize_t j = 0; j < m; j++) {
        rec->object(rec, phase, j, young_obj(w, j), w->nodes[j].shadow,
                    STATE(w, j));
    }
}

static inline void
rec_event(agc_work *w, int event, Py_ssize_t j)
{
    if (w->rec != NULL && j >= 0) {
        w->rec->event(w->rec, event, j);
    }
}

/* A young object's gc_refs before the subtraction: its refcount, less the
 * references a recorder's owner holds (op borrowed, alive, tracked). */
static inline Py_ssize_t
initial_refs(agc_work *w, PyObject *op)
{
    Py_ssize_t n = external_count(op);
    if (w->rec != NULL && !AGC_IS_IMMORTAL(op)) {
        n -= w->rec->own_refs(w->rec, op);
    }
    return n;
}

/* Keeps the young indices of the garbage, the first n entries of the
 * stack (ascending), as w->garbage for the phases after
 * deduce_unreachable.  When memory is short, those phases run over every
 * young index instead (garbage_at).  Never fails. */
static void
keep_garbage(agc_work *w, Py_ssize_t n)
{
    scratch_give(SCR_GARBAGE, w->garbage, w->scr_bytes[SCR_GARBAGE]);
    w->garbage = NULL;
    w->ngarbage = 0;
    if (n == 0) {
        return;
    }
    w->garbage = scratch_take(SCR_GARBAGE, (size_t)n * sizeof(uint32_t),
                              &w->scr_bytes[SCR_GARBAGE]);
    if (w->garbage == NULL) {
        w->ngarbage = w->ye - w->ys;
        return;
    }
    memcpy(w->garbage, w->stack, (size_t)n * sizeof(uint32_t));
    w->ngarbage = n;
}

/* Young index of the k-th garbage object (k < w->ngarbage): the phases
 * after deduce_unreachable visit the garbage as CPython's walk its
 * `unreachable` list, not the whole young set.  Every state they look for
 * (ST_UNREACHABLE, ST_LEGACY, ST_RESURRECTED, ST_DOOMED, and ST_HOLE for
 * garbage that died) is held by garbage objects only, and each loop tests
 * the state, so the fallback without a list -- every young index -- is
 * the same walk, only longer. */
static inline Py_ssize_t
garbage_at(const agc_work *w, Py_ssize_t k)
{
    return w->garbage != NULL ? (Py_ssize_t)w->garbage[k] : k;
}

/* Steps 1-3 of the collection (docs/DESIGN.md, "The collection"):
 * afterwards every young object is ST_HOLE, ST_OUTSIDE, ST_REACHABLE or
 * ST_UNREACHABLE.  Returns the number of reachable objects.  Runs no
 * Python code. */
static Py_ssize_t
deduce_unreachable(agc_work *w, int64_t *phase_ns)
{
    Py_ssize_t m = w->ye - w->ys;
    int64_t t0 = agc_now_ns();
    /* Header marks (lookup.h) where a young lookup suits the young set,
     * the collection is not recorded and memory allows. */
    w->hdr_saved = NULL;
    if (w->ytab_pending && w->rec == NULL) {
        w->hdr_saved = scratch_take(SCR_HDR, (size_t)m * sizeof(uintptr_t),
                                    &w->scr_bytes[SCR_HDR]);
    }
    for (Py_ssize_t j = 0; j < m; j++) {
        if (w->prefetch && j + 16 < m) {
            AGC_PREFETCH(young_obj(w, j + 16));
        }
        PyObject *op = young_obj(w, j);
        uint8_t st = op == NULL ? ST_HOLE
                     : (agc_gc_is_tracked(op) && !agc_is_dying(op))
                         ? ST_TENTATIVE
                         : ST_OUTSIDE;
        w->nodes[j].op = (uintptr_t)op | st;
        w->nodes[j].shadow = st == ST_TENTATIVE ? external_count(op) : 0;
        w->candidates += (st == ST_TENTATIVE && !AGC_IS_IMMORTAL(op));
        if (st == ST_TENTATIVE
            && (Py_TYPE(op) == &PyTuple_Type || Py_TYPE(op) == &PyDict_Type)) {
            w->atomic_bits[j >> 6] |= (uint64_t)1 << (j & 63);
        }
        if (st == ST_TENTATIVE && w->hdr_saved != NULL) {
            hdr_mark(w, j, op);
        }
    }
    /* From here to the restoring loop below: no Python code, no
     * allocation of a Python object, no decref. */
    w->hdr_live = w->hdr_saved != NULL;
    hdr_last_used = w->hdr_live;
    hdr_check(w);
    if (w->rec != NULL) {
        for (Py_ssize_t j = 0; j < m; j++) {
            if (STATE(w, j) == ST_TENTATIVE) {
                w->nodes[j].shadow = initial_refs(w, young_obj(w, j));
            }
        }
        rec_phase(w, AGC_TP_UPDATE_REFS);
    }
    int64_t t1 = agc_now_ns();
    capture_start(w, m);
    set_mode(w, MODE_DECREF);
    w->visits = 0;
    w->not_young = 0;
    /* visit_decref_ytab appends to the list cap_open opens; the batched
     * visitor's flush fills cap_off itself (cap_append). */
    int ytab_visit = w->visit == visit_decref_ytab;
    for (Py_ssize_t j = 0; j < m; j++) {
        if (w->prefetch && j + 8 < m) {
            AGC_PREFETCH(young_obj(w, j + 8));
            prefetch_items(young_obj(w, j + 4));
        }
        if (STATE(w, j) == ST_TENTATIVE) {
            w->cap_src = j;
            if (ytab_visit && w->capturing) {
                cap_open(w, j);
            }
            subtract_from(w, j);
        }
    }
    flush_batch(w);
    capture_end(w, m);
    ytab_note_share(w);
    batch_note_absent(w);
    rec_phase(w, AGC_TP_SUBTRACT_REFS);
    int64_t t2 = agc_now_ns();
    /* Reachability, in the young set's order as CPython's move_unreachable
     * walks its list (sequential memory): each reachable object is
     * traversed once, when the scan meets it or, if it was found reachable
     * only after the scan passed it, from the stack. */
    Py_ssize_t nreach = 0;
    w->sp = 0;
    set_mode(w, MODE_MARK);
    w->from = ST_TENTATIVE;
    w->to = ST_REACHABLE;
    for (Py_ssize_t j = 0; j < m; j++) {
        w->scan = j + 1;
        if (w->prefetch) {
            prefetch_scan_ahead(w, j + AGC_SCAN_AHEAD, m);
        }
        if (STATE(w, j) == ST_TENTATIVE && w->nodes[j].shadow > 0) {
            SET_STATE(w, j, ST_REACHABLE);
        }
        if (STATE(w, j) == ST_REACHABLE) {
            mark_from(w, j, 1);
        }
    }
    propagate(w, ST_TENTATIVE, ST_REACHABLE, 1);
    Py_ssize_t nunreach = 0;
    int hdr = w->hdr_live;
    for (Py_ssize_t j = 0; j < m; j++) {
        uint8_t st = STATE(w, j);
        if (st == ST_TENTATIVE) {
            SET_STATE(w, j, ST_UNREACHABLE);
            w->stack[nunreach++] = (uint32_t)j;
        }
        else if (st == ST_REACHABLE) {
            nreach++;
        }
        else {
            continue;
        }
        if (hdr) {
            hdr_unmark(w, j, NODE_OBJ(w, j));
        }
    }
    w->hdr_live = 0;
    hdr_check(w);
    keep_garbage(w, nunreach);
    w->deduced = 1;
    rec_phase(w, AGC_TP_MOVE_UNREACHABLE);
    int64_t t3 = agc_now_ns();
    if (phase_ns != NULL) {
        phase_ns[AGC_PHASE_SHADOW] = t1 - t0;
        phase_ns[AGC_PHASE_SUBTRACT] = t2 - t1;
        phase_ns[AGC_PHASE_REACH] = t3 - t2;
    }
    return nreach;
}

/* ---- strongly connected components of the garbage ------------------- */

/* Adds the edge to young object j to the component graph if j is one of
 * its nodes. */
static inline void
edge_append(agc_work *w, Py_ssize_t j)
{
    if (w->local[j] < 0) {
        return;
    }
    if (w->nedges == w->edges_cap) {
        Py_ssize_t cap = w->edges_cap * 2 + 1024;
        uint32_t *e = PyMem_RawRealloc(w->edges, (size_t)cap * sizeof(*e));
        if (e == NULL) {
            w->edges_failed = 1;
            return;
        }
        w->edges = e;
        w->edges_cap = cap;
    }
    w->edges[w->nedges++] = (uint32_t)w->local[j];
}

static int
visit_edge(PyObject *ref, void *arg)
{
    agc_work *w = arg;
    Py_ssize_t j = young_index(w, ref);
    if (j >= 0) {
        edge_append(w, j);
    }
    return 0;
}

/* Numbers the young objects whose state is `s1` or `s2` 0..k-1 (in index
 * order) into *nodes_out and builds the subgraph they induce: the
 * successors of node v are (*edges_out)[(*offsets_out)[v] ..
 * (*offsets_out)[v + 1]).  Runs no Python code.  Returns k (the caller
 * frees the three arrays with PyMem_RawFree), or -1 on memory error (no
 * exception set). */
static Py_ssize_t
garbage_subgraph(agc_work *w, uint8_t s1, uint8_t s2, Py_ssize_t **nodes_out,
                 Py_ssize_t **offsets_out, uint32_t **edges_out)
{
    Py_ssize_t m = w->ye - w->ys, k = 0;
    Py_ssize_t *local = PyMem_RawMalloc(((size_t)m + 1) * sizeof(*local));
    Py_ssize_t *nodes = NULL, *offsets = NULL;
    if (local == NULL) {
        return -1;
    }
    for (Py_ssize_t j = 0; j < m; j++) {
        local[j] = (STATE(w, j) == s1 || STATE(w, j) == s2) ? k++ : -1;
    }
    nodes = PyMem_RawMalloc(((size_t)k + 1) * sizeof(*nodes));
    offsets = PyMem_RawMalloc(((size_t)k + 1) * sizeof(*offsets));
    if (nodes == NULL || offsets == NULL) {
        goto fail;
    }
    w->local = local;
    w->nedges = 0;
    w->edges_failed = 0;
    /* The edges captured by the subtract pass, if any, are the graph as it
     * is now: no Python code has run since (the callers run before
     * weakrefs and finalizers). */
    for (Py_ssize_t j = 0; j < m; j++) {
        if (local[j] >= 0) {
            nodes[local[j]] = j;
            offsets[local[j]] = w->nedges;
            if (j < w->cap_upto) {
                for (uint32_t e = w->cap_off[j]; e < w->cap_off[j + 1]; e++) {
                    edge_append(w, w->cap_edges[e]);
                }
            }
            else {
                traverse(young_obj(w, j), visit_edge, w);
            }
        }
    }
    offsets[k] = w->nedges;
    w->local = NULL;
    if (w->edges_failed) {
        goto fail;
    }
    PyMem_RawFree(local);
    *nodes_out = nodes;
    *offsets_out = offsets;
    *edges_out = w->edges; /* the caller's now */
    w->edges = NULL;
    w->edges_cap = 0;
    w->nedges = 0;
    return k;
fail:
    w->local = NULL;
    PyMem_RawFree(local);
    PyMem_RawFree(nodes);
    PyMem_RawFree(offsets);
    return -1;
}

/* garbage_subgraph, then its strongly connected components: returns their
 * number and sets *k_out, *nodes_out and *comp_out (comp[v]: the component
 * of node v; the caller frees both arrays), or -1 on memory error (no
 * exception set). */
static Py_ssize_t
garbage_components(agc_work *w, uint8_t s1, uint8_t s2, Py_ssize_t *k_out,
                   Py_ssize_t **nodes_out, Py_ssize_t **comp_out)
{
    Py_ssize_t *nodes, *offsets, *comp = NULL, ncomp = -1;
    uint32_t *edges;
    Py_ssize_t k = garbage_subgraph(w, s1, s2, &nodes, &offsets, &edges);
    if (k < 0) {
        return -1;
    }
    comp = PyMem_RawMalloc(((size_t)k + 1) * sizeof(*comp));
    if (comp != NULL) {
        ncomp = agc_scc(k, offsets, edges, comp);
    }
    PyMem_RawFree(offsets);
    PyMem_RawFree(edges);
    if (ncomp < 0) {
        PyMem_RawFree(nodes);
        PyMem_RawFree(comp);
        return -1;
    }
    *k_out = k;
    *nodes_out = nodes;
    *comp_out = comp;
    return ncomp;
}

/* At most this many groups are reported by last_collection(). */
#define CYCLES_REPORTED 1000

/* Records the id and type name of the k garbage objects (nodes[]: their
 * young indices) and the subgraph among them into AGC.last, with PyMem_Raw
 * memory only; the subgraph's components are computed only if
 * last_collection() asks for them (group_last).  Takes offsets and edges
 * (garbage_subgraph's).  Returns 0, or -1 when memory is short (nothing
 * recorded, the arrays freed, no exception set). */
static int
record_components(agc_work *w, Py_ssize_t k, const Py_ssize_t *nodes,
                  Py_ssize_t *offsets, uint32_t *edges)
{
    agc_lastinfo *last = &AGC.last;
    /* A small direct-mapped cache: type -> offset of its copied name. */
    PyTypeObject *ctype[64] = {NULL};
    uint32_t coff[64];
    size_t cap = 256, len = 0;
    char *names = PyMem_RawMalloc(cap);
    agc_cycle_rec *recs = PyMem_RawMalloc(((size_t)k + 1) * sizeof(*recs));
    if (names == NULL || recs == NULL) {
        goto fail;
    }
    for (Py_ssize_t v = 0; v < k; v++) {
        PyObject *op = young_obj(w, nodes[v]);
        PyTypeObject *tp = Py_TYPE(op);
        size_t slot = ((uintptr_t)tp >> 4) & 63;
        if (ctype[slot] != tp) {
            size_t l = strlen(tp->tp_name) + 1;
            if (len + l > cap || len + l > UINT32_MAX) {
                if (len + l > UINT32_MAX) {
                    goto fail;
                }
                while (len + l > cap) {
                    cap *= 2;
                }
                char *nn = PyMem_RawRealloc(names, cap);
                if (nn == NULL) {
                    goto fail;
                }
                names = nn;
            }
            memcpy(names + len, tp->tp_name, l);
            ctype[slot] = tp;
            coff[slot] = (uint32_t)len;
            len += l;
        }
        recs[v].id = (uintptr_t)op;
        recs[v].name_off = coff[slot];
        recs[v].group = 0;
    }
    last->recs = recs;
    last->nrecs = k;
    last->names = names;
    last->names_len = len;
    last->offsets = offsets;
    last->edges = edges;
    last->grouped = 0;
    return 0;
fail:
    PyMem_RawFree(names);
    PyMem_RawFree(recs);
    PyMem_RawFree(offsets);
    PyMem_RawFree(edges);
    return -1;
}

/* Computes the recorded garbage's groups (strongly connected components,
 * the first CYCLES_REPORTED of them reported) if not done yet.  0, or -1
 * with MemoryError. */
static int
group_last(agc_lastinfo *last)
{
    if (last->grouped) {
        return 0;
    }
    Py_ssize_t k = last->nrecs;
    Py_ssize_t *comp = PyMem_RawMalloc(((size_t)k + 1) * sizeof(*comp));
    Py_ssize_t ncomp = comp == NULL
                           ? -1
                           : agc_scc(k, last->offsets, last->edges, comp);
    if (ncomp < 0) {
        PyMem_RawFree(comp);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t v = 0; v < k; v++) {
        last->recs[v].group = (uint32_t)comp[v];
    }
    PyMem_RawFree(comp);
    PyMem_RawFree(last->offsets);
    PyMem_RawFree(last->edges);
    last->offsets = NULL;
    last->edges = NULL;
    last->ngroups = ncomp < CYCLES_REPORTED ? ncomp : CYCLES_REPORTED;
    last->cycles_truncated |= ncomp > CYCLES_REPORTED;
    last->grouped = 1;
    return 0;
}

static void
forget_components(agc_lastinfo *last)
{
    PyMem_RawFree(last->recs);
    PyMem_RawFree(last->names);
    PyMem_RawFree(last->offsets);
    PyMem_RawFree(last->edges);
    last->recs = NULL;
    last->names = NULL;
    last->offsets = NULL;
    last->edges = NULL;
    last->nrecs = 0;
    last->ngroups = 0;
    last->grouped = 1;
}

void
agc_collector_info(int *young_lookup, int *header_marks, int *prefetched,
                   int *share, int *tag_filter, int *absent,
                   size_t *scratch_bytes)
{
    *young_lookup = young_lookup_used;
    *header_marks = hdr_last_used;
    *prefetched = prefetch_last_used;
    *share = ytab_young_share;
    *tag_filter = !batch_nofilter_used;
    *absent = batch_absent_share;
    *scratch_bytes = scratch_kept();
}

PyObject *
agc_last_cycles(void)
{
    agc_lastinfo *last = &AGC.last;
    if (group_last(last) < 0) {
        return NULL;
    }
    PyObject *groups = PyList_New(last->ngroups);
    if (groups == NULL) {
        return NULL;
    }
    for (Py_ssize_t c = 0; c < last->ngroups; c++) {
        PyObject *g = PyList_New(0);
        if (g == NULL) {
            goto error;
        }
        PyList_SET_ITEM(groups, c, g);
    }
    for (Py_ssize_t i = 0; i < last->nrecs; i++) {
        agc_cycle_rec *r = &last->recs[i];
        if ((Py_ssize_t)r->group >= last->ngroups) {
            continue; /* beyond the reported groups */
        }
        PyObject *item = Py_BuildValue("(sn)", last->names + r->name_off,
                                       (Py_ssize_t)r->id);
        if (item == NULL) {
            goto error;
        }
        int rc = PyList_Append(PyList_GET_ITEM(groups, r->group), item);
        Py_DECREF(item);
        if (rc < 0) {
            goto error;
        }
    }
    return groups;
error:
    Py_DECREF(groups);
    return NULL;
}

/* ---- the phases that run Python code -------------------------------- */

/* PyWeakref_Check for every object of type tp: a weakref (or subclass)
 * or a proxy. */
static int
is_weakref_type(PyTypeObject *tp)
{
    return PyType_IsSubtype(tp, &_PyWeakref_RefType)
           || tp == &_PyWeakref_ProxyType
           || tp == &_PyWeakref_CallableProxyType;
}

/* is_weakref_type's answers for the types a walk over the garbage met,
 * direct-mapped by address (8 slots).  Garbage cycles through a few types
 * (two lists, a dict and an instance in each round of a program's loop),
 * and PyType_IsSubtype walks an MRO: with only the last type remembered
 * the test ran at nearly every object.  The types are borrowed from live
 * garbage objects and only compared as addresses. */
#define WR_MEMO_SLOTS 8

typedef struct {
    PyTypeObject *tp[WR_MEMO_SLOTS];
    uint8_t wr[WR_MEMO_SLOTS];
} wr_memo;

#define WR_MEMO_INIT {{NULL}, {0}}

static inline int
memo_is_weakref(wr_memo *m, PyTypeObject *tp)
{
    size_t i = (size_t)(((uint64_t)(uintptr_t)tp * 0x9E3779B97F4A7C15ULL)
                        >> 61);
    if (m->tp[i] != tp) {
        m->tp[i] = tp;
        m->wr[i] = (uint8_t)is_weakref_type(tp);
    }
    return m->wr[i];
}

/* Appends wr (borrowed) to *tocall, whose capacity is *cap, taking a new
 * reference.  0, or -1 with MemoryError (nothing appended, *tocall still
 * valid). */
static int
tocall_append(PyObject ***tocall, Py_ssize_t *ncall, Py_ssize_t *cap,
              PyObject *wr)
{
    if (*ncall == *cap) {
        Py_ssize_t ncap = *cap * 2 + 16;
        PyObject **t = PyMem_RawRealloc(*tocall, (size_t)ncap * sizeof(*t));
        if (t == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        *tocall = t;
        *cap = ncap;
    }
    (*tocall)[(*ncall)++] = Py_NewRef(wr);
    return 0;
}

/* CPython's handle_weakrefs (until 3.14) or handle_weakref_callbacks
 * (3.15, AGC_WEAKREFS_SPLIT), before the finalizers.  Until 3.14: clears
 * every weakref to the garbage and every weakref that is garbage itself.
 * 3.15: clears only the weakrefs with a callback to the garbage; the
 * others wait for clear_weakrefs, after the resurrection check.  Either
 * way the callbacks of the cleared weakrefs that are not garbage run
 * after all clearing (a weakref in the garbage never calls back).
 * Returns how many weakref objects (registered, young) died right after
 * their callback. */
static Py_ssize_t
handle_weakrefs(agc_work *w)
{
    Py_ssize_t ncall = 0, cap = 0, nfreed = 0;
    PyObject **tocall = NULL;
    wr_memo memo = WR_MEMO_INIT;
    for (Py_ssize_t k = 0; k < w->ngarbage; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (STATE(w, j) != ST_UNREACHABLE) {
            continue;
        }
        PyObject *op = young_obj(w, j); /* borrowed */
        if (op == NULL) {
            continue;
        }
        int seen_wr = memo_is_weakref(&memo, Py_TYPE(op));
        if (!AGC_WEAKREFS_SPLIT && seen_wr) {
            /* A weakref in the garbage must not fire later from tp_clear
             * (bpo-38006).  3.15 clears it in clear_weakrefs, if it is
             * still garbage then. */
            if (((PyWeakReference *)op)->wr_object != Py_None) {
                rec_event(w, AGC_TE_WEAKREF_CLEARED, j);
            }
            _PyWeakref_ClearRef((PyWeakReference *)op);
        }
        PyObject **wrlist = agc_weaklist_of(op);
        if (wrlist == NULL) {
            continue;
        }
        /* _PyWeakref_ClearRef unlinks wr from *wrlist; the next one is
         * read first, since a weakref without callback may stay. */
        PyWeakReference *wr, *next;
        for (wr = (PyWeakReference *)*wrlist; wr != NULL; wr = next) {
            next = wr->wr_next;
            if (AGC_WEAKREFS_SPLIT && wr->wr_callback == NULL) {
                continue; /* cleared after resurrection */
            }
            _PyWeakref_ClearRef(wr);
            rec_event(w, AGC_TE_WEAKREF_CLEARED, j);
            if (wr->wr_callback == NULL) {
                continue;
            }
            Py_ssize_t jw = young_index(w, (PyObject *)wr);
            if (jw >= 0 && STATE(w, jw) == ST_UNREACHABLE) {
                continue; /* trash: no callback */
            }
            rec_event(w, AGC_TE_CALLBACK, j);
            if (tocall_append(&tocall, &ncall, &cap, (PyObject *)wr) < 0) {
                /* Cannot remember it: its callback is lost, as when
                 * CPython cannot allocate.  Report it. */
                PyErr_WriteUnraisable((PyObject *)wr);
            }
        }
    }
    w->python_ran |= (ncall > 0);
    for (Py_ssize_t i = 0; i < ncall; i++) {
        PyWeakReference *wr = (PyWeakReference *)tocall[i];
        PyObject *cb = wr->wr_callback;
        if (cb != NULL) {
            Py_INCREF(cb);
            PyObject *r = PyObject_CallOneArg(cb, (PyObject *)wr);
            if (r == NULL) {
                PyErr_WriteUnraisable(cb);
            }
            else {
                Py_DECREF(r);
            }
            Py_DECREF(cb);
        }
        /* Ours the last reference: the weakref dies now, and CPython
         * counts it as collected. */
        nfreed += (Py_REFCNT(wr) == 1);
        Py_DECREF(wr);
    }
    PyMem_RawFree(tocall);
    return nfreed;
}

/* CPython's clear_weakrefs over the garbage left after the resurrection
 * check (3.14+, AGC_WEAKREFS_RECLEAR): clears, without calling any
 * callback, every weakref that is still garbage and every weakref to an
 * object that is still garbage, so that tp_clear's victims cannot be
 * reached through one.  3.14: those are the weakrefs created by the
 * finalizers and callbacks; 3.15: all the callback-less ones too.  Runs
 * no Python code; never fails. */
static void
clear_weakrefs(agc_work *w)
{
    wr_memo memo = WR_MEMO_INIT;
    for (Py_ssize_t k = 0; k < w->ngarbage; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (STATE(w, j) != ST_UNREACHABLE) {
            continue;
        }
        PyObject *op = young_obj(w, j); /* borrowed */
        if (op == NULL) {
            continue;
        }
        int seen_wr = memo_is_weakref(&memo, Py_TYPE(op));
        if (seen_wr) {
            if (((PyWeakReference *)op)->wr_object != Py_None) {
                rec_event(w, AGC_TE_WEAKREF_CLEARED, j);
            }
            _PyWeakref_ClearRef((PyWeakReference *)op);
        }
        PyObject **wrlist = agc_weaklist_of(op);
        if (wrlist == NULL) {
            continue;
        }
        PyWeakReference *wr;
        while ((wr = (PyWeakReference *)*wrlist) != NULL) {
            _PyWeakref_ClearRef(wr); /* unlinks wr from *wrlist */
            rec_event(w, AGC_TE_WEAKREF_CLEARED, j);
        }
    }
}

/* tp_finalize (PEP 442) once per garbage object, under a strong reference. */
static void
finalize_garbage(agc_work *w)
{
    for (Py_ssize_t k = 0; k < w->ngarbage; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (STATE(w, j) != ST_UNREACHABLE) {
            continue;
        }
        PyObject *op = young_obj(w, j);
        if (op == NULL || Py_TYPE(op)->tp_finalize == NULL
            || PyObject_GC_IsFinalized(op)) {
            continue;
        }
        w->python_ran = 1;
        rec_event(w, AGC_TE_FINALIZED, j);
        Py_INCREF(op);
        PyObject_CallFinalizer(op);
        if (PyErr_Occurred()) {
            PyErr_WriteUnraisable(op);
        }
        Py_DECREF(op);
    }
}

/* Recomputes reachability among the garbage left after the finalizers:
 * what is now held from outside, and what it reaches, is resurrected.
 * Returns how many objects were resurrected.  Runs no Python code. */
static Py_ssize_t
handle_resurrected(agc_work *w)
{
    Py_ssize_t ng = w->ngarbage, n = 0;
    for (Py_ssize_t k = 0; k < ng; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (STATE(w, j) == ST_UNREACHABLE) {
            PyObject *op = young_obj(w, j);
            if (op == NULL) {
                SET_STATE(w, j, ST_HOLE);
            }
            else {
                w->nodes[j].shadow = initial_refs(w, op);
            }
        }
    }
    w->within = ST_UNREACHABLE;
    set_mode(w, MODE_DECREF_WITHIN);
    for (Py_ssize_t k = 0; k < ng; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (STATE(w, j) == ST_UNREACHABLE) {
            w->cap_src = j;
            subtract_from(w, j);
        }
    }
    flush_batch(w);
    w->sp = 0;
    for (Py_ssize_t k = 0; k < ng; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (STATE(w, j) == ST_UNREACHABLE && w->nodes[j].shadow > 0) {
            SET_STATE(w, j, ST_RESURRECTED);
            w->stack[w->sp++] = (uint32_t)j;
        }
    }
    propagate(w, ST_UNREACHABLE, ST_RESURRECTED, 0);
    for (Py_ssize_t k = 0; k < ng; k++) {
        n += (STATE(w, garbage_at(w, k)) == ST_RESURRECTED);
    }
    return n;
}

/* Breaks the cycles: tp_clear on each remaining garbage object, or with
 * DEBUG_SAVEALL appends it to `garbage` instead.  Returns how many objects
 * it was given.
 *
 * Unlike CPython's delete_garbage, which holds only the object being
 * cleared, this holds a strong reference to every garbage object for the
 * whole of the clearing, so that none dies half-way: all of them are
 * cleared (tp_clear of an object that is then freed is what CPython does
 * too, for those it reaches before they die of a neighbour's clearing),
 * then the references are dropped in index order.  The deaths then come
 * in the young set's order instead of the graph's, so each object, its
 * registry entry and its table slot can be prefetched a few objects ahead,
 * and each death is announced to the registry (agc_registry_expect): the
 * death hooks remove the entry without a table probe.  An object that
 * survives its clearing (resurrected by a tp_clear, or with a tp_clear
 * that does not break its cycle) is still referenced elsewhere when its
 * reference is dropped: it is not announced, stays registered and joins
 * the next generation, as in CPython. */
#define AGC_AHEAD 8

static Py_ssize_t
delete_garbage(agc_work *w)
{
    Py_ssize_t ng = w->ngarbage, n = 0, held = 0;
    if (AGC.debug & AGC_DEBUG_SAVEALL) {
        for (Py_ssize_t k = 0; k < ng; k++) {
            Py_ssize_t j = garbage_at(w, k);
            if (STATE(w, j) != ST_UNREACHABLE) {
                continue;
            }
            n++;
            PyObject *op = young_obj(w, j);
            if (op != NULL && PyList_Append(AGC.garbage, op) < 0) {
                PyErr_WriteUnraisable(op);
            }
        }
        return n;
    }
    /* Count and hold every remaining garbage object (one that died during
     * the finalizers counts, as in CPython).  Runs no Python code. */
    for (Py_ssize_t k = 0; k < ng; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (STATE(w, j) != ST_UNREACHABLE) {
            continue;
        }
        n++;
        if (w->prefetch && k + AGC_AHEAD < ng) {
            AGC_PREFETCH(young_obj(w, garbage_at(w, k + AGC_AHEAD)));
        }
        PyObject *op = young_obj(w, j);
        if (op != NULL) {
            Py_INCREF(op);
            SET_STATE(w, j, ST_DOOMED);
            held++;
        }
    }
    if (held == 0) {
        return n;
    }
    /* Clear them.  Python code may run (what only the garbage held dies);
     * it may untrack a held object, so the nodes' copies of the
     * addresses are used, not the registry's entries. */
    for (Py_ssize_t k = 0; k < ng; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (w->prefetch && k + AGC_AHEAD < ng) {
            Py_ssize_t ja = garbage_at(w, k + AGC_AHEAD);
            if (STATE(w, ja) == ST_DOOMED) {
                AGC_PREFETCH(NODE_OBJ(w, ja));
            }
        }
        if (STATE(w, j) != ST_DOOMED) {
            continue;
        }
        PyObject *op = NODE_OBJ(w, j);
        inquiry clear = Py_TYPE(op)->tp_clear;
        if (clear != NULL) {
            rec_event(w, AGC_TE_CLEARED, j);
            (void)clear(op);
            if (PyErr_Occurred()) {
                PyErr_WriteUnraisable(op);
            }
        }
    }
    /* Release them, oldest index first. */
    agc_registry *reg = w->reg;
    for (Py_ssize_t k = 0; k < ng; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (k + AGC_AHEAD < ng) {
            Py_ssize_t ja = garbage_at(w, k + AGC_AHEAD);
            if (STATE(w, ja) == ST_DOOMED) {
                PyObject *ahead = NODE_OBJ(w, ja);
                if (w->prefetch) {
                    AGC_PREFETCH(ahead);
                }
                /* The table may be far larger than the young set. */
                agc_registry_prefetch(reg, ahead);
            }
        }
        if (STATE(w, j) != ST_DOOMED) {
            continue;
        }
        PyObject *op = NODE_OBJ(w, j);
        SET_STATE(w, j, ST_UNREACHABLE);
        /* Still registered at its index (indices are not reused while
         * pinned, so a non-hole entry there is op's) and ours the last
         * reference: it dies now. */
        if (Py_REFCNT(op) == 1 && reg->objs[w->ys + j] != 0) {
            agc_registry_expect(reg, w->ys + j);
            Py_DECREF(op);
            agc_registry_expect_end(reg);
        }
        else {
            Py_DECREF(op);
        }
    }
    return n;
}

static void
debug_cycle(const char *msg, PyObject *op)
{
    PySys_FormatStderr("gc: %s <%s %p>\n", msg, Py_TYPE(op)->tp_name, op);
}

/* The callbacks' info dict, as the builtin gc's: a new reference, or NULL
 * with an exception.  last (borrowed): the collection that ended, for the
 * "stop" phase; NULL for "start" (every figure 0).  3.15 adds candidates
 * and duration (AGC_GC_STATS_DETAIL). */
static PyObject *
callback_info(int generation, const agc_lastinfo *last)
{
    Py_ssize_t collected = last != NULL ? last->collected : 0;
    Py_ssize_t uncollectable = last != NULL ? last->uncollectable : 0;
#if AGC_GC_STATS_DETAIL
    Py_ssize_t candidates = last != NULL ? last->candidates : 0;
    double duration = last != NULL ? (double)last->total_ns / 1e9 : 0.0;
    return Py_BuildValue("{sisnsnsnsd}", "generation", generation,
                         "collected", collected,
                         "uncollectable", uncollectable,
                         "candidates", candidates,
                         "duration", duration);
#else
    return Py_BuildValue("{sisnsn}", "generation", generation,
                         "collected", collected,
                         "uncollectable", uncollectable);
#endif
}

/* Calls each entry of the list cbs (borrowed) with (phase_obj, info)
 * (borrowed); errors go to sys.unraisablehook. */
static void
call_each(PyObject *cbs, PyObject *phase_obj, PyObject *info)
{
    /* The list may change under us: re-read its size each time. */
    Py_INCREF(cbs);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(cbs); i++) {
        PyObject *cb = PyList_GET_ITEM(cbs, i);
        Py_INCREF(cb);
        PyObject *r = PyObject_CallFunctionObjArgs(cb, phase_obj, info, NULL);
        if (r == NULL) {
            PyErr_WriteUnraisable(cb);
        }
        else {
            Py_DECREF(r);
        }
        Py_DECREF(cb);
    }
    Py_DECREF(cbs);
}

/* Calls each of altgc.callbacks, then of the mode's list (AGC.mode), with
 * (phase, info); errors go to sys.unraisablehook.  last: as for
 * callback_info. */
static void
invoke_callbacks(const char *phase, int generation, const agc_lastinfo *last)
{
    PyObject *cbs = AGC.callbacks;
    PyObject *more = AGC.mode.callbacks;
    if (more != NULL && !PyList_Check(more)) {
        more = NULL;
    }
    if ((cbs == NULL || PyList_GET_SIZE(cbs) == 0)
        && (more == NULL || PyList_GET_SIZE(more) == 0)) {
        return;
    }
    PyObject *info = callback_info(generation, last);
    if (info == NULL) {
        PyErr_WriteUnraisable(NULL);
        return;
    }
    PyObject *phase_obj = PyUnicode_FromString(phase);
    if (phase_obj == NULL) {
        Py_DECREF(info);
        PyErr_WriteUnraisable(NULL);
        return;
    }
    if (cbs != NULL) {
        call_each(cbs, phase_obj, info);
    }
    if (more != NULL) {
        /* a callback may uninstall: the mode lets go of the list */
        Py_INCREF(more);
        call_each(more, phase_obj, info);
        Py_DECREF(more);
    }
    Py_DECREF(phase_obj);
    Py_DECREF(info);
}

static void
validate_or_die(const char *when)
{
#ifdef ALTGC_DEBUG
    char buf[256];
    agc_events_settle();
    if (agc_registry_validate(&agc_reg, 1, buf, sizeof(buf)) < 0) {
        fprintf(stderr, "altgc: registry invariant broken %s: %s\n", when,
                buf);
        abort();
    }
#endif
}

/* CPython's _PyObject_GC_MAY_BE_TRACKED: could op (borrowed) ever take
 * part in a cycle? */
static inline int
may_be_tracked(PyObject *op)
{
    if (!agc_is_gc(op)) {
        return 0;
    }
    if (PyTuple_CheckExact(op)) {
        return agc_gc_is_tracked(op);
    }
    return 1;
}

/* Untracks young object j (a reachable or resurrected exact tuple, or
 * with `dicts` dict) if it holds only objects that cannot be in a cycle,
 * as _PyTuple_MaybeUntrack / _PyDict_MaybeUntrack do.  Runs no Python
 * code. */
static void
untrack_if_atomic(agc_work *w, Py_ssize_t j, int dicts)
{
    uint8_t st = STATE(w, j);
    if (st != ST_REACHABLE && st != ST_RESURRECTED) {
        return;
    }
    PyObject *op = young_obj(w, j);
    if (op == NULL) {
        return;
    }
    PyTypeObject *tp = Py_TYPE(op);
    if ((tp != &PyTuple_Type && (!dicts || tp != &PyDict_Type))
        || !agc_gc_is_tracked(op)) {
        return;
    }
    if (tp == &PyTuple_Type) {
        Py_ssize_t n = PyTuple_GET_SIZE(op), i;
        for (i = 0; i < n; i++) {
            PyObject *item = PyTuple_GET_ITEM(op, i);
            /* NULL: a tuple still being built */
            if (item == NULL || may_be_tracked(item)) {
                return;
            }
        }
        PyObject_GC_UnTrack(op);
        return;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(op, &pos, &key, &value)) {
        if (may_be_tracked(key) || may_be_tracked(value)) {
            return;
        }
    }
    PyObject_GC_UnTrack(op);
}

/* CPython's untrack_tuples (every collection) and untrack_dicts (full
 * collections until 3.13): a surviving tuple or dict that holds only
 * objects which cannot be in a cycle is untracked by the interpreter, as
 * the builtin gc does (written with public API: 3.13 no longer exports
 * _PyTuple_MaybeUntrack / _PyDict_MaybeUntrack).  It stays registered;
 * collections skip it while it is untracked (ST_OUTSIDE).  Only the young
 * objects deduce_unreachable found to be tuples or dicts are looked at
 * (atomic_bits), so a young set without any costs one pass over a bitmap,
 * not a read of every object.  Runs no Python code. */
static void
untrack_atomic(agc_work *w, int dicts)
{
    Py_ssize_t words = (w->ye - w->ys) / 64 + 1;
    for (Py_ssize_t k = 0; k < words; k++) {
        for (uint64_t bits = w->atomic_bits[k]; bits != 0; bits &= bits - 1) {
            untrack_if_atomic(w, k * 64 + __builtin_ctzll(bits), dicts);
        }
    }
}

/* What a garbage object's type can need of the later phases (bits of
 * agc_work.garbage_kinds).  GK_WEAK: it is a weakref, or can be the
 * referent of one (handle_weakrefs, clear_weakrefs).  GK_FINALIZE: it has
 * a tp_finalize (finalize_garbage).  GK_LEGACY: it has a tp_del, so the
 * collection has uncollectable objects.  A type's weakref support cannot
 * change while its instances live (assigning __class__ needs the same
 * layout), but Python code run by an earlier phase can give an object a
 * class with a finalizer: the phases test `python_ran` too. */
#define GK_WEAK 1u
#define GK_FINALIZE 2u
#define GK_LEGACY 4u

static unsigned
garbage_kind_of(PyTypeObject *tp, wr_memo *memo)
{
    unsigned k = 0;
    if (tp->tp_weaklistoffset != 0 || memo_is_weakref(memo, tp)) {
        k |= GK_WEAK;
    }
    if (tp->tp_finalize != NULL) {
        k |= GK_FINALIZE;
    }
    if (tp->tp_del != NULL) {
        k |= GK_LEGACY;
    }
    return k;
}

/* CPython's move_legacy_finalizers and move_legacy_finalizer_reachable:
 * the unreachable objects with a legacy finalizer (tp_del), and what they
 * reach, become ST_LEGACY (uncollectable).  Also sets w->garbage_kinds,
 * from each run of one type once.  Runs no Python code (the captured
 * edges are still valid).  Returns the number of unreachable objects
 * (legacy included). */
static Py_ssize_t
move_legacy_finalizers(agc_work *w)
{
    Py_ssize_t nunreach = 0;
    PyTypeObject *seen = NULL; /* the type of the last object looked at */
    wr_memo memo = WR_MEMO_INIT;
    unsigned kinds = 0;
    w->sp = 0;
    for (Py_ssize_t k = 0; k < w->ngarbage; k++) {
        Py_ssize_t j = garbage_at(w, k);
        if (STATE(w, j) != ST_UNREACHABLE) {
            continue;
        }
        nunreach++;
        PyTypeObject *tp = Py_TYPE(young_obj(w, j));
        if (tp != seen) {
            seen = tp;
            kinds |= garbage_kind_of(tp, &memo);
        }
        if (tp->tp_del != NULL) {
            SET_STATE(w, j, ST_LEGACY);
            w->stack[w->sp++] = (uint32_t)j;
        }
    }
    w->garbage_kinds = kinds;
    propagate(w, ST_UNREACHABLE, ST_LEGACY, 1);
    rec_phase(w, AGC_TP_MOVE_LEGACY);
    return nunreach;
}

/* The collection proper (gc_collect_main): the place to start reading.
 * Returns n + m (the unreachable objects found: collected and
 * uncollectable), or -1 with MemoryError when the scratch arrays cannot
 * be had (nothing changed). */
static Py_ssize_t
collect_main(int generation, int automatic)
{
    agc_registry *reg = &agc_reg;
    agc_lastinfo *last = &AGC.last;
    agc_work w;
    int64_t t_start = agc_now_ns();

    if (AGC.debug & AGC_DEBUG_STATS) {
        /* Read before writing: the writes may run Python code. */
        Py_ssize_t sz[4];
        agc_events_settle();
        for (int g = 0; g < 4; g++) {
            sz[g] = agc_registry_gen_end(reg, g)
                    - agc_registry_gen_start(reg, g);
        }
        PySys_WriteStderr("gc: collecting generation %d...\n", generation);
        PySys_FormatStderr("gc: objects in each generation: %zd %zd %zd\n",
                           sz[0], sz[1], sz[2]);
        PySys_FormatStderr("gc: objects in permanent generation: %zd\n",
                           sz[AGC_PERMANENT]);
    }

    agc_registry_pin(reg);
    if (work_init(&w, generation) < 0) {
        agc_registry_unpin(reg);
        return -1;
    }
    /* No Python code runs before deduce_unreachable has set every state
     * agc_collection_hides reads. */
    active_work = &w;
    rec_start(&w, AGC.recorder);
    /* Counters, as CPython updates them at the start. */
    if (generation + 1 < AGC_NUM_GENERATIONS) {
        AGC.count[generation + 1]++;
    }
    agc_events_take_settled(); /* pinning settled the death queue */
    agc_events.count0 = 0;
    if (AGC.mode.count0_reset != NULL) {
        AGC.mode.count0_reset();
    }
    for (int i = 1; i <= generation; i++) {
        AGC.count[i] = 0;
    }

    forget_components(last);
    memset(last, 0, sizeof(*last));
    last->grouped = 1; /* nothing to group unless recorded */
    last->generation = generation;
    last->automatic = automatic;
    last->examined = w.ye - w.ys;

    Py_ssize_t nreach = deduce_unreachable(&w, last->phase_ns);
    last->candidates = w.candidates;
    untrack_atomic(&w, 0);
    int64_t t_reach = agc_now_ns();

    if (generation == AGC_NUM_GENERATIONS - 2) {
        AGC.long_lived_pending += nreach;
    }
    else if (generation == AGC_NUM_GENERATIONS - 1) {
        AGC.long_lived_pending = 0;
        AGC.long_lived_total = nreach;
    }

    Py_ssize_t nunreach = move_legacy_finalizers(&w);
    last->unreachable = nunreach;
    last->phase_ns[AGC_PHASE_REACH] += agc_now_ns() - t_reach;

    /* Record the cycles (before anything is freed). */
    if (nunreach > 0 && nunreach <= AGC.cycle_detail_limit) {
        Py_ssize_t *nodes, *offsets;
        uint32_t *edges;
        Py_ssize_t k = garbage_subgraph(&w, ST_UNREACHABLE, ST_LEGACY, &nodes,
                                        &offsets, &edges);
        if (k >= 0) {
            (void)record_components(&w, k, nodes, offsets, edges);
            PyMem_RawFree(nodes);
        }
    }
    else if (nunreach > 0) {
        last->cycles_truncated = 1;
    }

    if (AGC.debug & AGC_DEBUG_COLLECTABLE) {
        for (Py_ssize_t k = 0; k < w.ngarbage; k++) {
            Py_ssize_t j = garbage_at(&w, k);
            PyObject *op = young_obj(&w, j);
            if (STATE(&w, j) == ST_UNREACHABLE && op != NULL) {
                w.python_ran = 1; /* sys.stderr.write may run code */
                debug_cycle("collectable", op);
            }
        }
    }

    /* Each phase below runs only if the garbage's types can give it
     * something to do, or Python code has run since they were seen. */
    int64_t t_fin = agc_now_ns();
    Py_ssize_t collected = 0;
    if ((w.garbage_kinds & GK_WEAK) || w.python_ran) {
        collected = handle_weakrefs(&w);
    }
    rec_phase(&w, AGC_TP_HANDLE_WEAKREFS);
    if ((w.garbage_kinds & GK_FINALIZE) || w.python_ran) {
        finalize_garbage(&w);
    }
    rec_phase(&w, AGC_TP_FINALIZE);
    /* Without a callback or finalizer run, no reference count of the
     * garbage can have changed: the recount would find nothing. */
    last->resurrected = w.python_ran ? handle_resurrected(&w) : 0;
    rec_phase(&w, AGC_TP_RESURRECTED);
    /* 3.14: only finalizers and callbacks can have made weakrefs to the
     * garbage since handle_weakrefs; 3.15 left the callback-less ones. */
    if (AGC_WEAKREFS_RECLEAR && (AGC_WEAKREFS_SPLIT || w.python_ran)
        && ((w.garbage_kinds & GK_WEAK) || w.python_ran)) {
        clear_weakrefs(&w);
    }
    if (AGC_WEAKREFS_RECLEAR) {
        rec_phase(&w, AGC_TP_CLEAR_WEAKREFS);
    }
    int64_t t_clear = agc_now_ns();
    last->phase_ns[AGC_PHASE_FINALIZE] = t_clear - t_fin;

    collected += delete_garbage(&w);
    rec_phase(&w, AGC_TP_DELETE_GARBAGE);

    /* Uncollectable: what is left of the legacy set after clearing. */
    Py_ssize_t uncollectable = 0;
    Py_ssize_t nlegacy_scan = (w.garbage_kinds & GK_LEGACY) ? w.ngarbage : 0;
    for (Py_ssize_t k = 0; k < nlegacy_scan; k++) {
        Py_ssize_t j = garbage_at(&w, k);
        if (STATE(&w, j) != ST_LEGACY) {
            continue;
        }
        PyObject *op = young_obj(&w, j);
        if (op == NULL) {
            continue;
        }
        uncollectable++;
        if (AGC.debug & AGC_DEBUG_UNCOLLECTABLE) {
            debug_cycle("uncollectable", op);
        }
        if ((AGC.debug & AGC_DEBUG_SAVEALL) || Py_TYPE(op)->tp_del != NULL) {
            if (PyList_Append(AGC.garbage, op) < 0) {
                PyErr_WriteUnraisable(op);
            }
        }
    }

    /* Survivors of every kind join the next generation.  Until 3.13 a
     * full collection also untracks atomic dicts (the tuples were done
     * after deduce_unreachable; from 3.14 there is nothing more to do). */
    if (AGC_GC_UNTRACKS_DICTS && generation == AGC_NUM_GENERATIONS - 1) {
        untrack_atomic(&w, 1);
    }
    agc_registry_promote(reg, generation, w.ye);
    active_work = NULL;
    work_fini(&w);
    agc_registry_unpin(reg);
    agc_registry_maybe_shrink(reg);

    int64_t t_end = agc_now_ns();
    last->phase_ns[AGC_PHASE_CLEAR] = t_end - t_clear;
    last->total_ns = t_end - t_start;
    last->collected = collected;
    last->uncollectable = uncollectable;
    last->valid = 1;

    agc_genstats *st = &AGC.stats[generation];
    st->collections++;
    st->collected += collected;
    st->uncollectable += uncollectable;
    st->candidates += last->candidates;
    st->last_pause_ns = last->total_ns;
    st->total_pause_ns += last->total_ns;
    if (last->total_ns > st->max_pause_ns) {
        st->max_pause_ns = last->total_ns;
    }
    if (AGC.debug & AGC_DEBUG_STATS) {
        /* PySys_WriteStderr: PySys_FormatStderr has no %f, and its error
         * would drop the line. */
        PySys_WriteStderr(
            "gc: done, %zd unreachable, %zd uncollectable, %.4fs elapsed\n",
            collected + uncollectable, uncollectable,
            (double)last->total_ns / 1e9);
    }
    return collected + uncollectable;
}

/* ---- entry points ---------------------------------------------------- */

/* The re-entrancy rule: no collection or analysis starts while one is
 * under way (a finalizer, weakref callback or gc callback of a collection
 * calling collect(), an automatic collection falling due meanwhile).
 * Enforced here, for every entry point below, and nowhere else. */
static inline int
may_start(void)
{
    return !AGC.collecting;
}

/* A collection with the gc callbacks around it; `generation` is chosen
 * and may_start() was true.  Returns what collect_main returns. */
static Py_ssize_t
collect_with_callbacks(int generation, int automatic)
{
    AGC.collecting = 1;
    invoke_callbacks("start", generation, NULL);
    Py_ssize_t n = collect_main(generation, automatic);
    if (n >= 0) {
        invoke_callbacks("stop", generation, &AGC.last);
    }
    AGC.collecting = 0;
    if (AGC.pending_freeze > 0) {
        agc_registry_freeze(&agc_reg);
    }
    else if (AGC.pending_freeze < 0) {
        agc_registry_unfreeze(&agc_reg);
    }
    AGC.pending_freeze = 0;
    validate_or_die("after a collection");
    return n;
}

Py_ssize_t
agc_collect(int generation)
{
    if (!may_start()) {
        return 0;
    }
    if (AGC.mode.before != NULL && AGC.mode.before() < 0) {
        return -1;
    }
    Py_ssize_t n = collect_with_callbacks(generation, 0);
    if (n >= 0 && AGC.mode.after != NULL) {
        AGC.mode.after(generation);
    }
    return n;
}

PyObject *
agc_find_unreachable(int generation)
{
    agc_registry *reg = &agc_reg;
    agc_work w;
    PyObject *result = NULL;
    PyObject **held = NULL;
    Py_ssize_t k = 0, *nodes = NULL, *comp = NULL;

    if (!may_start()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "find_unreachable() cannot run during a collection");
        return NULL;
    }
    if (AGC.mode.before != NULL && AGC.mode.before() < 0) {
        return NULL;
    }
    AGC.collecting = 1;
    agc_registry_pin(reg);
    if (work_init(&w, generation) < 0) {
        goto done;
    }
    (void)deduce_unreachable(&w, NULL);
    Py_ssize_t nc = garbage_components(&w, ST_UNREACHABLE, ST_UNREACHABLE, &k,
                                       &nodes, &comp);
    if (nc < 0) {
        PyErr_NoMemory();
        goto done;
    }
    /* Hold every garbage object before allocating anything: allocation may
     * run the builtin gc, which could otherwise free them under us. */
    held = PyMem_RawMalloc(((size_t)k + 1) * sizeof(PyObject *));
    if (held == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t v = 0; v < k; v++) {
        held[v] = Py_NewRef(young_obj(&w, nodes[v]));
    }
    result = PyList_New(nc);
    for (Py_ssize_t c = 0; result != NULL && c < nc; c++) {
        PyObject *g = PyList_New(0);
        if (g == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, c, g);
    }
    for (Py_ssize_t v = 0; result != NULL && v < k; v++) {
        if (PyList_Append(PyList_GET_ITEM(result, comp[v]), held[v]) < 0) {
            Py_CLEAR(result);
        }
    }
    for (Py_ssize_t v = 0; v < k; v++) {
        Py_DECREF(held[v]);
    }
done:
    PyMem_RawFree(held);
    PyMem_RawFree(nodes);
    PyMem_RawFree(comp);
    if (w.reg != NULL) {
        work_fini(&w);
    }
    agc_registry_unpin(reg);
    AGC.collecting = 0;
    validate_or_die("after find_unreachable");
    return result;
}

Py_ssize_t
agc_collect_recorded(int generation, int collect, agc_recorder *rec)
{
    if (!may_start()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a collection cannot be traced during a collection");
        return -1;
    }
    if (collect) {
        AGC.recorder = rec;
        Py_ssize_t n = collect_with_callbacks(generation, 0);
        AGC.recorder = NULL;
        if (n >= 0 && AGC.mode.after != NULL) {
            AGC.mode.after(generation);
        }
        return n;
    }
    /* find_unreachable's deduction, then the legacy finalizers' set: no
     * Python code runs, nothing changes. */
    agc_registry *reg = &agc_reg;
    agc_work w;
    Py_ssize_t n = -1;
    AGC.collecting = 1;
    agc_registry_pin(reg);
    if (work_init(&w, generation) == 0) {
        rec_start(&w, rec);
        (void)deduce_unreachable(&w, NULL);
        n = move_legacy_finalizers(&w);
        work_fini(&w);
    }
    agc_registry_unpin(reg);
    AGC.collecting = 0;
    validate_or_die("after a traced analysis");
    return n;
}

/* ---- scheduling of automatic collections ----------------------------- */

static int pending_collect(void *arg);

void
agc_maybe_schedule(void)
{
    if (AGC.enabled && AGC.threshold[0] > 0
        && agc_gen_count(0) > AGC.threshold[0] && may_start() && !AGC.scheduled
        && !PyErr_Occurred()) {
        if (Py_AddPendingCall(pending_collect, NULL) == 0) {
            AGC.scheduled = 1;
        }
    }
}

/* The oldest generation whose count exceeds its threshold, the full
 * collection only when enough objects await it (long_lived_pending >
 * long_lived_total / 4). */
void
agc_collect_generations(void)
{
    if (!may_start()) {
        return;
    }
    for (int i = AGC_NUM_GENERATIONS - 1; i >= 0; i--) {
        if (agc_gen_count(i) > AGC.threshold[i]) {
            if (i == AGC_NUM_GENERATIONS - 1
                && AGC.long_lived_pending < AGC.long_lived_total / 4) {
                continue;
            }
            if (collect_with_callbacks(i, 1) < 0) {
                PyErr_WriteUnraisable(NULL);
            }
            if (AGC.mode.after != NULL) {
                AGC.mode.after(i);
            }
            break;
        }
    }
}

/* Runs from the eval loop's pending calls: never inside track() or a
 * death hook. */
static int
pending_collect(void *arg)
{
    AGC.scheduled = 0;
    if (!AGC.enabled || agc_is_finalizing()) {
        return 0; /* at exit, pending calls run while modules go away */
    }
    AGC.pending_runs++;
    if (AGC.threshold[0] <= 0 || agc_gen_count(0) <= AGC.threshold[0]) {
        AGC.pending_idle++;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    agc_collect_generations();
    PyErr_Restore(type, value, tb);
    return 0;
}
