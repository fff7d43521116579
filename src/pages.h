/*
 * pages.h -- memory for altgc's large arrays (the registry's, and the
 * collector's scratch buffers), mapped from the kernel instead of taken
 * from malloc (pages.c).
 *
 * These arrays grow in steps: the registry's entry array by an eighth at
 * a time, its table by doubling, a collection's buffers with the heap.
 * glibc serves a request from its heap, not from a mapping of its own,
 * once its mmap threshold has risen past the request's size, and the
 * threshold rises to the size of every mapped block the process frees
 * (up to 32 MiB), which a big collection's freed arrays did.  Each step
 * of an array in the heap then left the previous one behind as a hole
 * that the next, larger step could not use and that stayed resident
 * (pyperformance's async_tree on 3.12: 5 MiB of free heap at its largest
 * collection, 7 MiB of peak RSS).  A mapped array grows by mremap,
 * without a copy, and its pages go back to the kernel when it shrinks or
 * is freed.
 *
 * Arrays below AGC_PAGES_MIN bytes, builds with AddressSanitizer (whose
 * malloc puts redzones around every array) and systems without mremap use
 * PyMem_RawMalloc and friends through the same calls.  Mapped memory is
 * not seen by tracemalloc.  The caller passes each array's size in bytes
 * back to agc_pages_realloc and agc_pages_free (the registry knows it);
 * whether an array is mapped is decided by that size alone.
 *
 * None of these functions sets an exception: on failure they return NULL
 * and leave the caller's array as it was.  No reference counts are
 * involved (raw memory).
 */
#ifndef ALTGC_PAGES_H
#define ALTGC_PAGES_H

#include "compat.h"

/* Arrays of at least this many bytes are mapped (when mapping is
 * available). */
#define AGC_PAGES_MIN ((size_t)256 << 10)

/* A new zeroed array of `bytes` bytes (at least 1), or NULL. */
void *agc_pages_alloc(size_t bytes);

/* Resizes the array p of old_bytes bytes (p NULL: old_bytes 0) to
 * new_bytes; the contents are kept up to the smaller size, bytes beyond
 * it are undefined.  Returns the array (p itself or a new address; p is
 * then invalid), or NULL with p unchanged and still valid. */
void *agc_pages_realloc(void *p, size_t old_bytes, size_t new_bytes);

/* Frees the array p of `bytes` bytes (NULL is ignored). */
void agc_pages_free(void *p, size_t bytes);

/* 1 if an array of `bytes` bytes is mapped (for tests and reporting). */
int agc_pages_mapped(size_t bytes);

#endif /* ALTGC_PAGES_H */
