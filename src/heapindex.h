/*
 * heapindex.h -- explain()'s index of the heap graph (heapindex.c).
 *
 * Needs nothing from the collector: the registry's address hash
 * (registry.h), the clock (compat.h) and the frame reader (frames.h).
 * It never reads altgc's registry; the caller hands it the objects.
 */
#ifndef ALTGC_HEAPINDEX_H
#define ALTGC_HEAPINDEX_H

#include "registry.h"

/* _hg_* and _frame_locals functions of altgc._core (module.c adds them). */
extern PyMethodDef agc_heapindex_methods[];

#endif /* ALTGC_HEAPINDEX_H */
