/*
 * events.h -- the receiver of the death hooks' events (events.c).
 *
 * The hooks (hooks.c) learn of three things and forward every one of them
 * here, to this one small interface, as memray's hooks forward theirs to
 * one tracker:
 *
 *   agc_event_dealloc(op, kind)  an interposed tp_dealloc: op is dying
 *   agc_event_free(block)   the allocator frees a memory block
 *   agc_event_move(block)   the allocator moves one (realloc)
 *
 * The receiver fans them out to the registry (registry.h), the watch
 * table (watch.h) and the young count (generation 0's count, which the
 * collector reads and resets).  It sits above the registry and the watch
 * table and knows nothing above itself.
 *
 * The functions are static inline and run inside the allocator hook, so
 * they never fail, never call into Python and never take a reference;
 * the deaths of unregistered objects (nearly all of them) cost no call.
 * (docs/DESIGN.md, "Learning of deaths")
 */
#ifndef ALTGC_EVENTS_H
#define ALTGC_EVENTS_H

#include "registry.h"
#include "watch.h"

typedef struct {
    /* Generation 0's count: registrations minus the registered objects'
     * deaths since the last collection, as CPython's generations[0].count
     * (in install mode, adopted objects are the builtin gc's count's:
     * install.c, count0_outside). */
    Py_ssize_t count0;
} agc_events_state;

extern agc_events_state agc_events;

static inline void
agc_events_count_death(void)
{
    /* CPython decrements count0 when a tracked object is freed. */
    if (agc_events.count0 > 0) {
        agc_events.count0--;
    }
}

/* Counts the registered deaths the registry's death queue has settled
 * since (registry.h, I8).  Called before count0 is read or changed, so
 * that deaths are counted before the registrations that follow them. */
static inline void
agc_events_take_settled(void)
{
    Py_ssize_t k = agc_registry_take_settled(&agc_reg);
    if (k != 0) {
        agc_events.count0 = agc_events.count0 > k ? agc_events.count0 - k : 0;
    }
}

/* Settles the registry's death queue and counts its deaths: before
 * reading the registry through its accessors, or count0. */
static inline void
agc_events_settle(void)
{
    agc_registry_settle(&agc_reg);
    agc_events_take_settled();
}

/* A registered or watched object may be dying (op borrowed, refcount 0,
 * its memory still its own; `kind` the free-list kind whose tp_dealloc
 * was interposed): forget it, or queue its death (registry.h). */
static inline void
agc_event_dealloc(PyObject *op, int kind)
{
    if (agc_watch_live != 0) {
        agc_watch_note_death(op);
    }
    /* While the collector announces deaths (agc_registry_expect), most
     * deaths are the announced one: straight to the registry, which
     * checks that first and filters the others itself. */
    agc_registry *reg = &agc_reg;
    if ((agc_registry_expecting(reg)
         || agc_registry_maybe_obj(reg, (uintptr_t)op))
        && agc_registry_note_dealloc(reg, op, kind) == AGC_GONE_COUNTED) {
        agc_events_count_death();
    }
}

/* A block is about to be freed (`queue` 1) or moved by realloc (0): if it
 * held a registered object, that object is dead now.  A free's death is
 * queued (registry.h); a move's is handled at once, since the removal of
 * a free-list-kind entry reads the object's type, which the block holds
 * only until the move (rare for containers).  While pinned, both at once.
 * `block`: borrowed; nothing in it is read here. */
static AGC_ALWAYS_INLINE void
agc_event_block(void *block, int queue)
{
    agc_registry *reg = &agc_reg;
    if (agc_watch_live != 0 && block != NULL) {
        agc_watch_note_block(block);
    }
    if (agc_registry_empty(reg) || block == NULL) {
        return;
    }
    int removed;
    if (agc_registry_expecting(reg)) {
        /* see agc_event_dealloc */
        removed = agc_registry_discard_block(reg, block);
    }
    else if (!agc_registry_maybe_block(reg, (uintptr_t)block)) {
        return;
    }
    else if (queue) {
        removed = agc_registry_note_block(reg, block);
    }
    else {
        removed = agc_registry_discard_block(reg, block);
    }
    if (removed == AGC_GONE_COUNTED) {
        agc_events_count_death();
    }
}

static AGC_ALWAYS_INLINE void
agc_event_free(void *block)
{
    agc_event_block(block, 1);
}

static inline void
agc_event_move(void *block)
{
    agc_event_block(block, 0);
}

#endif /* ALTGC_EVENTS_H */
