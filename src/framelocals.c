/*
 * framelocals.c -- the local variables of a running frame, read without
 * frame.f_locals.
 *
 * On 3.10-3.12, frame.f_locals (and PyFrame_GetLocals) copies the locals
 * into a dict that the frame keeps: a new reference to every local, which
 * outlives a later `del x` in that function.  explain() must not change
 * lifetimes, so it reads the frame's fast locals directly:
 *   3.10      f_localsplus of the public PyFrameObject (frameobject.h)
 *   3.11-3.12 localsplus of the _PyInterpreterFrame (internal header;
 *             only read, for a frame of the running thread's stack)
 *   3.13+     frame.f_locals is a write-through proxy that copies nothing:
 *             this helper returns None and the caller uses it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
#  define Py_BUILD_CORE 1
#  include "internal/pycore_frame.h"
#  include "internal/pycore_code.h"
#endif

#if PY_VERSION_HEX < 0x030D0000
/* Appends (name, value) to `out` (borrowed); value may be a cell, whose
 * contents are taken (skipped when empty).  0, or -1 with an exception. */
static int
append_local(PyObject *out, PyObject *name, PyObject *value, int maybe_cell)
{
    if (value == NULL) {
        return 0;
    }
    if (maybe_cell && PyCell_Check(value)) {
        value = PyCell_GET(value);
        if (value == NULL) {
            return 0;
        }
    }
    PyObject *pair = PyTuple_Pack(2, name, value);
    if (pair == NULL) {
        return -1;
    }
    int rc = PyList_Append(out, pair);
    Py_DECREF(pair);
    return rc;
}
#endif

/* _frame_locals(frame) -> list of (name, value) pairs (new references), or
 * None on 3.13+ (use frame.f_locals).  The values are read while no Python
 * code runs; each is referenced by the new list before anything else. */
PyObject *
agc_frame_locals(PyObject *module, PyObject *arg)
{
    if (!PyFrame_Check(arg)) {
        PyErr_Format(PyExc_TypeError,
                     "_frame_locals() argument must be a frame, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030D0000
    Py_RETURN_NONE;
#else
    PyFrameObject *f = (PyFrameObject *)arg;
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
#  if PY_VERSION_HEX >= 0x030B0000
    _PyInterpreterFrame *fr = f->f_frame;
    PyCodeObject *co = fr->f_code;
    PyObject *names = co->co_localsplusnames;
    for (int i = 0; i < co->co_nlocalsplus; i++) {
        _PyLocals_Kind kind = _PyLocals_GetKind(co->co_localspluskinds, i);
        if (append_local(out, PyTuple_GET_ITEM(names, i), fr->localsplus[i],
                         (kind & (CO_FAST_CELL | CO_FAST_FREE)) != 0) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
#  else
    PyCodeObject *co = f->f_code;
    Py_ssize_t nlocals = co->co_nlocals;
    Py_ssize_t ncells = PyTuple_GET_SIZE(co->co_cellvars);
    Py_ssize_t nfree = PyTuple_GET_SIZE(co->co_freevars);
    for (Py_ssize_t i = 0; i < nlocals + ncells + nfree; i++) {
        PyObject *name = i < nlocals ? PyTuple_GET_ITEM(co->co_varnames, i)
            : i < nlocals + ncells
                ? PyTuple_GET_ITEM(co->co_cellvars, i - nlocals)
                : PyTuple_GET_ITEM(co->co_freevars, i - nlocals - ncells);
        if (append_local(out, name, f->f_localsplus[i], i >= nlocals) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
#  endif
    return out;
#endif
}
