/*
 * hooks.c -- the death hooks: learning of every death of a registered
 * object before its memory can be reused (docs/DESIGN.md, "Learning of
 * deaths"; the guarantee is part of "The registry contract").
 *
 * The hooks only learn; every event goes to the receiver (events.h),
 * which decides what it means.  One mechanism on every supported version
 * (3.11-3.15):
 *
 * 1. A PEP 445 wrapper around the object-domain allocator's free and
 *    realloc (allocations go straight to the wrapped allocator).  Every GC
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
 * see every death on every version (docs/DESIGN.md, "Why not
 * PyRefTracer").  Cost: with an empty registry the
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
#include "hooks.h"

#include "events.h"
#include "kinds.h"

static PyMemAllocatorEx orig_obj_alloc;
static int hooks_installed = 0;

static void *
hook_realloc(void *ctx, void *ptr, size_t size)
{
    agc_event_move(ptr);
    return orig_obj_alloc.realloc(orig_obj_alloc.ctx, ptr, size);
}

static void
hook_free(void *ctx, void *ptr)
{
    agc_event_free(ptr);
    orig_obj_alloc.free(orig_obj_alloc.ctx, ptr);
}

/* ---- tp_dealloc interposition, per free-list kind ---------------------
 *
 * A kind's deallocator is interposed only while something needs it: its
 * demand (kinds.h) counts the registered entries and watched objects of
 * that kind.  With no registered list, the deaths of lists cost nothing;
 * install mode, which registers every container, keeps list, dict and
 * tuple interposed for as long as it is installed.  The switch itself
 * (kinds.c) is a store to tp_dealloc, and switching in the middle of a
 * deallocation is safe both ways:
 *  - off, from inside the hook (the last registered list dies): the hook
 *    has reported the death; its trashcan test below finds tp_dealloc no
 *    longer the hook and stands aside, and the original's own test now
 *    succeeds, so exactly one of them protects the deallocation;
 *  - on, from inside the original (a finalizer run by a dying list's items
 *    registers a list): the dying list is not registered (nothing with
 *    refcount 0 can be), and the original's trashcan calls balance
 *    whatever tp_dealloc says by then. */

/* One interposed tp_dealloc per free-list kind.  `op`: the dying object,
 * borrowed (refcount 0).  The hook reports the death, then calls the
 * original deallocator. */
#define AGC_DEALLOC_HOOK(NAME, KIND)                                          \
    static void hook_dealloc_##NAME(PyObject *op)                             \
    {                                                                         \
        agc_event_dealloc(op, KIND);                                          \
        agc_kind_sites[KIND].orig(op);                                        \
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
#  define TRASH_FREE_LEVELS 20
static int hook_depth = 0;

#  define AGC_DEALLOC_HOOK_TRASHCAN(NAME, KIND)                               \
      static void hook_dealloc_##NAME(PyObject *op);                          \
      static void hook_dealloc_##NAME(PyObject *op)                           \
      {                                                                       \
          agc_event_dealloc(op, KIND);                                        \
          if (hook_depth < TRASH_FREE_LEVELS) {                               \
              hook_depth++;                                                   \
              agc_kind_sites[KIND].orig(op);                                  \
              hook_depth--;                                                   \
              return;                                                         \
          }                                                                   \
          PyObject_GC_UnTrack(op);                                            \
          Py_TRASHCAN_BEGIN(op, hook_dealloc_##NAME)                          \
          agc_kind_sites[KIND].orig(op);                                      \
          Py_TRASHCAN_END                                                     \
      }
#else
#  define AGC_DEALLOC_HOOK_TRASHCAN AGC_DEALLOC_HOOK
#endif

/* One hook per kind of compat.h's table: list, dict and tuple with the
 * trashcan where the version needs it, the others plain. */
#define AGC_HOOK_DEF_(KIND, TYPE, NAME) AGC_HOOK_DEF_##NAME(NAME, KIND)
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
    hook_dealloc_futureiter0,
    hook_dealloc_futureiter1,
    hook_dealloc_futureiter2,
    hook_dealloc_futureiter3,
};

/* The hooks' deallocators, indexed by kind, for agc_kinds_arm. */
static void
hooks_table(destructor hooks[AGC_NKINDS])
{
#define AGC_SITE_(KIND, TYPE, NAME) hooks[KIND] = hook_dealloc_##NAME;
    AGC_FREELIST_KINDS(AGC_SITE_)
#undef AGC_SITE_
    for (int i = 0; i < AGC_FUTUREITER_SITES; i++) {
        hooks[AGC_KIND_FUTUREITER0 + i] = futureiter_hooks[i];
    }
}

/* Installs the hooks around orig_obj_alloc.  Only a free and a realloc
 * can end an object's life, so allocations go to the wrapped allocator
 * directly, with its own context: nothing of altgc runs for them, and an
 * interpreter that compares the allocator's malloc with its own (to take
 * its inlined path) still finds its own.  The hooks ignore the context
 * they are given and pass orig_obj_alloc's on. */
static void
wrap_allocator(void)
{
    PyMemAllocatorEx mine = {orig_obj_alloc.ctx, orig_obj_alloc.malloc,
                             orig_obj_alloc.calloc, hook_realloc, hook_free};
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &mine);
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
    orig_obj_alloc = cur;
    wrap_allocator();
    return 1;
}

int
agc_hooks_install(void)
{
    if (hooks_installed) {
        return 0;
    }
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &orig_obj_alloc);
    wrap_allocator();
    hooks_installed = 1;
    destructor hooks[AGC_NKINDS];
    hooks_table(hooks);
    agc_kinds_arm(hooks);
    return 0;
}
