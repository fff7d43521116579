/*
 * graph.h -- graph queries (graph.c): strongly connected components, and
 * the referrers and referents of objects among the registered ones.
 *
 * Above the registry, below the collector (which groups the garbage into
 * components with agc_scc): it reads the registry through its accessors
 * and knows nothing of collections.
 */
#ifndef ALTGC_GRAPH_H
#define ALTGC_GRAPH_H

#include "registry.h"

/* Tarjan's algorithm, iterative.  The graph has `n` nodes; the successors
 * of node v are targets[offsets[v] .. offsets[v+1]).  On success fills
 * comp[v] with the component number of v (components are numbered in
 * reverse topological order) and returns the number of components; -1 on
 * memory error (no exception set: the caller decides). */
Py_ssize_t agc_scc(Py_ssize_t n, const Py_ssize_t *offsets,
                   const uint32_t *targets, Py_ssize_t *comp);

/* Returns new references to lists, or NULL with an exception set.  `objs`:
 * a borrowed tuple.  agc_get_referrers leaves out the entries whose index
 * `skip` (NULL: none) answers 1 for (the caller's rule: graph.c knows
 * nothing of collections). */
PyObject *agc_get_referents(PyObject *objs);
PyObject *agc_get_referrers(PyObject *objs, int (*skip)(Py_ssize_t idx));

#endif /* ALTGC_GRAPH_H */
