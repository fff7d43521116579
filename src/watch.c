/*
 * watch.c -- watched objects (altgc.watch), see watch.h.
 *
 * A table of entries (address, offset of the memory block, token, death
 * time), and an index of the live ones by address.  The receiver of the
 * death hooks (events.h) calls agc_watch_note_death() /
 * agc_watch_note_block() for every death it learns of (the free hook sees
 * every object released through the object allocator, the interposed
 * tp_dealloc the free-list containers), so an entry is marked dead before
 * its memory can be reused and a new object at the same address is never
 * taken for the watched one.  The table holds no reference.
 *
 * Both hooks run on every free in the watched address range, so they must
 * not scan the table: they probe the address index (a few loads, whatever
 * the number of watches).  A token names its entry's slot, so the
 * functions taking one find it at once too.
 */
#include "watch.h"

#include <string.h>

typedef struct {
    uintptr_t addr;        /* the object's address (0: slot unused) */
    uintptr_t block;       /* start of its memory block */
    int64_t token;         /* (sequence number << 32) | slot */
    int64_t death_ns;      /* 0 while alive */
    int alive;
    int kind;              /* free-list kind (kinds.h) or -1: while alive,
                              it holds one unit of that kind's demand for
                              an interposed tp_dealloc */
    Py_ssize_t next_free;  /* unused slot: the next unused one, or -1 */
} watch_entry;

/* Slots [0, nwatches) have been used; the unused ones among them are
 * chained from free_head. */
static watch_entry *watches = NULL;
static Py_ssize_t nwatches = 0, watches_cap = 0, free_head = -1;
static Py_ssize_t watches_used = 0; /* slots in use, live or dead */
static int64_t next_seq = 1;
Py_ssize_t agc_watch_live = 0;
static uintptr_t watch_lo = UINTPTR_MAX, watch_hi = 0;

/* A token is (seq << 32) | slot: slots and sequence numbers stay below
 * 2**31, so a token is a positive int64 and never names two watches. */
#define WATCH_SLOT_BITS 32
#define WATCH_MAX_SLOTS ((Py_ssize_t)1 << 31)
#define WATCH_MAX_SEQ ((int64_t)1 << 31)

/* ---- the address index --------------------------------------------------
 *
 * Open addressing over slot numbers, keyed by the entry's address; it
 * holds exactly the live entries (an object watched twice has two).
 * Removal leaves a tombstone and never allocates, so the hooks can do it
 * inside the allocator; only watch_add() inserts, after index_reserve(). */
#define IDX_EMPTY ((Py_ssize_t) - 1)
#define IDX_TOMB ((Py_ssize_t) - 2)

static Py_ssize_t *addr_index = NULL;
static size_t index_mask = 0;   /* capacity - 1 (a power of two), or 0 */
static size_t index_filled = 0; /* live slots + tombstones */

static inline size_t
index_hash(uintptr_t addr)
{
    uint64_t h = (uint64_t)(addr >> 4) * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h ^ (h >> 29));
}

/* Stores slot i (a live entry) in the index, which has room (index_reserve
 * succeeded since the last insert).  Never fails. */
static void
index_insert(Py_ssize_t i)
{
    size_t pos = index_hash(watches[i].addr) & index_mask;
    while (addr_index[pos] >= 0) {
        pos = (pos + 1) & index_mask;
    }
    if (addr_index[pos] == IDX_EMPTY) {
        index_filled++;
    }
    addr_index[pos] = i;
}

/* Room for one more insert: rebuilds the index (without tombstones, and
 * larger when it is over half full of live entries).  0, or -1 with
 * MemoryError. */
static int
index_reserve(void)
{
    size_t cap = addr_index == NULL ? 0 : index_mask + 1;
    if ((index_filled + 1) * 3 <= cap * 2) {
        return 0;
    }
    size_t want = 16;
    while (want < ((size_t)agc_watch_live + 1) * 4) {
        want *= 2;
    }
    Py_ssize_t *tab = PyMem_RawMalloc(want * sizeof(*tab));
    if (tab == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t k = 0; k < want; k++) {
        tab[k] = IDX_EMPTY;
    }
    PyMem_RawFree(addr_index);
    addr_index = tab;
    index_mask = want - 1;
    index_filled = 0;
    for (Py_ssize_t i = 0; i < nwatches; i++) {
        if (watches[i].addr != 0 && watches[i].alive) {
            index_insert(i);
        }
    }
    return 0;
}

/* Takes live slot i out of the index.  Never fails. */
static void
index_remove(Py_ssize_t i)
{
    size_t pos = index_hash(watches[i].addr) & index_mask;
    while (addr_index[pos] != IDX_EMPTY) {
        if (addr_index[pos] == i) {
            addr_index[pos] = IDX_TOMB;
            return;
        }
        pos = (pos + 1) & index_mask;
    }
    AGC_ASSERT(0);
}

/* A live watch ends (its object died, or the watch is discarded); the
 * caller has taken it out of the index. */
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

/* Marks dead every live entry at address `addr` whose block is `block`
 * (any block if `block` is 0).  Never fails, never calls into Python. */
static void
index_kill(uintptr_t addr, uintptr_t block)
{
    size_t pos = index_hash(addr) & index_mask;
    while (addr_index[pos] != IDX_EMPTY) {
        Py_ssize_t i = addr_index[pos];
        if (i >= 0 && watches[i].addr == addr
            && (block == 0 || watches[i].block == block)) {
            addr_index[pos] = IDX_TOMB;
            watch_mark_dead(&watches[i]);
        }
        pos = (pos + 1) & index_mask;
    }
}

void
agc_watch_note_death(PyObject *op)
{
    uintptr_t a = (uintptr_t)op;
    if (a < watch_lo || a > watch_hi || addr_index == NULL) {
        return;
    }
    index_kill(a, 0);
}

void
agc_watch_note_block(void *block)
{
    uintptr_t b = (uintptr_t)block;
    if (b + 32 < watch_lo || b > watch_hi || addr_index == NULL) {
        return;
    }
    /* The block starts 0, 16 or 32 bytes before its object (block_offset
     * below). */
    for (uintptr_t off = 0; off <= 32; off += 16) {
        index_kill(b + off, b);
    }
}

/* Forgets the watch in slot i (live or dead); the slot becomes unused.
 * Never fails. */
static void
slot_release(Py_ssize_t i)
{
    watch_entry *w = &watches[i];
    if (w->alive) {
        index_remove(i);
        watch_end(w);
    }
    memset(w, 0, sizeof(*w));
    w->next_free = free_head;
    free_head = i;
    if (--watches_used == 0) {
        /* The last watch went: give the arrays back (a collecting trace
         * watches every young object, and would leave them at its size). */
        PyMem_RawFree(watches);
        PyMem_RawFree(addr_index);
        watches = NULL;
        addr_index = NULL;
        nwatches = watches_cap = 0;
        free_head = -1;
        index_mask = index_filled = 0;
        watch_lo = UINTPTR_MAX;
        watch_hi = 0;
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

/* _watch_add(obj) -> token (new reference).  obj borrowed.  TypeError if
 * its death could not be seen, MemoryError. */
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
    if (next_seq >= WATCH_MAX_SEQ) {
        PyErr_SetString(PyExc_OverflowError,
                        "watch(): altgc has no tokens left for new watches");
        return NULL;
    }
    /* Room in the index, then a slot (an unused one, else a new one);
     * nothing here calls into Python or allocates Python objects. */
    if (index_reserve() < 0) {
        return NULL;
    }
    Py_ssize_t i = free_head;
    if (i < 0) {
        if (nwatches == WATCH_MAX_SLOTS) {
            PyErr_SetString(PyExc_OverflowError,
                            "watch(): too many watches at once");
            return NULL;
        }
        if (nwatches == watches_cap) {
            Py_ssize_t cap = watches_cap ? watches_cap * 2 : 16;
            watch_entry *tab = PyMem_RawRealloc(watches,
                                                (size_t)cap * sizeof(*tab));
            if (tab == NULL) {
                return PyErr_NoMemory();
            }
            watches = tab;
            watches_cap = cap;
        }
        i = nwatches++;
    }
    else {
        free_head = watches[i].next_free;
    }
    watches_used++;
    watch_entry *w = &watches[i];
    w->addr = (uintptr_t)obj;
    w->block = (uintptr_t)obj - (uintptr_t)off;
    w->token = (next_seq++ << WATCH_SLOT_BITS) | (int64_t)i;
    w->death_ns = 0;
    w->alive = 1;
    w->kind = agc_freelist_kind(Py_TYPE(obj));
    w->next_free = -1;
    agc_watch_live++;
    index_insert(i);
    if (w->kind >= 0) {
        agc_kind_demand_add(w->kind);
    }
    if (w->addr < watch_lo) {
        watch_lo = w->addr;
    }
    if (w->addr > watch_hi) {
        watch_hi = w->addr;
    }
    /* The entry is complete: whatever this allocation runs sees it. */
    PyObject *result = PyLong_FromLongLong((long long)w->token);
    if (result == NULL) {
        slot_release(i);
    }
    return result;
}

/* The slot of the watch whose token is arg (borrowed), or -1 with
 * TypeError (not an int) or KeyError (no such watch, or no longer). */
static Py_ssize_t
find_token(PyObject *arg)
{
    if (!PyLong_Check(arg) || PyBool_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "watch token must be int, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    int overflow;
    long long tok = PyLong_AsLongLongAndOverflow(arg, &overflow);
    if (tok == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (!overflow && tok > 0) {
        Py_ssize_t i = (Py_ssize_t)(tok
                                    & ((INT64_C(1) << WATCH_SLOT_BITS) - 1));
        if (i < nwatches && watches[i].addr != 0 && watches[i].token == tok) {
            return i;
        }
    }
    PyErr_Format(PyExc_KeyError, "no watch with token %R", arg);
    return -1;
}

/* A live watch whose object has refcount 0 is dying: its deallocator is
 * running (a finalizer or a weakref callback of something it held may be
 * calling us) or the trashcan deferred it.  Nothing may take a new
 * reference to it, so the watch ends now.  The object's memory is still
 * its own while the entry is live, so reading its refcount is safe. */
static void
watch_settle(Py_ssize_t i)
{
    watch_entry *w = &watches[i];
    if (w->alive && agc_is_dying((PyObject *)w->addr)) {
        index_remove(i);
        watch_mark_dead(w);
    }
}

PyDoc_STRVAR(watch_get_doc,
"_watch_get(token, /)\n--\n\nThe watched object if it is alive, else None.");

/* _watch_get(token) -> the object (new reference) if alive, else None. */
static PyObject *
watch_get(PyObject *module, PyObject *arg)
{
    Py_ssize_t i = find_token(arg);
    if (i < 0) {
        return NULL;
    }
    watch_settle(i);
    if (!watches[i].alive) {
        Py_RETURN_NONE;
    }
    return Py_NewRef((PyObject *)watches[i].addr);
}

PyDoc_STRVAR(watch_state_doc,
"_watch_state(token, /)\n--\n\n"
"(alive, death time in ns of _now_ns()'s clock, 0 while alive).");

/* _watch_state(token) -> (alive, death time in ns of the monotonic clock
 * altgc uses, 0 while alive): a new reference. */
static PyObject *
watch_state(PyObject *module, PyObject *arg)
{
    Py_ssize_t i = find_token(arg);
    if (i < 0) {
        return NULL;
    }
    watch_settle(i);
    watch_entry *w = &watches[i];
    return Py_BuildValue("(OL)", w->alive ? Py_True : Py_False,
                         (long long)w->death_ns);
}

PyDoc_STRVAR(watch_discard_doc,
"_watch_discard(token, /)\n--\n\nForget a watch.");

/* _watch_discard(token): forget a watch; its slot becomes unused. */
static PyObject *
watch_discard(PyObject *module, PyObject *arg)
{
    Py_ssize_t i = find_token(arg);
    if (i < 0) {
        return NULL;
    }
    slot_release(i);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(now_ns_doc,
"_now_ns()\n--\n\nThe monotonic clock altgc uses, in nanoseconds.");

static PyObject *
now_ns_fn(PyObject *module, PyObject *unused)
{
    return PyLong_FromLongLong((long long)agc_now_ns());
}

PyDoc_STRVAR(watch_table_doc,
"_watch_table()\n--\n\n"
"(slots in use, slots allocated, index slots allocated): the table's size.");

static PyObject *
watch_table(PyObject *module, PyObject *unused)
{
    return Py_BuildValue("(nnn)", watches_used, watches_cap,
                         addr_index == NULL ? (Py_ssize_t)0
                                            : (Py_ssize_t)(index_mask + 1));
}

PyObject *
agc_watch_add(PyObject *obj)
{
    return watch_add(NULL, obj);
}

PyObject *
agc_watch_state(PyObject *token)
{
    return watch_state(NULL, token);
}

int
agc_watch_discard(PyObject *token)
{
    PyObject *r = watch_discard(NULL, token);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

PyMethodDef agc_watch_methods[] = {
    {"_watch_add", watch_add, METH_O, watch_add_doc},
    {"_watch_get", watch_get, METH_O, watch_get_doc},
    {"_watch_state", watch_state, METH_O, watch_state_doc},
    {"_watch_discard", watch_discard, METH_O, watch_discard_doc},
    {"_watch_table", watch_table, METH_NOARGS, watch_table_doc},
    {"_now_ns", now_ns_fn, METH_NOARGS, now_ns_doc},
    {NULL, NULL, 0, NULL},
};
