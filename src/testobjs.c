/*
 * altgc._testobjs -- test-only helper extension (shipped, private).
 *
 * Objects whose behaviour the ordinary Python types cannot give the test
 * suite (see docs/API.md, "Test helper extension"):
 *
 *   Hostile(*refs, repeat=1, visit_null=False, clear=True)
 *       A GC container that holds `repeat` strong references to each of
 *       `refs` (repeat * len(refs) real references, kept in a C array) and
 *       whose tp_traverse reports every one of them, so each referent is
 *       visited `repeat` times.  With visit_null=True its tp_traverse first
 *       calls visit(NULL, arg) -- a hostile traverse that a collector must
 *       survive -- BUT only while the module-level switch
 *       set_visit_null_allowed(True) is on (default off).  CPython's own
 *       gc visitors (visit_decref, visit_reachable, referentsvisit, ...)
 *       dereference their argument and would crash on NULL, so a test that
 *       turns the switch on must keep the builtin gc away from the object
 *       while it is on (gc.disable() and no gc.collect()/gc.get_referents()
 *       on it).  With the switch off the builtin gc never sees NULL.
 *       With clear=False, tp_clear does nothing (returns 0), so a cycle
 *       made only of such objects cannot be broken by a collector: the
 *       builtin gc finds it again at every collection (clearing weakrefs to
 *       it) and never frees it; break it with .set_refs() in tests.
 *
 *   LegacyDel(callback=None)
 *       A GC object with a legacy tp_del slot (so collectors must treat it
 *       as uncollectable when it is in cyclic garbage).  tp_del calls
 *       callback(self) when a callback was given.  Read/write attribute
 *       .ref (a strong, traversed reference, cleared by tp_clear) to build
 *       cycles:  a.ref = b; b.ref = a.  No collector calls tp_del; our own
 *       tp_dealloc does (as subtype_dealloc does for classes with tp_del),
 *       so the callback runs when the object dies by refcount, e.g. after a
 *       test empties gc.garbage.  A callback that stores its argument
 *       resurrects the object (it stays GC-tracked; on 3.13+ a ref tracer
 *       has already seen its DESTROY event).
 *
 *   Both types support weak references.
 *
 *   hold(obj) / release(obj) / held()
 *       Strong references kept in a C array in the module state that NO
 *       tp_traverse/m_traverse reports: a refcount invisible to any
 *       collector, as an unknown C extension holding an object would be.
 *
 * Standards: PEP 7, multi-phase init (PEP 489) with module state, heap types
 * created with PyType_FromModuleAndSpec.  Works on CPython 3.10 - 3.13.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>               /* offsetof */

#if PY_VERSION_HEX >= 0x030C0000
#  define TO_T_PYSSIZET Py_T_PYSSIZET
#  define TO_T_BOOL Py_T_BOOL
#  define TO_T_OBJECT_EX Py_T_OBJECT_EX
#  define TO_READONLY Py_READONLY
#else
#  include <structmember.h>
#  define TO_T_PYSSIZET T_PYSSIZET
#  define TO_T_BOOL T_BOOL
#  define TO_T_OBJECT_EX T_OBJECT_EX
#  define TO_READONLY READONLY
#endif

/* ------------------------------------------------------------------------ */
/* Module state                                                             */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject *hostile_type;     /* strong; visited by m_traverse */
    PyObject *legacydel_type;   /* strong; visited by m_traverse */
    /* Objects kept alive by hold(): strong references that are
     * deliberately NOT visited by m_traverse (see testobjs_traverse). */
    PyObject **held;
    Py_ssize_t nheld;
    Py_ssize_t held_cap;
    /* Whether Hostile.tp_traverse may call visit(NULL, arg). */
    int visit_null_allowed;
} testobjs_state;

/* Returns the module state (borrowed pointer into the module object). */
static inline testobjs_state *
get_state(PyObject *module)
{
    void *state = PyModule_GetState(module);
    assert(state != NULL);
    return (testobjs_state *)state;
}

/* Returns the state of the module that created `type` (a borrowed pointer).
 * `type` is always one of our heap types (they are not subclassable), so
 * PyType_GetModuleState cannot fail; NULL is handled anyway (an exception
 * would then be set and is cleared, as this is called from tp_traverse). */
static testobjs_state *
state_from_type(PyTypeObject *type)
{
    void *state = PyType_GetModuleState(type);
    if (state == NULL) {
        PyErr_Clear();
    }
    return (testobjs_state *)state;
}

/* ------------------------------------------------------------------------ */
/* Hostile                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    /* nrefs * repeat strong references: refs[i * repeat + k] is the k-th
     * copy of the i-th reference passed.  NULL when nrefs == 0. */
    PyObject **refs;
    Py_ssize_t nrefs;       /* number of distinct refs passed */
    Py_ssize_t repeat;      /* copies held (and visited) per ref, >= 1 */
    char visit_null;        /* tp_traverse visits NULL first (if allowed) */
    char clear;             /* tp_clear really clears */
    PyObject *weakreflist;
} HostileObject;

/* Build a new array holding `repeat` new strong references to each item of
 * `items` (a tuple, borrowed).  On success returns 0 and stores the array
 * (owned by the caller, to be released with hostile_free_array; NULL when
 * `items` is empty) in *parray and its length in *plen.  On failure returns
 * -1 with an exception set. */
static int
hostile_make_array(PyObject *items, Py_ssize_t repeat, PyObject ***parray,
                   Py_ssize_t *plen)
{
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    *parray = NULL;
    *plen = 0;
    if (n == 0) {
        return 0;
    }
    if (repeat > PY_SSIZE_T_MAX / n
        || (size_t)(n * repeat) > PY_SSIZE_T_MAX / sizeof(PyObject *)) {
        PyErr_SetString(PyExc_OverflowError, "Hostile: too many references");
        return -1;
    }
    Py_ssize_t len = n * repeat;
    PyObject **array = PyMem_New(PyObject *, (size_t)len);
    if (array == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        for (Py_ssize_t k = 0; k < repeat; k++) {
            Py_INCREF(item);
            array[i * repeat + k] = item;
        }
    }
    *parray = array;
    *plen = len;
    return 0;
}

/* Release every reference in `array` (stolen: the array and its references
 * are consumed) and free it.  May run arbitrary code (deallocators), so the
 * caller must already have detached the array from any object. */
static void
hostile_free_array(PyObject **array, Py_ssize_t len)
{
    if (array == NULL) {
        return;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_XDECREF(array[i]);
    }
    PyMem_Free(array);
}

/* Detach the object's array and release it (see hostile_free_array). */
static void
hostile_release_refs(HostileObject *self)
{
    PyObject **array = self->refs;
    Py_ssize_t len = self->nrefs * self->repeat;
    self->refs = NULL;
    self->nrefs = 0;
    hostile_free_array(array, len);
}

/* tp_new: Hostile(*refs, repeat=1, visit_null=False, clear=True).
 * `args` and `kwds` are borrowed; returns a new reference or NULL. */
static PyObject *
hostile_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"repeat", "visit_null", "clear", NULL};
    Py_ssize_t repeat = 1;
    int visit_null = 0;
    int clear = 1;

    PyObject *empty = PyTuple_New(0);
    if (empty == NULL) {
        return NULL;
    }
    int ok = PyArg_ParseTupleAndKeywords(empty, kwds, "|$npp:Hostile", kwlist,
                                         &repeat, &visit_null, &clear);
    Py_DECREF(empty);
    if (!ok) {
        return NULL;
    }
    if (repeat < 1) {
        PyErr_SetString(PyExc_ValueError, "Hostile: repeat must be >= 1");
        return NULL;
    }

    PyObject **array;
    Py_ssize_t len;
    if (hostile_make_array(args, repeat, &array, &len) < 0) {
        return NULL;
    }
    HostileObject *self = (HostileObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        hostile_free_array(array, len);
        return NULL;
    }
    /* tp_alloc zeroed the object and (GC type) tracked it; the fields are
     * consistent at every step for a concurrent traverse. */
    self->repeat = repeat;
    self->visit_null = (char)visit_null;
    self->clear = (char)clear;
    self->nrefs = PyTuple_GET_SIZE(args);
    self->refs = array;
    return (PyObject *)self;
}

static int
hostile_traverse(HostileObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    if (self->visit_null) {
        testobjs_state *st = state_from_type(Py_TYPE(self));
        if (st != NULL && st->visit_null_allowed) {
            /* Deliberately hostile: report a NULL referent. */
            int r = visit(NULL, arg);
            if (r) {
                return r;
            }
        }
    }
    Py_ssize_t len = self->nrefs * self->repeat;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_VISIT(self->refs[i]);
    }
    return 0;
}

static int
hostile_clear(HostileObject *self)
{
    if (!self->clear) {
        return 0;   /* refuses to break cycles */
    }
    hostile_release_refs(self);
    return 0;
}

static void
hostile_dealloc(HostileObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_TRASHCAN_BEGIN(self, hostile_dealloc)
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    hostile_release_refs(self);   /* regardless of `clear` */
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
    Py_TRASHCAN_END
}

/* Getter of .refs: returns a new tuple with one (new) reference per
 * distinct ref passed, or NULL on error. */
static PyObject *
hostile_get_refs(HostileObject *self, void *Py_UNUSED(closure))
{
    Py_ssize_t n = self->nrefs;
    PyObject *result = PyTuple_New(n);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = self->refs[i * self->repeat];
        Py_INCREF(item);
        PyTuple_SET_ITEM(result, i, item);
    }
    return result;
}

/* .set_refs(*refs): replace the references, keeping `repeat`.  `args` is
 * borrowed; returns a new reference to None, or NULL on error. */
static PyObject *
hostile_set_refs(HostileObject *self, PyObject *args)
{
    PyObject **array;
    Py_ssize_t len;
    if (hostile_make_array(args, self->repeat, &array, &len) < 0) {
        return NULL;
    }
    PyObject **old = self->refs;
    Py_ssize_t old_len = self->nrefs * self->repeat;
    self->refs = array;
    self->nrefs = PyTuple_GET_SIZE(args);
    /* Only now drop the old references: a deallocator may run code that
     * looks at this object, which is already consistent. */
    hostile_free_array(old, old_len);
    Py_RETURN_NONE;
}

static PyObject *
hostile_repr(HostileObject *self)
{
    return PyUnicode_FromFormat("<Hostile nrefs=%zd repeat=%zd visit_null=%s "
                                "clear=%s at %p>",
                                self->nrefs, self->repeat,
                                self->visit_null ? "True" : "False",
                                self->clear ? "True" : "False", self);
}

static PyMethodDef hostile_methods[] = {
    {"set_refs", (PyCFunction)hostile_set_refs, METH_VARARGS,
     PyDoc_STR("set_refs(*refs)\n--\n\n"
               "Replace the references (repeat is kept).")},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef hostile_getset[] = {
    {"refs", (getter)hostile_get_refs, NULL,
     PyDoc_STR("Tuple of the distinct references (one per ref passed)."),
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef hostile_members[] = {
    {"repeat", TO_T_PYSSIZET, offsetof(HostileObject, repeat), TO_READONLY,
     PyDoc_STR("Strong references held (and visited) per ref.")},
    {"visit_null", TO_T_BOOL, offsetof(HostileObject, visit_null), TO_READONLY,
     PyDoc_STR("Whether tp_traverse visits NULL first (when allowed).")},
    {"clear", TO_T_BOOL, offsetof(HostileObject, clear), TO_READONLY,
     PyDoc_STR("Whether tp_clear releases the references.")},
    {"__weaklistoffset__", TO_T_PYSSIZET, offsetof(HostileObject, weakreflist),
     TO_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(hostile_doc,
"Hostile(*refs, repeat=1, visit_null=False, clear=True)\n"
"--\n\n"
"GC container holding `repeat` strong references to each of `refs`; its\n"
"tp_traverse visits each of them `repeat` times, after visiting NULL when\n"
"visit_null is true and set_visit_null_allowed(True) is on.  With\n"
"clear=False its tp_clear does nothing.");

/* One entry a line: */
/* clang-format off */
static PyType_Slot hostile_slots[] = {
    {Py_tp_doc, (void *)hostile_doc},
    {Py_tp_new, hostile_new},
    {Py_tp_dealloc, hostile_dealloc},
    {Py_tp_traverse, hostile_traverse},
    {Py_tp_clear, hostile_clear},
    {Py_tp_repr, hostile_repr},
    {Py_tp_methods, hostile_methods},
    {Py_tp_getset, hostile_getset},
    {Py_tp_members, hostile_members},
    {0, NULL},
};
/* clang-format on */

static PyType_Spec hostile_spec = {
    .name = "altgc._testobjs.Hostile",
    .basicsize = sizeof(HostileObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = hostile_slots,
};

/* ------------------------------------------------------------------------ */
/* LegacyDel                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *ref;          /* strong or NULL; traversed; tp_clear clears */
    PyObject *callback;     /* strong or NULL; traversed; kept by tp_clear */
    PyObject *weakreflist;
} LegacyDelObject;

/* tp_new: LegacyDel(callback=None).  `args`/`kwds` borrowed; returns a new
 * reference or NULL. */
static PyObject *
legacydel_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"callback", NULL};
    PyObject *callback = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:LegacyDel", kwlist,
                                     &callback)) {
        return NULL;
    }
    if (callback != Py_None && !PyCallable_Check(callback)) {
        PyErr_Format(PyExc_TypeError,
                     "LegacyDel: callback must be callable or None, "
                     "not %.100s",
                     Py_TYPE(callback)->tp_name);
        return NULL;
    }
    LegacyDelObject *self = (LegacyDelObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (callback != Py_None) {
        Py_INCREF(callback);
        self->callback = callback;
    }
    return (PyObject *)self;
}

static int
legacydel_traverse(LegacyDelObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->ref);
    Py_VISIT(self->callback);
    return 0;
}

/* tp_clear breaks cycles through .ref; the callback is kept so that it
 * still runs when the object is finally deallocated. */
static int
legacydel_clear(LegacyDelObject *self)
{
    Py_CLEAR(self->ref);
    return 0;
}

/* The legacy finalizer (tp_del).  Called by legacydel_dealloc with the
 * object untracked and its refcount 0: it is temporarily resurrected (and
 * re-tracked, as subtype_dealloc does) around callback(self).  If the
 * callback stored a new reference to self, the object stays alive and
 * tracked, and the caller must not free it (its refcount is then > 0).
 * If called on a live object (refcount > 0) it just calls the callback.
 * Exceptions from the callback go to sys.unraisablehook; the exception
 * being handled by the caller, if any, is saved and restored. */
static void
legacydel_del(PyObject *op)
{
    LegacyDelObject *self = (LegacyDelObject *)op;
    if (self->callback == NULL) {
        return;
    }
    int from_dealloc = (Py_REFCNT(op) == 0);
    if (from_dealloc) {
        Py_SET_REFCNT(op, 1);           /* temporary resurrection */
        if (!PyObject_GC_IsTracked(op)) {
            PyObject_GC_Track(op);
        }
    }

#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
#endif

    PyObject *callback = self->callback;
    Py_INCREF(callback);
    PyObject *res = PyObject_CallOneArg(callback, op);
    if (res == NULL) {
        PyErr_WriteUnraisable(callback);
    }
    else {
        Py_DECREF(res);
    }
    Py_DECREF(callback);

#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(exc_type, exc_value, exc_tb);
#endif

    if (from_dealloc) {
        /* Undo the temporary resurrection without Py_DECREF (which would
         * re-enter the deallocator). */
        assert(Py_REFCNT(op) > 0);
        Py_SET_REFCNT(op, Py_REFCNT(op) - 1);
        if (Py_REFCNT(op) == 0) {
            PyObject_GC_UnTrack(op); /* normal path: dealloc goes on */
        }
        /* else: resurrected by the callback; stays tracked. */
    }
}

static void
legacydel_dealloc(LegacyDelObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    legacydel_del((PyObject *)self);
    if (Py_REFCNT(self) > 0) {
        return; /* resurrected by the callback */
    }
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    Py_CLEAR(self->ref);
    Py_CLEAR(self->callback);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* Getter of .ref: returns a new reference (None when unset). */
static PyObject *
legacydel_get_ref(LegacyDelObject *self, void *Py_UNUSED(closure))
{
    PyObject *ref = self->ref != NULL ? self->ref : Py_None;
    Py_INCREF(ref);
    return ref;
}

/* Setter of .ref: `value` is borrowed (a new reference is stored); NULL
 * (del a.ref) unsets it.  Returns 0. */
static int
legacydel_set_ref(LegacyDelObject *self, PyObject *value,
                  void *Py_UNUSED(closure))
{
    PyObject *old = self->ref;
    Py_XINCREF(value);
    self->ref = value;
    Py_XDECREF(old);
    return 0;
}

/* Getter of .callback: returns a new reference (None when unset). */
static PyObject *
legacydel_get_callback(LegacyDelObject *self, void *Py_UNUSED(closure))
{
    PyObject *cb = self->callback != NULL ? self->callback : Py_None;
    Py_INCREF(cb);
    return cb;
}

static PyGetSetDef legacydel_getset[] = {
    {"ref", (getter)legacydel_get_ref, (setter)legacydel_set_ref,
     PyDoc_STR("A strong, traversed reference (None when unset)."), NULL},
    {"callback", (getter)legacydel_get_callback, NULL,
     PyDoc_STR("The callable tp_del calls with the object, or None."), NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef legacydel_members[] = {
    {"__weaklistoffset__", TO_T_PYSSIZET,
     offsetof(LegacyDelObject, weakreflist), TO_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(legacydel_doc,
"LegacyDel(callback=None)\n"
"--\n\n"
"GC object with a legacy tp_del finalizer that calls callback(self).\n"
"In cyclic garbage it is uncollectable (it ends up in gc.garbage).\n"
"Attribute .ref is a strong, traversed reference for building cycles.");

/* One entry a line: */
/* clang-format off */
static PyType_Slot legacydel_slots[] = {
    {Py_tp_doc, (void *)legacydel_doc},
    {Py_tp_new, legacydel_new},
    {Py_tp_dealloc, legacydel_dealloc},
    {Py_tp_traverse, legacydel_traverse},
    {Py_tp_clear, legacydel_clear},
    {Py_tp_del, legacydel_del},
    {Py_tp_getset, legacydel_getset},
    {Py_tp_members, legacydel_members},
    {0, NULL},
};
/* clang-format on */

static PyType_Spec legacydel_spec = {
    .name = "altgc._testobjs.LegacyDel",
    .basicsize = sizeof(LegacyDelObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = legacydel_slots,
};

/* ------------------------------------------------------------------------ */
/* hold / release / held                                                    */
/* ------------------------------------------------------------------------ */

/* hold(obj): keep a new strong reference to `obj` (borrowed argument) in the
 * module state, invisible to every traversal.  Returns a new reference to
 * None, or NULL (MemoryError). */
static PyObject *
testobjs_hold(PyObject *module, PyObject *obj)
{
    testobjs_state *st = get_state(module);
    if (st->nheld == st->held_cap) {
        Py_ssize_t cap = st->held_cap ? st->held_cap * 2 : 8;
        PyObject **held = st->held;
        PyMem_Resize(held, PyObject *, (size_t)cap);
        if (held == NULL) {
            return PyErr_NoMemory();
        }
        st->held = held;
        st->held_cap = cap;
    }
    Py_INCREF(obj);
    st->held[st->nheld++] = obj;
    Py_RETURN_NONE;
}

/* release(obj): drop one reference taken by hold(obj) (the most recent one
 * to the same object, compared by identity).  `obj` is borrowed.  Returns a
 * new reference to None, or NULL with ValueError if `obj` is not held. */
static PyObject *
testobjs_release(PyObject *module, PyObject *obj)
{
    testobjs_state *st = get_state(module);
    for (Py_ssize_t i = st->nheld - 1; i >= 0; i--) {
        if (st->held[i] == obj) {
            /* Remove from the array first: the decref may run code
             * (finalizers) that calls hold()/release() again. */
            memmove(&st->held[i], &st->held[i + 1],
                    (size_t)(st->nheld - i - 1) * sizeof(PyObject *));
            st->nheld--;
            Py_DECREF(obj);
            Py_RETURN_NONE;
        }
    }
    PyErr_SetString(PyExc_ValueError, "release(obj): obj is not held");
    return NULL;
}

/* held(): returns a new tuple of (new references to) the held objects, in
 * the order they were held, or NULL on error. */
static PyObject *
testobjs_held(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    testobjs_state *st = get_state(module);
    PyObject *result = PyTuple_New(st->nheld);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < st->nheld; i++) {
        Py_INCREF(st->held[i]);
        PyTuple_SET_ITEM(result, i, st->held[i]);
    }
    return result;
}

/* set_visit_null_allowed(flag): turn the module-level switch on/off.
 * `flag` is borrowed.  Returns a new reference to the previous value (a
 * bool), or NULL if truth testing `flag` fails. */
static PyObject *
testobjs_set_visit_null_allowed(PyObject *module, PyObject *flag)
{
    int value = PyObject_IsTrue(flag);
    if (value < 0) {
        return NULL;
    }
    testobjs_state *st = get_state(module);
    int previous = st->visit_null_allowed;
    st->visit_null_allowed = value;
    return PyBool_FromLong(previous);
}

/* get_visit_null_allowed(): returns a new reference to a bool. */
static PyObject *
testobjs_get_visit_null_allowed(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(get_state(module)->visit_null_allowed);
}

/* gc_header(obj): a new tuple (_gc_next, _gc_prev), the two words of
 * obj's PyGC_Head as ints, or NULL with TypeError if obj (borrowed) is not
 * a container.  Tests read them to check that a collection leaves the
 * builtin gc's links and flags as it found them. */
static PyObject *
testobjs_gc_header(PyObject *module, PyObject *obj)
{
    if (!PyObject_IS_GC(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "gc_header(obj): obj must be a container, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    const uintptr_t *head = (const uintptr_t *)obj - 2;
    return Py_BuildValue("(KK)", (unsigned long long)head[0],
                         (unsigned long long)head[1]);
}

static PyMethodDef testobjs_methods[] = {
    {"gc_header", testobjs_gc_header, METH_O,
     PyDoc_STR("gc_header(obj)\n--\n\n"
               "(_gc_next, _gc_prev): the words of obj's GC header.")},
    {"hold", testobjs_hold, METH_O,
     PyDoc_STR("hold(obj)\n--\n\n"
               "Keep a strong reference to obj from C, invisible to any "
               "traversal.")},
    {"release", testobjs_release, METH_O,
     PyDoc_STR("release(obj)\n--\n\n"
               "Drop one reference taken by hold(obj); ValueError if obj "
               "is not held.")},
    {"held", testobjs_held, METH_NOARGS,
     PyDoc_STR("held()\n--\n\nTuple of the held objects.")},
    {"set_visit_null_allowed", testobjs_set_visit_null_allowed, METH_O,
     PyDoc_STR("set_visit_null_allowed(flag)\n--\n\n"
               "Allow Hostile(visit_null=True) objects to visit NULL in "
               "tp_traverse (default off).  While on, keep the builtin gc "
               "away from such objects (gc.disable()): CPython's own visit "
               "functions crash on NULL.  Returns the previous value.")},
    {"get_visit_null_allowed", testobjs_get_visit_null_allowed, METH_NOARGS,
     PyDoc_STR("get_visit_null_allowed()\n--\n\n"
               "Current value of the visit-NULL switch.")},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------ */
/* Module                                                                   */
/* ------------------------------------------------------------------------ */

static int
testobjs_exec(PyObject *module)
{
    testobjs_state *st = get_state(module);
    st->held = NULL;
    st->nheld = 0;
    st->held_cap = 0;
    st->visit_null_allowed = 0;

    st->hostile_type = PyType_FromModuleAndSpec(module, &hostile_spec, NULL);
    if (st->hostile_type == NULL) {
        return -1;
    }
    if (PyModule_AddType(module, (PyTypeObject *)st->hostile_type) < 0) {
        return -1;
    }
    st->legacydel_type = PyType_FromModuleAndSpec(module, &legacydel_spec,
                                                  NULL);
    if (st->legacydel_type == NULL) {
        return -1;
    }
    if (PyModule_AddType(module, (PyTypeObject *)st->legacydel_type) < 0) {
        return -1;
    }
    return 0;
}

/* m_traverse visits the types only.  The held objects are deliberately NOT
 * visited: hold() exists to create a reference that no collector can see
 * (like an unknown C extension's), so that tests can check a collector
 * treats such objects as externally reachable.  Visiting them here would
 * let the builtin gc account for those references. */
static int
testobjs_traverse(PyObject *module, visitproc visit, void *arg)
{
    testobjs_state *st = get_state(module);
    Py_VISIT(st->hostile_type);
    Py_VISIT(st->legacydel_type);
    return 0;
}

/* m_clear releases everything, held objects included (they are strong
 * references owned by the module even though no traversal reports them). */
static int
testobjs_clear(PyObject *module)
{
    testobjs_state *st = get_state(module);
    Py_CLEAR(st->hostile_type);
    Py_CLEAR(st->legacydel_type);
    /* Detach the array first: the decrefs may run arbitrary code. */
    PyObject **held = st->held;
    Py_ssize_t nheld = st->nheld;
    st->held = NULL;
    st->nheld = 0;
    st->held_cap = 0;
    for (Py_ssize_t i = 0; i < nheld; i++) {
        Py_DECREF(held[i]);
    }
    PyMem_Free(held);
    return 0;
}

static void
testobjs_free(void *module)
{
    (void)testobjs_clear((PyObject *)module);
}

static PyModuleDef_Slot testobjs_slots[] = {
    {Py_mod_exec, testobjs_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

PyDoc_STRVAR(testobjs_doc,
"Test-only helper objects for altgc (private): Hostile, LegacyDel,\n"
"hold/release/held, set_visit_null_allowed.");

/* One entry a line: */
/* clang-format off */
static struct PyModuleDef testobjs_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "altgc._testobjs",
    .m_doc = testobjs_doc,
    .m_size = sizeof(testobjs_state),
    .m_methods = testobjs_methods,
    .m_slots = testobjs_slots,
    .m_traverse = testobjs_traverse,
    .m_clear = testobjs_clear,
    .m_free = testobjs_free,
};
/* clang-format on */

PyMODINIT_FUNC
PyInit__testobjs(void)
{
    return PyModuleDef_Init(&testobjs_module);
}
