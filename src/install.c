/*
 * install.c -- install mode: altgc as the process's cycle collector.
 *
 * How altgc learns of new containers (one mechanism on 3.11-3.15)
 * ---------------------------------------------------------------
 * CPython has no hook on "an object was tracked".  What every supported
 * version offers (docs/DESIGN.md, "Install mode") is the builtin gc's own
 * generation lists and gc.freeze(), an O(1) splice of generations 0-2
 * into the permanent generation, which the builtin gc never examines.
 * While installed:
 *
 *   - the builtin gc examines nothing of its own: its automatic
 *     collections start altgc's (below);
 *   - every new container lands, as always, on the builtin gc's
 *     generation-0 list;
 *   - *adoption* (agc_install_sync) registers everything on the builtin
 *     gc's generations 0-2 with altgc -- walking those lists in place
 *     (gclists.h: no allocation, no reference taken) -- then calls
 *     gc.freeze(): afterwards those lists hold exactly the containers
 *     created since, so an adoption costs what was created since the
 *     previous one, not the heap;
 *   - deaths of adopted objects reach the death hooks like any registered
 *     object's.
 *
 * 3.13's PyRefTracer was not chosen: it exists on one version only, misses
 * the eval loop's deallocations on 3.13.0, and tracemalloc.start()
 * replaces it.
 *
 * When to adopt and collect: at the builtin gc's own trigger
 * ----------------------------------------------------------------
 * The builtin gc's count0 (container allocations minus GC object
 * deallocations, while above 0, since its last collection or freeze)
 * stays the program's count of everything adopted: an adoption's
 * gc.freeze() and the builtin gc's own empty collection zero it, and
 * install mode writes it back (sync_impl; at the collection's "stop",
 * agc_inst.carry); altgc's collections zero it with their own count0
 * (count0_reset).  An adopted object's death is the builtin count's
 * alone (registry.h, AGC_GONE_ADOPTED), as its allocation was, so it
 * lowers the count once, and not at all when it goes to a free list, as
 * in CPython.  altgc's count0 holds only what track() registered; the
 * program's count0 is the sum (count0_outside).  The builtin gc already
 * watches that count at every container allocation (_PyObject_GC_Link)
 * and starts its automatic collection where the version starts it: 3.11
 * inside the allocation that passes threshold0, so that a single C call
 * building 10^5 containers (json.loads) is collected ~300 times while it
 * runs; 3.12+ at the eval breaker of the thread that allocated.  altgc
 * collects at exactly those points:
 *
 *   - while installed the builtin gc stays enabled, its threshold0 armed
 *     at threshold0 - altgc's count0 after every adoption and re-arm
 *     (agc_gclists_arm_trigger; 0, "never", while altgc's automatic
 *     collection is off) and its older generations never due (INT_MAX);
 *   - the callbacks list it calls is swapped for one holding only
 *     builtin_trigger_fn: at the "start" of the collection its trigger
 *     began, the callback adopts (so the builtin gc's collection then finds
 *     its lists empty and examines nothing) and runs altgc's automatic
 *     collection, collect_generations, if count0 passed threshold0; at the
 *     start of any other builtin collection (a collect() bound before
 *     install) it runs altgc's collection of that generation instead;
 *   - the module's gc.callbacks, which altgc's collections call, is
 *     untouched: only the list the interpreter state holds is swapped.
 *
 * Nothing counts allocations for this, so the allocator hook (hooks.c)
 * passes allocations straight to the allocator it wraps.  Registrations
 * raise altgc's count0 alone: track() schedules altgc's own pending
 * collection (agc_maybe_schedule).  C code's PyGC_Disable() stops the
 * trigger, and with it altgc's automatic collections, as it stops the
 * builtin gc's.
 *
 * Queries that must see every container (collect, get_objects, get_count,
 * find_unreachable, get_referrers, freeze, is_tracked) call
 * agc_install_sync() first.
 */
#include "install.h"

agc_install_state agc_inst;

static void after_collect(int generation);

/* AGC.mode.count0_outside: while installed, generation 0's count is
 * altgc's count0 (what track() registered, less those deaths) plus the
 * builtin gc's (the containers created since the last adoption and the
 * adopted ones freed: CPython counts both, and adopted deaths are not
 * altgc's, registry.h AGC_ENTRY_ADOPTED).  Never fails. */
static Py_ssize_t
count0_outside(void)
{
    return agc_inst.active ? agc_gclists_count0() : 0;
}

/* AGC.mode.count0_reset: altgc zeroes its count0 (a collection starts,
 * freeze()); so does the builtin's part.  Never fails. */
static void
count0_reset(void)
{
    if (agc_inst.active) {
        agc_gclists_set_count0(0);
    }
}

/* Calls a builtin gc function that takes no argument and returns None.
 * 0, or -1 with an exception.  `fn`: borrowed.  The gc module's own
 * functions (METH_NOARGS builtins) are called through their C function,
 * without the call protocol's check of the C stack: the trigger adopts
 * inside the builtin gc's collection, which starts wherever an allocation
 * crossed the threshold, the deepest frame of a recursion included, and
 * gc.freeze() itself recurses nowhere.  A RecursionError there would leave
 * that adoption's objects registered but not frozen.  Anything else (a
 * replacement put in the gc module before altgc was imported) is called
 * as Python calls it. */
static int
call_builtin(PyObject *fn)
{
    PyObject *r;
    if (PyCFunction_Check(fn)
        && (PyCFunction_GET_FLAGS(fn)
            & (METH_VARARGS | METH_KEYWORDS | METH_NOARGS | METH_O
               | METH_FASTCALL | METH_METHOD))
               == METH_NOARGS) {
        r = PyCFunction_GET_FUNCTION(fn)(PyCFunction_GET_SELF(fn), NULL);
    }
    else {
        r = PyObject_CallNoArgs(fn);
    }
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Adoption registers objects a batch at a time (agc_registry_add_batch:
 * the table's reads for a batch are prefetched first, so the random reads
 * of a large table overlap instead of following one another). */
#define ADOPT_BATCH AGC_ADD_BATCH

typedef struct {
    PyObject *ops[ADOPT_BATCH];
    int n;
    Py_ssize_t added;
    int failed;
} adopt_ctx;

/* Registers the batch (borrowed objects) as adopted.  An object of a
 * FutureIter type beyond those altgc can interpose (compat.h) is refused
 * and stays with the builtin gc's frozen objects.  Sets c->failed on
 * memory error. */
static void
adopt_flush(adopt_ctx *c)
{
    if (!c->failed && c->n > 0) {
        Py_ssize_t rc = agc_registry_add_batch(&agc_reg, c->ops, c->n,
                                               AGC_ENTRY_ADOPTED);
        if (rc < 0) {
            c->failed = 1;
        }
        else {
            c->added += rc;
        }
    }
    c->n = 0;
}

/* The whole heap's objects, gathered by one walk of the lists before any
 * is registered (adopt_pending's bulk case). */
typedef struct {
    PyObject **ops;
    Py_ssize_t n, cap;
    int failed;
} gathered;

/* agc_gclists_visit's visitor for the bulk case: appends op (borrowed) to
 * the gathered array; 0 (stop) when the array cannot grow. */
static int
gather_visit(PyObject *op, void *arg)
{
    gathered *g = arg;
    if (g->n == g->cap) {
        Py_ssize_t cap = g->cap ? g->cap * 2 : 4096;
        PyObject **ops = PyMem_RawRealloc(g->ops, (size_t)cap * sizeof(*ops));
        if (ops == NULL) {
            g->failed = 1;
            return 0;
        }
        g->ops = ops;
        g->cap = cap;
    }
    g->ops[g->n++] = op;
    return 1;
}

/* agc_gclists_visit's visitor: 1 to go on, 0 to stop.  The objects stay
 * alive until the walk ends (they are on the builtin gc's lists, and
 * registering them runs no Python code and allocates no Python object). */
static int
adopt_visit(PyObject *op, void *arg)
{
    adopt_ctx *c = arg;
    c->ops[c->n++] = op;
    if (c->n == ADOPT_BATCH) {
        adopt_flush(c);
    }
    return !c->failed;
}

/* The bulk case of adopt_pending: gathers the lists' objects by one walk,
 * sizes the registry once for them, then registers them into `c`.  0, or
 * -1 (nothing registered, no exception) when the gathered array could not
 * grow. */
static int
adopt_gathered(adopt_ctx *c)
{
    gathered g = {NULL, 0, 0, 0};
    agc_gclists_visit(gather_visit, &g);
    if (g.failed) {
        PyMem_RawFree(g.ops);
        return -1;
    }
    (void)agc_registry_reserve(&agc_reg, g.n);
    for (Py_ssize_t i = 0; i < g.n && !c->failed; i += ADOPT_BATCH) {
        c->n = g.n - i < ADOPT_BATCH ? (int)(g.n - i) : ADOPT_BATCH;
        memcpy(c->ops, g.ops + i, (size_t)c->n * sizeof(*c->ops));
        adopt_flush(c);
    }
    PyMem_RawFree(g.ops);
    return 0;
}

/* Adopts the builtin gc's generations 0-2.  Returns the number of objects
 * newly registered, or -1 with an exception (what was adopted stays
 * registered; the builtin lists are then not frozen, and a later
 * adoption registers the rest).  `bulk`: many objects are expected (the
 * whole heap, at install): they are gathered first and the registry is
 * sized once for them, instead of growing ~20 times -- from one walk of
 * the lists: a count that took a walk of its own cost install() ~10% on
 * 3.11 at 10^6 objects.  Without memory for the gathered array, the
 * objects are registered as they are walked. */
static Py_ssize_t
adopt_pending(int bulk)
{
    adopt_ctx c;
    c.n = 0;
    c.added = 0;
    c.failed = 0;
    if (!bulk || adopt_gathered(&c) < 0) {
        agc_gclists_visit(adopt_visit, &c);
        adopt_flush(&c);
    }
    if (c.failed) {
        PyErr_NoMemory();
        return -1;
    }
    return c.added;
}

static int sync_impl(int bulk);

/* For the queries (get_count, get_objects, ...): adopts, then schedules
 * altgc's automatic collection if the adoption moved count0 past
 * threshold0.  The builtin gc's trigger, armed now for the rest, needs two
 * more container allocations to fire, and a program that calls a query
 * between each pair (CPython's test_gc.test_get_count_does_not_prevent_
 * collection) would otherwise never collect; the pending call
 * (agc_maybe_schedule) runs at the next eval breaker. */
int
agc_install_sync(void)
{
    if (sync_impl(0) < 0) {
        return -1;
    }
    agc_maybe_schedule();
    return 0;
}

/* AGC.mode.before, and the trigger's and after_collect's adoption: a
 * collection follows at once or has just run, so nothing is scheduled (a
 * pending call would find count0 reset). */
static int
sync_no_schedule(void)
{
    return sync_impl(0);
}

static int
sync_impl(int bulk)
{
    if (!agc_inst.active) {
        return 0;
    }
    int64_t t0 = agc_now_ns();
    /* gc.freeze() zeroes the builtin count, which stays the program's
     * count of what the adopted containers were (count0_outside). */
    Py_ssize_t b = agc_gclists_count0();
    Py_ssize_t added = adopt_pending(bulk);
    if (added < 0 || call_builtin(agc_inst.b_freeze) < 0) {
        return -1;
    }
    agc_gclists_set_count0(b);
    agc_inst.adopted += added;
    agc_inst.adoptions++;
    agc_install_rearm();
    agc_inst.adopt_ns += agc_now_ns() - t0;
    return 0;
}

/* Arms the builtin gc's trigger to fire when the program's count0
 * (altgc's plus the builtin's, which the builtin gc compares with its
 * threshold0) passes altgc's threshold0, or never while altgc's automatic
 * collection is off.  When altgc's count0 alone has passed it already, the
 * trigger fires at the second container allocation from now; callers that
 * must not wait for that schedule a collection themselves
 * (agc_install_sync, install). */
void
agc_install_rearm(void)
{
    if (!agc_inst.active) {
        return;
    }
    int threshold0 = 0;
    if (AGC.enabled && AGC.threshold[0] > 0) {
        agc_events_settle();
        /* the builtin gc adds its own count before comparing */
        Py_ssize_t left = AGC.threshold[0] - agc_events.count0;
        /* (0 would mean "never" to the builtin gc) */
        threshold0 = left < 1 ? 1 : left > INT_MAX ? INT_MAX : (int)left;
    }
    agc_gclists_arm_trigger(threshold0);
}

int
agc_install_builtin_collecting(void)
{
    return agc_gclists_collecting() && !agc_inst.routing;
}

/* AGC.mode.after: after a collection of `generation` while installed, a
 * full one also empties the interpreter's free lists, as the builtin gc's
 * full collections do.  Errors go to sys.unraisablehook. */
static void
after_collect(int generation)
{
    if (!agc_inst.active || generation != AGC_NUM_GENERATIONS - 1
        || agc_inst.in_builtin_collect) {
        return;
    }
    /* No public API empties the free lists; the builtin gc's full
     * collection does, and after an adoption its lists are empty, so it
     * examines nothing. */
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    agc_inst.in_builtin_collect = 1;
    PyObject *r = NULL;
    /* Nor does it call the builtin gc's callbacks: altgc's collection just
     * called them (AGC.mode.callbacks), and this one only empties lists. */
    if (sync_no_schedule() == 0) {
        /* (an empty list made at install: one made now would be a
         * container allocated and freed after the collection's count) */
        PyObject *cbs = agc_gclists_swap_callbacks(agc_inst.no_callbacks);
        r = PyObject_CallNoArgs(agc_inst.b_collect);
        Py_DECREF(agc_gclists_swap_callbacks(cbs)); /* no_callbacks */
        Py_DECREF(cbs);
    }
    agc_inst.in_builtin_collect = 0;
    if (r == NULL) {
        PyErr_WriteUnraisable(NULL);
    }
    Py_XDECREF(r);
    PyErr_Restore(et, ev, tb);
}

/* A collection of the builtin gc of `generation` is starting and not for
 * altgc's own reasons: someone called the builtin collect() directly (a
 * collect bound before install).  Runs altgc's collection of that
 * generation instead; agc_collect adopts first, so the builtin one then
 * finds nothing, and empties the free lists after a full collection
 * (AGC.mode); during a collection it does nothing.  0, or -1 with an
 * exception. */
static int
route_builtin_collect(int generation)
{
    if (generation < 0 || generation >= AGC_NUM_GENERATIONS) {
        generation = AGC_NUM_GENERATIONS - 1;
    }
    if (!agc_inst.active || agc_inst.in_builtin_collect) {
        return 0;
    }
    int outer = agc_inst.routing;
    agc_inst.routing = 1;
    Py_ssize_t n = agc_collect(generation);
    agc_inst.routing = outer;
    return n < 0 ? -1 : 0;
}

/* The builtin gc's callback while installed (the only entry of the
 * callbacks list it calls then).  At the "start" of the collection its
 * trigger began (generation 0, due: 3.11 inside a container allocation,
 * 3.12+ at the eval breaker): adopts what the builtin gc holds, so that its
 * collection finds nothing, and runs altgc's automatic collection if
 * count0, the adopted included, passed threshold0; then re-arms.  The
 * time this takes, less the adoption's and the collection's, is
 * agc_inst.poll_ns.  At the start of any other builtin collection (a
 * collect() bound before install): altgc's collection of that generation
 * (route_builtin_collect).  args: (phase, info), borrowed.  None, or NULL
 * with an exception (which the builtin gc reports as unraisable). */
static PyObject *
builtin_trigger_fn(PyObject *self, PyObject *args)
{
    PyObject *phase, *info;
    if (!PyArg_ParseTuple(args, "UO!:_builtin_trigger", &phase, &PyDict_Type,
                          &info)) {
        return NULL;
    }
    if (!agc_inst.active || agc_inst.in_builtin_collect || agc_collecting()) {
        Py_RETURN_NONE;
    }
    if (PyUnicode_CompareWithASCIIString(phase, "start") != 0) {
        /* "stop": the builtin gc zeroed its count after the "start"
         * callbacks, dropping what altgc's collection counted in between
         * (or the adopted containers' count, if it did not collect). */
        if (agc_inst.carry >= 0) {
            agc_gclists_set_count0(agc_inst.carry);
            agc_inst.carry = -1;
        }
        Py_RETURN_NONE;
    }
    PyObject *g = PyDict_GetItemString(info, "generation"); /* borrowed */
    long generation = g != NULL && PyLong_Check(g) ? PyLong_AsLong(g) : -1;
    if (generation == -1 && PyErr_Occurred()) {
        return NULL;
    }
    /* The trigger only ever starts generation 0 (agc_install_rearm: the older
     * ones are never due), and only once it is due. */
    if (generation != 0 || !agc_gclists_gen0_due()) {
        if (route_builtin_collect((int)generation) < 0) {
            return NULL;
        }
        agc_inst.carry = agc_gclists_count0();
        Py_RETURN_NONE;
    }
    int64_t t0 = agc_now_ns();
    int64_t adopt0 = agc_inst.adopt_ns;
    agc_inst.polls++;
    int rc = sync_no_schedule();
    if (rc == 0 && AGC.enabled && AGC.threshold[0] > 0
        && agc_gen_count(0) > AGC.threshold[0]) {
        int64_t t1 = agc_now_ns();
        int outer = agc_inst.routing;
        agc_inst.routing = 1; /* inside the builtin gc's collection */
        agc_inst.triggers++;
        agc_collect_generations();
        agc_inst.routing = outer;
        t0 += agc_now_ns() - t1;
    }
    agc_install_rearm();
    if (rc == 0) {
        /* (Not after a failed adoption: the builtin gc then collects
         * generation 0 itself and zeroes its count, as it would without
         * altgc; restoring a count above the threshold would start the
         * trigger again at the next eval breaker, and the next, for as
         * long as the adoption keeps failing.) */
        agc_inst.carry = agc_gclists_count0();
    }
    agc_inst.poll_ns += agc_now_ns() - t0 - (agc_inst.adopt_ns - adopt0);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef trigger_def = {
    "_builtin_trigger", builtin_trigger_fn, METH_VARARGS,
    PyDoc_STR("_builtin_trigger(phase, info, /)\n--\n\n"
              "altgc's callback in the builtin gc while installed.")};

/* Clears the builtin functions and the builtin gc's callbacks list
 * (strong references). */
static void
clear_builtins(void)
{
    Py_CLEAR(agc_inst.b_freeze);
    Py_CLEAR(agc_inst.b_unfreeze);
    Py_CLEAR(agc_inst.b_collect);
    Py_CLEAR(agc_inst.no_callbacks);
    Py_CLEAR(agc_inst.trigger_callbacks);
    Py_CLEAR(agc_inst.saved_callbacks);
    Py_CLEAR(AGC.mode.callbacks);
}

/* Confirms that gclists.c reads the interpreter's gc state as it is laid
 * out: the thresholds and enabled flag it reads must be those the builtin
 * gc module `bgc` (borrowed) reports.  0, or -1 with an exception. */
static int
check_builtin_state(PyObject *bgc)
{
    PyObject *t = PyObject_CallMethod(bgc, "get_threshold", NULL);
    if (t == NULL) {
        return -1;
    }
    int threshold[3];
    int ok = PyTuple_Check(t) && PyTuple_GET_SIZE(t) == 3;
    for (int g = 0; ok && g < 3; g++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(t, g));
        ok = !(v == -1 && PyErr_Occurred()) && v >= INT_MIN && v <= INT_MAX;
        threshold[g] = (int)v;
    }
    Py_DECREF(t);
    if (!ok) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError,
                            "gc.get_threshold() did not return 3 ints");
        }
        return -1;
    }
    return agc_gclists_check(threshold, PyGC_IsEnabled());
}

/* _install(builtin_gc, adopt): builtin_gc is any object with the builtin
 * gc module's own get_threshold, get_count, freeze, unfreeze and collect
 * (altgc._install.builtin_api: while installed the module's attributes
 * are altgc's).  The builtin gc's automatic collection must
 * already be off (the Python layer saves its settings, and restores them
 * at uninstall); install turns it on again, as altgc's trigger.
 * callbacks (optional): the builtin gc's callbacks list, whose entries
 * altgc's collections call too while installed: libraries append to it
 * before install().
 * Returns True if it installed, False if already installed; NULL with an
 * exception on error (then nothing is installed). */
PyDoc_STRVAR(install_doc,
"_install(builtin_gc, adopt, callbacks=None, /)\n--\n\n"
"Make altgc the process's cycle collector; True if it installed, False\n"
"if it was installed already.");

static PyObject *
install_fn(PyObject *module, PyObject *args)
{
    PyObject *bgc, *callbacks = Py_None;
    int adopt;
    if (!PyArg_ParseTuple(args, "Op|O:_install", &bgc, &adopt, &callbacks)) {
        return NULL;
    }
    if (callbacks != Py_None && !PyList_Check(callbacks)) {
        PyErr_Format(PyExc_TypeError,
                     "_install() argument 'callbacks' must be list or None, "
                     "not %.100s",
                     Py_TYPE(callbacks)->tp_name);
        return NULL;
    }
    if (agc_inst.active) {
        Py_RETURN_FALSE;
    }
    if (agc_collecting()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "install() cannot run during a collection");
        return NULL;
    }
    if (check_builtin_state(bgc) < 0) {
        return NULL;
    }
    agc_inst.b_freeze = PyObject_GetAttrString(bgc, "freeze");
    agc_inst.b_unfreeze = PyObject_GetAttrString(bgc, "unfreeze");
    agc_inst.b_collect = PyObject_GetAttrString(bgc, "collect");
    agc_inst.no_callbacks = PyList_New(0);
    PyObject *trigger = PyCFunction_New(&trigger_def, NULL);
    agc_inst.trigger_callbacks = trigger == NULL ? NULL : PyList_New(1);
    if (agc_inst.trigger_callbacks != NULL) {
        PyList_SET_ITEM(agc_inst.trigger_callbacks, 0, trigger); /* stolen */
    }
    else {
        Py_XDECREF(trigger);
    }
    if (agc_inst.trigger_callbacks == NULL) {
        clear_builtins();
        return NULL;
    }
    if (agc_inst.b_freeze == NULL || agc_inst.b_unfreeze == NULL
        || agc_inst.b_collect == NULL || agc_inst.no_callbacks == NULL) {
        clear_builtins();
        return NULL;
    }
    if (callbacks != Py_None) {
        AGC.mode.callbacks = Py_NewRef(callbacks);
    }
    /* What the program froze stays frozen through uninstall(), whose
     * gc.unfreeze() hands back what install mode froze. */
    agc_gclists_aside_permanent(AGC_ASIDE_FROZEN);
    agc_inst.active = 1;
    agc_inst.carry = -1;
    agc_inst.froze = 0;
    if (adopt) {
        /* The heap that exists now is old: it joins generation 2 and
         * counts as long-lived, as if it had survived collections. */
        Py_ssize_t before = agc_inst.adopted;
        if (sync_impl(1) < 0) {
            agc_inst.active = 0;
            (void)agc_registry_discard_flagged(&agc_reg, AGC_ENTRY_ADOPTED);
            agc_gclists_aside_back(AGC_ASIDE_FROZEN, 1);
            clear_builtins();
            return NULL;
        }
        agc_registry_promote(&agc_reg, 0, agc_registry_end(&agc_reg));
        agc_registry_promote(&agc_reg, 1, agc_registry_end(&agc_reg));
        AGC.long_lived_total += agc_inst.adopted - before;
    }
    else {
        /* What exists now is nobody's while installed (frozen, then set
         * aside: uninstall() thaws it unless altgc's freeze() ran); the
         * builtin count, which freeze() zeroes, stays the program's. */
        Py_ssize_t b = agc_gclists_count0();
        if (call_builtin(agc_inst.b_freeze) < 0) {
            agc_inst.active = 0;
            agc_gclists_aside_back(AGC_ASIDE_FROZEN, 1);
            clear_builtins();
            return NULL;
        }
        agc_gclists_aside_permanent(AGC_ASIDE_UNADOPTED);
        agc_gclists_set_count0(b);
    }
    /* From here nothing fails.  The Python layer disabled the builtin gc;
     * it runs again as the trigger, and uninstall gives it back altgc's
     * flag and thresholds. */
    agc_inst.saved_callbacks = agc_gclists_swap_callbacks(
        agc_inst.trigger_callbacks);
    agc_install_rearm();
    (void)PyGC_Enable();
    agc_maybe_schedule(); /* count0 may have passed threshold0 already */
    Py_RETURN_TRUE;
}

void
agc_install_note_freeze(int how)
{
    if (!agc_inst.active) {
        return;
    }
    if (how > 0) {
        agc_inst.froze = 1;
    }
    else {
        agc_gclists_aside_back(AGC_ASIDE_FROZEN, 0);
        agc_gclists_aside_back(AGC_ASIDE_UNADOPTED, 0);
    }
}

/* uninstall(), after its gc.unfreeze(): what altgc's freeze() froze goes
 * to the builtin gc's permanent generation, where the builtin freeze()
 * would have put it.  Each object of the registry's permanent partition
 * that the interpreter tracks is set aside (AGC_ASIDE_FROZEN), which
 * uninstall() then splices back; one being deallocated is left where it
 * is (from 3.14 the trashcan may chain it through its header).  Reads
 * only registered, so live, objects (borrowed).  Never fails. */
static void
freeze_in_builtin(void)
{
    agc_registry *reg = &agc_reg;
    agc_events_settle(); /* no dead entry is read (registry.h, I8) */
    Py_ssize_t end = agc_registry_gen_end(reg, AGC_PERMANENT);
    for (Py_ssize_t i = agc_registry_gen_start(reg, AGC_PERMANENT); i < end;
         i++) {
        uintptr_t e = agc_registry_entry(reg, i);
        PyObject *op = AGC_ENTRY_OBJ(e);
        if (e != 0 && !agc_is_dying(op) && PyObject_GC_IsTracked(op)) {
            agc_gclists_set_aside(op, AGC_ASIDE_FROZEN);
        }
    }
}

/* _uninstall(keep_registry): hands every adopted object back to the builtin
 * gc (gc.unfreeze()) and, unless keep_registry, unregisters them.  True if
 * it uninstalled, False if not installed. */
PyDoc_STRVAR(uninstall_doc,
"_uninstall(keep_registry=False, /)\n--\n\n"
"Hand the adopted objects back to the builtin gc; True if it\n"
"uninstalled, False if not installed.");

static PyObject *
uninstall_fn(PyObject *module, PyObject *args)
{
    int keep = 0;
    if (!PyArg_ParseTuple(args, "|p:_uninstall", &keep)) {
        return NULL;
    }
    if (!agc_inst.active) {
        Py_RETURN_FALSE;
    }
    if (agc_collecting()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "uninstall() cannot run during a collection");
        return NULL;
    }
    agc_inst.active = 0;
    /* The builtin gc's own callbacks list back, and its automatic
     * collections off until the Python layer gives it altgc's enabled
     * flag and thresholds, which it does next: its thresholds are still
     * the trigger's. */
    (void)PyGC_Disable();
    Py_DECREF(agc_gclists_swap_callbacks(agc_inst.saved_callbacks));
    int rc = call_builtin(agc_inst.b_unfreeze);
    if (agc_inst.froze) {
        freeze_in_builtin();
    }
    /* Frozen before install(), unless unfrozen since: still are.  The
     * heap install(adopt=False) left to nobody is thawed, unless altgc's
     * freeze() ran (gclists.h, AGC_ASIDE_*). */
    agc_gclists_aside_back(AGC_ASIDE_UNADOPTED, agc_inst.froze);
    agc_gclists_aside_back(AGC_ASIDE_FROZEN, 1);
    clear_builtins();
    if (!keep) {
        Py_ssize_t gone = agc_registry_discard_flagged(&agc_reg,
                                                       AGC_ENTRY_ADOPTED);
        AGC.long_lived_total -= gone < AGC.long_lived_total
                                    ? gone
                                    : AGC.long_lived_total;
        agc_registry_maybe_shrink(&agc_reg);
    }
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(install_info_doc,
"_install_info()\n--\n\n"
"Install mode's figures: installed, adopted, adoptions, polls,\n"
"triggers, adopt_ns, poll_ns.");

static PyObject *
install_info_fn(PyObject *module, PyObject *unused)
{
    return Py_BuildValue(
        "{s:O,s:n,s:n,s:n,s:n,s:L,s:L}",
        "installed", agc_inst.active ? Py_True : Py_False,
        "adopted", agc_inst.adopted,
        "adoptions", agc_inst.adoptions,
        "polls", agc_inst.polls,
        "triggers", agc_inst.triggers,
        "adopt_ns", (long long)agc_inst.adopt_ns,
        "poll_ns", (long long)agc_inst.poll_ns);
}

PyMethodDef agc_install_methods[] = {
    {"_install", install_fn, METH_VARARGS, install_doc},
    {"_uninstall", uninstall_fn, METH_VARARGS, uninstall_doc},
    {"_install_info", install_info_fn, METH_NOARGS, install_info_doc},
    {NULL, NULL, 0, NULL},
};

void
agc_install_init(void)
{
    AGC.mode.before = sync_no_schedule;
    AGC.mode.count0_outside = count0_outside;
    AGC.mode.count0_reset = count0_reset;
    AGC.mode.after = after_collect;
}
