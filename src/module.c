/*
 * module.c -- altgc._core, the Python-facing facade.
 *
 * Argument checking, thresholds, counts, statistics as plain Python
 * data.  The top of the layers (docs/DESIGN.md, "The layers"; checked by
 * tools/check_layers.py): it calls every layer below and none calls it.
 * The algorithm and the scheduling of automatic collections live in
 * collector.c, install mode in install.c, the registry in registry.c,
 * the death hooks in hooks.c.
 *
 * The collector is process-wide (agc_state AGC): the hooks that learn of
 * deaths are process-wide, so altgc loads in the main interpreter only.
 * Re-importing the module (multi-phase init) gives a fresh module object
 * bound to the same collector, as `gc` is one per interpreter.
 */
#include "collector.h"
#include "gclists.h"
#include "graph.h"
#include "heapindex.h"
#include "hooks.h"
#include "install.h"
#include "kinds.h"
#include "trace.h"
#include "watch.h"

typedef struct {
    PyObject *garbage;      /* strong: the same list as AGC.garbage */
    PyObject *callbacks;    /* strong: the same list as AGC.callbacks */
} module_state;

static inline module_state *
get_state(PyObject *module)
{
    return (module_state *)PyModule_GetState(module);
}

/* ---- helpers --------------------------------------------------------- */

/* The int value of an integer argument (borrowed `arg`): a new reference
 * to an int, or NULL with TypeError naming the function and the argument.
 * As the builtin gc's arguments, any object with __index__ (a numpy
 * integer) is an integer; a float is not. */
static PyObject *
index_arg(PyObject *arg, const char *fname, const char *argname)
{
    if (PyLong_Check(arg)) {
        return Py_NewRef(arg);
    }
    if (!PyIndex_Check(arg)) {
        PyErr_Format(PyExc_TypeError,
                     "%s() argument '%s' must be int, not %.200s", fname,
                     argname, Py_TYPE(arg)->tp_name);
        return NULL;
    }
    return PyNumber_Index(arg);
}

/* Reads a generation argument (borrowed `arg`, may be NULL for the
 * default) into *out.  0, or -1 with TypeError / ValueError naming the
 * function and the argument. */
static int
parse_generation(PyObject *arg, const char *fname, int dflt, int *out)
{
    if (arg == NULL) {
        *out = dflt;
        return 0;
    }
    PyObject *v_obj = index_arg(arg, fname, "generation");
    if (v_obj == NULL) {
        return -1;
    }
    int overflow;
    long v = PyLong_AsLongAndOverflow(v_obj, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        Py_DECREF(v_obj);
        return -1;
    }
    if (overflow || v < 0 || v >= AGC_NUM_GENERATIONS) {
        PyErr_Format(PyExc_ValueError,
                     "%s() argument 'generation' must be 0, 1 or 2, not %R",
                     fname, v_obj);
        Py_DECREF(v_obj);
        return -1;
    }
    Py_DECREF(v_obj);
    *out = (int)v;
    return 0;
}

/* ---- registry functions ---------------------------------------------- */

PyDoc_STRVAR(track_doc,
"track(obj, /)\n--\n\nRegister a container object with altgc (borrowed).");

static PyObject *
agc_track(PyObject *module, PyObject *obj)
{
    if (!PyObject_IS_GC(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "track() argument 'obj' must be a container object "
                     "whose type supports the cycle collector, not %.200s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    int rc = agc_registry_add(&agc_reg, obj, agc_has_pre32(Py_TYPE(obj)));
    if (rc == -2) {
        PyErr_Format(PyExc_TypeError,
                     "track() argument 'obj': altgc can follow the deaths "
                     "of %d %.100s types (one per _asyncio module); this "
                     "one is another", AGC_FUTUREITER_SITES,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (rc < 0) {
        return PyErr_NoMemory();
    }
    if (rc == 0) {
        Py_ssize_t i = agc_registry_find(&agc_reg, obj);
        if (!(agc_registry_entry(&agc_reg, i) & AGC_ENTRY_ADOPTED)) {
            Py_RETURN_NONE; /* track()ed before */
        }
        /* Registered by install mode: now the user's too, so it stays
         * registered after uninstall(), and its death lowers altgc's
         * count0 (registry.h, AGC_GONE_COUNTED), which it raises now as
         * any registration does.  (The builtin gc counted the object too
         * when it was allocated, and counts its death: a container the
         * user tracks while installed counts twice, at both ends.) */
        agc_registry_disown(&agc_reg, i);
    }
    agc_events_take_settled(); /* deaths before this registration */
    agc_events.count0++;
    agc_maybe_schedule();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(untrack_doc,
"untrack(obj, /)\n--\n\nUnregister obj; True if it was registered.");

static PyObject *
agc_untrack(PyObject *module, PyObject *obj)
{
    return PyBool_FromLong(agc_registry_discard(&agc_reg, obj)
                           != AGC_GONE_NONE);
}

PyDoc_STRVAR(is_tracked_doc,
"is_tracked(obj, /)\n--\n\nTrue if obj is registered with altgc.");

static PyObject *
agc_is_tracked(PyObject *module, PyObject *obj)
{
    if (agc_inst.active) {
        /* As gc.is_tracked: adopted, and still tracked by the interpreter
         * (CPython untracks an object before it deallocates it).  Only a
         * tracked object altgc has not registered can be waiting for the
         * next adoption: the others are answered without one (an adoption
         * adds entries, never removes one), so that code asking about
         * every object (pympler) does not adopt at every call. */
        if (!PyObject_GC_IsTracked(obj) || agc_is_dying(obj)) {
            Py_RETURN_FALSE;
        }
        if (agc_registry_find(&agc_reg, obj) >= 0) {
            Py_RETURN_TRUE;
        }
        if (agc_install_sync() < 0) {
            return NULL;
        }
        return PyBool_FromLong(agc_registry_find(&agc_reg, obj) >= 0
                               && PyObject_GC_IsTracked(obj)
                               && !agc_is_dying(obj));
    }
    return PyBool_FromLong(agc_registry_find(&agc_reg, obj) >= 0);
}

PyDoc_STRVAR(builtin_frozen_doc,
"_builtin_frozen(obj, /)\n--\n\n"
"True if obj is on the builtin gc's permanent generation (gc.freeze()).");

static PyObject *
agc_builtin_frozen(PyObject *module, PyObject *obj)
{
    return PyBool_FromLong(agc_gclists_frozen(obj));
}

PyDoc_STRVAR(builtin_frozen_objects_doc,
"_builtin_frozen_objects()\n--\n\n"
"A new list of the objects on the builtin gc's permanent generation\n"
"(what gc.freeze() moved there, and while installed what altgc adopted).");

PyDoc_STRVAR(builtin_frozen_referrers_doc,
"_builtin_frozen_referrers(*objs)\n--\n\n"
"A new list of the objects on the builtin gc's permanent generation that\n"
"refer directly to any of objs (gc.get_referrers() does not look there).");

/* frozen_visit's state: `targets` (borrowed tuple, or NULL: every object)
 * selects the objects whose tp_traverse visits one of them; `list` NULL
 * counts them in n, otherwise they fill the list (new references), up to
 * its size. */
typedef struct {
    PyObject *targets;
    PyObject *list;
    Py_ssize_t n;
} frozen_fill;

/* tp_traverse visitor: 1 (stop) at a referent that is one of the objects
 * of the tuple `arg` (borrowed). */
static int
refers_to_visit(PyObject *ref, void *arg)
{
    PyObject *targets = (PyObject *)arg;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(targets); i++) {
        if (PyTuple_GET_ITEM(targets, i) == ref) {
            return 1;
        }
    }
    return 0;
}

/* agc_gclists_visit_frozen's visitor (`op` borrowed; arg: a frozen_fill).
 * Allocates nothing and runs no Python code (tp_traverse may not). */
static int
frozen_visit(PyObject *op, void *arg)
{
    frozen_fill *f = (frozen_fill *)arg;
    if (f->targets != NULL) {
        traverseproc traverse = Py_TYPE(op)->tp_traverse;
        if (op == f->targets || traverse == NULL
            || !traverse(op, refers_to_visit, f->targets)) {
            return 1;
        }
    }
    if (f->list != NULL) {
        if (f->n == PyList_GET_SIZE(f->list)) {
            return 0;
        }
        PyList_SET_ITEM(f->list, f->n, Py_NewRef(op));
    }
    f->n++;
    return 1;
}

/* The permanent generation's objects that `targets` selects (frozen_fill;
 * borrowed): a new list, or NULL with an exception.  Two walks, one to
 * count and one to fill: PyList_New may start a collection (3.11 inside
 * the allocation), and in install mode the one it starts adopts and
 * freezes, or frees adopted objects, so the list is filled by a walk
 * that allocates nothing, up to the count of the first, and cut to what
 * it filled. */
static PyObject *
frozen_list(PyObject *targets)
{
    frozen_fill f = {targets, NULL, 0};
    agc_gclists_visit_frozen(frozen_visit, &f);
    PyObject *list = PyList_New(f.n);
    if (list == NULL) {
        return NULL;
    }
    f.list = list;
    f.n = 0;
    agc_gclists_visit_frozen(frozen_visit, &f);
    Py_SET_SIZE(list, f.n);
    return list;
}

static PyObject *
agc_builtin_frozen_objects(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return frozen_list(NULL);
}

static PyObject *
agc_builtin_frozen_referrers(PyObject *module, PyObject *objs)
{
    return frozen_list(objs);
}

PyDoc_STRVAR(builtin_collecting_doc,
"_builtin_collecting()\n--\n\n"
"True while the builtin gc is collecting on its own account (called from\n"
"its finalizers), not while altgc's collection runs inside one of its.");

static PyObject *
agc_builtin_collecting(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(agc_install_builtin_collecting());
}

PyDoc_STRVAR(builtin_swap_callbacks_doc,
"_builtin_swap_callbacks(callbacks, /)\n--\n\n"
"Make `callbacks` (a list) the list the builtin gc calls and return the\n"
"one it called until now -- its module's gc.callbacks, or on 3.11 while\n"
"installed altgc's trigger's.  compare_heap() runs the builtin gc's\n"
"collection with an empty one.");

static PyObject *
agc_builtin_swap_callbacks(PyObject *module, PyObject *callbacks)
{
    if (!PyList_CheckExact(callbacks)) {
        PyErr_Format(PyExc_TypeError,
                     "_builtin_swap_callbacks() argument 'callbacks' must be "
                     "list, not %.100s",
                     Py_TYPE(callbacks)->tp_name);
        return NULL;
    }
    return agc_gclists_swap_callbacks(callbacks);
}

PyDoc_STRVAR(get_objects_doc,
"get_objects(generation=None)\n--\n\n"
"Registered objects of one generation, or of all three.");

static PyObject *
agc_get_objects(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"generation", NULL};
    PyObject *garg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:get_objects", kwlist,
                                     &garg)) {
        return NULL;
    }
    if (agc_install_sync() < 0) {
        return NULL;
    }
    int g = -1;
    if (garg != Py_None && parse_generation(garg, "get_objects", 0, &g) < 0) {
        return NULL;
    }
    PyObject *result = PyList_New(0);
    if (result == NULL) {
        return NULL;
    }
    /* The bounds are read once pinned (pinning settles the death queue):
     * deaths while the list grows then leave holes, not moves. */
    agc_registry *reg = &agc_reg;
    agc_registry_pin(reg);
    Py_ssize_t lo, hi;
    if (g < 0) {
        lo = agc_registry_gen_start(reg, 2);
        hi = agc_registry_end(reg);
    }
    else {
        lo = agc_registry_gen_start(reg, g);
        hi = agc_registry_gen_end(reg, g);
    }
    int hiding = agc_collecting(); /* else nothing is hidden */
    for (Py_ssize_t i = lo; i < hi; i++) {
        PyObject *op = agc_registry_obj(reg, i);
        if (op != NULL && !agc_is_dying(op)
            && !(hiding && agc_collection_hides(i))
            && PyList_Append(result, op) < 0) {
            Py_CLEAR(result);
            break;
        }
    }
    agc_registry_unpin(reg);
    return result;
}

/* ---- collection ------------------------------------------------------ */

PyDoc_STRVAR(collect_doc,
"collect(generation=2)\n--\n\n"
"Collect the registered objects of generations 0..generation; return the\n"
"number of unreachable objects found.");

static PyObject *
agc_collect_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"generation", NULL};
    PyObject *garg = NULL;
    int g;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:collect", kwlist,
                                     &garg)) {
        return NULL;
    }
    if (parse_generation(garg, "collect", 2, &g) < 0) {
        return NULL;
    }
    /* 0 during a collection, as gc.collect() */
    Py_ssize_t n = agc_collect(g);
    if (n < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(n);
}

PyDoc_STRVAR(find_unreachable_doc,
"find_unreachable(generation=2)\n--\n\n"
"The unreachable registered objects, grouped into strongly connected\n"
"components; nothing is finalized or freed.");

static PyObject *
agc_find_unreachable_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"generation", NULL};
    PyObject *garg = NULL;
    int g;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:find_unreachable",
                                     kwlist, &garg)) {
        return NULL;
    }
    if (parse_generation(garg, "find_unreachable", 2, &g) < 0) {
        return NULL;
    }
    return agc_find_unreachable(g);
}

PyDoc_STRVAR(get_threshold_doc,
"get_threshold()\n--\n\n"
"The collection thresholds, (threshold0, threshold1, threshold2).");

static PyObject *
agc_get_threshold(PyObject *module, PyObject *unused)
{
    return Py_BuildValue("(iii)", AGC.threshold[0], AGC.threshold[1],
                         AGC.threshold[2]);
}

PyDoc_STRVAR(set_threshold_doc,
"set_threshold(threshold0[, threshold1[, threshold2]])\n\n"
"Set the collection thresholds (each >= 0; 0 for threshold0 disables\n"
"automatic collection).  Thresholds left out keep their values.");

static PyObject *
agc_set_threshold(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"threshold0", "threshold1", "threshold2", NULL};
    int t[AGC_NUM_GENERATIONS];
    for (int i = 0; i < AGC_NUM_GENERATIONS; i++) {
        t[i] = AGC.threshold[i];
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "i|ii:set_threshold",
                                     kwlist, &t[0], &t[1], &t[2])) {
        return NULL;
    }
    for (int i = 0; i < AGC_NUM_GENERATIONS; i++) {
        if (t[i] < 0) {
            PyErr_Format(PyExc_ValueError,
                         "set_threshold() argument 'threshold%d' must be "
                         ">= 0, not %d", i, t[i]);
            return NULL;
        }
    }
    for (int i = 0; i < AGC_NUM_GENERATIONS; i++) {
        AGC.threshold[i] = t[i];
    }
    agc_install_rearm();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(get_count_doc,
"get_count()\n--\n\nThe current collection counts, (count0, count1, count2).");

static PyObject *
agc_get_count(PyObject *module, PyObject *unused)
{
    if (agc_install_sync() < 0) {
        return NULL;
    }
    return Py_BuildValue("(nnn)", agc_gen_count(0), agc_gen_count(1),
                         agc_gen_count(2));
}

PyDoc_STRVAR(enable_doc,
"enable()\n--\n\nEnable automatic collection.");

static PyObject *
agc_enable(PyObject *module, PyObject *unused)
{
    AGC.enabled = 1;
    agc_maybe_schedule();
    agc_install_rearm();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(disable_doc,
"disable()\n--\n\nDisable automatic collection.");

static PyObject *
agc_disable(PyObject *module, PyObject *unused)
{
    AGC.enabled = 0;
    agc_install_rearm();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(isenabled_doc,
"isenabled()\n--\n\nTrue if automatic collection is enabled.");

static PyObject *
agc_isenabled(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(AGC.enabled);
}

PyDoc_STRVAR(set_debug_doc,
"set_debug(flags, /)\n--\n\n"
"Set the debugging flags (the gc module's DEBUG_* values).");

static PyObject *
agc_set_debug(PyObject *module, PyObject *arg)
{
    PyObject *flags_obj = index_arg(arg, "set_debug", "flags");
    if (flags_obj == NULL) {
        return NULL;
    }
    int overflow;
    long flags = PyLong_AsLongAndOverflow(flags_obj, &overflow);
    Py_DECREF(flags_obj);
    if (flags == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (overflow || flags < INT_MIN || flags > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError,
                        "set_debug() argument 'flags' is out of range");
        return NULL;
    }
    AGC.debug = (int)flags;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(get_debug_doc,
"get_debug()\n--\n\nThe debugging flags.");

static PyObject *
agc_get_debug(PyObject *module, PyObject *unused)
{
    return PyLong_FromLong(AGC.debug);
}

PyDoc_STRVAR(freeze_doc,
"freeze()\n--\n\n"
"Move every registered object to the permanent generation, which\n"
"collections ignore.");

static PyObject *
agc_freeze(PyObject *module, PyObject *unused)
{
    if (agc_install_sync() < 0) {
        return NULL;
    }
    if (agc_collecting()) {
        AGC.pending_freeze = 1; /* applied when the collection ends */
    }
    else {
        agc_registry_freeze(&agc_reg);
    }
    agc_events_settle(); /* the deaths before, counted before 0 */
    agc_events.count0 = 0;
    if (AGC.mode.count0_reset != NULL) {
        AGC.mode.count0_reset();
    }
    agc_install_note_freeze(1);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(unfreeze_doc,
"unfreeze()\n--\n\n"
"Move the permanent generation back into the oldest generation.");

static PyObject *
agc_unfreeze(PyObject *module, PyObject *unused)
{
    if (agc_collecting()) {
        AGC.pending_freeze = -1;
    }
    else {
        agc_registry_unfreeze(&agc_reg);
    }
    agc_install_note_freeze(-1);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(get_freeze_count_doc,
"get_freeze_count()\n--\n\n"
"The number of objects in the permanent generation.");

static PyObject *
agc_get_freeze_count(PyObject *module, PyObject *unused)
{
    agc_registry *reg = &agc_reg;
    Py_ssize_t n = 0;
    agc_events_settle();
    for (Py_ssize_t i = 0; i < agc_registry_gen_end(reg, AGC_PERMANENT); i++) {
        n += (agc_registry_entry(reg, i) != 0);
    }
    return PyLong_FromSsize_t(n);
}

PyDoc_STRVAR(get_referrers_doc,
"get_referrers(*objs)\n--\n\n"
"The registered objects that refer directly to any of objs.");

static PyObject *
agc_get_referrers_fn(PyObject *module, PyObject *args)
{
    if (agc_install_sync() < 0) {
        return NULL;
    }
    return agc_get_referrers(args,
                             agc_collecting() ? agc_collection_hides : NULL);
}

PyDoc_STRVAR(get_referents_doc,
"get_referents(*objs)\n--\n\n"
"The objects any of objs refers to directly (by tp_traverse).");

static PyObject *
agc_get_referents_fn(PyObject *module, PyObject *args)
{
    return agc_get_referents(args);
}

PyDoc_STRVAR(is_finalized_doc,
"is_finalized(obj, /)\n--\n\n"
"True if obj's finalizer (tp_finalize) has been called.");

static PyObject *
agc_is_finalized(PyObject *module, PyObject *obj)
{
    return PyBool_FromLong(PyObject_GC_IsFinalized(obj));
}

/* ---- statistics ------------------------------------------------------ */

PyDoc_STRVAR(get_stats_doc,
"get_stats()\n--\n\nPer-generation statistics, with the builtin gc's keys.");

static PyObject *
agc_get_stats(PyObject *module, PyObject *unused)
{
    PyObject *result = PyList_New(AGC_NUM_GENERATIONS);
    if (result == NULL) {
        return NULL;
    }
    for (int i = 0; i < AGC_NUM_GENERATIONS; i++) {
        agc_genstats *st = &AGC.stats[i];
        /* The builtin gc's keys (3.15 adds the summed candidates and
         * duration, compat.h AGC_GC_STATS_DETAIL). */
#if AGC_GC_STATS_DETAIL
        PyObject *d = Py_BuildValue("{snsnsnsnsd}",
                                    "collections", st->collections,
                                    "collected", st->collected,
                                    "uncollectable", st->uncollectable,
                                    "candidates", st->candidates,
                                    "duration",
                                    (double)st->total_pause_ns / 1e9);
#else
        PyObject *d = Py_BuildValue("{snsnsn}",
                                    "collections", st->collections,
                                    "collected", st->collected,
                                    "uncollectable", st->uncollectable);
#endif
        if (d == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, d);
    }
    return result;
}

/* Live entries in [lo, hi). */
static Py_ssize_t
count_live(Py_ssize_t lo, Py_ssize_t hi)
{
    Py_ssize_t n = 0;
    if (agc_registry_holes(&agc_reg) == 0) {
        return hi - lo;
    }
    for (Py_ssize_t i = lo; i < hi; i++) {
        n += (agc_registry_entry(&agc_reg, i) != 0);
    }
    return n;
}

PyDoc_STRVAR(stats_doc,
"stats()\n--\n\n"
"Per-generation statistics with pause times, and the registry's size\n"
"and memory.");

static PyObject *
agc_stats(PyObject *module, PyObject *unused)
{
    agc_registry *reg = &agc_reg;
    /* Every figure is read before anything is allocated (an allocation
     * may free registered objects, whose deaths then wait in the queue). */
    agc_events_settle();
    Py_ssize_t sizes[AGC_NUM_GENERATIONS];
    for (int i = 0; i < AGC_NUM_GENERATIONS; i++) {
        sizes[i] = count_live(agc_registry_gen_start(reg, i),
                              agc_registry_gen_end(reg, i));
    }
    Py_ssize_t permanent = count_live(
        0, agc_registry_gen_end(reg, AGC_PERMANENT));
    Py_ssize_t registered = agc_registry_size(reg);
    Py_ssize_t bytes = (Py_ssize_t)agc_registry_bytes(reg);
    Py_ssize_t slots = agc_registry_table_slots(reg);
    Py_ssize_t capacity = agc_registry_capacity(reg);
    PyObject *gens = PyList_New(AGC_NUM_GENERATIONS);
    if (gens == NULL) {
        return NULL;
    }
    for (int i = 0; i < AGC_NUM_GENERATIONS; i++) {
        agc_genstats *st = &AGC.stats[i];
        PyObject *d = Py_BuildValue(
            "{snsnsnsLsLsLsn}",
            "collections", st->collections,
            "collected", st->collected,
            "uncollectable", st->uncollectable,
            "total_pause_ns", (long long)st->total_pause_ns,
            "last_pause_ns", (long long)st->last_pause_ns,
            "max_pause_ns", (long long)st->max_pause_ns,
            "size", sizes[i]);
        if (d == NULL) {
            Py_DECREF(gens);
            return NULL;
        }
        PyList_SET_ITEM(gens, i, d);
    }
    return Py_BuildValue(
        "{sNsnsnsnsnsn}",
        "generations", gens,
        "permanent_size", permanent,
        "registry_size", registered,
        "registry_bytes", bytes,
        "table_slots", slots,
        "entry_capacity", capacity);
}

PyDoc_STRVAR(last_collection_doc,
"last_collection()\n--\n\n"
"What the last collection did, as a dict, or None before the first.");

static PyObject *
agc_last_collection(PyObject *module, PyObject *unused)
{
    agc_lastinfo *l = &AGC.last;
    if (!l->valid) {
        Py_RETURN_NONE;
    }
    PyObject *phases = Py_BuildValue(
        "{sLsLsLsLsL}",
        "shadow", (long long)l->phase_ns[AGC_PHASE_SHADOW],
        "subtract", (long long)l->phase_ns[AGC_PHASE_SUBTRACT],
        "reachability", (long long)l->phase_ns[AGC_PHASE_REACH],
        "finalizers", (long long)l->phase_ns[AGC_PHASE_FINALIZE],
        "clear", (long long)l->phase_ns[AGC_PHASE_CLEAR]);
    if (phases == NULL) {
        return NULL;
    }
    PyObject *cycles = agc_last_cycles();
    if (cycles == NULL) {
        Py_DECREF(phases);
        return NULL;
    }
    return Py_BuildValue(
        "{sisnsnsnsnsnsNsOsNsLsO}",
        "generation", l->generation,
        "examined", l->examined,
        "unreachable", l->unreachable,
        "collected", l->collected,
        "uncollectable", l->uncollectable,
        "resurrected", l->resurrected,
        "cycles", cycles,
        "cycles_truncated", l->cycles_truncated ? Py_True : Py_False,
        "phases_ns", phases,
        "total_ns", (long long)l->total_ns,
        "automatic", l->automatic ? Py_True : Py_False);
}

PyDoc_STRVAR(validate_doc,
"_validate()\n--\n\n"
"Check the registry's invariants; AssertionError naming the first\n"
"violation.");

static PyObject *
agc_validate(PyObject *module, PyObject *unused)
{
    char buf[256];
    agc_events_settle();
    if (agc_registry_validate(&agc_reg, 1, buf, sizeof(buf)) < 0) {
        PyErr_SetString(PyExc_AssertionError, buf);
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(collector_info_doc,
"_collector_info()\n--\n\n"
"{'young_lookup': bool, 'header_marks': bool, 'prefetched': bool,\n"
"'young_share': int or None, 'tag_filter': bool, 'batch_absent': int or\n"
"None, 'scratch_bytes': int, 'pending_runs': int, 'pending_idle': int}:\n"
"whether the last collection looked referents up through a young lookup\n"
"rather than the registry's table, whether its subtract and reachability\n"
"passes used header marks, whether its passes over the young set\n"
"prefetched ahead, the permille of young referents the last big\n"
"collection measured, whether its batched probes of the table read the\n"
"tag filter, the permille of batched referents the last big batched\n"
"collection found unregistered, the bytes of scratch arrays kept for\n"
"the next collection, and how many scheduled automatic collections ran\n"
"since import and how many of them found count0 at or below threshold0.");

static PyObject *
agc_collector_info_fn(PyObject *module, PyObject *unused)
{
    int young_lookup;
    int header_marks;
    int prefetched;
    int share;
    int tag_filter;
    int absent;
    size_t scratch;
    agc_collector_info(&young_lookup, &header_marks, &prefetched, &share,
                       &tag_filter, &absent, &scratch);
    PyObject *share_obj = share < 0 ? Py_NewRef(Py_None)
                                    : PyLong_FromLong(share);
    if (share_obj == NULL) {
        return NULL;
    }
    PyObject *absent_obj = absent < 0 ? Py_NewRef(Py_None)
                                      : PyLong_FromLong(absent);
    if (absent_obj == NULL) {
        Py_DECREF(share_obj);
        return NULL;
    }
    return Py_BuildValue("{sOsOsOsNsOsNsnsnsn}", "young_lookup",
                         young_lookup ? Py_True : Py_False, "header_marks",
                         header_marks ? Py_True : Py_False, "prefetched",
                         prefetched ? Py_True : Py_False, "young_share",
                         share_obj, "tag_filter",
                         tag_filter ? Py_True : Py_False, "batch_absent",
                         absent_obj, "scratch_bytes", (Py_ssize_t)scratch,
                         "pending_runs", AGC.pending_runs, "pending_idle",
                         AGC.pending_idle);
}

PyDoc_STRVAR(freelist_kinds_doc,
"_freelist_kinds()\n--\n\n"
"{kind number: type} of the free-list kinds of this version.");

static PyObject *
agc_freelist_kinds(PyObject *module, PyObject *unused)
{
    return agc_kinds_types();
}

PyDoc_STRVAR(interposed_doc,
"_interposed()\n--\n\n"
"{type name: demand} of the free-list types whose tp_dealloc is\n"
"interposed now.");

static PyObject *
agc_interposed(PyObject *module, PyObject *unused)
{
    agc_events_settle(); /* the demand of deaths waiting in it */
    return agc_kinds_interposed_dict();
}

PyDoc_STRVAR(death_queue_doc,
"_death_queue()\n--\n\n"
"(queued, capacity): the deaths waiting in the registry's death queue\n"
"now, without settling them (for tests).");

static PyObject *
agc_death_queue(PyObject *module, PyObject *unused)
{
    return Py_BuildValue("(ii)", agc_registry_queued(&agc_reg), AGC_DQ_CAP);
}

PyDoc_STRVAR(reinstall_hooks_doc,
"_reinstall_hooks()\n--\n\n"
"Re-wrap the object allocator if another hook dropped ours; True if\n"
"it did.");

static PyObject *
agc_reinstall_hooks(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(agc_hooks_reinstall_if_dropped());
}

PyDoc_STRVAR(debug_build_doc,
"_debug_build()\n--\n\n"
"True if built with ALTGC_DEBUG (assertions, validation).");

static PyObject *
agc_debug_build(PyObject *module, PyObject *unused)
{
#ifdef ALTGC_DEBUG
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

PyDoc_STRVAR(set_cycle_detail_limit_doc,
"_set_cycle_detail_limit(n, /)\n--\n\n"
"Record the cycles of collections finding at most n unreachable\nobjects.");

static PyObject *
agc_set_cycle_detail_limit(PyObject *module, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "_set_cycle_detail_limit() argument must be >= 0");
        return NULL;
    }
    AGC.cycle_detail_limit = n;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(trace_doc,
"_trace(objects, generation, collect, limit, /)\n--\n\n"
"A recorded analysis (collect false) or collection of `generation`\n"
"(None: the oldest holding one of `objects`, a tuple or None), as plain\n"
"data; altgc.trace() is the API.");

static PyObject *
agc_trace_fn(PyObject *module, PyObject *args)
{
    PyObject *objects, *garg, *carg;
    Py_ssize_t limit;
    int g = -1;
    if (!PyArg_ParseTuple(args, "OOOn:_trace", &objects, &garg, &carg,
                          &limit)) {
        return NULL;
    }
    if (objects != Py_None && !PyTuple_Check(objects)) {
        PyErr_Format(PyExc_TypeError,
                     "_trace() argument 'objects' must be a tuple or None, "
                     "not %.200s", Py_TYPE(objects)->tp_name);
        return NULL;
    }
    if (garg != Py_None && parse_generation(garg, "trace", 2, &g) < 0) {
        return NULL;
    }
    int collect = PyObject_IsTrue(carg);
    if (collect < 0) {
        return NULL;
    }
    if (limit < 0) {
        PyErr_Format(PyExc_ValueError,
                     "trace() argument 'limit' must be >= 0, not %zd", limit);
        return NULL;
    }
    return agc_trace(objects == Py_None ? NULL : objects, g, collect, limit);
}

static PyMethodDef core_methods[] = {
    {"track", agc_track, METH_O, track_doc},
    {"untrack", agc_untrack, METH_O, untrack_doc},
    {"is_tracked", agc_is_tracked, METH_O, is_tracked_doc},
    {"_builtin_frozen", agc_builtin_frozen, METH_O, builtin_frozen_doc},
    {"_builtin_frozen_objects", agc_builtin_frozen_objects, METH_NOARGS,
     builtin_frozen_objects_doc},
    {"_builtin_frozen_referrers", agc_builtin_frozen_referrers, METH_VARARGS,
     builtin_frozen_referrers_doc},
    {"_builtin_collecting", agc_builtin_collecting, METH_NOARGS,
     builtin_collecting_doc},
    {"_builtin_swap_callbacks", agc_builtin_swap_callbacks, METH_O,
     builtin_swap_callbacks_doc},
    {"get_objects", (PyCFunction)(void (*)(void))agc_get_objects,
     METH_VARARGS | METH_KEYWORDS, get_objects_doc},
    {"collect", (PyCFunction)(void (*)(void))agc_collect_fn,
     METH_VARARGS | METH_KEYWORDS, collect_doc},
    {"find_unreachable", (PyCFunction)(void (*)(void))agc_find_unreachable_fn,
     METH_VARARGS | METH_KEYWORDS, find_unreachable_doc},
    {"get_threshold", agc_get_threshold, METH_NOARGS, get_threshold_doc},
    {"set_threshold", (PyCFunction)(void (*)(void))agc_set_threshold,
     METH_VARARGS | METH_KEYWORDS, set_threshold_doc},
    {"get_count", agc_get_count, METH_NOARGS, get_count_doc},
    {"enable", agc_enable, METH_NOARGS, enable_doc},
    {"disable", agc_disable, METH_NOARGS, disable_doc},
    {"isenabled", agc_isenabled, METH_NOARGS, isenabled_doc},
    {"set_debug", agc_set_debug, METH_O, set_debug_doc},
    {"get_debug", agc_get_debug, METH_NOARGS, get_debug_doc},
    {"freeze", agc_freeze, METH_NOARGS, freeze_doc},
    {"unfreeze", agc_unfreeze, METH_NOARGS, unfreeze_doc},
    {"get_freeze_count", agc_get_freeze_count, METH_NOARGS,
     get_freeze_count_doc},
    {"get_referrers", agc_get_referrers_fn, METH_VARARGS, get_referrers_doc},
    {"get_referents", agc_get_referents_fn, METH_VARARGS, get_referents_doc},
    {"is_finalized", agc_is_finalized, METH_O, is_finalized_doc},
    {"get_stats", agc_get_stats, METH_NOARGS, get_stats_doc},
    {"stats", agc_stats, METH_NOARGS, stats_doc},
    {"last_collection", agc_last_collection, METH_NOARGS, last_collection_doc},
    {"_validate", agc_validate, METH_NOARGS, validate_doc},
    {"_debug_build", agc_debug_build, METH_NOARGS, debug_build_doc},
    {"_reinstall_hooks", agc_reinstall_hooks, METH_NOARGS,
     reinstall_hooks_doc},
    {"_interposed", agc_interposed, METH_NOARGS, interposed_doc},
    {"_death_queue", agc_death_queue, METH_NOARGS, death_queue_doc},
    {"_freelist_kinds", agc_freelist_kinds, METH_NOARGS, freelist_kinds_doc},
    {"_collector_info", agc_collector_info_fn, METH_NOARGS,
     collector_info_doc},
    {"_set_cycle_detail_limit", agc_set_cycle_detail_limit, METH_O,
     set_cycle_detail_limit_doc},
    {"_trace", agc_trace_fn, METH_VARARGS, trace_doc},
    {NULL, NULL, 0, NULL},
};

/* ---- module lifecycle ------------------------------------------------ */

/* One-time set-up of the process-wide collector.  0, or -1 with an
 * exception (the collector stays uninitialized and a later import may
 * retry). */
static int
collector_init(void)
{
    if (AGC.initialized) {
        return 0;
    }
    PyObject *garbage = PyList_New(0);
    PyObject *callbacks = PyList_New(0);
    if (garbage == NULL || callbacks == NULL) {
        Py_XDECREF(garbage);
        Py_XDECREF(callbacks);
        return -1;
    }
    agc_registry_init(&agc_reg);
    AGC.garbage = garbage;
    AGC.callbacks = callbacks;
    AGC.enabled = 1;
    /* The running interpreter's own defaults. */
    AGC.threshold[0] = AGC_DEFAULT_THRESHOLD0;
    AGC.threshold[1] = 10;
    AGC.threshold[2] = 10;
    AGC.cycle_detail_limit = 10000;
    agc_install_init();
    if (agc_hooks_install() < 0) {
        return -1;
    }
    AGC.initialized = 1;
    return 0;
}

static int
core_exec(PyObject *module)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_ImportError,
                        "altgc._core can only be imported in the main "
                        "interpreter: its collector and death hooks are "
                        "process-wide");
        return -1;
    }
#endif
    if (collector_init() < 0) {
        return -1;
    }
    module_state *st = get_state(module);
    st->garbage = Py_NewRef(AGC.garbage);
    st->callbacks = Py_NewRef(AGC.callbacks);
    /* One call a line: */
    /* clang-format off */
    if (PyModule_AddObjectRef(module, "garbage", AGC.garbage) < 0
        || PyModule_AddObjectRef(module, "callbacks", AGC.callbacks) < 0
        || PyModule_AddIntConstant(module, "DEBUG_STATS",
                                   AGC_DEBUG_STATS) < 0
        || PyModule_AddIntConstant(module, "DEBUG_COLLECTABLE",
                                   AGC_DEBUG_COLLECTABLE) < 0
        || PyModule_AddIntConstant(module, "DEBUG_UNCOLLECTABLE",
                                   AGC_DEBUG_UNCOLLECTABLE) < 0
        || PyModule_AddIntConstant(module, "DEBUG_SAVEALL",
                                   AGC_DEBUG_SAVEALL) < 0
        || PyModule_AddIntConstant(module, "DEBUG_LEAK",
                                   AGC_DEBUG_LEAK) < 0
        || PyModule_AddFunctions(module, agc_install_methods) < 0
        || PyModule_AddFunctions(module, agc_watch_methods) < 0
        || PyModule_AddFunctions(module, agc_heapindex_methods) < 0) {
        return -1;
    }
    /* clang-format on */
    return 0;
}

static int
core_traverse(PyObject *module, visitproc visit, void *arg)
{
    module_state *st = get_state(module);
    Py_VISIT(st->garbage);
    Py_VISIT(st->callbacks);
    return 0;
}

static int
core_clear(PyObject *module)
{
    module_state *st = get_state(module);
    Py_CLEAR(st->garbage);
    Py_CLEAR(st->callbacks);
    return 0;
}

static void
core_free(void *module)
{
    (void)core_clear((PyObject *)module);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL},
};

PyDoc_STRVAR(core_doc,
"altgc._core: the C core of altgc (registry, death hooks, collector).\n"
"Use the altgc package instead.");

/* One entry a line: */
/* clang-format off */
static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "altgc._core",
    .m_doc = core_doc,
    .m_size = sizeof(module_state),
    .m_methods = core_methods,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};
/* clang-format on */

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
