/*
 * hooks.h -- the death hooks (hooks.c): the PEP 445 allocator wrapper and
 * the tp_dealloc interposition.  They deliver every event to the receiver
 * (events.h) and include nothing else of altgc but the bottom layer
 * (compat.h, kinds.h).
 */
#ifndef ALTGC_HOOKS_H
#define ALTGC_HOOKS_H

#include "compat.h"

/* Wraps the object allocator and arms the tp_dealloc interposition.
 * 0, or -1 with an exception. */
int agc_hooks_install(void);

/* Re-wraps the object allocator if our hook is no longer the outermost
 * one; only safe when no other hook that wraps ours is active (called right
 * after tracemalloc.stop()).  Returns 1 if it re-installed. */
int agc_hooks_reinstall_if_dropped(void);

#endif /* ALTGC_HOOKS_H */
