/*
 * graph.c -- graph queries over objects: strongly connected components,
 * referents and referrers.  All iterative.
 */
#include "graph.h"

Py_ssize_t
agc_scc(Py_ssize_t n, const Py_ssize_t *offsets, const uint32_t *targets,
        Py_ssize_t *comp)
{
    /* Tarjan's algorithm with an explicit call stack (fv, fpos).  A node
     * that has an index but no component yet is on Tarjan's stack. */
    size_t sz = ((size_t)n + 1) * sizeof(Py_ssize_t);
    Py_ssize_t *index = PyMem_RawMalloc(sz);
    Py_ssize_t *low = PyMem_RawMalloc(sz);
    Py_ssize_t *stack = PyMem_RawMalloc(sz);
    Py_ssize_t *fv = PyMem_RawMalloc(sz);
    Py_ssize_t *fpos = PyMem_RawMalloc(sz);
    Py_ssize_t ncomp = -1;
    if (!index || !low || !stack || !fv || !fpos) {
        goto done;
    }
    for (Py_ssize_t v = 0; v < n; v++) {
        index[v] = -1;
        comp[v] = -1;
    }
    Py_ssize_t counter = 0, sp = 0, fp = 0;
    ncomp = 0;
    for (Py_ssize_t root = 0; root < n; root++) {
        if (index[root] >= 0) {
            continue;
        }
        index[root] = low[root] = counter++;
        stack[sp++] = root;
        fv[fp] = root;
        fpos[fp++] = offsets[root];
        while (fp > 0) {
            Py_ssize_t v = fv[fp - 1];
            if (fpos[fp - 1] < offsets[v + 1]) {
                Py_ssize_t u = targets[fpos[fp - 1]++];
                if (index[u] < 0) {
                    index[u] = low[u] = counter++;
                    stack[sp++] = u;
                    fv[fp] = u;
                    fpos[fp++] = offsets[u];
                }
                else if (comp[u] < 0 && index[u] < low[v]) {
                    low[v] = index[u];
                }
                continue;
            }
            fp--;
            if (low[v] == index[v]) {
                Py_ssize_t x;
                do {
                    x = stack[--sp];
                    comp[x] = ncomp;
                } while (x != v);
                ncomp++;
            }
            if (fp > 0) {
                Py_ssize_t p = fv[fp - 1];
                if (low[v] < low[p]) {
                    low[p] = low[v];
                }
            }
        }
    }
done:
    PyMem_RawFree(index);
    PyMem_RawFree(low);
    PyMem_RawFree(stack);
    PyMem_RawFree(fv);
    PyMem_RawFree(fpos);
    return ncomp;
}

/* Visitor appending each referent to a list (`arg`, borrowed).  Returns
 * non-zero to stop the traversal when the append fails. */
static int
referents_visit(PyObject *ref, void *arg)
{
    if (ref == NULL) {
        return 0;
    }
    return PyList_Append((PyObject *)arg, ref) < 0;
}

PyObject *
agc_get_referents(PyObject *objs)
{
    PyObject *result = PyList_New(0);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(objs); i++) {
        PyObject *obj = PyTuple_GET_ITEM(objs, i);
        if (!PyObject_IS_GC(obj)) {
            continue;
        }
        traverseproc traverse = Py_TYPE(obj)->tp_traverse;
        if (traverse == NULL) {
            continue;
        }
        if (traverse(obj, referents_visit, result)) {
            Py_DECREF(result);
            return NULL;
        }
    }
    return result;
}

/* Visitor: stops (returns 1) at the first referent that is one of the
 * objects in the tuple `arg` (borrowed). */
static int
referrers_visit(PyObject *ref, void *arg)
{
    PyObject *objs = arg;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(objs); i++) {
        if (PyTuple_GET_ITEM(objs, i) == ref) {
            return 1;
        }
    }
    return 0;
}

PyObject *
agc_get_referrers(PyObject *objs, int (*skip)(Py_ssize_t idx))
{
    agc_registry *reg = &agc_reg;
    PyObject *result = PyList_New(0);
    if (result == NULL) {
        return NULL;
    }
    /* Pinned: appending may run the builtin gc, whose frees must not move
     * entries under the loop.  Entries added meanwhile are not scanned. */
    agc_registry_pin(reg);
    Py_ssize_t end = agc_registry_end(reg);
    for (Py_ssize_t i = agc_registry_gen_start(reg, 2); i < end; i++) {
        PyObject *op = agc_registry_obj(reg, i);
        if (op == NULL) {
            continue;       /* a hole */
        }
        if (op == objs || op == result || agc_is_dying(op)
            || (skip != NULL && skip(i))) {
            continue;
        }
        traverseproc traverse = Py_TYPE(op)->tp_traverse;
        if (traverse != NULL && traverse(op, referrers_visit, objs)) {
            if (PyList_Append(result, op) < 0) {
                Py_CLEAR(result);
                break;
            }
        }
    }
    agc_registry_unpin(reg);
    return result;
}
