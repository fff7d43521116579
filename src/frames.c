/*
 * frames.c -- the one place that reads the interpreter's frames.
 *
 * 1. The local variables of a running frame, read without frame.f_locals
 *    (_core._frame_locals, for explain()).  On 3.11-3.12, frame.f_locals
 *    (and PyFrame_GetLocals) copies the locals into a dict that the frame
 *    keeps: a new reference to every local, which outlives a later
 *    `del x` in that function.  explain() must not change lifetimes, so
 *    on those versions it reads localsplus of the _PyInterpreterFrame
 *    (internal header; only read, for a frame of the running thread's
 *    stack).  From 3.13 frame.f_locals is a write-through proxy (PEP 667)
 *    that copies nothing and reads 3.14's tagged stack references through
 *    the interpreter's own code: this helper returns None and the caller
 *    uses it.
 *
 * 2. Borrowed stack references (3.14+, compat.h): agc_visit_borrowed
 *    reports each reference a frame's, generator's or coroutine's
 *    tp_traverse visits through a _PyStackRef that holds no reference
 *    count, exactly those CPython's _PyGC_VisitStackRef hides from its
 *    own visit_decref.  The walk mirrors _PyFrame_Traverse and the
 *    tp_traverse of frames and generators: f_funcobj, f_executable, then
 *    the locals and the value stack up to stackpointer (tagged ints
 *    skipped); a frame object's data only while the frame object owns
 *    it; a finished generator's f_executable only.  The stack references
 *    are decoded with the interpreter's own inline functions, never by
 *    reading a tagged word as a pointer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#if PY_VERSION_HEX < 0x030D0000 || PY_VERSION_HEX >= 0x030E0000
#  define Py_BUILD_CORE 1
#  include "internal/pycore_frame.h"
#  include "internal/pycore_code.h"
#endif
#if PY_VERSION_HEX >= 0x030E0000
#  include "internal/pycore_interpframe.h"
#  include "internal/pycore_genobject.h"
#  include "internal/pycore_stackref.h"
#endif

#include "frames.h"

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
    _PyInterpreterFrame *fr = f->f_frame;
    PyCodeObject *co = fr->f_code;
    PyObject *names = co->co_localsplusnames;
    for (int i = 0; i < co->co_nlocalsplus; i++) {
        _PyLocals_Kind kind = _PyLocals_GetKind(co->co_localspluskinds, i);
        if (append_local(out, PyTuple_GET_ITEM(names, i), fr->localsplus[i],
                         (kind & (CO_FAST_CELL | CO_FAST_FREE)) != 0)
            < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
#endif
}

#if AGC_HAVE_BORROWED_STACKREFS
/* Reports `ref` if it is a borrowed reference to an object. */
static inline void
visit_if_borrowed(_PyStackRef ref, visitproc visit, void *arg)
{
    if (PyStackRef_IsNull(ref) || PyStackRef_IsTaggedInt(ref)
        || PyStackRef_RefcountOnObject(ref)) {
        return;
    }
    (void)visit(PyStackRef_AsPyObjectBorrow(ref), arg);
}

/* The borrowed references among those _PyFrame_Traverse visits. */
static void
visit_frame_borrowed(_PyInterpreterFrame *frame, visitproc visit, void *arg)
{
    visit_if_borrowed(frame->f_funcobj, visit, arg);
    visit_if_borrowed(frame->f_executable, visit, arg);
    _PyStackRef *ref = _PyFrame_GetLocalsArray(frame);
    for (; ref < frame->stackpointer; ref++) {
        visit_if_borrowed(*ref, visit, arg);
    }
}
#endif

void
agc_visit_borrowed(PyObject *op, visitproc visit, void *arg)
{
#if AGC_HAVE_BORROWED_STACKREFS
    PyTypeObject *tp = Py_TYPE(op);
    if (tp == &PyFrame_Type) {
        PyFrameObject *f = (PyFrameObject *)op;
        if (f->f_frame != NULL
            && f->f_frame->owner == FRAME_OWNED_BY_FRAME_OBJECT) {
            visit_frame_borrowed(f->f_frame, visit, arg);
        }
        return;
    }
    /* Generators, coroutines and async generators share the layout of
     * _PyGenObject_HEAD. */
    PyGenObject *gen = (PyGenObject *)op;
    if (gen->gi_frame_state != FRAME_CLEARED) {
        visit_frame_borrowed(&gen->gi_iframe, visit, arg);
    }
    else {
        visit_if_borrowed(gen->gi_iframe.f_executable, visit, arg);
    }
#else
    (void)op;
    (void)visit;
    (void)arg;
#endif
}
