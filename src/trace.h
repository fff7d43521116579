/*
 * trace.h -- a collection told step by step (trace.c): altgc.trace().
 *
 * Above the collector, which it runs with a recorder (collector.h,
 * agc_recorder), below the module facade.  The trace holds no reference
 * to the objects it looked at: what it returns are ids, type names, reprs
 * and numbers.
 */
#ifndef ALTGC_TRACE_H
#define ALTGC_TRACE_H

#include "collector.h"

/* agc_trace: registers `objects` (borrowed, a tuple, or NULL for none)
 * for the trace only, runs a recorded analysis (collect == 0: nothing
 * finalized or freed) or collection of `generation` (-1: the oldest
 * generation holding one of the objects, or 2 without objects), and
 * unregisters what it registered.  The references the tuple holds are
 * left out of the objects' gc_refs, and the tuple itself out of the
 * registry while the trace runs (install mode adopts it).  The reprs,
 * taken first, may run any code: then the objects are registered again
 * and the generation and the young set chosen afresh.  More than `limit`
 * objects given or examined: ValueError naming both numbers (nothing
 * changed).  With `collect`, every young object is watched (watch.h)
 * during the collection, so that an object a finalizer or callback
 * untracked is told from one that died ("untracked, alive", not
 * "freed").  Returns a new reference to a dict of compact plain data
 * (ids, strings, ints, tuples, lists, bytes columns: trace.c,
 * build_result), or NULL with an exception set (TypeError naming the
 * position of an object that is not a container, RuntimeError during a
 * collection, MemoryError). */
PyObject *agc_trace(PyObject *objects, int generation, int collect,
                    Py_ssize_t limit);

#endif /* ALTGC_TRACE_H */
