/*
 * watch.h -- the watch table: watched objects (watch.c).
 *
 * Above the registry's layer only in the order of the layers: it needs
 * nothing but the free-list kinds (kinds.h), whose interposition demand a
 * watched object of a free-list kind raises while it is alive.
 */
#ifndef ALTGC_WATCH_H
#define ALTGC_WATCH_H

#include "kinds.h"

/* Number of watched objects still alive; the death hooks test it first. */
extern Py_ssize_t agc_watch_live;

/* A death (op borrowed, not read) / a memory block about to be freed or
 * moved (not read): marks a watched object there dead.  Never fails, never
 * calls into Python: safe inside the allocator hook. */
void agc_watch_note_death(PyObject *op);
void agc_watch_note_block(void *block);

/* The same table for C code (trace.c watches a collection's young objects
 * to tell a death from an untrack()):
 *   agc_watch_add(obj): watches obj (borrowed, no reference kept); its
 *     token, a new reference; NULL with TypeError (altgc could not see its
 *     death) or MemoryError;
 *   agc_watch_state(token): (alive, death time in ns of agc_now_ns()'s
 *     clock, 0 while alive), a new reference; NULL with KeyError;
 *   agc_watch_discard(token): forgets the watch; 0, or -1 with KeyError.
 * Tokens are borrowed.  When the last watch is forgotten the table frees
 * its arrays. */
PyObject *agc_watch_add(PyObject *obj);
PyObject *agc_watch_state(PyObject *token);
int agc_watch_discard(PyObject *token);

/* _watch_* and _now_ns functions of altgc._core (module.c adds them). */
extern PyMethodDef agc_watch_methods[];

#endif /* ALTGC_WATCH_H */
