/*
 * gclists.c -- the one place that reads the builtin gc's own state.
 *
 * Install mode adopts the containers the builtin gc tracks on its
 * generations 0-2 (those created since the previous adoption, which
 * gc.freeze() then moves to the permanent generation).  The public ways
 * to walk them cost more or walk too much: PyUnstable_GC_VisitObjects
 * (3.12+) takes and drops a reference around an indirect call per
 * object, and from 3.14 walks the permanent generation too -- the whole
 * frozen heap; gc.get_objects() (3.11 has no visit) builds a list of
 * every young object, each referenced and released again.  Every
 * supported version keeps the three lists in the interpreter state, the
 * same way:
 *
 *     interp->gc.generations[g].head     (g = 0, 1, 2; a PyGC_Head)
 *
 * a circular doubly linked list through the objects' PyGC_Head, whose
 * _gc_next is the next header (its low bits clear outside a collection;
 * read through _PyGCHead_NEXT regardless), the object right after its
 * header.  3.14.0-3.14.4's incremental collector named the same three
 * structs `young` and `old[2]`, in the same place (3.14.5 restored the
 * array and kept every offset); those releases are not tested here
 * (docs/VERSIONS.md).
 *
 * This file reads that through the interpreter's internal headers
 * (Py_BUILD_CORE), and writes: the callbacks list, swapped for install
 * mode's trigger (agc_gclists_swap_callbacks); generation 0's count and
 * the thresholds (the trigger, install.c); and the permanent generation,
 * whose objects install() sets aside on lists of its own and
 * uninstall() puts back (agc_gclists_aside_permanent).
 * agc_gclists_check() confirms at install() that the running interpreter
 * is laid out as the headers say.
 *
 * Free-threaded builds keep no such lists (altgc refuses to load there,
 * docs/FREE-THREADED.md): the walk compiles to the public visit.
 */
#define PY_SSIZE_T_CLEAN
/* Before Python.h: the internal headers need the core's view of it. */
#define Py_BUILD_CORE 1
#include <Python.h>
#ifndef Py_GIL_DISABLED
#  include "internal/pycore_interp.h"
#  include "internal/pycore_gc.h"
#endif

#include "gclists.h"

#ifndef Py_GIL_DISABLED
#  if PY_VERSION_HEX >= 0x030E0000 && PY_VERSION_HEX < 0x030E0500
#    define GEN(st, g) ((g) == 0 ? &(st)->young : &(st)->old[(g) - 1])
#  else
#    define GEN(st, g) (&(st)->generations[(g)])
#  endif
#endif

#ifndef Py_GIL_DISABLED
/* Calls `visit` for each object on the list at `head` (borrowed, as
 * agc_gclists_visit's): 1 if it went through, 0 if the visitor stopped. */
static int
walk_list(PyGC_Head *head, agc_gclists_visitor visit, void *arg)
{
    PyGC_Head *gc = _PyGCHead_NEXT(head);
    while (gc != head) {
        /* The next header is read first: nothing may change the list
         * during the walk, but the visitor need not know that. */
        PyGC_Head *next = _PyGCHead_NEXT(gc);
        if (!visit((PyObject *)(gc + 1), arg)) {
            return 0;
        }
        gc = next;
    }
    return 1;
}
#endif

void
agc_gclists_visit(agc_gclists_visitor visit, void *arg)
{
#ifdef Py_GIL_DISABLED
    PyUnstable_GC_VisitObjects(visit, arg);
#else
    struct _gc_runtime_state *st = &PyInterpreterState_Get()->gc;
    for (int g = 0; g < 3; g++) {
        if (!walk_list(&GEN(st, g)->head, visit, arg)) {
            return;
        }
    }
#endif
}

void
agc_gclists_arm_trigger(int threshold0)
{
#ifndef Py_GIL_DISABLED
    struct _gc_runtime_state *st = &PyInterpreterState_Get()->gc;
    GEN(st, 0)->threshold = threshold0;
    GEN(st, 1)->threshold = INT_MAX;
    GEN(st, 2)->threshold = INT_MAX;
#endif
}

Py_ssize_t
agc_gclists_count0(void)
{
#ifndef Py_GIL_DISABLED
    return GEN(&PyInterpreterState_Get()->gc, 0)->count;
#else
    return 0;
#endif
}

void
agc_gclists_set_count0(Py_ssize_t count)
{
#ifndef Py_GIL_DISABLED
    GEN(&PyInterpreterState_Get()->gc, 0)->count = count < 0 ? 0
                                                   : count > INT_MAX
                                                       ? INT_MAX
                                                       : (int)count;
#endif
}

int
agc_gclists_gen0_due(void)
{
#ifndef Py_GIL_DISABLED
    struct _gc_runtime_state *st = &PyInterpreterState_Get()->gc;
    return st->enabled && GEN(st, 0)->threshold != 0
           && GEN(st, 0)->count > GEN(st, 0)->threshold;
#else
    return 0;
#endif
}

#ifndef Py_GIL_DISABLED
/* The lists install mode keeps apart from the builtin gc's generations
 * (gclists.h, AGC_ASIDE_*): circular lists like a generation's, linked
 * through the objects' own headers, so that an object's death unlinks it
 * from whichever it is on.  No collection examines them, and no
 * gc.unfreeze() reaches them.  A head is all zero until first used. */
static PyGC_Head aside[AGC_ASIDE_LISTS];

/* Empties the list at `head`. */
static void
list_init(PyGC_Head *head)
{
    head->_gc_next = (uintptr_t)head;
    head->_gc_prev = (uintptr_t)head;
}

/* Moves every object on the list at `from` to the end of the list at
 * `to`, and empties `from` (Python/gc.c's gc_list_merge, through the
 * version's own header setters, which keep each header's flag bits). */
static void
list_merge(PyGC_Head *from, PyGC_Head *to)
{
    if (_PyGCHead_NEXT(from) != from) {
        PyGC_Head *to_tail = _PyGCHead_PREV(to);
        PyGC_Head *from_head = _PyGCHead_NEXT(from);
        PyGC_Head *from_tail = _PyGCHead_PREV(from);
        _PyGCHead_SET_NEXT(to_tail, from_head);
        _PyGCHead_SET_PREV(from_head, to_tail);
        _PyGCHead_SET_NEXT(from_tail, to);
        _PyGCHead_SET_PREV(to, from_tail);
    }
    list_init(from);
}

/* Aside list `which` (AGC_ASIDE_*), its head initialized. */
static PyGC_Head *
aside_list(int which)
{
    assert(which >= 0 && which < AGC_ASIDE_LISTS);
    PyGC_Head *head = &aside[which];
    if (head->_gc_next == 0) {
        list_init(head);
    }
    return head;
}
#endif

void
agc_gclists_aside_permanent(int which)
{
#ifndef Py_GIL_DISABLED
    list_merge(&PyInterpreterState_Get()->gc.permanent_generation.head,
               aside_list(which));
#endif
}

void
agc_gclists_aside_back(int which, int frozen)
{
#ifndef Py_GIL_DISABLED
    struct _gc_runtime_state *st = &PyInterpreterState_Get()->gc;
    list_merge(aside_list(which),
               frozen ? &st->permanent_generation.head : &GEN(st, 2)->head);
#endif
}

void
agc_gclists_set_aside(PyObject *op, int which)
{
#ifndef Py_GIL_DISABLED
    assert(PyObject_IS_GC(op) && PyObject_GC_IsTracked(op));
    PyGC_Head *to = aside_list(which);
    /* Python/gc.c's gc_list_move, through the version's header setters,
     * which keep each header's flag bits. */
    PyGC_Head *gc = (PyGC_Head *)op - 1;
    PyGC_Head *prev = _PyGCHead_PREV(gc);
    PyGC_Head *next = _PyGCHead_NEXT(gc);
    _PyGCHead_SET_NEXT(prev, next);
    _PyGCHead_SET_PREV(next, prev);
    PyGC_Head *tail = _PyGCHead_PREV(to);
    _PyGCHead_SET_PREV(gc, tail);
    _PyGCHead_SET_NEXT(tail, gc);
    _PyGCHead_SET_NEXT(gc, to);
    _PyGCHead_SET_PREV(to, gc);
#endif
}

void
agc_gclists_visit_frozen(agc_gclists_visitor visit, void *arg)
{
#ifndef Py_GIL_DISABLED
    if (!walk_list(&PyInterpreterState_Get()->gc.permanent_generation.head,
                   visit, arg)) {
        return;
    }
    for (int k = 0; k < AGC_ASIDE_LISTS; k++) {
        if (aside[k]._gc_next != 0 && !walk_list(&aside[k], visit, arg)) {
            return;
        }
    }
#endif
}

/* agc_gclists_frozen's visitor: arg is a two-pointer array, the object
 * looked for and where to write 1 when it is found. */
static int
is_target(PyObject *op, void *arg)
{
    void **ctx = (void **)arg;
    if (op == (PyObject *)ctx[0]) {
        *(int *)ctx[1] = 1;
        return 0;
    }
    return 1;
}

int
agc_gclists_frozen(PyObject *op)
{
    int found = 0;
    if (PyObject_IS_GC(op) && PyObject_GC_IsTracked(op)) {
        void *ctx[2] = {op, &found};
        agc_gclists_visit_frozen(is_target, ctx);
    }
    return found;
}

int
agc_gclists_collecting(void)
{
#ifndef Py_GIL_DISABLED
    return PyInterpreterState_Get()->gc.collecting != 0;
#else
    return 0;
#endif
}

PyObject *
agc_gclists_swap_callbacks(PyObject *list)
{
#ifndef Py_GIL_DISABLED
    struct _gc_runtime_state *st = &PyInterpreterState_Get()->gc;
    PyObject *old = st->callbacks; /* the state's reference, handed over */
    st->callbacks = Py_NewRef(list);
    return old;
#else
    return Py_NewRef(list);
#endif
}

int
agc_gclists_check(const int threshold[3], int enabled)
{
#ifndef Py_GIL_DISABLED
    struct _gc_runtime_state *st = &PyInterpreterState_Get()->gc;
    int ok = (st->enabled != 0) == (enabled != 0);
    for (int g = 0; ok && g < 3; g++) {
        PyGC_Head *head = &GEN(st, g)->head;
        PyGC_Head *first = _PyGCHead_NEXT(head);
        ok = GEN(st, g)->threshold == threshold[g] && first != NULL
             && _PyGCHead_PREV(first) == head;
    }
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError,
                        "altgc was built against headers that do not "
                        "describe this interpreter's gc state; rebuild "
                        "altgc for this interpreter");
        return -1;
    }
#endif
    return 0;
}
