/*
 * heapgraph.h -- watched objects and the heap index (heapgraph.c).
 */
#ifndef ALTGC_HEAPGRAPH_H
#define ALTGC_HEAPGRAPH_H

#include "altgc.h"

/* Number of watched objects still alive; the death hooks test it first. */
extern Py_ssize_t agc_watch_live;

/* A death (op borrowed, not read) / a memory block about to be freed or
 * moved (not read): marks a watched object there dead.  Never fails, never
 * calls into Python: safe inside the allocator hook. */
void agc_watch_note_death(PyObject *op);
void agc_watch_note_block(void *block);

/* _watch_* and _hg_* functions of altgc._core (module.c adds them). */
extern PyMethodDef agc_heapgraph_methods[];

#endif /* ALTGC_HEAPGRAPH_H */
