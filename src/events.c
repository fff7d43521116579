/*
 * events.c -- the receiver's state (events.h).
 */
#include "events.h"

agc_events_state agc_events = {0};
