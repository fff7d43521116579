/*
 * hooks.c -- learning of every death of a registered object before its
 * memory can be reused (DESIGN §2, §3).
 *
 * One mechanism on every supported version (3.10-3.13):
 *
 * 1. A PEP 445 wrapper around the object-domain allocator.  Every GC
 *    object is released by PyObject_GC_Del -> PyObject_Free(op - presize),
 *    so the free hook maps the block back to a registered object (16 or 32
 *    bytes in, as the entry's flag says) and removes it before forwarding.
 *    realloc of a registered object's block (only tuples under
 *    construction are resized) removes it too.
 *
 * 2. tp_dealloc interposition for the built-in container types that keep
 *    dead objects on a free list instead of freeing them (list, dict,
 *    tuple, slice, frame, context, async-generator helpers).  Such an
 *    object never reaches PyObject_Free; its address comes back as a *new*
 *    object of the same type.  The interposed tp_dealloc reports the death
 *    first, then calls the original.  A type is interposed only while
 *    objects of that exact type are registered or watched (see "per
 *    free-list kind" below).
 *
 * Why not PyRefTracer (3.13+)?  3.13.0's eval loop frees objects without
 * sending DESTROY, and tracemalloc replaces the tracer; the two hooks above
 * see every death on every version.  Cost: with an empty registry the
 * free hook is one load and a branch and no deallocator is interposed;
 * otherwise an address-range test, the page and tag filters (inlined,
 * registry.h agc_registry_maybe; the tp_dealloc hooks skip the page
 * filter, agc_registry_maybe_obj), and only then a table probe (two for
 * the free hook).  Deaths the collector announces (agc_registry_expect) need
 * no probe.
 *
 * The allocator hook stays installed for the life of the process (an
 * extension module is never unloaded).  If another allocator hook
 * (tracemalloc) is installed later it wraps ours, which still sees every
 * free.
 */
#include "altgc.h"

#include "heapgraph.h"      /* watched objects (altgc.watch) */

static PyMemAllocatorEx orig_obj_alloc;
static int hooks_installed = 0;

static inline void
count_death(void)
{
    /* CPython decrements count0 when a tracked object is freed. */
    if (AGC.count[0] > 0) {
        AGC.count[0]--;
    }
}

/* A registered or watched object may be dying (op borrowed, refcount 0,
 * its memory still its own): forget it. */
static inline void
note_death(PyObject *op)
{
    if (agc_watch_live != 0) {
        agc_watch_note_death(op);
    }
    /* While the collector announces deaths (agc_registry_expect), most
     * deaths are the announced one: straight to the registry, which
     * checks that first and filters the others itself. */
    agc_registry *reg = &AGC.reg;
    if ((reg->expect != NULL || agc_registry_maybe_obj(reg, (uintptr_t)op))
        && agc_registry_discard(reg, op)) {
        count_death();
    }
}

/* A block is about to be freed or moved: if it held a registered object,
 * that object is dead now.  `block`: borrowed; nothing in it is read but,
 * for a removed free-list-kind entry, the object's type (registry.h). */
static AGC_ALWAYS_INLINE void
note_block(void *block)
{
    agc_registry *reg = &AGC.reg;
    if (agc_watch_live != 0 && block != NULL) {
        agc_watch_note_block(block);
    }
    if (reg->used == 0 || block == NULL) {
        return;
    }
    if (reg->expect != NULL) {
        /* see note_death */
        if (agc_registry_discard_block(reg, block)) {
            count_death();
        }
        return;
    }
    /* The object would start 16 or 32 bytes in; both addresses nearly
     * always lie in one 4 KiB page, which one page-filter test then
     * settles for both (most frees are of objects in pages that hold no
     * registered object: ints, strings, short-lived instances), leaving
     * the tag filter for each. */
    uintptr_t a = (uintptr_t)block;
    if (a + 32 < reg->lo_addr || a + 16 > reg->hi_addr) {
        return;
    }
    if ((((a + 16) ^ (a + 32)) >> 12) == 0) {
        if (!agc_pages_test(reg, a + 16)
            || (!agc_filter_test(reg, agc_tag_of((const void *)(a + 16)))
                && !agc_filter_test(reg,
                                    agc_tag_of((const void *)(a + 32))))) {
            return;
        }
    }
    else if (!agc_registry_maybe(reg, a + 16)
             && !agc_registry_maybe(reg, a + 32)) {
        return;
    }
    if (agc_registry_discard_block(reg, block)) {
        count_death();
    }
}

/* Install mode counts object allocations down to its next poll
 * (install.c); the budget is PY_SSIZE_T_MAX otherwise. */
static inline void
count_allocation(void)
{
    if (--AGC.inst.budget <= 0) {
        agc_install_budget_spent();
    }
}

static void *
hook_malloc(void *ctx, size_t size)
{
    count_allocation();
    return orig_obj_alloc.malloc(orig_obj_alloc.ctx, size);
}

static void *
hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    count_allocation();
    return orig_obj_alloc.calloc(orig_obj_alloc.ctx, nelem, elsize);
}

static void *
hook_realloc(void *ctx, void *ptr, size_t size)
{
    note_block(ptr);
    return orig_obj_alloc.realloc(orig_obj_alloc.ctx, ptr, size);
}

static void
hook_free(void *ctx, void *ptr)
{
    note_block(ptr);
    orig_obj_alloc.free(orig_obj_alloc.ctx, ptr);
}

/* ---- tp_dealloc interposition, per free-list kind ---------------------
 *
 * A kind's deallocator is interposed only while something needs it: its
 * demand (altgc.h) counts the registered entries and watched objects of
 * that kind.  With no registered list, the deaths of lists cost nothing;
 * install mode, which registers every container, keeps list, dict and
 * tuple interposed for as long as it is installed.
 *
 * Switching is a store to the static type's tp_dealloc under the GIL.
 * The interpreter reads tp_dealloc afresh at every deallocation
 * (_Py_Dealloc, subtype_dealloc's base deallocator, the trashcan's
 * deferred destruction), so each deallocation runs one version or the
 * other.  Switching in the middle of one is safe both ways:
 *  - off, from inside the hook (the last registered list dies): the hook
 *    has reported the death; its trashcan test below finds tp_dealloc no
 *    longer the hook and stands aside, and the original's own test now
 *    succeeds, so exactly one of them protects the deallocation;
 *  - on, from inside the original (a finalizer run by a dying list's items
 *    registers a list): the dying list is not registered (nothing with
 *    refcount 0 can be), and the original's trashcan calls balance
 *    whatever tp_dealloc says by then.
 * If another extension interposed over ours meanwhile (tp_dealloc is
 * neither ours nor the original), ours stays in its chain: switching off
 * then leaves it in place (it only reports deaths; the registry decides),
 * and it is never wrapped twice. */

typedef struct {
    PyTypeObject *type;
    destructor hook;
    destructor orig;      /* the deallocator we wrap */
    int in_chain;         /* our hook is in the type's tp_dealloc chain */
} dealloc_site;

static dealloc_site sites[AGC_NKINDS];
Py_ssize_t agc_dealloc_demand[AGC_NKINDS];

/* One interposed tp_dealloc per free-list kind.  `op`: the dying object,
 * borrowed (refcount 0).  The hook reports the death, then calls the
 * original deallocator. */
#define AGC_DEALLOC_HOOK(NAME, KIND)                                    \
    static void                                                         \
    hook_dealloc_##NAME(PyObject *op)                                   \
    {                                                                   \
        note_death(op);                                                 \
        sites[KIND].orig(op);                                           \
    }

#if AGC_DEALLOC_TRASHCAN
/* Until 3.13 list, dict and tuple protect deep structures with the
 * trashcan, but only when Py_TYPE(op)->tp_dealloc is their own
 * deallocator, which it no longer is while interposed: so for them the
 * hook provides it.  (From 3.14 _Py_Dealloc provides it for every GC
 * object, and these use the plain hook.)
 *
 * Shallow deallocations skip it: `hook_depth` counts the deallocations of
 * these hooks in progress (over all threads, so at least the current
 * thread's own nesting), and below TRASH_FREE_LEVELS the original runs
 * directly -- the common case, a container holding no container, costs
 * no thread-state lookup.  From that depth on the trashcan is used, keyed
 * on the hook's own address (a subclass instance reaches the hook from
 * subtype_dealloc, whose own trashcan applies instead), so a 10^6-deep
 * list needs at most TRASH_FREE_LEVELS more C frames than without altgc.
 * An object deferred by the trashcan must be untracked by the builtin gc
 * first; these three deallocators begin with the idempotent
 * PyObject_GC_UnTrack anyway, so untracking a moment earlier changes
 * nothing.  (Types whose deallocator starts with the unconditional
 * _PyObject_GC_UNTRACK, like slice, must not be untracked here: they use
 * the plain hook above.) */
#define TRASH_FREE_LEVELS 20
static int hook_depth = 0;

#define AGC_DEALLOC_HOOK_TRASHCAN(NAME, KIND)                           \
    static void hook_dealloc_##NAME(PyObject *op);                      \
    static void                                                         \
    hook_dealloc_##NAME(PyObject *op)                                   \
    {                                                                   \
        note_death(op);                                                 \
        if (hook_depth < TRASH_FREE_LEVELS) {                           \
            hook_depth++;                                               \
            sites[KIND].orig(op);                                       \
            hook_depth--;                                               \
            return;                                                     \
        }                                                               \
        PyObject_GC_UnTrack(op);                                        \
        Py_TRASHCAN_BEGIN(op, hook_dealloc_##NAME)                      \
        sites[KIND].orig(op);                                           \
        Py_TRASHCAN_END                                                 \
    }
#else
#  define AGC_DEALLOC_HOOK_TRASHCAN AGC_DEALLOC_HOOK
#endif

/* One hook per kind of compat.h's table: list, dict and tuple with the
 * trashcan where the version needs it, the others plain. */
#define AGC_HOOK_DEF_(KIND, TYPE, NAME)                                 \
    AGC_HOOK_DEF_##NAME(NAME, KIND)
#define AGC_HOOK_DEF_list AGC_DEALLOC_HOOK_TRASHCAN
#define AGC_HOOK_DEF_dict AGC_DEALLOC_HOOK_TRASHCAN
#define AGC_HOOK_DEF_tuple AGC_DEALLOC_HOOK_TRASHCAN
#define AGC_HOOK_DEF_slice AGC_DEALLOC_HOOK
#define AGC_HOOK_DEF_context AGC_DEALLOC_HOOK
#define AGC_HOOK_DEF_asend AGC_DEALLOC_HOOK
#define AGC_HOOK_DEF_wrapped AGC_DEALLOC_HOOK
#define AGC_HOOK_DEF_listiter AGC_DEALLOC_HOOK
#define AGC_HOOK_DEF_tupleiter AGC_DEALLOC_HOOK
#define AGC_HOOK_DEF_cfunction AGC_DEALLOC_HOOK
#define AGC_HOOK_DEF_cmethod AGC_DEALLOC_HOOK
#define AGC_HOOK_DEF_method AGC_DEALLOC_HOOK
AGC_FREELIST_KINDS(AGC_HOOK_DEF_)

/* _asyncio.FutureIter: one site per FutureIter type met (compat.h). */
AGC_DEALLOC_HOOK(futureiter0, AGC_KIND_FUTUREITER0 + 0)
AGC_DEALLOC_HOOK(futureiter1, AGC_KIND_FUTUREITER0 + 1)
AGC_DEALLOC_HOOK(futureiter2, AGC_KIND_FUTUREITER0 + 2)
AGC_DEALLOC_HOOK(futureiter3, AGC_KIND_FUTUREITER0 + 3)
static const destructor futureiter_hooks[AGC_FUTUREITER_SITES] = {
    hook_dealloc_futureiter0, hook_dealloc_futureiter1,
    hook_dealloc_futureiter2, hook_dealloc_futureiter3,
};
#define FUTUREITER_NAME "_asyncio.FutureIter"

static void
sites_init(void)
{
#define AGC_SITE_(KIND, TYPE, NAME)                                     \
    sites[KIND].type = &(TYPE);                                         \
    sites[KIND].hook = hook_dealloc_##NAME;
    AGC_FREELIST_KINDS(AGC_SITE_)
#undef AGC_SITE_
    for (int i = 0; i < AGC_FUTUREITER_SITES; i++) {
        sites[AGC_KIND_FUTUREITER0 + i].hook = futureiter_hooks[i];
    }
}

int
agc_heap_freelist_kind(PyTypeObject *tp)
{
    int free_site = -1;
    for (int i = 0; i < AGC_FUTUREITER_SITES; i++) {
        dealloc_site *site = &sites[AGC_KIND_FUTUREITER0 + i];
        if (site->type == tp) {
            return AGC_KIND_FUTUREITER0 + i;
        }
        if (free_site < 0 && site->type == NULL) {
            free_site = i;
        }
    }
    if (strcmp(tp->tp_name, FUTUREITER_NAME) != 0) {
        return -1;
    }
    if (free_site < 0) {
        return AGC_KIND_REFUSED;
    }
    /* A new FutureIter type: its site keeps the type (a strong reference,
     * so that the address is never reused by another type while the site
     * names it). */
    sites[AGC_KIND_FUTUREITER0 + free_site].type =
        (PyTypeObject *)Py_NewRef((PyObject *)tp);
    return AGC_KIND_FUTUREITER0 + free_site;
}

void
agc_hooks_set_interposed(int kind, int on)
{
    dealloc_site *site = &sites[kind];
    if (!hooks_installed) {
        return;       /* agc_hooks_install applies the demand */
    }
    if (on) {
        if (!site->in_chain) {
            site->orig = site->type->tp_dealloc;
            site->type->tp_dealloc = site->hook;
            site->in_chain = 1;
        }
    }
    else if (site->in_chain && site->type->tp_dealloc == site->hook) {
        site->type->tp_dealloc = site->orig;
        site->in_chain = 0;
    }
}

int
agc_hooks_interposed(int kind)
{
    return sites[kind].in_chain;
}

PyObject *
agc_hooks_interposed_dict(void)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (int k = 0; k < AGC_NKINDS; k++) {
        if (!sites[k].in_chain) {
            continue;
        }
        PyObject *v = PyLong_FromSsize_t(agc_dealloc_demand[k]);
        if (v == NULL || PyDict_SetItemString(d, sites[k].type->tp_name,
                                              v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

PyObject *
agc_hooks_freelist_types(void)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (int k = 0; k < AGC_NKINDS; k++) {
        /* sites_init named the table's types; FutureIter sites name a
         * type once one was met (agc_heap_freelist_kind). */
        PyTypeObject *tp = sites[k].type;
        if (tp == NULL) {
            continue;
        }
        PyObject *key = PyLong_FromLong(k);
        if (key == NULL || PyDict_SetItem(d, key, (PyObject *)tp) < 0) {
            Py_XDECREF(key);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(key);
    }
    return d;
}

int
agc_hooks_reinstall_if_dropped(void)
{
    PyMemAllocatorEx cur;
    if (!hooks_installed) {
        return 0;
    }
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &cur);
    if (cur.free == hook_free) {
        return 0;
    }
    /* Someone that wrapped ours earlier restored what it had found before
     * us (tracemalloc.stop() after altgc was imported while tracemalloc was
     * tracing): wrap what is there now. */
    PyMemAllocatorEx mine = {
        NULL, hook_malloc, hook_calloc, hook_realloc, hook_free
    };
    orig_obj_alloc = cur;
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &mine);
    return 1;
}

int
agc_hooks_install(void)
{
    if (hooks_installed) {
        return 0;
    }
    PyMemAllocatorEx mine = {
        NULL, hook_malloc, hook_calloc, hook_realloc, hook_free
    };
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &orig_obj_alloc);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &mine);
    sites_init();
    hooks_installed = 1;
    for (int k = 0; k < AGC_NKINDS; k++) {
        if (agc_dealloc_demand[k] > 0) {
            agc_hooks_set_interposed(k, 1);
        }
    }
    return 0;
}
