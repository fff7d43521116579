/*
 * frames.h -- reading the interpreter's frames (frames.c).
 *
 * Sits right above compat.h and needs nothing else: the heap index
 * (explain's locals) and the collector (borrowed stack references) read
 * frames through these two functions only.
 */
#ifndef ALTGC_FRAMES_H
#define ALTGC_FRAMES_H

#include "compat.h"

/* _frame_locals(frame) -> list of (name, value) pairs (new references), or
 * None on 3.13+ (use frame.f_locals).  `arg` borrowed; NULL with an
 * exception on error. */
PyObject *agc_frame_locals(PyObject *module, PyObject *arg);

/* Calls `visit` once per borrowed stack reference (3.14+) that op's
 * tp_traverse reported.  op: borrowed, of a type agc_may_borrow (compat.h)
 * accepts.  Never fails; runs no Python code. */
void agc_visit_borrowed(PyObject *op, visitproc visit, void *arg);

#endif /* ALTGC_FRAMES_H */
