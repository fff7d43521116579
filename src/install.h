/*
 * install.h -- install mode: altgc as the process's cycle collector
 * (install.c).  Above the collector, below the module facade: it calls the
 * collector and the registry; the collector reaches it only through the
 * AGC.mode callbacks, set by agc_install_init.
 */
#ifndef ALTGC_INSTALL_H
#define ALTGC_INSTALL_H

#include "collector.h"
#include "gclists.h"

typedef struct {
    int active;
    /* The builtin gc's functions (strong), set while installed. */
    PyObject *b_freeze;
    PyObject *b_unfreeze;
    PyObject *b_collect;
    PyObject *no_callbacks; /* strong: an empty list, the builtin gc's
                               callbacks while it empties the free lists */
    int in_builtin_collect;    /* altgc itself called the builtin collect */
    /* altgc's collection runs inside one of the builtin gc's (its
     * trigger, or a builtin collect() bound before install): the builtin
     * gc's `collecting` flag is set, but it examines nothing of altgc's. */
    int routing;
    /* The builtin count at the end of the "start" callback of the builtin
     * collection under way, written back at its "stop" (-1: none). */
    Py_ssize_t carry;
    /* altgc's freeze() ran while installed: uninstall() hands the
     * registry's permanent partition to the builtin gc's permanent
     * generation (the builtin freeze() would have frozen it). */
    int froze;
    /* Strong, set while installed: the builtin gc's callbacks list while
     * installed ([the trigger's callback]) and the one it had before,
     * given back at uninstall. */
    PyObject *trigger_callbacks;
    PyObject *saved_callbacks;
    /* Figures for install_info(). */
    Py_ssize_t adopted;        /* objects adopted in total */
    Py_ssize_t adoptions;      /* adoption passes */
    Py_ssize_t polls;          /* the trigger's checks of count0 */
    Py_ssize_t triggers;       /* collections the trigger started */
    int64_t adopt_ns;          /* time spent adopting */
    int64_t poll_ns;           /* the checks' own time (adoption and
                                  collection excluded) */
} agc_install_state;

extern agc_install_state agc_inst;

/* Hands the collector and the receiver install mode's callbacks.  Never
 * fails. */
void agc_install_init(void);

/* Adopts every container the builtin gc tracks in its generations 0-2 and
 * freezes them there, so the builtin gc skips them; schedules altgc's
 * automatic collection if count0 passed threshold0.  For the queries that
 * must see every container.  No-op when not installed.  0, or -1 with an
 * exception. */
int agc_install_sync(void);

/* Re-arms the builtin gc's trigger after thresholds, the enabled flag or
 * count0 changed.  Schedules nothing.  No-op when not installed. */
void agc_install_rearm(void);

/* altgc's freeze() (how > 0) or unfreeze() (how < 0) ran.  While
 * installed, a freeze is remembered for uninstall() (agc_inst.froze), and
 * an unfreeze hands what the program froze before install() to the
 * builtin gc's generation 2, where the next adoption takes it, as the
 * builtin gc.unfreeze() would have thawed it.  No-op when not installed.
 * Never fails. */
void agc_install_note_freeze(int how);

/* 1 while the builtin gc is collecting on its own account: its
 * `collecting` flag is set and altgc's collection is not running inside
 * one of its collections (agc_inst.routing).  Never fails. */
int agc_install_builtin_collecting(void);

/* _install, _uninstall, _install_info, _on_builtin_collect (module.c adds
 * them). */
extern PyMethodDef agc_install_methods[];

#endif /* ALTGC_INSTALL_H */
