/*
 * kinds.c -- the free-list kinds and the switches of their tp_dealloc
 * interposition (kinds.h).
 *
 * Switching is a store to the static type's tp_dealloc under the GIL.
 * The interpreter reads tp_dealloc afresh at every deallocation
 * (_Py_Dealloc, subtype_dealloc's base deallocator, the trashcan's
 * deferred destruction), so each deallocation runs one version or the
 * other; hooks.c explains why switching in the middle of one is safe both
 * ways.  If another extension interposed over ours meanwhile (tp_dealloc
 * is neither ours nor the original), ours stays in its chain: switching
 * off then leaves it in place (it only reports deaths; the registry
 * decides), and it is never wrapped twice.
 */
#include "kinds.h"

#include <string.h>

#define FUTUREITER_NAME "_asyncio.FutureIter"

agc_kind_site agc_kind_sites[AGC_NKINDS];
Py_ssize_t agc_kind_demand[AGC_NKINDS];
static int armed = 0;

void
agc_kinds_arm(const destructor hooks[AGC_NKINDS])
{
    if (armed) {
        return;
    }
#define AGC_SITE_(KIND, TYPE, NAME) agc_kind_sites[KIND].type = &(TYPE);
    AGC_FREELIST_KINDS(AGC_SITE_)
#undef AGC_SITE_
    for (int k = 0; k < AGC_NKINDS; k++) {
        agc_kind_sites[k].hook = hooks[k];
    }
    armed = 1;
    for (int k = 0; k < AGC_NKINDS; k++) {
        if (agc_kind_demand[k] > 0) {
            agc_kind_set_interposed(k, 1);
        }
    }
}

int
agc_heap_freelist_kind(PyTypeObject *tp)
{
    int free_site = -1;
    for (int i = 0; i < AGC_FUTUREITER_SITES; i++) {
        agc_kind_site *site = &agc_kind_sites[AGC_KIND_FUTUREITER0 + i];
        if (site->type == tp) {
            return AGC_KIND_FUTUREITER0 + i;
        }
        if (free_site < 0 && site->type == NULL) {
            free_site = i;
        }
    }
    if (strcmp(tp->tp_name, FUTUREITER_NAME) != 0) {
        return -1;
    }
    if (free_site < 0) {
        return AGC_KIND_REFUSED;
    }
    /* A new FutureIter type: its site keeps the type (a strong reference,
     * so that the address is never reused by another type while the site
     * names it). */
    agc_kind_sites[AGC_KIND_FUTUREITER0 + free_site].type = (PyTypeObject *)
        Py_NewRef((PyObject *)tp);
    return AGC_KIND_FUTUREITER0 + free_site;
}

void
agc_kind_set_interposed(int kind, int on)
{
    agc_kind_site *site = &agc_kind_sites[kind];
    if (!armed) {
        return;       /* agc_kinds_arm applies the demand */
    }
    if (on) {
        if (!site->in_chain) {
            site->orig = site->type->tp_dealloc;
            site->type->tp_dealloc = site->hook;
            site->in_chain = 1;
        }
    }
    else if (site->in_chain && site->type->tp_dealloc == site->hook) {
        site->type->tp_dealloc = site->orig;
        site->in_chain = 0;
    }
}

PyObject *
agc_kinds_interposed_dict(void)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (int k = 0; k < AGC_NKINDS; k++) {
        if (!agc_kind_sites[k].in_chain) {
            continue;
        }
        PyObject *v = PyLong_FromSsize_t(agc_kind_demand[k]);
        if (v == NULL
            || PyDict_SetItemString(d, agc_kind_sites[k].type->tp_name, v)
                   < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

PyObject *
agc_kinds_types(void)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (int k = 0; k < AGC_NKINDS; k++) {
        /* agc_kinds_arm named the table's types; FutureIter sites name a
         * type once one was met (agc_heap_freelist_kind). */
        PyTypeObject *tp = agc_kind_sites[k].type;
        if (tp == NULL) {
            continue;
        }
        PyObject *key = PyLong_FromLong(k);
        if (key == NULL || PyDict_SetItem(d, key, (PyObject *)tp) < 0) {
            Py_XDECREF(key);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(key);
    }
    return d;
}
