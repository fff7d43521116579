/*
 * kinds.h -- the free-list kinds (compat.h's table) and the switches of
 * their tp_dealloc interposition (kinds.c).
 *
 * Part of the bottom layer with compat.h: it knows types, not objects.
 * The registry and the watch table count, per kind, the objects that need
 * a kind's deallocator interposed (its *demand*); the death hooks
 * (hooks.c) hand over their deallocators once (agc_kinds_arm) and read
 * each kind's original deallocator from agc_kind_sites.  So the registry
 * raises and lowers the demand without knowing the hooks, and the hooks
 * need nothing from the registry but the receiver of their events.
 */
#ifndef ALTGC_KINDS_H
#define ALTGC_KINDS_H

#include "compat.h"

/* One tp_dealloc interposition site per free-list kind. */
typedef struct {
    PyTypeObject *type;   /* the exact type (FutureIter: strong, once met) */
    destructor hook;      /* the death hook's deallocator (hooks.c) */
    destructor orig;      /* the deallocator we wrap */
    int in_chain;         /* our hook is in the type's tp_dealloc chain */
} agc_kind_site;

extern agc_kind_site agc_kind_sites[AGC_NKINDS];

/* Interposition demand: how many registered entries and watched objects
 * of each free-list kind need its tp_dealloc interposed.  A kind's
 * deallocator is interposed exactly while its demand is > 0 (once the
 * hooks are armed), so with nothing of a kind registered or watched its
 * deaths cost nothing extra.  The switch happens between deallocations,
 * under the GIL, and is safe in the middle of one (see hooks.c). */
extern Py_ssize_t agc_kind_demand[AGC_NKINDS];

/* Stores the hook or the original into the type's tp_dealloc.  Never
 * fails; a no-op before agc_kinds_arm. */
void agc_kind_set_interposed(int kind, int on);

static inline void
agc_kind_demand_add(int kind)
{
    if (agc_kind_demand[kind]++ == 0) {
        agc_kind_set_interposed(kind, 1);
    }
}

static inline void
agc_kind_demand_drop(int kind)
{
    AGC_ASSERT(agc_kind_demand[kind] > 0);
    if (--agc_kind_demand[kind] == 0) {
        agc_kind_set_interposed(kind, 0);
    }
}

/* The hooks' deallocators, one per kind (borrowed table, copied): from
 * now on a kind's tp_dealloc is interposed while its demand is > 0.
 * Called once, by agc_hooks_install. */
void agc_kinds_arm(const destructor hooks[AGC_NKINDS]);

/* 1: our hook is in kind's tp_dealloc chain. */
static inline int
agc_kind_interposed(int kind)
{
    return agc_kind_sites[kind].in_chain;
}

/* The kind of an _asyncio.FutureIter heap type tp (borrowed), naming a new
 * site after it when one is free; -1 for any other type, AGC_KIND_REFUSED
 * when every site names another FutureIter type. */
int agc_heap_freelist_kind(PyTypeObject *tp);

/* The free-list kind of objects of exact type tp (borrowed), -1 for none,
 * or AGC_KIND_REFUSED for an _asyncio.FutureIter type beyond the
 * AGC_FUTUREITER_SITES that can be interposed.  Most registered objects
 * are lists, dicts, tuples or instances of classes (heap types that
 * accept subclasses), which the first four tests settle. */
static inline int
agc_freelist_kind(PyTypeObject *tp)
{
    if (tp == &PyList_Type) {
        return AGC_KIND_LIST;
    }
    if (tp == &PyDict_Type) {
        return AGC_KIND_DICT;
    }
    if (tp == &PyTuple_Type) {
        return AGC_KIND_TUPLE;
    }
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        /* Classes made by `class` accept subclasses; FutureIter does not,
         * and its name starts with "_asyncio." (a heap type from 3.12, a
         * static one on 3.11). */
        if ((tp->tp_flags & Py_TPFLAGS_BASETYPE) || tp->tp_name[0] != '_') {
            return -1;
        }
        return agc_heap_freelist_kind(tp);
    }
#define AGC_KIND_TEST_(KIND, TYPE, NAME)                                      \
    if (tp == &(TYPE)) {                                                      \
        return KIND;                                                          \
    }
    AGC_FREELIST_KINDS(AGC_KIND_TEST_)
#undef AGC_KIND_TEST_
    if (!(tp->tp_flags & Py_TPFLAGS_BASETYPE) && tp->tp_name[0] == '_') {
        return agc_heap_freelist_kind(tp); /* 3.11's FutureIter */
    }
    return -1;
}

/* {type name: demand} of the kinds interposed now: a new reference, or
 * NULL with an exception (_core._interposed(), for tests). */
PyObject *agc_kinds_interposed_dict(void);

/* {kind number: type} of every free-list kind of this version (compat.h),
 * with the _asyncio.FutureIter types met so far: a new reference, or NULL
 * with an exception (_core._freelist_kinds(), for tests). */
PyObject *agc_kinds_types(void);

#endif /* ALTGC_KINDS_H */
