/*
 * watch.c -- watched objects (altgc.watch), see watch.h.
 *
 * A small table of (address, offset of the memory block, token, death
 * time).  The receiver of the death hooks (events.h) calls
 * agc_watch_note_death() / agc_watch_note_block() for every death it
 * learns of (the free hook sees every object released
 * through the object allocator, the interposed tp_dealloc the free-list
 * containers), so an entry is marked dead before its memory can be reused
 * and a new object at the same address is never taken for the watched
 * one.  The table holds no reference.
 */
#include "watch.h"

#include <string.h>

typedef struct {
    uintptr_t addr;        /* the object's address (0: slot unused) */
    uintptr_t block;       /* start of its memory block */
    int64_t token;
    int64_t death_ns;      /* 0 while alive */
    int alive;
    int kind;              /* free-list kind (kinds.h) or -1: while alive,
                              it holds one unit of that kind's demand for
                              an interposed tp_dealloc */
} watch_entry;

static watch_entry *watches = NULL;
static Py_ssize_t nwatches = 0, watches_cap = 0;
static int64_t next_token = 1;
Py_ssize_t agc_watch_live = 0;
static uintptr_t watch_lo = UINTPTR_MAX, watch_hi = 0;

/* A live watch ends (its object died, or the watch is discarded). */
static void
watch_end(watch_entry *w)
{
    w->alive = 0;
    agc_watch_live--;
    if (w->kind >= 0) {
        agc_kind_demand_drop(w->kind);
    }
}

static void
watch_mark_dead(watch_entry *w)
{
    w->death_ns = agc_now_ns();
    watch_end(w);
}

void
agc_watch_note_death(PyObject *op)
{
    uintptr_t a = (uintptr_t)op;
    if (a < watch_lo || a > watch_hi) {
        return;
    }
    for (Py_ssize_t i = 0; i < nwatches; i++) {
        if (watches[i].alive && watches[i].addr == a) {
            watch_mark_dead(&watches[i]);
        }
    }
}

void
agc_watch_note_block(void *block)
{
    uintptr_t b = (uintptr_t)block;
    if (b + 32 < watch_lo || b > watch_hi) {
        return;
    }
    for (Py_ssize_t i = 0; i < nwatches; i++) {
        if (watches[i].alive && watches[i].block == b) {
            watch_mark_dead(&watches[i]);
        }
    }
}

/* Offset of op's memory block before op: PyGC_Head and the pre-header of
 * managed dicts / weakrefs for GC types, nothing otherwise.  -1 if op's
 * memory is not released through the object allocator or a hooked
 * deallocator (so its death could go unseen). */
static Py_ssize_t
block_offset(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    if (PyType_HasFeature(tp, Py_TPFLAGS_HAVE_GC)) {
        if (tp->tp_free != PyObject_GC_Del
            || agc_freelist_kind(tp) == AGC_KIND_REFUSED) {
            return -1;
        }
        return agc_has_pre32(tp) ? 32 : 16;
    }
    /* Free-listed non-containers (float, ...) die unseen by any hook. */
    if (agc_nongc_freelisted(op) || tp->tp_free != PyObject_Free) {
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(watch_add_doc,
"_watch_add(obj, /)\n--\n\n"
"Watch obj (no reference kept); return its token.\n"
"TypeError if altgc could not see its death.");

/* _watch_add(obj) -> token.  obj borrowed.  TypeError if its death could
 * not be seen. */
static PyObject *
watch_add(PyObject *module, PyObject *obj)
{
    Py_ssize_t off = block_offset(obj);
    if (off < 0) {
        PyErr_Format(PyExc_TypeError,
                     "watch() argument 'obj': altgc cannot see when a %.100s "
                     "object is freed (its memory does not go through the "
                     "object allocator); watch a container holding it "
                     "instead", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    /* Reuse a dead slot, else grow. */
    Py_ssize_t i;
    for (i = 0; i < nwatches; i++) {
        if (watches[i].addr == 0) {
            break;
        }
    }
    if (i == nwatches) {
        if (nwatches == watches_cap) {
            Py_ssize_t cap = watches_cap ? watches_cap * 2 : 16;
            watch_entry *w = PyMem_RawRealloc(watches,
                                              (size_t)cap * sizeof(*w));
            if (w == NULL) {
                return PyErr_NoMemory();
            }
            watches = w;
            watches_cap = cap;
        }
        nwatches++;
    }
    watch_entry *w = &watches[i];
    w->addr = (uintptr_t)obj;
    w->block = (uintptr_t)obj - (uintptr_t)off;
    w->token = next_token++;
    w->death_ns = 0;
    w->alive = 1;
    w->kind = agc_freelist_kind(Py_TYPE(obj));
    agc_watch_live++;
    if (w->kind >= 0) {
        agc_kind_demand_add(w->kind);
    }
    if (w->addr < watch_lo) {
        watch_lo = w->addr;
    }
    if (w->addr > watch_hi) {
        watch_hi = w->addr;
    }
    return PyLong_FromLongLong(w->token);
}

static watch_entry *
find_token(PyObject *arg)
{
    long long tok = PyLong_AsLongLong(arg);
    if (tok == -1 && PyErr_Occurred()) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nwatches; i++) {
        if (watches[i].addr != 0 && watches[i].token == tok) {
            return &watches[i];
        }
    }
    PyErr_Format(PyExc_KeyError, "no watch with token %lld", tok);
    return NULL;
}

PyDoc_STRVAR(watch_get_doc,
"_watch_get(token, /)\n--\n\nThe watched object if it is alive, else None.");

/* _watch_get(token) -> the object (new reference) if alive, else None. */
static PyObject *
watch_get(PyObject *module, PyObject *arg)
{
    watch_entry *w = find_token(arg);
    if (w == NULL) {
        return NULL;
    }
    if (!w->alive) {
        Py_RETURN_NONE;
    }
    return Py_NewRef((PyObject *)w->addr);
}

PyDoc_STRVAR(watch_state_doc,
"_watch_state(token, /)\n--\n\n"
"(alive, death time in ns of _now_ns()'s clock, 0 while alive).");

/* _watch_state(token) -> (alive, death time in ns of the monotonic clock
 * altgc uses, 0 while alive). */
static PyObject *
watch_state(PyObject *module, PyObject *arg)
{
    watch_entry *w = find_token(arg);
    if (w == NULL) {
        return NULL;
    }
    return Py_BuildValue("(OL)", w->alive ? Py_True : Py_False,
                         (long long)w->death_ns);
}

PyDoc_STRVAR(watch_discard_doc,
"_watch_discard(token, /)\n--\n\nForget a watch.");

/* _watch_discard(token): forget a watch. */
static PyObject *
watch_discard(PyObject *module, PyObject *arg)
{
    watch_entry *w = find_token(arg);
    if (w == NULL) {
        return NULL;
    }
    if (w->alive) {
        watch_end(w);
    }
    memset(w, 0, sizeof(*w));
    while (nwatches > 0 && watches[nwatches - 1].addr == 0) {
        nwatches--;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(now_ns_doc,
"_now_ns()\n--\n\nThe monotonic clock altgc uses, in nanoseconds.");

static PyObject *
now_ns_fn(PyObject *module, PyObject *unused)
{
    return PyLong_FromLongLong((long long)agc_now_ns());
}

PyMethodDef agc_watch_methods[] = {
    {"_watch_add", watch_add, METH_O, watch_add_doc},
    {"_watch_get", watch_get, METH_O, watch_get_doc},
    {"_watch_state", watch_state, METH_O, watch_state_doc},
    {"_watch_discard", watch_discard, METH_O, watch_discard_doc},
    {"_now_ns", now_ns_fn, METH_NOARGS, now_ns_doc},
    {NULL, NULL, 0, NULL},
};
