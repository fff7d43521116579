/*
 * pages.c -- memory for the registry's large arrays (see pages.h for why
 * they are mapped and when they are not).
 */
#include "pages.h"

#include <string.h>

#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define AGC_PAGES_ASAN 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#  define AGC_PAGES_ASAN 1
#endif

/* Mapping needs mremap (Linux): without it every growth would copy. */
#if defined(__linux__) && !defined(AGC_PAGES_ASAN)
#  define AGC_PAGES_MAP 1
#  include <sys/mman.h>
#  include <unistd.h>
#endif

int
agc_pages_mapped(size_t bytes)
{
#ifdef AGC_PAGES_MAP
    return bytes >= AGC_PAGES_MIN;
#else
    (void)bytes;
    return 0;
#endif
}

#ifdef AGC_PAGES_MAP
/* `bytes` rounded up to whole pages. */
static size_t
page_round(size_t bytes)
{
    static size_t page = 0;
    if (page == 0) {
        long sz = sysconf(_SC_PAGESIZE);
        page = sz > 0 ? (size_t)sz : 4096;
    }
    return (bytes + page - 1) & ~(page - 1);
}
#endif

void *
agc_pages_alloc(size_t bytes)
{
    if (bytes == 0) {
        bytes = 1;
    }
#ifdef AGC_PAGES_MAP
    if (agc_pages_mapped(bytes)) {
        /* Anonymous pages read as zero until written. */
        void *p = mmap(NULL, page_round(bytes), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
#endif
    return PyMem_RawCalloc(1, bytes);
}

void
agc_pages_free(void *p, size_t bytes)
{
    if (p == NULL) {
        return;
    }
#ifdef AGC_PAGES_MAP
    if (agc_pages_mapped(bytes)) {
        (void)munmap(p, page_round(bytes));
        return;
    }
#endif
    PyMem_RawFree(p);
}

void *
agc_pages_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    if (p == NULL) {
        return agc_pages_alloc(new_bytes);
    }
    if (new_bytes == 0) {
        new_bytes = 1;
    }
    int was = agc_pages_mapped(old_bytes);
    int will = agc_pages_mapped(new_bytes);
    if (!was && !will) {
        return PyMem_RawRealloc(p, new_bytes);
    }
#ifdef AGC_PAGES_MAP
    if (was && will) {
        /* The kernel moves the pages, when it must, without copying. */
        void *q = mremap(p, page_round(old_bytes), page_round(new_bytes),
                         MREMAP_MAYMOVE);
        return q == MAP_FAILED ? NULL : q;
    }
#endif
    /* Across AGC_PAGES_MIN: one kind of memory to the other. */
    void *q = agc_pages_alloc(new_bytes);
    if (q == NULL) {
        return NULL;
    }
    memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
    agc_pages_free(p, old_bytes);
    return q;
}
