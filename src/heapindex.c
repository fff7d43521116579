/*
 * heapindex.c -- "why is it still alive?": a compact index of the whole
 * heap graph (altgc.explain), see heapindex.h.
 *
 * _hg_build() takes the lists the caller made with gc.get_objects(g) for
 * g = 0, 1, 2 (every object the builtin gc tracks) and a list of extra
 * objects (altgc's registry, named roots, the target), and closes them
 * under tp_traverse: an untracked container (a dict holding only strings
 * and arrays), an int, a str or a numpy array reached from a tracked
 * object becomes a node too.  The closure is a queue over the node array
 * (nodes are appended as they are discovered), so it is iterative, and it
 * runs no Python code: nothing can die while it runs.
 *
 * Storage, N nodes and E edges (int32 indices, so N, E < 2^31):
 *   ptr      N pointers (the node's object, NOT owned)
 *   slots    open-addressing table address -> (tag, index + 1), load
 *            factor <= 1/2, 64 bits a slot
 *   fwd_off  N + 1 int32, fwd E int32: referents in traversal order
 *   rev_off  N + 1 int32, rev E int32: referrers (reverse CSR)
 *   gen, flags, inref  one byte each (inref: references held by the
 *            caller's input lists)
 *   sizes    int64 per node, filled lazily (retained sizes)
 *
 * The index never owns a reference.  Objects may die after the build, and
 * their memory may be reused, so the index is only ever used for integer
 * work (breadth-first search, dominated sets); every object the caller gets
 * back is found again by a fresh tp_traverse starting from an object the
 * caller holds (a named root or the target): a step that no longer exists
 * makes the path "stale" and the caller rebuilds.  No pointer taken from
 * the index is dereferenced.
 *
 * A node is "external" when its reference count exceeds the references the
 * graph and the caller's input lists account for: something outside the
 * tracked heap (a running frame, the interpreter, a C extension) holds it.
 */
#include "heapindex.h"

#include "frames.h"

#include <string.h>

PyDoc_STRVAR(frame_locals_doc,
"_frame_locals(frame, /)\n--\n\n"
"The (name, value) pairs of a running frame's locals, read without\n"
"frame.f_locals (3.11-3.12); None from 3.13 (use frame.f_locals).");

enum {
    HG_EXT = 1,
    HG_EXCLUDED = 2
};

typedef struct {
    int valid;
    int32_t n, cap;
    PyObject **ptr;
    uint8_t *gen;         /* 0..2 builtin gc generation, 3 none */
    uint8_t *flags;
    uint8_t *inref;       /* references held by the input lists (sat.) */
    uint64_t *slots;      /* see hg_probe */
    size_t nslots;        /* power of two */
    int32_t *fwd_off, *fwd;
    int64_t nedges, edges_cap;
    int32_t *rev_off, *rev;
    int64_t *sizes;       /* -1 unknown */
    int64_t build_ns;
} hg_index;

static hg_index HG;
/* Bumped whenever the index is freed: a query that may have run Python
 * code (allocation -> builtin gc -> finalizers) checks it before touching
 * the index again. */
static uint64_t hg_epoch = 0;

static int
hg_check_epoch(uint64_t epoch)
{
    if (epoch != hg_epoch) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the heap index was rebuilt during the query");
        return -1;
    }
    return 0;
}

static void
hg_free(void)
{
    PyMem_RawFree(HG.ptr);
    PyMem_RawFree(HG.gen);
    PyMem_RawFree(HG.flags);
    PyMem_RawFree(HG.inref);
    PyMem_RawFree(HG.slots);
    PyMem_RawFree(HG.fwd_off);
    PyMem_RawFree(HG.fwd);
    PyMem_RawFree(HG.rev_off);
    PyMem_RawFree(HG.rev);
    PyMem_RawFree(HG.sizes);
    memset(&HG, 0, sizeof(HG));
    hg_epoch++;
}

static size_t
hg_bytes(void)
{
    size_t b = (size_t)HG.cap * (sizeof(PyObject *) + 3 + sizeof(int32_t))
               + HG.nslots * sizeof(uint64_t)
               + (size_t)HG.edges_cap * sizeof(int32_t);
    if (HG.rev) {
        b += ((size_t)HG.n + 1) * sizeof(int32_t)
             + (size_t)HG.nedges * sizeof(int32_t);
    }
    if (HG.sizes) {
        b += (size_t)HG.n * sizeof(int64_t);
    }
    return b;
}

/* A slot is (tag << 32) | (index + 1), 0 empty: a probe compares tags
 * and reads ptr[] only on a tag match.  Home slot: the tag scaled to the
 * table (as in the registry). */
static inline uint64_t *
hg_probe(const void *p, uint32_t tag, int32_t *found)
{
    size_t mask = HG.nslots - 1;
    size_t h = agc_home_of(tag, HG.nslots);
    for (;;) {
        uint64_t s = HG.slots[h];
        if (s == 0) {
            *found = -1;
            return &HG.slots[h];
        }
        if ((uint32_t)(s >> 32) == tag) {
            int32_t i = (int32_t)(uint32_t)s - 1;
            if (HG.ptr[i] == p) {
                *found = i;
                return &HG.slots[h];
            }
        }
        h = (h + 1) & mask;
    }
}

/* Index of p, or -1.  p is not read. */
static int32_t
hg_find(const void *p)
{
    int32_t i;
    if (HG.nslots == 0) {
        return -1;
    }
    hg_probe(p, agc_tag_of(p), &i);
    return i;
}

static void
hg_slot_put(int32_t idx)
{
    int32_t i;
    uint32_t tag = agc_tag_of(HG.ptr[idx]);
    uint64_t *slot = hg_probe(HG.ptr[idx], tag, &i);
    *slot = ((uint64_t)tag << 32) | (uint32_t)(idx + 1);
}

/* Makes the table at least `want` slots (a power of two) and rehashes. */
static int
hg_resize_slots(size_t want)
{
    size_t ns = 1024;
    while (ns < want) {
        ns *= 2;
    }
    uint64_t *s = PyMem_RawCalloc(ns, sizeof(uint64_t));
    if (s == NULL) {
        return -1;
    }
    PyMem_RawFree(HG.slots);
    HG.slots = s;
    HG.nslots = ns;
    for (int32_t i = 0; i < HG.n; i++) {
        hg_slot_put(i);
    }
    return 0;
}

#define HG_GROW(arr, type, cap)                                               \
    ((type *)PyMem_RawRealloc((arr), (size_t)(cap) * sizeof(type)))

/* Makes room for `want` nodes (arrays and table).  0, or -1 out of
 * memory (the index stays consistent). */
static int
hg_reserve(int64_t want)
{
    if (want > INT32_MAX - 1) {
        return -1;
    }
    if (want > HG.cap) {
        int64_t cap = HG.cap ? (int64_t)HG.cap : 4096;
        while (cap < want) {
            cap *= 2;
        }
        if (cap > INT32_MAX - 1) {
            cap = INT32_MAX - 1;
        }
        PyObject **ptr = HG_GROW(HG.ptr, PyObject *, cap);
        if (ptr) {
            HG.ptr = ptr;
        }
        uint8_t *gen = HG_GROW(HG.gen, uint8_t, cap);
        if (gen) {
            HG.gen = gen;
        }
        uint8_t *fl = HG_GROW(HG.flags, uint8_t, cap);
        if (fl) {
            HG.flags = fl;
        }
        uint8_t *in = HG_GROW(HG.inref, uint8_t, cap);
        if (in) {
            HG.inref = in;
        }
        int32_t *off = HG_GROW(HG.fwd_off, int32_t, cap + 1);
        if (off) {
            HG.fwd_off = off;
        }
        if (!ptr || !gen || !fl || !in || !off) {
            return -1;
        }
        HG.cap = (int32_t)cap;
    }
    if ((size_t)want * 2 > HG.nslots
        && hg_resize_slots((size_t)want * 2) < 0) {
        return -1;
    }
    return 0;
}

/* Index of p, adding it (generation 3, no flags) if new; -1 when out of
 * memory.  p borrowed, not read.  One probe. */
static int32_t
hg_intern(PyObject *p)
{
    int32_t i;
    if (HG.n == HG.cap || (size_t)(HG.n + 1) * 2 > HG.nslots) {
        if (hg_reserve((int64_t)HG.n + 1) < 0) {
            return -1;
        }
    }
    uint32_t tag = agc_tag_of(p);
    uint64_t *slot = hg_probe(p, tag, &i);
    if (i >= 0) {
        return i;
    }
    i = HG.n++;
    HG.ptr[i] = p;
    HG.gen[i] = 3;
    HG.flags[i] = 0;
    HG.inref[i] = 0;
    *slot = ((uint64_t)tag << 32) | (uint32_t)(i + 1);
    return i;
}

/* The build traverses nodes in chunks: first every referent of the chunk
 * is recorded in `pend` (pointers, not read), and their table slots are
 * prefetched; then they are interned in order.  The table's cache misses
 * overlap instead of being paid one after the other. */
#define HG_CHUNK 256

typedef struct {
    PyObject **p;
    Py_ssize_t n, cap;
    int oom;
} pend_buf;

/* Visitor of the build: records the referent (borrowed, not read). */
static int
build_visit(PyObject *ref, void *arg)
{
    pend_buf *pb = arg;
    if (ref == NULL || pb->oom) {
        return 0;
    }
    if (pb->n == pb->cap) {
        Py_ssize_t cap = pb->cap ? pb->cap * 2 : 4096;
        PyObject **np = HG_GROW(pb->p, PyObject *, cap);
        if (np == NULL) {
            pb->oom = 1;
            return 0;
        }
        pb->p = np;
        pb->cap = cap;
    }
    pb->p[pb->n++] = ref;
    return 0;
}

/* Appends the edge -> j.  0, or -1 out of memory. */
static int
hg_add_edge(int32_t j)
{
    if (HG.nedges == HG.edges_cap) {
        int64_t cap = HG.edges_cap ? HG.edges_cap * 2 : 16384;
        if (cap > INT32_MAX) {
            cap = INT32_MAX;
        }
        if (HG.nedges >= cap) {
            return -1;
        }
        int32_t *e = HG_GROW(HG.fwd, int32_t, cap);
        if (e == NULL) {
            return -1;
        }
        HG.fwd = e;
        HG.edges_cap = cap;
    }
    HG.fwd[HG.nedges++] = j;
    return 0;
}

/* Closes the index under tp_traverse: the node array is the queue.
 * Runs no Python code.  0, or -1 out of memory (no exception set). */
static int
hg_close(void)
{
    pend_buf pb = {0};
    Py_ssize_t bound[HG_CHUNK + 1];
    int rc = -1;
    for (int32_t i = 0; i < HG.n;) {
        int32_t end = HG.n - i > HG_CHUNK ? i + HG_CHUNK : HG.n;
        pb.n = 0;
        for (int32_t v = i; v < end; v++) {
            bound[v - i] = pb.n;
            if (v + 8 < HG.n) {
                AGC_PREFETCH(HG.ptr[v + 8]);   /* the object, not read */
            }
            PyObject *op = HG.ptr[v];
            if (!(HG.flags[v] & HG_EXCLUDED) && PyObject_IS_GC(op)
                && Py_TYPE(op)->tp_traverse != NULL) {
                Py_TYPE(op)->tp_traverse(op, build_visit, &pb);
            }
        }
        bound[end - i] = pb.n;
        if (pb.oom) {
            goto done;
        }
        for (Py_ssize_t k = 0; k < pb.n; k++) {
            AGC_PREFETCH(
                &HG.slots[agc_home_of(agc_tag_of(pb.p[k]), HG.nslots)]);
        }
        for (int32_t v = i; v < end; v++) {
            HG.fwd_off[v] = (int32_t)HG.nedges;
            for (Py_ssize_t k = bound[v - i]; k < bound[v - i + 1]; k++) {
                int32_t j = hg_intern(pb.p[k]);
                if (j < 0) {
                    goto done;
                }
                if (!(HG.flags[j] & HG_EXCLUDED) && hg_add_edge(j) < 0) {
                    goto done;
                }
            }
        }
        i = end;
    }
    HG.fwd_off[HG.n] = (int32_t)HG.nedges;
    rc = 0;
done:
    PyMem_RawFree(pb.p);
    return rc;
}

/* Adds the items of list `lst` (borrowed) as nodes of generation `gen`. */
static int
add_inputs(PyObject *lst, int gen, const char *what)
{
    if (!PyList_Check(lst)) {
        PyErr_Format(PyExc_TypeError, "_hg_build(): %s must be a list", what);
        return -1;
    }
    Py_ssize_t size = PyList_GET_SIZE(lst);
    for (Py_ssize_t k = 0; k < size; k++) {
        if (k + 24 < size && HG.nslots) {   /* overlap the table's misses */
            AGC_PREFETCH(&HG.slots[agc_home_of(
                agc_tag_of(PyList_GET_ITEM(lst, k + 24)), HG.nslots)]);
        }
        int32_t i = hg_intern(PyList_GET_ITEM(lst, k));
        if (i < 0) {
            PyErr_NoMemory();
            return -1;
        }
        if (gen < 3) {
            HG.gen[i] = (uint8_t)gen;
        }
        if (HG.inref[i] < 255) {
            HG.inref[i]++;
        }
    }
    return 0;
}

PyDoc_STRVAR(build_doc,
"_hg_build(gen_lists, extra, exclude, /)\n--\n\n"
"Build the heap index; return (nodes, edges, bytes, ns).");

/* _hg_build(gen_lists, extra, exclude) -> (nodes, edges, bytes, ns).
 * gen_lists: list of 3 lists (gc.get_objects(0..2)); extra: list of more
 * objects; exclude: list of objects left out of the graph (the caller's own
 * containers and frames).  All borrowed; the index keeps no reference. */
static PyObject *
hg_build(PyObject *module, PyObject *args)
{
    PyObject *gens, *extra, *exclude;
    if (!PyArg_ParseTuple(args, "O!O!O!:_hg_build", &PyList_Type, &gens,
                          &PyList_Type, &extra, &PyList_Type, &exclude)) {
        return NULL;
    }
    int64_t t0 = agc_now_ns();
    hg_free();
    /* Presize for twice the inputs (referents outside the gc's lists,
     * strings and ints mostly, are about as many again). */
    int64_t want = PyList_GET_SIZE(extra) + PyList_GET_SIZE(exclude) + 16;
    for (Py_ssize_t g = 0; g < PyList_GET_SIZE(gens); g++) {
        PyObject *lst = PyList_GET_ITEM(gens, g);
        if (PyList_Check(lst)) {
            want += PyList_GET_SIZE(lst);
        }
    }
    if (hg_reserve(want * 2 < INT32_MAX - 1 ? want * 2 : INT32_MAX - 1) < 0) {
        goto oom;
    }
    /* ... and about as many references as objects. */
    HG.edges_cap = want * 2 < INT32_MAX ? want * 2 : INT32_MAX;
    HG.fwd = PyMem_RawMalloc((size_t)HG.edges_cap * sizeof(int32_t));
    if (HG.fwd == NULL) {
        goto oom;
    }
    /* Excluded objects and the input lists themselves come first, flagged,
     * so no edge leads to them. */
    PyObject *own[3] = {gens, extra, exclude};
    for (int k = 0; k < 3; k++) {
        int32_t i = hg_intern(own[k]);
        if (i < 0) {
            goto oom;
        }
        HG.flags[i] |= HG_EXCLUDED;
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(exclude); k++) {
        int32_t i = hg_intern(PyList_GET_ITEM(exclude, k));
        if (i < 0) {
            goto oom;
        }
        HG.flags[i] |= HG_EXCLUDED;
    }
    for (Py_ssize_t g = 0; g < PyList_GET_SIZE(gens); g++) {
        PyObject *lst = PyList_GET_ITEM(gens, g);
        if (PyList_Check(lst)) {
            int32_t i = hg_intern(lst);
            if (i < 0) {
                goto oom;
            }
            HG.flags[i] |= HG_EXCLUDED;
        }
        if (add_inputs(lst, g < 3 ? (int)g : 3, "gen_lists items") < 0) {
            goto fail;
        }
    }
    if (add_inputs(extra, 3, "extra") < 0) {
        goto fail;
    }
    if (hg_close() < 0) {
        goto oom;
    }
    /* Reverse CSR, and the external flag. */
    HG.rev_off = PyMem_RawCalloc((size_t)HG.n + 1, sizeof(int32_t));
    HG.rev = PyMem_RawMalloc((size_t)(HG.nedges ? HG.nedges : 1)
                             * sizeof(int32_t));
    if (HG.rev_off == NULL || HG.rev == NULL) {
        goto oom;
    }
    for (int64_t e = 0; e < HG.nedges; e++) {
        HG.rev_off[HG.fwd[e] + 1]++;
    }
    for (int32_t i = 0; i < HG.n; i++) {
        HG.rev_off[i + 1] += HG.rev_off[i];
    }
    {
        int32_t *fill = PyMem_RawMalloc(((size_t)HG.n + 1) * sizeof(int32_t));
        if (fill == NULL) {
            goto oom;
        }
        memcpy(fill, HG.rev_off, ((size_t)HG.n + 1) * sizeof(int32_t));
        for (int32_t v = 0; v < HG.n; v++) {
            for (int32_t e = HG.fwd_off[v]; e < HG.fwd_off[v + 1]; e++) {
                HG.rev[fill[HG.fwd[e]]++] = v;
            }
        }
        PyMem_RawFree(fill);
    }
    for (int32_t i = 0; i < HG.n; i++) {
        if (i + 16 < HG.n) {
            AGC_PREFETCH(HG.ptr[i + 16]); /* its refcount, next */
        }
        if (HG.flags[i] & HG_EXCLUDED) {
            continue;
        }
        Py_ssize_t accounted = (Py_ssize_t)(HG.rev_off[i + 1] - HG.rev_off[i])
                               + HG.inref[i];
        if (Py_REFCNT(HG.ptr[i]) > accounted) {
            HG.flags[i] |= HG_EXT;
        }
    }
    HG.valid = 1;
    HG.build_ns = agc_now_ns() - t0;

    return Py_BuildValue("(iLnL)", (int)HG.n, (long long)HG.nedges,
                         (Py_ssize_t)hg_bytes(), (long long)HG.build_ns);
oom:
    PyErr_NoMemory();
fail:
    hg_free();
    return NULL;
}

static int
hg_require(void)
{
    if (!HG.valid) {
        PyErr_SetString(PyExc_RuntimeError, "no heap index: call _hg_build");
        return -1;
    }
    return 0;
}

/* The node of obj (borrowed, not read): its index, -1 if it is not a node
 * (or an excluded one), -2 with an exception if there is no index. */
static int32_t
hg_node_of(PyObject *obj)
{
    if (hg_require() < 0) {
        return -2;
    }
    int32_t i = hg_find(obj);
    return (i < 0 || (HG.flags[i] & HG_EXCLUDED)) ? -1 : i;
}

/* Visitor finding one referent: arg points to {want, found}. */
typedef struct {
    PyObject *want;
    int found;
} find_ctx;

static int
find_visit(PyObject *ref, void *arg)
{
    find_ctx *c = arg;
    if (ref == c->want) {
        c->found = 1;
        return 1;
    }
    return 0;
}

/* Whether live object `from` (borrowed) references `to` right now; `to`
 * is only compared.  Runs no Python code. */
static int
refers_to(PyObject *from, PyObject *to)
{
    if (!PyObject_IS_GC(from) || Py_TYPE(from)->tp_traverse == NULL) {
        return 0;
    }
    find_ctx c = {to, 0};
    Py_TYPE(from)->tp_traverse(from, find_visit, &c);
    return c.found;
}

/* The objects of a path of node indices idx[0..len) (idx[0] is root's node,
 * idx[len-1] the target's), found again from the live `root` (borrowed):
 * a new list of new references, Py_None (new ref) if a step no longer
 * exists, NULL with an exception. */
static PyObject *
validate_path(PyObject *root, const int32_t *idx, int32_t len)
{
    PyObject *out = PyList_New(len);
    if (out == NULL) {
        return NULL;
    }
    PyObject *cur = root;
    PyList_SET_ITEM(out, 0, Py_NewRef(root));
    /* `cur` stays alive: `out` holds it, and no Python code runs. */
    for (int32_t k = 1; k < len; k++) {
        PyObject *next = HG.ptr[idx[k]]; /* compared, not read */
        if (!refers_to(cur, next)) {
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        PyList_SET_ITEM(out, k, Py_NewRef(next));
        cur = next;
    }
    return out;
}

PyDoc_STRVAR(paths_doc,
"_hg_paths(target, roots, max_paths, /)\n--\n\n"
"Paths from the named roots (or an external node) to target, or None\n"
"if target is not in the index.");

/* _hg_paths(target, roots, max_paths) -> None if the target is not in the
 * index, else (paths, stale, anon, reachable, indegree, gen) where paths is
 * a list of (root position in `roots`, [objects root .. target]); stale
 * counts paths that no longer exist; anon is the path (list) from the
 * nearest external node when no named root reaches the target, or None;
 * reachable is False when no named root and no external node leads to the
 * target (it sits only in unreachable cycles); indegree counts the
 * target's referrers in the index (with multiplicity).  All arguments
 * borrowed. */
static PyObject *
hg_paths(PyObject *module, PyObject *args)
{
    PyObject *target, *roots;
    int max_paths;
    if (!PyArg_ParseTuple(args, "OO!i:_hg_paths", &target, &PyList_Type,
                          &roots, &max_paths)) {
        return NULL;
    }
    int32_t t = hg_node_of(target);
    if (t == -2) {
        return NULL;
    }
    if (t < 0) {
        Py_RETURN_NONE;
    }
    int32_t n = HG.n;
    int32_t *parent = PyMem_RawMalloc((size_t)n * sizeof(int32_t));
    int32_t *rootpos = PyMem_RawMalloc((size_t)n * sizeof(int32_t));
    int32_t *queue = PyMem_RawMalloc((size_t)n * sizeof(int32_t));
    int32_t *pathbuf = PyMem_RawMalloc((size_t)n * sizeof(int32_t));
    PyObject *paths = PyList_New(0), *result = NULL, *anon = NULL;
    if (!parent || !rootpos || !queue || !pathbuf) {
        PyErr_NoMemory();
        goto done;
    }
    if (paths == NULL) {
        goto done;
    }
    memset(parent, 0xff, (size_t)n * sizeof(int32_t));
    memset(rootpos, 0xff, (size_t)n * sizeof(int32_t));
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(roots); k++) {
        int32_t r = hg_find(PyList_GET_ITEM(roots, k));
        if (r >= 0 && rootpos[r] < 0) {
            rootpos[r] = (int32_t)k;
        }
    }
    uint64_t epoch = hg_epoch;
    int32_t qh = 0, qt = 0, first_ext = -1, found = 0, stale = 0;
    int reachable = 0;
    parent[t] = t;
    queue[qt++] = t;
    while (qh < qt && found < max_paths) {
        int32_t v = queue[qh++];
        if (rootpos[v] >= 0) {
            reachable = 1;
            int32_t len = 0;
            for (int32_t x = v;; x = parent[x]) {
                pathbuf[len++] = x;
                if (x == t) {
                    break;
                }
            }
            PyObject *root = PyList_GET_ITEM(roots, rootpos[v]);
            PyObject *objs = validate_path(root, pathbuf, len);
            if (objs == NULL) {
                goto done;
            }
            if (objs == Py_None) {
                Py_DECREF(objs);
                stale++;
            }
            else {
                PyObject *item = Py_BuildValue("(iN)", (int)rootpos[v], objs);
                if (item == NULL || PyList_Append(paths, item) < 0) {
                    Py_XDECREF(item);
                    goto done;
                }
                Py_DECREF(item);
                found++;
            }
            if (hg_check_epoch(epoch) < 0) {
                goto done;
            }
            if (v != t) {
                continue; /* a path starts at the nearest named root */
            }
        }
        if (v != t && (HG.flags[v] & HG_EXT) && first_ext < 0) {
            first_ext = v;
            reachable = 1;
        }
        for (int32_t e = HG.rev_off[v]; e < HG.rev_off[v + 1]; e++) {
            int32_t u = HG.rev[e];
            if (parent[u] < 0) {
                parent[u] = v;
                queue[qt++] = u;
            }
        }
    }
    if (found == 0 && first_ext >= 0) {
        /* No named root: report how far the nearest unnamed external
         * holder is (its object cannot be handed out: nothing live that
         * the caller holds leads to it, so it is never read). */
        int32_t len = 0;
        for (int32_t x = first_ext; x != t; x = parent[x]) {
            len++;
        }
        anon = PyLong_FromLong(len);
        if (anon == NULL) {
            goto done;
        }
    }
    Py_ssize_t indeg = HG.rev_off[t + 1] - HG.rev_off[t];
    result = Py_BuildValue("(NiOOni)", paths, (int)stale,
                           anon ? anon : Py_None,
                           reachable ? Py_True : Py_False, indeg,
                           (int)HG.gen[t]);
    paths = NULL;
done:
    Py_XDECREF(paths);
    Py_XDECREF(anon);
    PyMem_RawFree(parent);
    PyMem_RawFree(rootpos);
    PyMem_RawFree(queue);
    PyMem_RawFree(pathbuf);
    return result;
}

/* The nodes t dominates -- what freeing t would free: every path from an
 * external node to them goes through t.  Computed locally, without the
 * heap's whole dominator tree: S := the nodes reachable from t; then
 * repeatedly drop from S (t excepted) every node that is external or has a
 * referrer outside S.  What stays is exactly t's dominator subtree: a node
 * dominated by t has only dominated referrers (or t), so it is never
 * dropped; a node that is not has a path from an external node avoiding
 * t, along which the drops propagate.  Cost: proportional to what t
 * reaches, not to the heap (a whole-heap Lengauer-Tarjan pass took about
 * 0.1 s on 2*10^6 nodes, which a first explain() cannot afford).
 *
 * `mark` (n bytes, zeroed) receives 1 for the dominated nodes.  Returns
 * their number, or -1 out of memory. */
static int32_t
hg_dominated(int32_t t, uint8_t *mark)
{
    int32_t n = HG.n;
    int32_t *reach = PyMem_RawMalloc((size_t)n * sizeof(int32_t));
    int32_t *work = PyMem_RawMalloc((size_t)n * sizeof(int32_t));
    if (reach == NULL || work == NULL) {
        PyMem_RawFree(reach);
        PyMem_RawFree(work);
        return -1;
    }
    int32_t nr = 0, nw = 0, count;
    reach[nr++] = t;
    mark[t] = 1;
    for (int32_t k = 0; k < nr; k++) {
        int32_t v = reach[k];
        for (int32_t e = HG.fwd_off[v]; e < HG.fwd_off[v + 1]; e++) {
            int32_t u = HG.fwd[e];
            if (!mark[u]) {
                mark[u] = 1;
                reach[nr++] = u;
            }
        }
    }
    count = nr;
    for (int32_t k = 1; k < nr; k++) {
        int32_t v = reach[k];
        int drop = (HG.flags[v] & HG_EXT) != 0;
        for (int32_t e = HG.rev_off[v]; !drop && e < HG.rev_off[v + 1]; e++) {
            drop = !mark[HG.rev[e]];
        }
        if (drop) {
            mark[v] = 0;
            work[nw++] = v;
            count--;
        }
    }
    while (nw > 0) {
        int32_t v = work[--nw];
        for (int32_t e = HG.fwd_off[v]; e < HG.fwd_off[v + 1]; e++) {
            int32_t u = HG.fwd[e];
            if (mark[u] && u != t) {
                mark[u] = 0;
                work[nw++] = u;
                count--;
            }
        }
    }
    PyMem_RawFree(reach);
    PyMem_RawFree(work);
    return count;
}

/* Size of a live object (borrowed) as sys.getsizeof reports it; -1 with
 * an exception.  May run Python code (__sizeof__). */
static Py_ssize_t
object_size(PyObject *op)
{
    PyObject *getsizeof = PySys_GetObject("getsizeof"); /* borrowed */
    if (getsizeof == NULL) {
        return (Py_ssize_t)Py_TYPE(op)->tp_basicsize;
    }
    PyObject *r = PyObject_CallOneArg(getsizeof, op);
    if (r == NULL) {
        /* A hostile __sizeof__: fall back to the type's basic size. */
        PyErr_Clear();
        return (Py_ssize_t)Py_TYPE(op)->tp_basicsize;
    }
    Py_ssize_t s = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    if (s < 0) {
        PyErr_Clear();
        s = (Py_ssize_t)Py_TYPE(op)->tp_basicsize;
    }
    return s;
}

typedef struct {
    uint8_t *insub; /* 1 dominated, 2 dominated and collected */
    PyObject **found; /* strong references */
    int32_t *fidx;
    int32_t nfound;
    int oom;
} ret_ctx;

static int
retained_visit(PyObject *ref, void *arg)
{
    ret_ctx *c = arg;
    if (ref == NULL) {
        return 0;
    }
    int32_t j = hg_find(ref);
    if (j < 0 || c->insub[j] != 1) {
        return 0;
    }
    c->insub[j] = 2;
    c->fidx[c->nfound] = j;
    c->found[c->nfound++] = Py_NewRef(ref);
    return 0;
}

PyDoc_STRVAR(retained_doc,
"_hg_retained(target, /)\n--\n\n"
"(objects, bytes) target dominates, itself included, or None if it\n"
"is not in the index.");

/* _hg_retained(target) -> (objects, bytes) it dominates (hg_dominated),
 * itself included,
 * or None if the target is not in the index.  The dominated objects are
 * found again by traversal from the live target (borrowed), held while
 * their sizes are measured (sizes are cached per node). */
static PyObject *
hg_retained(PyObject *module, PyObject *target)
{
    int32_t t = hg_node_of(target);
    if (t == -2) {
        return NULL;
    }
    if (t < 0) {
        Py_RETURN_NONE;
    }
    if (HG.sizes == NULL) {
        HG.sizes = PyMem_RawMalloc((size_t)HG.n * sizeof(int64_t));
        if (HG.sizes == NULL) {
            return PyErr_NoMemory();
        }
        memset(HG.sizes, 0xff, (size_t)HG.n * sizeof(int64_t));
    }
    ret_ctx c = {0};
    PyObject *result = NULL;
    c.insub = PyMem_RawCalloc((size_t)HG.n + 1, 1);
    if (c.insub == NULL) {
        return PyErr_NoMemory();
    }
    int32_t ndom = hg_dominated(t, c.insub);
    if (ndom < 0) {
        PyErr_NoMemory();
        goto done;
    }
    c.found = PyMem_RawMalloc(((size_t)ndom + 1) * sizeof(PyObject *));
    c.fidx = PyMem_RawMalloc(((size_t)ndom + 1) * sizeof(int32_t));
    if (c.found == NULL || c.fidx == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    c.insub[t] = 2;
    c.fidx[0] = t;
    c.found[c.nfound++] = Py_NewRef(target);
    /* Breadth first over the live dominated objects (no Python code). */
    for (int32_t k = 0; k < c.nfound; k++) {
        PyObject *op = c.found[k];
        if (PyObject_IS_GC(op) && Py_TYPE(op)->tp_traverse != NULL) {
            Py_TYPE(op)->tp_traverse(op, retained_visit, &c);
        }
    }
    int64_t bytes = 0;
    uint64_t epoch = hg_epoch;
    for (int32_t k = 0; k < c.nfound; k++) {
        /* object_size() may run Python code that rebuilds the index:
         * then sizes are measured but no longer cached. */
        int32_t j = c.fidx[k];
        if (epoch == hg_epoch && HG.sizes[j] >= 0) {
            bytes += HG.sizes[j];
            continue;
        }
        Py_ssize_t s = object_size(c.found[k]);
        if (epoch == hg_epoch) {
            HG.sizes[j] = s;
        }
        bytes += s;
    }
    result = Py_BuildValue("(iL)", (int)c.nfound, (long long)bytes);
done:
    for (int32_t k = 0; k < c.nfound; k++) {
        Py_DECREF(c.found[k]);
    }
    PyMem_RawFree(c.found);
    PyMem_RawFree(c.fidx);
    PyMem_RawFree(c.insub);
    return result;
}

PyDoc_STRVAR(stats_doc,
"_hg_stats()\n--\n\n"
"None, or (nodes, edges, bytes, build ns) of the heap index.");

/* _hg_stats() -> None or (nodes, edges, bytes, build ns). */
static PyObject *
hg_stats(PyObject *module, PyObject *unused)
{
    if (!HG.valid) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(iLnL)", (int)HG.n, (long long)HG.nedges,
                         (Py_ssize_t)hg_bytes(), (long long)HG.build_ns);
}

PyDoc_STRVAR(clear_doc,
"_hg_clear()\n--\n\nFree the heap index.");

static PyObject *
hg_clear(PyObject *module, PyObject *unused)
{
    hg_free();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(set_external_doc,
"_hg_set_external(obj, flag, /)\n--\n\n"
"Mark obj as held (or not) from outside the heap; False if obj is\n"
"not in the index.");

/* _hg_set_external(obj, flag): whether something outside the heap holds
 * obj (the caller knows better than the build for the object it holds
 * itself).
 * obj borrowed, not read. */
static PyObject *
hg_set_external(PyObject *module, PyObject *args)
{
    PyObject *obj;
    int flag;
    if (!PyArg_ParseTuple(args, "Op:_hg_set_external", &obj, &flag)) {
        return NULL;
    }
    int32_t i = hg_node_of(obj);
    if (i == -2) {
        return NULL;
    }
    if (i < 0) {
        Py_RETURN_FALSE;
    }
    if (((HG.flags[i] & HG_EXT) != 0) != (flag != 0)) {
        HG.flags[i] ^= HG_EXT;
    }
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(contains_doc,
"_hg_contains(obj, /)\n--\n\n"
"Whether obj's address is a node of the heap index.");

/* _hg_contains(obj) -> whether obj's address is a node (not read). */
static PyObject *
hg_contains(PyObject *module, PyObject *obj)
{
    return PyBool_FromLong(HG.valid && hg_find(obj) >= 0);
}

PyMethodDef agc_heapindex_methods[] = {
    {"_frame_locals", agc_frame_locals, METH_O, frame_locals_doc},
    {"_hg_build", hg_build, METH_VARARGS, build_doc},
    {"_hg_paths", hg_paths, METH_VARARGS, paths_doc},
    {"_hg_retained", hg_retained, METH_O, retained_doc},
    {"_hg_stats", hg_stats, METH_NOARGS, stats_doc},
    {"_hg_clear", hg_clear, METH_NOARGS, clear_doc},
    {"_hg_contains", hg_contains, METH_O, contains_doc},
    {"_hg_set_external", hg_set_external, METH_VARARGS, set_external_doc},
    {NULL, NULL, 0, NULL},
};
