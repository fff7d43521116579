/*
 * gclists.h -- reading the builtin gc's generation lists (gclists.c).
 *
 * Sits right above compat.h and needs nothing else.  Install mode's
 * adoption (install.c) finds the containers created since its last
 * adoption through agc_gclists_visit only; the other functions check the
 * layout, answer explain's questions (frozen? collecting?), swap the
 * builtin gc's callbacks list, read and write its generation-0 count and
 * thresholds (install mode's trigger), and set its frozen objects aside
 * while installed.
 */
#ifndef ALTGC_GCLISTS_H
#define ALTGC_GCLISTS_H

#include "compat.h"

/* Called once per object; 1 to go on, 0 to stop the walk. */
typedef int (*agc_gclists_visitor)(PyObject *op, void *arg);

/* Calls `visit` for every object on the running interpreter's builtin gc
 * generations 0-2, youngest first -- not on its permanent (frozen)
 * generation.  The objects are borrowed and the walk holds no reference:
 * `visit` must not run Python code, allocate or free a Python object,
 * or track or untrack one (any of which may change the lists under the
 * walk).  Never fails. */
void agc_gclists_visit(agc_gclists_visitor visit, void *arg);

/* Arms the builtin gc's automatic trigger for install mode (install.c,
 * "When to adopt and collect"): generation 0 is due once its count passes
 * `threshold0` (0: never), generations 1 and 2 never.  Writes the
 * thresholds only; the enabled flag is the builtin's own.  Never fails. */
void agc_gclists_arm_trigger(int threshold0);

/* The builtin gc's generation-0 count: container allocations minus GC
 * object deallocations (while above 0) since its last collection or
 * freeze.  Never fails. */
Py_ssize_t agc_gclists_count0(void);

/* Writes that count (clamped to 0..INT_MAX): install mode keeps it across
 * the gc.freeze() of an adoption and the builtin gc's empty collection,
 * which zero it, and zeroes it where altgc's collection zeroes its own.
 * Never fails. */
void agc_gclists_set_count0(Py_ssize_t count);

/* 1 if the builtin gc's generation 0 is due by its own test (count above a
 * nonzero threshold, enabled): what its automatic trigger checks, so in a
 * "start" callback, 1 tells an automatic collection from most calls of
 * the builtin collect().  Never fails. */
int agc_gclists_gen0_due(void);

/* The lists install mode keeps apart from the builtin gc's generations,
 * through the objects' own headers, where no collection and no
 * gc.unfreeze() sees them:
 *   AGC_ASIDE_FROZEN     what the program froze before install(), and at
 *                        uninstall() what altgc's freeze() froze while
 *                        installed: all of it goes back to the builtin
 *                        gc's permanent generation;
 *   AGC_ASIDE_UNADOPTED  the heap install(adopt=False) left to nobody:
 *                        back to the builtin gc's generation 2, or to its
 *                        permanent generation if altgc's freeze() ran
 *                        while installed (the builtin freeze() would have
 *                        frozen it).
 * altgc's unfreeze() while installed hands both to generation 2, where
 * the next adoption takes them.  On a free-threaded build, which keeps no
 * lists, the functions below do nothing.  None fails. */
enum {
    AGC_ASIDE_FROZEN,
    AGC_ASIDE_UNADOPTED,
    AGC_ASIDE_LISTS
};

/* Moves the builtin gc's permanent generation to the end of aside list
 * `which` (install()). */
void agc_gclists_aside_permanent(int which);

/* Moves aside list `which` to the end of the builtin gc's permanent
 * generation if `frozen`, else of its generation 2. */
void agc_gclists_aside_back(int which, int frozen);

/* Moves `op` (borrowed; a container the interpreter tracks, not dying:
 * its header links it into a list) from its list to the end of aside list
 * `which`, keeping its header's flag bits. */
void agc_gclists_set_aside(PyObject *op, int which);

/* The same as agc_gclists_visit, for the frozen objects only: those on
 * the builtin gc's permanent generation (gc.freeze()), then those on the
 * aside lists; on a free-threaded build, which keeps no lists, visits
 * nothing. */
void agc_gclists_visit_frozen(agc_gclists_visitor visit, void *arg);

/* 1 if `op` (borrowed) is on the running interpreter's builtin gc
 * permanent generation -- frozen by gc.freeze() -- else 0.  Walks that
 * list: O(frozen objects).  Runs no Python code; never fails. */
int agc_gclists_frozen(PyObject *op);

/* 1 while the running interpreter's builtin gc is collecting (this code
 * runs from a finalizer or callback of its collection), else 0. */
int agc_gclists_collecting(void);

/* Makes `list` (borrowed; the caller keeps it alive) the list the builtin
 * gc calls its callbacks from, and returns the one it was (a new
 * reference; give it back with this function).  Never fails. */
PyObject *agc_gclists_swap_callbacks(PyObject *list);

/* Checks that the interpreter's gc state reads as the headers altgc was
 * built against say it is laid out: its thresholds and enabled flag
 * must be `threshold` and `enabled` (the builtin gc module's answers),
 * and each generation's list must be well linked at its head.  0, or -1
 * with RuntimeError (install() then refuses rather than walk memory it
 * misreads). */
int agc_gclists_check(const int threshold[3], int enabled);

#endif /* ALTGC_GCLISTS_H */
