/*
 * events.c -- the receiver's state (events.h).
 */
#include "events.h"

/* Until install mode takes over: nothing counts allocations. */
static void
budget_unused(void)
{
    agc_events.budget = PY_SSIZE_T_MAX;
}

agc_events_state agc_events = {0, PY_SSIZE_T_MAX, budget_unused};
