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

#include <stdlib.h>
#include <string.h>

/* Reprs longer than this are cut (with "..."). */
#define REPR_MAX 80

/* What one object looks like after one phase. */
typedef struct {
    Py_ssize_t gc_refs;
    int32_t weakrefs;    /* weakrefs to it (up to WEAK_MAX) */
    uint8_t state;       /* agc_trace_state_name's, or STATE_FREED */
    uint8_t alive;       /* the object still exists */
    uint8_t finalized;   /* its tp_finalize has run (PEP 442 flag) */
    uint8_t recorded;
} snap;

#define STATE_FREED 255
#define WEAK_MAX 1000

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
    }
    snap *s = &t->snaps[(size_t)phase * (size_t)t->m + (size_t)j];
    info *o = &t->objs[j];
    s->recorded = 1;
    s->gc_refs = gc_refs;
    s->state = (uint8_t)state;
    if (op == NULL) {
        if (o->id != 0) {
            s->state = STATE_FREED;  /* died during the collection */
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

/* The recorded data as Python objects: a new reference, or NULL. */
static PyObject *
build_result(tracer *t, PyObject *reprs, PyObject *explicit_ids)
{
    PyObject *objects = PyList_New(0), *phases = PyList_New(0);
    PyObject *snaps = PyList_New(0), *items = PyList_New(0);
    PyObject *result = NULL;
    if (objects == NULL || phases == NULL || snaps == NULL || items == NULL) {
        goto done;
    }
    for (Py_ssize_t j = 0; j < t->m; j++) {
        info *o = &t->objs[j];
        if (o->id == 0) {
            /* a hole when the collection started: not an object */
            if (PyList_Append(objects, Py_None) < 0) {
                goto done;
            }
            continue;
        }
        PyObject *key = PyLong_FromVoidPtr((void *)o->id);
        if (key == NULL) {
            goto done;
        }
        PyObject *r = PyDict_GetItemWithError(reprs, key); /* borrowed */
        int expl = r == NULL && PyErr_Occurred()
                       ? -1
                       : PySet_Contains(explicit_ids, key);
        if (expl < 0) {
            Py_DECREF(key);
            goto done;
        }
        PyObject *rc = o->refcount >= 0 ? PyLong_FromSsize_t(o->refcount)
                                        : Py_NewRef(Py_None);
        PyObject *item = rc == NULL
                             ? NULL
                             : Py_BuildValue(
                                   "{sOsssOsisOsnsOsOsOsO}", "id", key,
                                   "type", o->type != NULL ? o->type : "?",
                                   "repr", r != NULL ? r : Py_None, "gen",
                                   o->gen, "refcount", rc, "own_refs", o->own,
                                   "immortal", o->immortal ? Py_True : Py_False,
                                   "explicit", expl ? Py_True : Py_False,
                                   "finalizer",
                                   o->finalizer ? Py_True : Py_False, "legacy",
                                   o->legacy ? Py_True : Py_False);
        Py_DECREF(key);
        Py_XDECREF(rc);
        if (item == NULL || PyList_Append(objects, item) < 0) {
            Py_XDECREF(item);
            goto done;
        }
        Py_DECREF(item);
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
        PyObject *row = PyList_New(t->m);
        if (name == NULL || row == NULL || PyList_Append(phases, name) < 0
            || PyList_Append(snaps, row) < 0) {
            Py_XDECREF(name);
            Py_XDECREF(row);
            goto done;
        }
        Py_DECREF(name);
        for (Py_ssize_t j = 0; j < t->m; j++) {
            snap *s = &t->snaps[(size_t)p * (size_t)t->m + (size_t)j];
            const char *state = s->state == STATE_FREED
                                    ? "freed"
                                    : agc_trace_state_name(s->state);
            PyObject *refs;
            if (s->alive && !t->objs[j].immortal
                && strcmp(state, "untracked") != 0) {
                refs = PyLong_FromSsize_t(s->gc_refs);
            }
            else {
                refs = Py_NewRef(Py_None);
            }
            PyObject *cell = refs == NULL ? NULL
                                          : Py_BuildValue(
                                                "(Osii)", refs, state,
                                                (int)s->finalized,
                                                (int)s->weakrefs);
            Py_XDECREF(refs);
            if (cell == NULL) {
                Py_DECREF(row);
                goto done;
            }
            PyList_SET_ITEM(row, j, cell);
        }
        Py_DECREF(row);
    }
    for (Py_ssize_t i = 0; i < t->nitems; i++) {
        rec_item *it = &t->items[i];
        if (it->phase < 0 || index[it->phase] < 0) {
            continue;
        }
        const char *kind = it->kind == AGC_EDGE_DECREF ? "decref"
                           : it->kind == AGC_EDGE_MOVE
                               ? "move"
                               : event_names[it->kind - AGC_EDGE_MOVE - 1];
        PyObject *x = Py_BuildValue("(isii)", index[it->phase], kind, it->a,
                                    it->b);
        if (x == NULL || PyList_Append(items, x) < 0) {
            Py_XDECREF(x);
            goto done;
        }
        Py_DECREF(x);
    }
    result = Py_BuildValue("{sOsOsOsO}", "objects", objects, "phases", phases,
                           "snapshots", snaps, "steps", items);
done:
    Py_XDECREF(objects);
    Py_XDECREF(phases);
    Py_XDECREF(snaps);
    Py_XDECREF(items);
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

PyObject *
agc_trace(PyObject *objects, int generation, int collect, Py_ssize_t limit)
{
    Py_ssize_t n = objects != NULL ? PyTuple_GET_SIZE(objects) : 0;
    PyObject **added = NULL;
    Py_ssize_t nadded = 0;
    PyObject *reprs = NULL, *explicit_ids = NULL, *result = NULL;
    PyObject *before = NULL;
    char *was_added = NULL;
    int asked = generation, hid_tuple = 0;
    tracer t;
    memset(&t, 0, sizeof(t));
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
    if (objects != NULL && agc_registry_discard(&agc_reg, objects) > 0) {
        hid_tuple = 1;
    }
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
    if (objects != NULL && agc_registry_discard(&agc_reg, objects) > 0) {
        hid_tuple = 1;
    }
    if (choose_young(&generation, asked, n, gmax, limit, &ys, &ye) < 0) {
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
    if (hid_tuple) {
        /* the tuple is alive (the caller holds it); memory running short
         * leaves it unregistered, which frees nothing */
        (void)agc_registry_add(&agc_reg, objects,
                               agc_has_pre32(Py_TYPE(objects)));
    }
    PyMem_RawFree(added);
    PyMem_RawFree(was_added);
    tracer_fini(&t);
    Py_XDECREF(before);
    Py_XDECREF(reprs);
    Py_XDECREF(explicit_ids);
    return result;
}
