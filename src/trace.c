/*
 * trace.c -- a collection told step by step: what altgc.trace() returns.
 *
 * The collector runs with a recorder (collector.h, agc_recorder) whose
 * functions below copy, after each phase, every young object's gc_refs
 * and state, and, as the phases run, the edges that changed a number or a
 * state and the per-object events (weakrefs cleared, callbacks, finalizers,
 * tp_clear).  They run in the middle of a collection, so they record into
 * PyMem_Raw memory only: no Python object is made (an allocation could
 * run the builtin gc and free objects under the collector) and none is
 * kept.  The reprs are taken before the collection, with each examined
 * object held only while its repr is taken; the Python data is built
 * after it, from the raw records, and names objects by id.
 */
#include "trace.h"
#include "watch.h"

#include <stdlib.h>
#include <string.h>

/* Reprs longer than this are cut (with "..."). */
#define REPR_MAX 80

/* What one object looks like after one phase. */
typedef struct {
    Py_ssize_t gc_refs;
    int32_t weakrefs;    /* weakrefs to it (up to WEAK_MAX) */
    uint8_t state;       /* a collector state (agc_trace_state_name),
                            STATE_FREED or STATE_UNTRACKED */
    uint8_t alive;       /* the object still exists */
    uint8_t finalized;   /* its tp_finalize has run (PEP 442 flag) */
    uint8_t recorded;
} snap;

/* The collector's states are below NSTATES; then the trace's own: its
 * entry went during the collection and it was dead (STATE_FREED) or
 * alive but unregistered (STATE_UNTRACKED: a finalizer or a callback
 * called altgc.untrack() on it) when the phase ended. */
#define NSTATES 16
#define STATE_FREED NSTATES
#define STATE_UNTRACKED (NSTATES + 1)
#define NCODES (NSTATES + 2)
#define WEAK_MAX 1000
/* gc_refs in the snapshots' columns when it has none (None in Python) */
#define REFS_NONE INT64_MIN

/* What does not change: read at update_refs. */
typedef struct {
    uintptr_t id;
    char *type;          /* PyMem_Raw copy of tp_name, or NULL */
    Py_ssize_t refcount; /* -1: not read (untracked, gone) */
    Py_ssize_t own;      /* references the trace's arguments hold */
    int gen;
    uint8_t immortal;
    uint8_t finalizer;   /* has tp_finalize */
    uint8_t legacy;      /* has tp_del */
} info;

typedef struct {
    int32_t phase;       /* -1 until the phase's snapshot is taken */
    int32_t kind;        /* AGC_EDGE_* or AGC_TE_* */
    int32_t a;           /* source (edges) or object (events) */
    int32_t b;           /* target (edges), -1 (events) */
} rec_item;

typedef struct {
    agc_recorder base;   /* first: the collector hands back &base */
    Py_ssize_t ys, m;
    info *objs;
    snap *snaps;         /* [AGC_TP_NUM][m] */
    int taken[AGC_TP_NUM];
    int64_t phase_ns[AGC_TP_NUM]; /* when each snapshot was taken */
    rec_item *items;
    Py_ssize_t nitems, cap, untagged;
    /* the trace's own references: sorted addresses, one per reference */
    uintptr_t *own;
    Py_ssize_t nown;
    int failed;          /* memory ran short while recording */
    int begun;
} tracer;

/* The recorder's functions (collector.h, agc_recorder): they borrow the
 * objects they are given, make no Python object and never fail with an
 * exception (memory running short sets t->failed, which trace() turns
 * into a MemoryError after the collection). */

static int
cmp_addr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static int
tr_begin(agc_recorder *rec, Py_ssize_t ys, Py_ssize_t m)
{
    tracer *t = (tracer *)rec;
    t->ys = ys;
    t->m = m;
    t->objs = PyMem_RawCalloc((size_t)m + 1, sizeof(info));
    t->snaps = PyMem_RawCalloc((size_t)(m + 1) * AGC_TP_NUM, sizeof(snap));
    if (t->objs == NULL || t->snaps == NULL) {
        t->failed = 1;
        return -1;
    }
    t->begun = 1;
    return 0;
}

/* How many times op (borrowed) is in the trace's argument tuple. */
static Py_ssize_t
tr_own_refs(agc_recorder *rec, PyObject *op)
{
    tracer *t = (tracer *)rec;
    uintptr_t key = (uintptr_t)op;
    /* the first of op's entries, then count them */
    Py_ssize_t lo = 0, hi = t->nown;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (t->own[mid] < key) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    Py_ssize_t n = 0;
    while (lo + n < t->nown && t->own[lo + n] == key) {
        n++;
    }
    return n;
}

/* Copies a C string into PyMem_Raw memory; NULL when memory is short. */
static char *
raw_strdup(const char *s)
{
    size_t l = strlen(s) + 1;
    char *c = PyMem_RawMalloc(l);
    if (c != NULL) {
        memcpy(c, s, l);
    }
    return c;
}

/* The number of weakrefs to op (borrowed, alive), up to WEAK_MAX. */
static int32_t
count_weakrefs(PyObject *op)
{
    PyObject **wrlist = agc_weaklist_of(op);
    int32_t n = 0;
    if (wrlist == NULL) {
        return 0;
    }
    for (PyWeakReference *wr = (PyWeakReference *)*wrlist;
         wr != NULL && n < WEAK_MAX; wr = wr->wr_next) {
        n++;
    }
    return n;
}

/* Gives the edges and events recorded since the last snapshot the phase
 * of this one. */
static void
tag_items(tracer *t, int phase)
{
    for (Py_ssize_t i = t->untagged; i < t->nitems; i++) {
        t->items[i].phase = phase;
    }
    t->untagged = t->nitems;
}

/* Young object j after `phase`: op borrowed (alive), or NULL (a hole:
 * never an object, or one that died during the collection).  Everything
 * that does not change (id, type name, refcount) is read at update_refs;
 * an object the interpreter does not track is not read further. */
static void
tr_object(agc_recorder *rec, int phase, Py_ssize_t j, PyObject *op,
          Py_ssize_t gc_refs, int state)
{
    tracer *t = (tracer *)rec;
    if (t->failed || j >= t->m || phase < 0 || phase >= AGC_TP_NUM) {
        return;
    }
    if (j == 0) {
        tag_items(t, phase);
        t->taken[phase] = 1;
        /* no Python code runs while the snapshot is taken: a death
         * before this instant happened before the snapshot */
        t->phase_ns[phase] = agc_now_ns();
    }
    snap *s = &t->snaps[(size_t)phase * (size_t)t->m + (size_t)j];
    info *o = &t->objs[j];
    s->recorded = 1;
    s->gc_refs = gc_refs;
    s->state = (uint8_t)(state >= 0 && state < NSTATES ? state : NSTATES - 1);
    if (op == NULL) {
        if (o->id != 0) {
            /* died or unregistered during the collection: which one is
             * settled afterwards (resolve_gone), from the watch table */
            s->state = STATE_FREED;
        }
        return;
    }
    s->alive = 1;
    /* an object the interpreter does not track (or a dying one) is not
     * examined: its refcount may be 0, its weakref list in flux */
    int examined = strcmp(agc_trace_state_name(state), "untracked") != 0;
    if (phase == AGC_TP_UPDATE_REFS) {
        PyTypeObject *tp = Py_TYPE(op);
        o->id = (uintptr_t)op;
        o->gen = agc_registry_gen_of(&agc_reg, t->ys + j);
        o->type = raw_strdup(tp->tp_name);
        if (o->type == NULL) {
            t->failed = 1;
            return;
        }
        o->finalizer = tp->tp_finalize != NULL;
        o->legacy = tp->tp_del != NULL;
        o->refcount = -1;
        if (examined) {
            o->immortal = AGC_IS_IMMORTAL(op) != 0;
            o->own = o->immortal ? 0 : tr_own_refs(rec, op);
            o->refcount = o->immortal ? -1 : Py_REFCNT(op) - o->own;
        }
    }
    if (examined) {
        s->finalized = PyObject_GC_IsFinalized(op) != 0;
        s->weakrefs = count_weakrefs(op);
    }
}

static void
tr_item(tracer *t, int kind, Py_ssize_t a, Py_ssize_t b)
{
    if (t->failed) {
        return;
    }
    if (t->nitems == t->cap) {
        Py_ssize_t cap = t->cap * 2 + 64;
        rec_item *n = PyMem_RawRealloc(t->items, (size_t)cap * sizeof(*n));
        if (n == NULL) {
            t->failed = 1;
            return;
        }
        t->items = n;
        t->cap = cap;
    }
    rec_item *it = &t->items[t->nitems++];
    it->phase = -1;
    it->kind = kind;
    it->a = (int32_t)a;
    it->b = (int32_t)b;
}

static void
tr_edge(agc_recorder *rec, int kind, Py_ssize_t j, Py_ssize_t k)
{
    tr_item((tracer *)rec, kind, j, k);
}

static void
tr_event(agc_recorder *rec, int event, Py_ssize_t j)
{
    tr_item((tracer *)rec, AGC_EDGE_MOVE + 1 + event, j, -1);
}

static void
tracer_fini(tracer *t)
{
    if (t->objs != NULL) {
        for (Py_ssize_t j = 0; j < t->m; j++) {
            PyMem_RawFree(t->objs[j].type);
        }
    }
    PyMem_RawFree(t->objs);
    PyMem_RawFree(t->snaps);
    PyMem_RawFree(t->items);
    PyMem_RawFree(t->own);
}

/* ---- a death or an untrack? -------------------------------------------
 *
 * A young object's registry entry goes during a collection when the
 * object dies, and also when code the collection runs (a finalizer, a
 * weakref callback) unregisters it while it lives on: altgc.untrack()
 * (uninstall() refuses to run during a collection; the interpreter's own
 * untracking leaves the entry, ST_OUTSIDE).  The collector hands the
 * recorder NULL either way, and the object must not be read to tell (its
 * memory may be reused).  The watch table (watch.h) can tell: the death
 * hooks end a watch at the object's death, and nothing else does.  So a
 * collecting trace watches each young object before the collection, and
 * afterwards asks the watch of each one whose entry went whether the
 * object lives, or since when it is dead.  A look-only trace runs no
 * Python code: no entry goes.
 *
 * The watch table frees its arrays when the last watch goes. */

typedef struct {
    uintptr_t addr;
    PyObject *token; /* strong */
} watch_pair;

typedef struct {
    watch_pair *w; /* sorted by address */
    Py_ssize_t n;
} watchset;

static int
cmp_pair(const void *a, const void *b)
{
    return cmp_addr(&((const watch_pair *)a)->addr,
                    &((const watch_pair *)b)->addr);
}

/* Watches the registry's objects at [ys, ye) (borrowed: none is held).
 * An object the watch table refuses (its death could go unseen) is left
 * out: its entry going reads as its death, as before.  0, or -1 with an
 * exception. */
static int
watch_young(watchset *ws, Py_ssize_t ys, Py_ssize_t ye)
{
    Py_ssize_t m = ye - ys, k = 0;
    ws->w = PyMem_RawMalloc(((size_t)m + 1) * sizeof(watch_pair));
    if (ws->w == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* The addresses first: watching allocates (the tokens, the table),
     * and the registry is not read once a free may have queued a death
     * (registry.h, I8).  No object dies meanwhile: no Python code runs. */
    for (Py_ssize_t i = ys; i < ye; i++) {
        PyObject *op = agc_registry_obj(&agc_reg, i);
        if (op != NULL && Py_REFCNT(op) > 0 && !agc_is_dying(op)) {
            ws->w[k++].addr = (uintptr_t)op;
        }
    }
    for (Py_ssize_t v = 0; v < k; v++) {
        PyObject *tok = agc_watch_add((PyObject *)ws->w[v].addr); /* new */
        if (tok == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
                return -1;
            }
            PyErr_Clear();
            continue;
        }
        ws->w[ws->n].addr = ws->w[v].addr;
        ws->w[ws->n++].token = tok;
    }
    qsort(ws->w, (size_t)ws->n, sizeof(watch_pair), cmp_pair);
    return 0;
}

/* The token (borrowed) watching the object at addr, or NULL. */
static PyObject *
watch_token(const watchset *ws, uintptr_t addr)
{
    Py_ssize_t lo = 0, hi = ws->n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (ws->w[mid].addr < addr) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < ws->n && ws->w[lo].addr == addr ? ws->w[lo].token : NULL;
}

/* After the collection: each snapshot in which object j's entry had gone
 * (STATE_FREED so far) becomes STATE_UNTRACKED when its watch says the
 * object was alive then: alive now, or dead only after the snapshot was
 * taken.  0, or -1 with an exception. */
static int
resolve_gone(tracer *t, const watchset *ws)
{
    for (Py_ssize_t j = 0; j < t->m && ws->n > 0; j++) {
        uintptr_t id = t->objs[j].id;
        int gone = 0;
        for (int p = 0; p < AGC_TP_NUM && id != 0; p++) {
            gone |= t->taken[p]
                    && t->snaps[(size_t)p * (size_t)t->m + (size_t)j].state
                           == STATE_FREED;
        }
        PyObject *tok = gone ? watch_token(ws, id) : NULL; /* borrowed */
        if (tok == NULL) {
            continue;
        }
        PyObject *st = agc_watch_state(tok); /* new: (alive, death_ns) */
        if (st == NULL) {
            return -1;
        }
        int alive = PyObject_IsTrue(PyTuple_GET_ITEM(st, 0));
        long long death = PyLong_AsLongLong(PyTuple_GET_ITEM(st, 1));
        Py_DECREF(st);
        if (alive < 0 || (death == -1 && PyErr_Occurred())) {
            return -1;
        }
        for (int p = 0; p < AGC_TP_NUM; p++) {
            snap *s = &t->snaps[(size_t)p * (size_t)t->m + (size_t)j];
            if (t->taken[p] && s->state == STATE_FREED
                && (alive || death > t->phase_ns[p])) {
                s->state = STATE_UNTRACKED;
            }
        }
    }
    return 0;
}

/* Ends the watches and frees the set; keeps a pending exception. */
static void
watchset_fini(watchset *ws)
{
    if (ws->n > 0) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        for (Py_ssize_t v = 0; v < ws->n; v++) {
            if (agc_watch_discard(ws->w[v].token) < 0) {
                PyErr_Clear(); /* cannot fail: the token is valid */
            }
            Py_DECREF(ws->w[v].token);
        }
        PyErr_Restore(et, ev, tb);
    }
    PyMem_RawFree(ws->w);
    ws->w = NULL;
    ws->n = 0;
}

/* ---- before and after the collection --------------------------------- */

/* Appends the ASCII string s to `parts` (a list of str, borrowed) and its
 * length to *len.  0, or -1 with an exception. */
static int
put_ascii(PyObject *parts, const char *s, Py_ssize_t *len)
{
    PyObject *u = PyUnicode_FromString(s);
    int rc = u == NULL ? -1 : PyList_Append(parts, u);
    if (u != NULL) {
        *len += PyUnicode_GET_LENGTH(u);
        Py_DECREF(u);
    }
    return rc;
}

static int repr_into(PyObject *parts, PyObject *op, Py_ssize_t *len);

/* The items of op (borrowed, an exact list, tuple, dict, set or frozenset,
 * entered with Py_ReprEnter) as repr() writes them, appended to `parts`
 * until *len is past REPR_MAX.  0, or -1 with an exception. */
static int
items_into(PyObject *parts, PyObject *op, Py_ssize_t *len)
{
    if (PyDict_CheckExact(op)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v; /* borrowed from the dict, then held */
        for (int first = 1; *len <= REPR_MAX && PyDict_Next(op, &pos, &k, &v);
             first = 0) {
            Py_INCREF(k);
            Py_INCREF(v);
            int rc = (first ? 0 : put_ascii(parts, ", ", len)) < 0
                             || repr_into(parts, k, len) < 0
                             || put_ascii(parts, ": ", len) < 0
                             || repr_into(parts, v, len) < 0
                         ? -1
                         : 0;
            Py_DECREF(k);
            Py_DECREF(v);
            if (rc < 0) {
                return -1;
            }
        }
        return 0;
    }
    if (PyList_CheckExact(op) || PyTuple_CheckExact(op)) {
        /* a list's size is read again each time: a repr may change it */
        for (Py_ssize_t i = 0; *len <= REPR_MAX && i < Py_SIZE(op); i++) {
            PyObject *item = Py_NewRef(PyList_CheckExact(op)
                                           ? PyList_GET_ITEM(op, i)
                                           : PyTuple_GET_ITEM(op, i));
            int rc = (i > 0 ? put_ascii(parts, ", ", len) : 0) < 0
                             || repr_into(parts, item, len) < 0
                         ? -1
                         : 0;
            Py_DECREF(item);
            if (rc < 0) {
                return -1;
            }
        }
        return 0;
    }
    PyObject *it = PyObject_GetIter(op); /* a set or frozenset: new */
    if (it == NULL) {
        return -1;
    }
    PyObject *item; /* new */
    for (int first = 1; *len <= REPR_MAX && (item = PyIter_Next(it)) != NULL;
         first = 0) {
        int rc = (first ? 0 : put_ascii(parts, ", ", len)) < 0
                         || repr_into(parts, item, len) < 0
                     ? -1
                     : 0;
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* Appends repr(op) (borrowed, held by the caller) to `parts` (a list of
 * str), or, once *len (the characters appended so far) is past REPR_MAX,
 * as much of it as shows that: the builtin containers (exact list, tuple,
 * dict, set, frozenset) are written item by item, as repr() writes them,
 * and stop there, so that a container costs what its first items cost,
 * not its whole repr (a list of 10^6 items, a linked list of dicts that
 * repr() would follow to the recursion limit).  0, or -1 with what repr()
 * raised. */
static int
repr_into(PyObject *parts, PyObject *op, Py_ssize_t *len)
{
    const char *open = NULL, *close = NULL, *empty = NULL;
    if (PyList_CheckExact(op)) {
        open = "[", close = "]", empty = "[]";
    }
    else if (PyTuple_CheckExact(op)) {
        open = "(", empty = "()";
        close = PyTuple_GET_SIZE(op) == 1 ? ",)" : ")";
    }
    else if (PyDict_CheckExact(op)) {
        open = "{", close = "}", empty = "{}";
    }
    else if (PySet_CheckExact(op)) {
        open = "{", close = "}", empty = "set()";
    }
    else if (PyFrozenSet_CheckExact(op)) {
        open = "frozenset({", close = "})", empty = "frozenset()";
    }
    if (open == NULL) {
        PyObject *r = PyObject_Repr(op); /* new */
        if (r == NULL) {
            return -1;
        }
        *len += PyUnicode_GET_LENGTH(r);
        int rc = PyList_Append(parts, r);
        Py_DECREF(r);
        return rc;
    }
    if (PyObject_Length(op) == 0) {
        return put_ascii(parts, empty, len);
    }
    int entered = Py_ReprEnter(op);
    if (entered < 0) {
        return -1;
    }
    if (entered > 0) {
        /* op contains itself: what repr() writes there */
        return put_ascii(parts,
                         PySet_CheckExact(op)         ? "set(...)"
                         : PyFrozenSet_CheckExact(op) ? "frozenset(...)"
                         : PyList_CheckExact(op)      ? "[...]"
                         : PyTuple_CheckExact(op)     ? "(...)"
                                                      : "{...}",
                         len);
    }
    int rc = -1;
    if (Py_EnterRecursiveCall(" while getting the repr of an object") == 0) {
        rc = put_ascii(parts, open, len) < 0 || items_into(parts, op, len) < 0
                     || put_ascii(parts, close, len) < 0
                 ? -1
                 : 0;
        Py_LeaveRecursiveCall();
    }
    Py_ReprLeave(op);
    return rc;
}

/* repr(op) (borrowed, held by the caller), at most REPR_MAX characters
 * (repr_into: a builtin container's repr is not written beyond them); a
 * repr that raises an Exception gives "<repr raised TypeName>".  New
 * reference, or NULL with an exception that is not an Exception
 * (KeyboardInterrupt, ...) or MemoryError. */
static PyObject *
safe_repr(PyObject *op)
{
    PyObject *parts = PyList_New(0), *r = NULL;
    Py_ssize_t len = 0;
    if (parts == NULL) {
        return NULL;
    }
    if (repr_into(parts, op, &len) == 0) {
        PyObject *sep = PyUnicode_FromStringAndSize("", 0); /* new */
        r = sep == NULL ? NULL : PyUnicode_Join(sep, parts);
        Py_XDECREF(sep);
    }
    Py_DECREF(parts);
    if (r == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)
            || PyErr_ExceptionMatches(PyExc_MemoryError)) {
            return NULL;
        }
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        r = PyUnicode_FromFormat("<repr raised %s>",
                                 ((PyTypeObject *)type)->tp_name);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return r;
    }
    if (PyUnicode_GET_LENGTH(r) > REPR_MAX) {
        PyObject *cut = PyUnicode_Substring(r, 0, REPR_MAX - 3);
        Py_DECREF(r);
        if (cut == NULL) {
            return NULL;
        }
        r = PyUnicode_FromFormat("%U...", cut);
        Py_DECREF(cut);
    }
    return r;
}

/* {id: repr} of the registry's objects at [ys, ye), each held while its
 * repr is taken.  New reference, or NULL with an exception. */
static PyObject *
take_reprs(Py_ssize_t ys, Py_ssize_t ye)
{
    Py_ssize_t m = ye - ys, k = 0;
    PyObject **held = PyMem_RawMalloc(((size_t)m + 1) * sizeof(PyObject *));
    PyObject *reprs = NULL;
    if (held == NULL) {
        return PyErr_NoMemory();
    }
    /* Hold them all first: a repr may run any code, which may free an
     * object not held yet (the registry forgets it; we must not read it). */
    for (Py_ssize_t i = ys; i < ye; i++) {
        PyObject *op = agc_registry_obj(&agc_reg, i);
        if (op != NULL && Py_REFCNT(op) > 0 && !agc_is_dying(op)) {
            held[k++] = Py_NewRef(op);
        }
    }
    reprs = PyDict_New();
    for (Py_ssize_t v = 0; reprs != NULL && v < k; v++) {
        PyObject *key = PyLong_FromVoidPtr(held[v]);
        PyObject *r = key == NULL ? NULL : safe_repr(held[v]);
        if (r == NULL || PyDict_SetItem(reprs, key, r) < 0) {
            Py_CLEAR(reprs);
        }
        Py_XDECREF(key);
        Py_XDECREF(r);
    }
    for (Py_ssize_t v = 0; v < k; v++) {
        Py_DECREF(held[v]);
    }
    PyMem_RawFree(held);
    return reprs;
}

static PyObject *
counts_tuple(void)
{
    return Py_BuildValue("(nnn)", agc_gen_count(0), agc_gen_count(1),
                         agc_gen_count(2));
}

static const char *const event_names[AGC_TE_NUM] = {
    "weakref_cleared",
    "callback",
    "finalized",
    "cleared",
};

/* The name of a snapshot's state code: a static string. */
static const char *
state_label(int code)
{
    if (code == STATE_FREED) {
        return "freed";
    }
    if (code == STATE_UNTRACKED) {
        return "untracked, alive";
    }
    return agc_trace_state_name(code);
}

/* The flags of an object's row (altgc/_trace.py reads them). */
#define OBJ_IMMORTAL 1
#define OBJ_EXPLICIT 2
#define OBJ_FINALIZER 4
#define OBJ_LEGACY 8

/* Object o's row of build_result's "objects": (id, type, repr, gen,
 * refcount, flags), flags OBJ_*.  `reprs` ({id: repr}), `explicit_ids`
 * (a set of ids) and `types` (a dict sharing one str per type name) are
 * borrowed.  A new reference, or NULL with an exception. */
static PyObject *
object_row(const info *o, PyObject *reprs, PyObject *explicit_ids,
           PyObject *types)
{
    PyObject *key = PyLong_FromVoidPtr((void *)o->id); /* new */
    if (key == NULL) {
        return NULL;
    }
    PyObject *r = PyDict_GetItemWithError(reprs, key); /* borrowed */
    int expl = r == NULL && PyErr_Occurred()
                   ? -1
                   : PySet_Contains(explicit_ids, key);
    PyObject *name = expl < 0 ? NULL
                              : PyUnicode_FromString(o->type != NULL ? o->type
                                                                     : "?");
    /* borrowed from `types` */
    PyObject *shared = name == NULL ? NULL
                                    : PyDict_SetDefault(types, name, name);
    PyObject *row = NULL;
    if (shared != NULL) {
        int flags = (o->immortal ? OBJ_IMMORTAL : 0)
                    | (expl ? OBJ_EXPLICIT : 0)
                    | (o->finalizer ? OBJ_FINALIZER : 0)
                    | (o->legacy ? OBJ_LEGACY : 0);
        PyObject *rc = o->refcount >= 0 ? PyLong_FromSsize_t(o->refcount)
                                        : Py_NewRef(Py_None);
        row = rc == NULL ? NULL
                         : Py_BuildValue("(OOOiOi)", key, shared,
                                         r != NULL ? r : Py_None, o->gen, rc,
                                         flags);
        Py_XDECREF(rc);
    }
    Py_XDECREF(name);
    Py_DECREF(key);
    return row;
}

/* Phase p's snapshot as four columns over the m young objects, bytes in
 * native order: gc_refs (int64, REFS_NONE when it has none), state codes
 * (uint8, build_result's "states"), finalized (uint8), weakrefs (int32).
 * A new reference to the 4-tuple, or NULL with an exception. */
static PyObject *
snapshot_columns(const tracer *t, int p)
{
    Py_ssize_t m = t->m;
    PyObject *refs = PyBytes_FromStringAndSize(NULL, m * 8);
    PyObject *states = PyBytes_FromStringAndSize(NULL, m);
    PyObject *fin = PyBytes_FromStringAndSize(NULL, m);
    PyObject *weak = PyBytes_FromStringAndSize(NULL, m * 4);
    PyObject *cols = NULL;
    if (refs != NULL && states != NULL && fin != NULL && weak != NULL) {
        char *rb = PyBytes_AS_STRING(refs), *sb = PyBytes_AS_STRING(states);
        char *fb = PyBytes_AS_STRING(fin), *wb = PyBytes_AS_STRING(weak);
        for (Py_ssize_t j = 0; j < m; j++) {
            const snap *s = &t->snaps[(size_t)p * (size_t)m + (size_t)j];
            int64_t v = REFS_NONE;
            if (s->alive && !t->objs[j].immortal && s->state < NSTATES
                && strcmp(agc_trace_state_name(s->state), "untracked") != 0) {
                v = (int64_t)s->gc_refs;
            }
            memcpy(rb + j * 8, &v, 8);
            sb[j] = (char)s->state;
            fb[j] = (char)s->finalized;
            memcpy(wb + j * 4, &s->weakrefs, 4);
        }
        cols = PyTuple_Pack(4, refs, states, fin, weak);
    }
    Py_XDECREF(refs);
    Py_XDECREF(states);
    Py_XDECREF(fin);
    Py_XDECREF(weak);
    return cols;
}

/* The recorded data as compact Python objects (altgc/_trace.py builds
 * what it shows from them): {"objects": per young object None (a hole)
 * or object_row's tuple, "phases": the recorded phases' names, "states":
 * the state codes' names, "snapshots": per recorded phase
 * snapshot_columns' tuple, "kinds": the step kinds' names, "steps": bytes
 * of native int32 quadruples (phase's position in "phases", kind, a, b)
 * in the order recorded}.  A new reference, or NULL with an exception. */
static PyObject *
build_result(tracer *t, PyObject *reprs, PyObject *explicit_ids)
{
    PyObject *objects = PyList_New(t->m), *phases = PyList_New(0);
    PyObject *snaps = PyList_New(0), *types = PyDict_New();
    PyObject *states = PyList_New(NCODES), *kinds = PyList_New(0);
    PyObject *steps = NULL, *result = NULL;
    if (objects == NULL || phases == NULL || snaps == NULL || types == NULL
        || states == NULL || kinds == NULL) {
        goto done;
    }
    for (Py_ssize_t j = 0; j < t->m; j++) {
        /* a hole when the collection started: not an object */
        PyObject *row = t->objs[j].id == 0 ? Py_NewRef(Py_None)
                                           : object_row(&t->objs[j], reprs,
                                                        explicit_ids, types);
        if (row == NULL) {
            goto done;
        }
        PyList_SET_ITEM(objects, j, row);
    }
    for (int c = 0; c < NCODES; c++) {
        PyObject *name = PyUnicode_FromString(state_label(c));
        if (name == NULL) {
            goto done;
        }
        PyList_SET_ITEM(states, c, name);
    }
    for (int k = 0; k < AGC_EDGE_MOVE + 1 + AGC_TE_NUM; k++) {
        PyObject *name = PyUnicode_FromString(
            k == AGC_EDGE_DECREF ? "decref"
            : k == AGC_EDGE_MOVE ? "move"
                                 : event_names[k - AGC_EDGE_MOVE - 1]);
        int rc = name == NULL ? -1 : PyList_Append(kinds, name);
        Py_XDECREF(name);
        if (rc < 0) {
            goto done;
        }
    }
    int index[AGC_TP_NUM];
    int np = 0;
    for (int p = 0; p < AGC_TP_NUM; p++) {
        index[p] = -1;
        if (!t->taken[p]) {
            continue;
        }
        index[p] = np++;
        PyObject *name = PyUnicode_FromString(agc_trace_phase_name(p));
        PyObject *cols = snapshot_columns(t, p);
        int rc = name == NULL || cols == NULL
                         || PyList_Append(phases, name) < 0
                         || PyList_Append(snaps, cols) < 0
                     ? -1
                     : 0;
        Py_XDECREF(name);
        Py_XDECREF(cols);
        if (rc < 0) {
            goto done;
        }
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < t->nitems; i++) {
        rec_item *it = &t->items[i];
        n += it->phase >= 0 && index[it->phase] >= 0;
    }
    steps = PyBytes_FromStringAndSize(NULL, n * 16);
    if (steps == NULL) {
        goto done;
    }
    int32_t *q = (int32_t *)PyBytes_AS_STRING(steps);
    for (Py_ssize_t i = 0; i < t->nitems; i++) {
        rec_item *it = &t->items[i];
        if (it->phase < 0 || index[it->phase] < 0) {
            continue;
        }
        *q++ = index[it->phase];
        *q++ = it->kind;
        *q++ = it->a;
        *q++ = it->b;
    }
    result = Py_BuildValue("{sOsOsOsOsOsO}", "objects", objects, "phases",
                           phases, "states", states, "snapshots", snaps,
                           "kinds", kinds, "steps", steps);
done:
    Py_XDECREF(objects);
    Py_XDECREF(phases);
    Py_XDECREF(snaps);
    Py_XDECREF(types);
    Py_XDECREF(states);
    Py_XDECREF(kinds);
    Py_XDECREF(steps);
    return result;
}

/* Puts a key into dict d, stealing `value`; 0 or -1. */
static int
put(PyObject *d, const char *key, PyObject *value)
{
    if (value == NULL) {
        return -1;
    }
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

/* Registers the objects of the tuple `objects` (borrowed, n of them) that
 * are not registered.  What it registers is recorded in added[] (borrowed
 * pointers, *nadded of them), once per object, by the first position
 * holding it (was_added[i]), so that this may run again after Python
 * code untracked some.  *gmax: the oldest generation holding one of
 * them.  0, or -1 with an exception. */
static int
register_objects(PyObject *objects, Py_ssize_t n, PyObject **added,
                 Py_ssize_t *nadded, char *was_added, int *gmax)
{
    *gmax = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *op = PyTuple_GET_ITEM(objects, i); /* borrowed */
        int rc = agc_registry_add(&agc_reg, op, agc_has_pre32(Py_TYPE(op)));
        if (rc == -2) {
            PyErr_Format(PyExc_TypeError,
                         "trace() argument %zd: altgc cannot follow the "
                         "deaths of this %.100s type",
                         i + 1, Py_TYPE(op)->tp_name);
            return -1;
        }
        if (rc < 0) {
            PyErr_NoMemory();
            return -1;
        }
        if (rc > 0 && !was_added[i]) {
            was_added[i] = 1;
            added[(*nadded)++] = op;
        }
        int g = agc_registry_gen_of(&agc_reg, agc_registry_find(&agc_reg, op));
        if (g < AGC_NUM_GENERATIONS && g > *gmax) {
            *gmax = g;
        }
    }
    return 0;
}

/* Chooses the generation (the one asked for, or, when `asked` < 0,
 * gmax with objects given, else the oldest) and the young set's bounds
 * [*ys, *ye) in the registry; more than `limit` objects there:
 * ValueError.  0, or -1 with an exception. */
static int
choose_young(int *generation, int asked, Py_ssize_t n, int gmax,
             Py_ssize_t limit, Py_ssize_t *ys, Py_ssize_t *ye)
{
    *generation = asked >= 0 ? asked : n > 0 ? gmax : AGC_NUM_GENERATIONS - 1;
    agc_events_settle();
    *ys = agc_registry_gen_start(&agc_reg, *generation);
    *ye = agc_registry_end(&agc_reg);
    if (*ye - *ys > limit) {
        PyErr_Format(PyExc_ValueError,
                     "trace(): generations 0..%d hold %zd objects, above the "
                     "limit of %zd (raise it with limit=)",
                     *generation, *ye - *ys, limit);
        return -1;
    }
    return 0;
}

/* Unregisters the tuple of traced objects (borrowed; NULL: none) if it is
 * registered, keeping in *hid what its removal returned (AGC_GONE_*), so
 * that agc_trace registers it again as it was. */
static void
hide_tuple(PyObject *objects, int *hid)
{
    if (objects != NULL) {
        int gone = agc_registry_discard(&agc_reg, objects);
        if (gone != AGC_GONE_NONE) {
            *hid = gone;
        }
    }
}

PyObject *
agc_trace(PyObject *objects, int generation, int collect, Py_ssize_t limit)
{
    Py_ssize_t n = objects != NULL ? PyTuple_GET_SIZE(objects) : 0;
    PyObject **added = NULL;
    Py_ssize_t nadded = 0;
    PyObject *reprs = NULL, *explicit_ids = NULL, *result = NULL;
    PyObject *before = NULL;
    char *was_added = NULL;
    int asked = generation;
    int hid_tuple = AGC_GONE_NONE; /* what hiding the tuple removed */
    tracer t;
    watchset ws;
    memset(&t, 0, sizeof(t));
    memset(&ws, 0, sizeof(ws));
    t.base.begin = tr_begin;
    t.base.own_refs = tr_own_refs;
    t.base.object = tr_object;
    t.base.edge = tr_edge;
    t.base.event = tr_event;

    if (agc_collecting()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "trace() cannot run during a collection");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *op = PyTuple_GET_ITEM(objects, i);
        if (!PyObject_IS_GC(op)) {
            PyErr_Format(PyExc_TypeError,
                         "trace() argument %zd must be a container object "
                         "whose type supports the cycle collector, not %.200s",
                         i + 1, Py_TYPE(op)->tp_name);
            return NULL;
        }
    }
    if (n > limit) {
        PyErr_Format(PyExc_ValueError,
                     "trace(): %zd objects given, above the limit of %zd "
                     "(raise it with limit=)", n, limit);
        return NULL;
    }
    explicit_ids = PySet_New(NULL);
    if (explicit_ids == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyLong_FromVoidPtr(PyTuple_GET_ITEM(objects, i));
        if (key == NULL || PySet_Add(explicit_ids, key) < 0) {
            Py_XDECREF(key);
            goto done;
        }
        Py_DECREF(key);
    }
    if (AGC.mode.before != NULL && AGC.mode.before() < 0) {
        goto done;
    }
    /* The arguments' references, sorted (one entry per reference). */
    t.own = PyMem_RawMalloc(((size_t)n + 1) * sizeof(uintptr_t));
    added = PyMem_RawMalloc(((size_t)n + 1) * sizeof(PyObject *));
    was_added = PyMem_RawCalloc((size_t)n + 1, 1);
    if (t.own == NULL || added == NULL || was_added == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        t.own[i] = (uintptr_t)PyTuple_GET_ITEM(objects, i);
    }
    t.nown = n;
    qsort(t.own, (size_t)n, sizeof(uintptr_t), cmp_addr);
    int gmax;
    Py_ssize_t ys, ye;
    if (register_objects(objects, n, added, &nadded, was_added, &gmax) < 0) {
        goto done;
    }
    /* The tuple itself is registered when install mode adopted it (it
     * adopts every new container): examined, its references would be
     * subtracted on top of own_refs and, held by the call, it would make
     * the objects reachable.  It is left out until the trace is done. */
    hide_tuple(objects, &hid_tuple);
    if (choose_young(&generation, asked, n, gmax, limit, &ys, &ye) < 0) {
        goto done;
    }
    reprs = take_reprs(ys, ye);
    if (reprs == NULL) {
        goto done;
    }
    before = PyDict_New();
    if (before == NULL || put(before, "counts", counts_tuple()) < 0
        || put(before, "thresholds",
               Py_BuildValue("(iii)", AGC.threshold[0], AGC.threshold[1],
                             AGC.threshold[2])) < 0
                                    || put(before, "long_lived_pending",
                                           PyLong_FromSsize_t(
                                               AGC.long_lived_pending))
                                           < 0
                                    || put(before, "long_lived_total",
                                           PyLong_FromSsize_t(
                                               AGC.long_lived_total))
                                           < 0
                                    || put(before, "enabled",
                                           PyBool_FromLong(AGC.enabled))
                                           < 0) {
        goto done;
    }
    /* The reprs (and the releases of what take_reprs held) ran Python
     * code, which may have untracked one of the objects, run a collection
     * (promoting them), installed or registered more: register again
     * what is gone and choose the generation and the young set afresh
     * (what joined it has no repr). */
    if (register_objects(objects, n, added, &nadded, was_added, &gmax) < 0) {
        goto done;
    }
    hide_tuple(objects, &hid_tuple);
    if (choose_young(&generation, asked, n, gmax, limit, &ys, &ye) < 0) {
        goto done;
    }
    /* Nothing runs Python code from here to the collection. */
    if (collect && watch_young(&ws, ys, ye) < 0) {
        goto done;
    }
    Py_ssize_t found = agc_collect_recorded(generation, collect, &t.base);
    if (found < 0) {
        goto done;
    }
    if (t.failed || !t.begun) {
        PyErr_SetString(PyExc_MemoryError,
                        "trace(): out of memory while recording");
        goto done;
    }
    if (resolve_gone(&t, &ws) < 0) {
        goto done;
    }
    watchset_fini(&ws);
    result = build_result(&t, reprs, explicit_ids);
    if (result == NULL || put(result, "before", Py_NewRef(before)) < 0
        || put(result, "counts_after", counts_tuple()) < 0
        || put(result, "generation", PyLong_FromLong(generation)) < 0
        || put(result, "collect", PyBool_FromLong(collect)) < 0
        || put(result, "found", PyLong_FromSsize_t(found)) < 0) {
        Py_CLEAR(result);
    }
done:
    /* Unregister what the trace registered, newest first: removing the
     * last entries of generation 0 moves no other entry.  The objects are
     * alive (the tuple holds them). */
    for (Py_ssize_t i = nadded - 1; i >= 0; i--) {
        (void)agc_registry_discard(&agc_reg, added[i]);
    }
    if (hid_tuple != AGC_GONE_NONE) {
        /* the tuple is alive (the caller holds it), and registered again
         * as it was (adopted: released at uninstall, its death the builtin
         * count's); memory running short leaves it unregistered, which
         * frees nothing */
        uintptr_t flags = agc_has_pre32(Py_TYPE(objects));
        if (hid_tuple == AGC_GONE_ADOPTED) {
            flags |= AGC_ENTRY_ADOPTED;
        }
        (void)agc_registry_add(&agc_reg, objects, flags);
    }
    watchset_fini(&ws);
    PyMem_RawFree(added);
    PyMem_RawFree(was_added);
    tracer_fini(&t);
    Py_XDECREF(before);
    Py_XDECREF(reprs);
    Py_XDECREF(explicit_ids);
    return result;
}
