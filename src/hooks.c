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
 *    first, then calls the original.
 *
 * Why not PyRefTracer (3.13+)?  3.13.0's eval loop frees objects without
 * sending DESTROY, and tracemalloc replaces the tracer; the two hooks above
 * see every death on every version.  Cost: with an empty registry each hook
 * is one load and a branch; otherwise an address-range test, then a table
 * probe (two for the free hook).
 *
 * The hooks stay installed for the life of the process (an extension
 * module is never unloaded).  If another allocator hook (tracemalloc) is
 * installed later it wraps ours, which still sees every free.
 */
#include "altgc.h"

#include <frameobject.h>   /* PyFrame_Type on 3.10 */

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

void
agc_note_death(PyObject *op)
{
    if (AGC.reg.used != 0 && agc_registry_discard(&AGC.reg, op)) {
        count_death();
    }
}

/* A block is about to be freed or moved: if it held a registered object,
 * that object is dead now.  `block`: borrowed, not read. */
static inline void
note_block(void *block)
{
    agc_registry *reg = &AGC.reg;
    if (reg->used == 0 || block == NULL) {
        return;
    }
    uintptr_t a = (uintptr_t)block;
    if (a + 32 < reg->lo_addr || a + 16 > reg->hi_addr) {
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

/* One interposed tp_dealloc per free-list type.  `op`: the dying object,
 * borrowed (refcount 0).  The hook reports the death, then calls the
 * original deallocator. */
#define AGC_DEALLOC_HOOK(NAME)                                          \
    static destructor orig_dealloc_##NAME;                              \
    static void                                                         \
    hook_dealloc_##NAME(PyObject *op)                                   \
    {                                                                   \
        agc_note_death(op);                                             \
        orig_dealloc_##NAME(op);                                        \
    }

/* list, dict and tuple protect deep structures with the trashcan, but
 * only when Py_TYPE(op)->tp_dealloc is their own deallocator, which it no
 * longer is: so for them the hook runs the trashcan itself, keyed on its
 * own address (a subclass instance reaches the hook from subtype_dealloc,
 * whose own trashcan applies instead).  An object deferred by the trashcan
 * must be untracked by the builtin gc first; these three deallocators
 * begin with the idempotent PyObject_GC_UnTrack anyway, so untracking a
 * moment earlier changes nothing.  (Types whose deallocator starts with
 * the unconditional _PyObject_GC_UNTRACK, like slice, must not be
 * untracked here: they use the plain hook above.) */
#define AGC_DEALLOC_HOOK_TRASHCAN(NAME)                                 \
    static destructor orig_dealloc_##NAME;                              \
    static void hook_dealloc_##NAME(PyObject *op);                      \
    static void                                                         \
    hook_dealloc_##NAME(PyObject *op)                                   \
    {                                                                   \
        agc_note_death(op);                                             \
        PyObject_GC_UnTrack(op);                                        \
        Py_TRASHCAN_BEGIN(op, hook_dealloc_##NAME)                      \
        orig_dealloc_##NAME(op);                                        \
        Py_TRASHCAN_END                                                 \
    }

AGC_DEALLOC_HOOK_TRASHCAN(list)
AGC_DEALLOC_HOOK_TRASHCAN(dict)
AGC_DEALLOC_HOOK_TRASHCAN(tuple)
AGC_DEALLOC_HOOK(slice)
AGC_DEALLOC_HOOK(frame)
AGC_DEALLOC_HOOK(context)
AGC_DEALLOC_HOOK(asend)
#if PY_VERSION_HEX < 0x030D0000
AGC_DEALLOC_HOOK(wrapped)
#endif

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

#define AGC_INTERPOSE(TYPE, NAME)                                       \
    do {                                                                \
        orig_dealloc_##NAME = (TYPE).tp_dealloc;                        \
        (TYPE).tp_dealloc = hook_dealloc_##NAME;                        \
    } while (0)

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

    AGC_INTERPOSE(PyList_Type, list);
    AGC_INTERPOSE(PyDict_Type, dict);
    AGC_INTERPOSE(PyTuple_Type, tuple);
    AGC_INTERPOSE(PySlice_Type, slice);
    AGC_INTERPOSE(PyFrame_Type, frame);
    AGC_INTERPOSE(PyContext_Type, context);
    AGC_INTERPOSE(_PyAsyncGenASend_Type, asend);
#if PY_VERSION_HEX < 0x030D0000
    AGC_INTERPOSE(_PyAsyncGenWrappedValue_Type, wrapped);
#endif
    hooks_installed = 1;
    return 0;
}
