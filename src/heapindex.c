/*
 * heapindex.c -- "why is it still alive?": a compact index of the heap
 * graph (altgc.explain), see heapindex.h.
 *
 * _hg_build() takes the lists the caller made with gc.get_objects(g) for
 * g = 0, 1, 2 (every object the builtin gc tracks), a list of extra
 * objects (altgc's registry, named roots, the target) and a list of
 * objects left out (the caller's own lists and frames).  The nodes are
 * those objects plus every untracked container (an object with
 * tp_traverse: a dict holding only strings and arrays, a tuple of ints)
 * they reach.  Objects without tp_traverse (ints, strings, arrays) are
 * leaves: no path goes through them, so they are no nodes unless the
 * caller names them (a target, a root); the retained size finds them
 * again from the live objects.  The build runs no Python code: nothing
 * can die while it runs.
 *
 * Storage, N nodes and E references between them (int32 numbers):
 *   the addresses, sorted: the set of 2^pbits-byte pages holding nodes
 *     (page number and first node, sorted; an open-addressing table page
 *     -> position), then one byte per node, its address within its page
 *     in units of 2^shift bytes (16, or 8 if some object is only 8-byte
 *     aligned).  A node's number is its position in address order:
 *     finding an address is a probe of the small page table and a scan
 *     of that page's bytes.  Untracked containers found while closing
 *     the graph are numbered after them ("late" nodes: pointer array and
 *     a hash table, few on most heaps);
 *   meta     one byte per node: builtin gc generation (2 bits, 3 none),
 *            external, excluded, and the references the caller's input
 *            lists hold on it (3 bits, saturated);
 *   rev_off  N + 1 int32, rev E int32: each node's referrers (reverse
 *            CSR, in increasing order).
 * About 6 + 4 E/N bytes per node.  The forward edges exist only during
 * the build (the reverse CSR is filled from them, then they are freed).
 *
 * The index never owns a reference.  Objects may die after the build, and
 * their memory may be reused, so the index is only ever used for integer
 * work (breadth-first search, dominated sets); every object the caller gets
 * back is found again by a fresh tp_traverse starting from an object the
 * caller holds (a named root or the target): a step that no longer exists
 * makes the path "stale" and the caller rebuilds.  No address taken from
 * the index is dereferenced, and an object whose reference count is 0 (on
 * a free list, or being deallocated) is never recorded nor given out.
 *
 * A node is "external" when its reference count exceeds the references the
 * graph and the caller's input lists account for: something outside the
 * tracked heap (a running frame, the interpreter, a C extension) holds it.
 */
#include "heapindex.h"

#include "frames.h"

#include <stdlib.h>
#include <string.h>

PyDoc_STRVAR(frame_locals_doc,
"_frame_locals(frame, /)\n--\n\n"
"The (name, value) pairs of a running frame's locals, read without\n"
"frame.f_locals (3.11-3.12); None from 3.13 (use frame.f_locals).");

/* meta byte of a node */
enum {
    HG_GEN_MASK = 3,      /* builtin gc generation, 3: none */
    HG_EXT = 4,
    HG_EXCLUDED = 8,
    HG_INREF_SHIFT = 4,   /* bits 4-6: references held by input lists */
    HG_INREF_MAX = 7
};

typedef struct {
    int valid;
    int32_t n;            /* nodes */
    int32_t nt;           /* sorted nodes (numbers 0 .. nt-1) */
    int32_t cap;          /* capacity of meta (and of the build arrays) */
    int shift, pbits;     /* address unit and page size, log2 bytes */
    int32_t npages;
    uintptr_t *pkey;      /* npages page numbers (address >> pbits) */
    int32_t *pfirst;      /* npages + 1: first node of each page */
    uint32_t *ptab;       /* page position + 1, 0 empty */
    int ptab_log;         /* log2 of the table's slots */
    uint8_t *off;         /* nt: (address >> shift) & 255 */
    uintptr_t *late;      /* n - nt late nodes' addresses (not owned) */
    int32_t late_cap;
    uint32_t *ltab;       /* late position + 1, 0 empty */
    int ltab_log;
    uint8_t *meta;        /* n */
    int32_t *rev_off;     /* n + 1 */
    int32_t *rev;         /* nedges */
    int64_t nedges;
    int64_t build_ns;
} hg_index;

static hg_index HG;
/* Bumped whenever the index is freed: a query that may have run Python
 * code (allocation -> builtin gc -> finalizers) checks it before touching
 * the index again. */
static uint64_t hg_epoch = 0;

static int
hg_check_epoch(uint64_t epoch)
{
    if (epoch != hg_epoch) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the heap index was rebuilt during the query");
        return -1;
    }
    return 0;
}

static void
hg_free(void)
{
    PyMem_RawFree(HG.pkey);
    PyMem_RawFree(HG.pfirst);
    PyMem_RawFree(HG.ptab);
    PyMem_RawFree(HG.off);
    PyMem_RawFree(HG.late);
    PyMem_RawFree(HG.ltab);
    PyMem_RawFree(HG.meta);
    PyMem_RawFree(HG.rev_off);
    PyMem_RawFree(HG.rev);
    memset(&HG, 0, sizeof(HG));
    hg_epoch++;
}

/* Bytes the index holds (its own accounting, after the build). */
static size_t
hg_bytes(void)
{
    size_t b = (size_t)HG.npages * (sizeof(uintptr_t) + sizeof(int32_t))
               + (HG.ptab ? ((size_t)1 << HG.ptab_log) * sizeof(uint32_t) : 0)
               + (size_t)HG.nt                             /* off */
               + (size_t)HG.late_cap * sizeof(uintptr_t)
               + (HG.ltab ? ((size_t)1 << HG.ltab_log) * sizeof(uint32_t) : 0)
               + (size_t)HG.cap                            /* meta */
               + ((size_t)HG.n + 1) * sizeof(int32_t)      /* rev_off */
               + (size_t)HG.nedges * sizeof(int32_t);      /* rev */
    return b;
}

/* Fibonacci hashing of a page number or an address: the top `log` bits. */
static inline size_t
hg_hash(uintptr_t x, int log)
{
    return (size_t)(((uint64_t)x * 0x9E3779B97F4A7C15ULL) >> (64 - log));
}

/* Puts position `pos` (stored + 1, 0 is empty) in the open-addressing
 * table `t` of 2^log slots, at the first free slot from hash key hk's. */
static inline void
hg_tab_put(uint32_t *t, int log, uintptr_t hk, size_t pos)
{
    size_t mask = ((size_t)1 << log) - 1;
    size_t h = hg_hash(hk, log);
    while (t[h]) {
        h = (h + 1) & mask;
    }
    t[h] = (uint32_t)pos + 1;
}

/* The position stored for `key` in the open-addressing table `t` (2^log
 * slots of position + 1) over the array `keys`, searched from hash key
 * hk's slot; -1 if absent. */
static inline int32_t
hg_tab_find(const uint32_t *t, int log, const uintptr_t *keys, uintptr_t key,
            uintptr_t hk)
{
    size_t mask = ((size_t)1 << log) - 1;
    for (size_t h = hg_hash(hk, log);; h = (h + 1) & mask) {
        uint32_t s = t[h];
        if (s == 0) {
            return -1;
        }
        if (keys[s - 1] == key) {
            return (int32_t)(s - 1);
        }
    }
}

/* Position of page `key` in pkey, or -1. */
static inline int32_t
hg_page_find(uintptr_t key)
{
    return hg_tab_find(HG.ptab, HG.ptab_log, HG.pkey, key, key);
}

/* Position of late node p in HG.late, or -1.  p is not read. */
static inline int32_t
hg_late_find(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return hg_tab_find(HG.ltab, HG.ltab_log, HG.late, a, a >> 3);
}

/* The nodes of the page holding address a: [*lo, *hi), 0 if none.  a is
 * not read. */
static inline int
hg_page_range(uintptr_t a, int32_t *lo, int32_t *hi)
{
    if (HG.npages == 0 || (a & (((uintptr_t)1 << HG.shift) - 1)) != 0) {
        return 0;
    }
    int32_t pg = hg_page_find(a >> HG.pbits);
    if (pg < 0) {
        return 0;
    }
    *lo = HG.pfirst[pg];
    *hi = HG.pfirst[pg + 1];
    return 1;
}

/* The node among [lo, hi) (one page's, ascending) whose in-page offset is
 * that of address a, or -1. */
static inline int32_t
hg_page_scan(uintptr_t a, int32_t lo, int32_t hi)
{
    uint8_t o = (uint8_t)(a >> HG.shift);
    for (int32_t q = lo; q < hi; q++) {
        if (HG.off[q] >= o) {
            return HG.off[q] == o ? q : -1;
        }
    }
    return -1;
}

/* Number of the node at address p, or -1.  p is not read. */
static int32_t
hg_find(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    int32_t lo, hi;
    if (hg_page_range(a, &lo, &hi)) {
        int32_t q = hg_page_scan(a, lo, hi);
        if (q >= 0) {
            return q;
        }
    }
    if (HG.ltab != NULL) {
        int32_t k = hg_late_find(p);
        if (k >= 0) {
            return HG.nt + k;
        }
    }
    return -1;
}

/* The address of node i, for a walk in increasing order: *page is the
 * walk's page cursor (0 to start), or a page at or before node i's. */
static inline uintptr_t
hg_addr_walk(int32_t i, int32_t *page)
{
    if (i >= HG.nt) {
        return HG.late[i - HG.nt];
    }
    while (HG.pfirst[*page + 1] <= i) {
        (*page)++;
    }
    return (HG.pkey[*page] << HG.pbits) | ((uintptr_t)HG.off[i] << HG.shift);
}

/* The address of node i (to compare, never to read). */
static const void *
hg_addr(int32_t i)
{
    int32_t lo = 0, hi = HG.npages - 1; /* the page: pfirst[lo] <= i */
    while (i < HG.nt && lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        if (HG.pfirst[mid] <= i) {
            lo = mid;
        }
        else {
            hi = mid - 1;
        }
    }
    return (const void *)hg_addr_walk(i, &lo);
}

/* Whether live object p (borrowed) can be recorded: alive (a reference
 * count of 0 is an object on a free list or being deallocated). */
static inline int
hg_alive(PyObject *p)
{
    return Py_REFCNT(p) > 0;
}

/* ---- the build ------------------------------------------------------- */

/* What an input item is, in the low 3 bits of its address (objects are at
 * least 8-byte aligned; an item that is not goes to the late nodes). */
enum {
    HG_IN_GEN0 = 0,
    HG_IN_EXTRA = 3,
    HG_IN_EXCLUDED = 4
};

typedef struct {
    uintptr_t *items;     /* address | kind */
    size_t nitems, cap;
    uintptr_t lowbits;    /* OR of the addresses' low 4 bits */
    PyObject **odd;       /* items not 8-byte aligned (never, in practice) */
    uint8_t *oddkind;
    size_t nodd;
} hg_inputs;

static int
inputs_add(hg_inputs *in, PyObject *op, int kind)
{
    uintptr_t a = (uintptr_t)op;
    if (a & 7) {
        PyObject **o = PyMem_RawRealloc(in->odd,
                                        (in->nodd + 1) * sizeof(PyObject *));
        if (o == NULL) {
            return -1;
        }
        in->odd = o;
        uint8_t *k = PyMem_RawRealloc(in->oddkind, in->nodd + 1);
        if (k == NULL) {
            return -1;
        }
        in->oddkind = k;
        in->odd[in->nodd] = op;
        in->oddkind[in->nodd++] = (uint8_t)kind;
        return 0;
    }
    if (in->nitems == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 4096;
        uintptr_t *it = PyMem_RawRealloc(in->items, cap * sizeof(uintptr_t));
        if (it == NULL) {
            return -1;
        }
        in->items = it;
        in->cap = cap;
    }
    in->lowbits |= a & 15;
    in->items[in->nitems++] = a | (uintptr_t)kind;
    return 0;
}

static int
cmp_uptr(const void *x, const void *y)
{
    uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;
    return a < b ? -1 : a > b;
}

/* Merges one more input item of `kind` into a node's meta byte. */
static inline uint8_t
meta_merge(uint8_t m, int kind, int fresh)
{
    int gen = fresh ? 3 : (m & HG_GEN_MASK);
    int inref = fresh ? 0 : (m >> HG_INREF_SHIFT) & HG_INREF_MAX;
    int fl = fresh ? 0 : m & (HG_EXT | HG_EXCLUDED);
    if (kind < 3) {
        gen = kind < gen ? kind : gen;
        inref++;
    }
    else if (kind == HG_IN_EXTRA) {
        inref++;
    }
    else {
        fl |= HG_EXCLUDED;
    }
    if (inref > HG_INREF_MAX) {
        inref = HG_INREF_MAX;
    }
    return (uint8_t)(gen | fl | (inref << HG_INREF_SHIFT));
}

/* Makes room for `want` nodes in meta and the build's per-node arrays
 * (fwd_off, indeg).  0, or -1 out of memory. */
static int
hg_grow_nodes(int64_t want, int32_t **fwd_off, int32_t **indeg)
{
    if (want <= HG.cap) {
        return 0;
    }
    if (want > INT32_MAX - 2) {
        return -1;
    }
    int64_t cap = HG.cap + HG.cap / 2 + 1024;
    if (cap < want) {
        cap = want;
    }
    if (cap > INT32_MAX - 2) {
        cap = INT32_MAX - 2;
    }
    uint8_t *m = PyMem_RawRealloc(HG.meta, (size_t)cap);
    if (m == NULL) {
        return -1;
    }
    HG.meta = m;
    int32_t *f = PyMem_RawRealloc(*fwd_off, ((size_t)cap + 1) * 4);
    if (f == NULL) {
        return -1;
    }
    *fwd_off = f;
    int32_t *d = PyMem_RawRealloc(*indeg, ((size_t)cap + 1) * 4);
    if (d == NULL) {
        return -1;
    }
    memset(d + HG.cap + 1, 0, ((size_t)cap - (size_t)HG.cap) * 4);
    *indeg = d;
    HG.cap = (int32_t)cap;
    return 0;
}

/* Adds late node p (borrowed, alive, not read): its number, -1 out of
 * memory. */
static int32_t
hg_late_add(PyObject *p, uint8_t meta, int32_t **fwd_off, int32_t **indeg)
{
    int32_t k = HG.n - HG.nt;
    if (hg_grow_nodes((int64_t)HG.n + 1, fwd_off, indeg) < 0) {
        return -1;
    }
    if (k == HG.late_cap) {
        int32_t cap = HG.late_cap ? HG.late_cap * 2 : 1024;
        uintptr_t *l = PyMem_RawRealloc(HG.late,
                                        (size_t)cap * sizeof(uintptr_t));
        if (l == NULL) {
            return -1;
        }
        HG.late = l;
        HG.late_cap = cap;
    }
    if (HG.ltab == NULL || ((size_t)k + 1) * 2 > ((size_t)1 << HG.ltab_log)) {
        int log = HG.ltab_log ? HG.ltab_log + 1 : 11;
        while (((size_t)k + 1) * 2 > ((size_t)1 << log)) {
            log++;
        }
        uint32_t *t = PyMem_RawCalloc((size_t)1 << log, sizeof(uint32_t));
        if (t == NULL) {
            return -1;
        }
        PyMem_RawFree(HG.ltab);
        HG.ltab = t;
        HG.ltab_log = log;
        for (int32_t q = 0; q < k; q++) {
            hg_tab_put(t, log, HG.late[q] >> 3, (size_t)q);
        }
    }
    HG.late[k] = (uintptr_t)p;
    hg_tab_put(HG.ltab, HG.ltab_log, (uintptr_t)p >> 3, (size_t)k);
    HG.meta[HG.n] = meta;
    (*indeg)[HG.n + 1] = 0;
    return HG.n++;
}

/* Sorts the input items into the page-compressed address set: numbers
 * 0 .. nt-1, meta filled.  0, or -1 out of memory. */
static int
hg_sort_inputs(hg_inputs *in, int32_t **fwd_off, int32_t **indeg)
{
    size_t m = in->nitems;
    HG.shift = (in->lowbits & 8) ? 3 : 4;
    HG.pbits = HG.shift + 8;
    /* 1. the pages, counted in a table (position in pkey + 1) */
    int log = 10;
    size_t npg = 0, pcap = 1024;
    uint32_t *tab = PyMem_RawCalloc((size_t)1 << log, sizeof(uint32_t));
    uintptr_t *keys = PyMem_RawMalloc(pcap * sizeof(uintptr_t));
    int32_t *cnt = PyMem_RawMalloc(pcap * sizeof(int32_t));
    uintptr_t *sorted = NULL;
    int rc = -1;
    if (tab == NULL || keys == NULL || cnt == NULL) {
        goto done;
    }
    for (size_t k = 0; k < m; k++) {
        uintptr_t key = in->items[k] >> HG.pbits;
        size_t mask = ((size_t)1 << log) - 1, h = hg_hash(key, log);
        while (tab[h] && keys[tab[h] - 1] != key) {
            h = (h + 1) & mask;
        }
        if (tab[h]) {
            cnt[tab[h] - 1]++;
            continue;
        }
        if (npg == pcap) {
            pcap *= 2;
            uintptr_t *nk = PyMem_RawRealloc(keys, pcap * sizeof(uintptr_t));
            if (nk == NULL) {
                goto done;
            }
            keys = nk;
            int32_t *nc = PyMem_RawRealloc(cnt, pcap * sizeof(int32_t));
            if (nc == NULL) {
                goto done;
            }
            cnt = nc;
        }
        keys[npg] = key;
        cnt[npg++] = 1;
        tab[h] = (uint32_t)npg;
        if (npg * 2 > ((size_t)1 << log)) { /* grow and rehash */
            log++;
            PyMem_RawFree(tab);
            tab = PyMem_RawCalloc((size_t)1 << log, sizeof(uint32_t));
            if (tab == NULL) {
                goto done;
            }
            for (size_t q = 0; q < npg; q++) {
                hg_tab_put(tab, log, keys[q], q);
            }
        }
    }
    /* 2. pages in address order: (key << 32 | old position) sorted would
     * overflow; sort the keys and find each old position's rank. */
    HG.pkey = PyMem_RawMalloc((npg ? npg : 1) * sizeof(uintptr_t));
    HG.pfirst = PyMem_RawMalloc((npg + 1) * sizeof(int32_t));
    sorted = PyMem_RawMalloc((m ? m : 1) * sizeof(uintptr_t));
    if (HG.pkey == NULL || HG.pfirst == NULL || sorted == NULL) {
        goto done;
    }
    memcpy(HG.pkey, keys, npg * sizeof(uintptr_t));
    qsort(HG.pkey, npg, sizeof(uintptr_t), cmp_uptr);
    HG.npages = (int32_t)npg;
    {
        size_t mask = ((size_t)1 << log) - 1;
        int32_t start = 0;
        for (size_t r = 0; r < npg; r++) { /* cnt -> cursor, in key order */
            size_t h = hg_hash(HG.pkey[r], log);
            while (keys[tab[h] - 1] != HG.pkey[r]) {
                h = (h + 1) & mask;
            }
            uint32_t old = tab[h] - 1;
            HG.pfirst[r] = start;
            start += cnt[old];
            cnt[old] = HG.pfirst[r]; /* cursor */
        }
        HG.pfirst[npg] = start;
        /* 3. scatter into page order */
        for (size_t k = 0; k < m; k++) {
            uintptr_t key = in->items[k] >> HG.pbits;
            size_t h = hg_hash(key, log);
            while (keys[tab[h] - 1] != key) {
                h = (h + 1) & mask;
            }
            sorted[cnt[tab[h] - 1]++] = in->items[k];
        }
    }
    PyMem_RawFree(in->items); /* the scattered copy replaces it */
    in->items = NULL;
    HG.off = PyMem_RawMalloc(m ? m : 1);
    if (hg_grow_nodes((int64_t)m + 1024, fwd_off, indeg) < 0
        || HG.off == NULL) {
        goto done;
    }
    /* 4. sort each page (insertion sort: a page holds at most 256 distinct
     * addresses), merge duplicates, compact */
    int32_t w = 0;
    for (int32_t p = 0; p < HG.npages; p++) {
        int32_t lo = HG.pfirst[p], hi = HG.pfirst[p + 1];
        for (int32_t a = lo + 1; a < hi; a++) {
            uintptr_t v = sorted[a];
            int32_t b = a - 1;
            while (b >= lo && sorted[b] > v) {
                sorted[b + 1] = sorted[b];
                b--;
            }
            sorted[b + 1] = v;
        }
        HG.pfirst[p] = w;
        uintptr_t prev = 0;
        for (int32_t a = lo; a < hi; a++) {
            uintptr_t addr = sorted[a] & ~(uintptr_t)7;
            int kind = (int)(sorted[a] & 7);
            if (a > lo && addr == prev) {
                HG.meta[w - 1] = meta_merge(HG.meta[w - 1], kind, 0);
                continue;
            }
            prev = addr;
            HG.off[w] = (uint8_t)(addr >> HG.shift);
            HG.meta[w++] = meta_merge(0, kind, 1);
        }
    }
    HG.pfirst[HG.npages] = w;
    HG.nt = HG.n = w;
    /* 5. the page table, for the final positions */
    HG.ptab_log = 10;
    while ((size_t)HG.npages * 2 > ((size_t)1 << HG.ptab_log)) {
        HG.ptab_log++;
    }
    HG.ptab = PyMem_RawCalloc((size_t)1 << HG.ptab_log, sizeof(uint32_t));
    if (HG.ptab == NULL) {
        goto done;
    }
    for (int32_t p = 0; p < HG.npages; p++) {
        hg_tab_put(HG.ptab, HG.ptab_log, HG.pkey[p], (size_t)p);
    }
    /* 6. items that were not 8-byte aligned: late nodes */
    for (size_t k = 0; k < in->nodd; k++) {
        int32_t j = hg_find(in->odd[k]);
        if (j < 0) {
            j = hg_late_add(in->odd[k], meta_merge(0, in->oddkind[k], 1),
                            fwd_off, indeg);
            if (j < 0) {
                goto done;
            }
        }
        else {
            HG.meta[j] = meta_merge(HG.meta[j], in->oddkind[k], 0);
        }
    }
    rc = 0;
done:
    PyMem_RawFree(tab);
    PyMem_RawFree(keys);
    PyMem_RawFree(cnt);
    PyMem_RawFree(sorted);
    return rc;
}

/* The build traverses nodes in chunks: first every referent of the chunk
 * is recorded in `pend` (pointers, not read) and looked up; the objects
 * that are no node are prefetched, then read (a container the builtin gc
 * does not track becomes a late node).  The cache misses overlap instead
 * of being paid one after the other. */
#define HG_CHUNK 256

typedef struct {
    PyObject **p;
    int32_t *res, *hi;
    Py_ssize_t n, cap;
    int oom;
} pend_buf;

/* Visitor of the build: records the referent (borrowed, not read). */
static int
build_visit(PyObject *ref, void *arg)
{
    pend_buf *pb = arg;
    if (ref == NULL || pb->oom) {
        return 0;
    }
    if (pb->n == pb->cap) {
        Py_ssize_t cap = pb->cap ? pb->cap * 2 : 4096;
        PyObject **np = PyMem_RawRealloc(pb->p,
                                         (size_t)cap * sizeof(PyObject *));
        if (np == NULL) {
            pb->oom = 1;
            return 0;
        }
        pb->p = np;
        int32_t *nr = PyMem_RawRealloc(pb->res, (size_t)cap * sizeof(int32_t));
        if (nr == NULL) {
            pb->oom = 1;
            return 0;
        }
        pb->res = nr;
        int32_t *nh = PyMem_RawRealloc(pb->hi, (size_t)cap * sizeof(int32_t));
        if (nh == NULL) {
            pb->oom = 1;
            return 0;
        }
        pb->hi = nh;
        pb->cap = cap;
    }
    pb->p[pb->n++] = ref;
    return 0;
}

/* Whether live object op (borrowed) has references to traverse. */
static inline int
hg_traversable(PyObject *op)
{
    return PyObject_IS_GC(op) && Py_TYPE(op)->tp_traverse != NULL;
}

/* Closes the node set under tp_traverse (late nodes are appended and
 * traversed in turn) and records the forward edges.  Runs no Python code.
 * 0, or -1 out of memory (no exception set). */
static int
hg_close(int32_t **fwd_off, int32_t **indeg, int32_t **fwd, int64_t *fcap)
{
    pend_buf pb = {0};
    Py_ssize_t bound[HG_CHUNK + 1];
    int rc = -1;
    int32_t page = 0;
    for (int32_t i = 0; i < HG.n;) {
        int32_t end = HG.n - i > HG_CHUNK ? i + HG_CHUNK : HG.n;
        pb.n = 0;
        for (int32_t v = i; v < end; v++) {
            bound[v - i] = pb.n;
            PyObject *op = (PyObject *)hg_addr_walk(v, &page);
            if (!(HG.meta[v] & HG_EXCLUDED) && hg_traversable(op)) {
                Py_TYPE(op)->tp_traverse(op, build_visit, &pb);
            }
        }
        bound[end - i] = pb.n;
        if (pb.oom) {
            goto done;
        }
        /* the pages (a small table), then their offsets (prefetched),
         * then the objects that are no node */
        for (Py_ssize_t k = 0; k < pb.n; k++) {
            if (hg_page_range((uintptr_t)pb.p[k], &pb.res[k], &pb.hi[k])) {
                AGC_PREFETCH(HG.off + pb.res[k]);
            }
            else {
                pb.hi[k] = -1;
            }
        }
        for (Py_ssize_t k = 0; k < pb.n; k++) {
            int32_t j = -1;
            if (pb.hi[k] >= 0) {
                j = hg_page_scan((uintptr_t)pb.p[k], pb.res[k], pb.hi[k]);
            }
            if (j < 0 && HG.ltab != NULL) {
                j = hg_late_find(pb.p[k]);
                j = j < 0 ? -1 : HG.nt + j;
            }
            pb.res[k] = j;
            if (j < 0) {
                AGC_PREFETCH(pb.p[k]);
            }
            else {
                AGC_PREFETCH(*indeg + j + 1);
            }
        }
        for (Py_ssize_t k = 0; k < pb.n; k++) {
            if (pb.res[k] >= 0) {
                continue;
            }
            PyObject *ref = pb.p[k];
            if (!hg_alive(ref) || !hg_traversable(ref)) {
                continue; /* a leaf, or dead: never recorded */
            }
            int32_t j = hg_find(ref); /* met earlier in this chunk? */
            if (j < 0) {
                j = hg_late_add(ref, 3, fwd_off, indeg);
                if (j < 0) {
                    goto done;
                }
            }
            pb.res[k] = j;
        }
        for (int32_t v = i; v < end; v++) {
            (*fwd_off)[v] = (int32_t)HG.nedges;
            for (Py_ssize_t k = bound[v - i]; k < bound[v - i + 1]; k++) {
                int32_t j = pb.res[k];
                if (j < 0 || (HG.meta[j] & HG_EXCLUDED)) {
                    continue;
                }
                if (HG.nedges == *fcap) {
                    int64_t cap = *fcap * 2;
                    if (cap > INT32_MAX) {
                        cap = INT32_MAX;
                    }
                    if (HG.nedges >= cap) {
                        goto done;
                    }
                    int32_t *e = PyMem_RawRealloc(*fwd, (size_t)cap * 4);
                    if (e == NULL) {
                        goto done;
                    }
                    *fwd = e;
                    *fcap = cap;
                }
                (*fwd)[HG.nedges++] = j;
                (*indeg)[j + 1]++;
            }
        }
        i = end;
    }
    (*fwd_off)[HG.n] = (int32_t)HG.nedges;
    rc = 0;
done:
    PyMem_RawFree(pb.p);
    PyMem_RawFree(pb.res);
    PyMem_RawFree(pb.hi);
    return rc;
}

/* Adds the items of list `lst` (borrowed) as inputs of `kind`. */
static int
add_inputs(hg_inputs *in, PyObject *lst, int kind, const char *what)
{
    if (!PyList_Check(lst)) {
        PyErr_Format(PyExc_TypeError, "_hg_build(): %s must be a list", what);
        return -1;
    }
    Py_ssize_t size = PyList_GET_SIZE(lst);
    for (Py_ssize_t k = 0; k < size; k++) {
        if (inputs_add(in, PyList_GET_ITEM(lst, k), kind) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

PyDoc_STRVAR(build_doc,
"_hg_build(gen_lists, extra, exclude, /)\n--\n\n"
"Build the heap index; return (nodes, edges, bytes, ns).");

/* _hg_build(gen_lists, extra, exclude) -> (nodes, edges, bytes, ns).
 * gen_lists: list of 3 lists (gc.get_objects(0..2)); extra: list of more
 * objects; exclude: list of objects left out of the graph (the caller's own
 * containers and frames).  All borrowed; the index keeps no reference. */
static PyObject *
hg_build(PyObject *module, PyObject *args)
{
    PyObject *gens, *extra, *exclude;
    if (!PyArg_ParseTuple(args, "O!O!O!:_hg_build", &PyList_Type, &gens,
                          &PyList_Type, &extra, &PyList_Type, &exclude)) {
        return NULL;
    }
    int64_t t0 = agc_now_ns();
    hg_free();
    hg_inputs in = {0};
    int32_t *fwd_off = NULL, *indeg = NULL, *fwd = NULL;
    int64_t fcap = 0;
    /* The input lists themselves are excluded: no edge leads to them. */
    PyObject *own[3] = {gens, extra, exclude};
    for (int k = 0; k < 3; k++) {
        if (inputs_add(&in, own[k], HG_IN_EXCLUDED) < 0) {
            goto oom;
        }
    }
    if (add_inputs(&in, exclude, HG_IN_EXCLUDED, "exclude") < 0) {
        goto fail;
    }
    for (Py_ssize_t g = 0; g < PyList_GET_SIZE(gens); g++) {
        PyObject *lst = PyList_GET_ITEM(gens, g);
        if (PyList_Check(lst) && inputs_add(&in, lst, HG_IN_EXCLUDED) < 0) {
            goto oom;
        }
        if (add_inputs(&in, lst, g < 3 ? (int)g : HG_IN_EXTRA,
                       "gen_lists items")
            < 0) {
            goto fail;
        }
    }
    if (add_inputs(&in, extra, HG_IN_EXTRA, "extra") < 0) {
        goto fail;
    }
    if (hg_sort_inputs(&in, &fwd_off, &indeg) < 0) {
        goto oom;
    }
    PyMem_RawFree(in.odd);
    PyMem_RawFree(in.oddkind);
    memset(&in, 0, sizeof(in));
    /* about as many references between nodes as nodes, to start with */
    fcap = (int64_t)HG.n + 1024;
    fwd = PyMem_RawMalloc((size_t)fcap * sizeof(int32_t));
    if (fwd == NULL) {
        goto oom;
    }
    indeg[0] = 0;
    memset(indeg, 0, ((size_t)HG.cap + 1) * sizeof(int32_t));
    if (hg_close(&fwd_off, &indeg, &fwd, &fcap) < 0) {
        goto oom;
    }
    /* Reverse CSR: indeg[j + 1] counts j's referrers; prefix sums give
     * each list's end, filled backwards so each ends up ascending. */
    for (int32_t j = 0; j < HG.n; j++) {
        indeg[j + 1] += indeg[j];
    }
    HG.rev = PyMem_RawMalloc((size_t)(HG.nedges ? HG.nedges : 1)
                             * sizeof(int32_t));
    if (HG.rev == NULL) {
        goto oom;
    }
    /* indeg[j + 1] is now j's end: shift by one so indeg[j] is j's end */
    for (int32_t v = HG.n - 1; v >= 0; v--) {
        for (int32_t e = fwd_off[v + 1] - 1; e >= fwd_off[v]; e--) {
            HG.rev[--indeg[fwd[e] + 1]] = v;
        }
    }
    /* now indeg[j + 1] is j's start */
    PyMem_RawFree(fwd);
    fwd = NULL;
    PyMem_RawFree(fwd_off);
    fwd_off = NULL;
    HG.rev_off = PyMem_RawRealloc(indeg, ((size_t)HG.n + 2) * sizeof(int32_t));
    if (HG.rev_off == NULL) {
        goto oom;
    }
    indeg = NULL;
    memmove(HG.rev_off, HG.rev_off + 1, (size_t)HG.n * sizeof(int32_t));
    HG.rev_off[HG.n] = (int32_t)HG.nedges;
    /* The external flag: references nobody in the index accounts for. */
    {
        int32_t page = 0;
        for (int32_t i = 0; i < HG.n; i++) {
            if (HG.meta[i] & HG_EXCLUDED) {
                continue;
            }
            PyObject *op = (PyObject *)hg_addr_walk(i, &page);
            Py_ssize_t accounted = (Py_ssize_t)(HG.rev_off[i + 1]
                                                - HG.rev_off[i])
                                   + ((HG.meta[i] >> HG_INREF_SHIFT)
                                      & HG_INREF_MAX);
            if (Py_REFCNT(op) > accounted) {
                HG.meta[i] |= HG_EXT;
            }
        }
    }
    /* Give back the slack of the arrays that grew with the late nodes. */
    {
        uint8_t *m = PyMem_RawRealloc(HG.meta, (size_t)HG.n + 1);
        if (m != NULL) {
            HG.meta = m;
            HG.cap = HG.n + 1;
        }
        if (HG.late != NULL) {
            int32_t nl = HG.n - HG.nt;
            uintptr_t *l = PyMem_RawRealloc(HG.late, ((size_t)nl + 1)
                                                         * sizeof(uintptr_t));
            if (l != NULL) {
                HG.late = l;
                HG.late_cap = nl + 1;
            }
        }
    }
    HG.valid = 1;
    HG.build_ns = agc_now_ns() - t0;

    return Py_BuildValue("(iLnL)", (int)HG.n, (long long)HG.nedges,
                         (Py_ssize_t)hg_bytes(), (long long)HG.build_ns);
oom:
    PyErr_NoMemory();
fail:
    PyMem_RawFree(in.items);
    PyMem_RawFree(in.odd);
    PyMem_RawFree(in.oddkind);
    PyMem_RawFree(fwd_off);
    PyMem_RawFree(indeg);
    PyMem_RawFree(fwd);
    hg_free();
    return NULL;
}

static int
hg_require(void)
{
    if (!HG.valid) {
        PyErr_SetString(PyExc_RuntimeError, "no heap index: call _hg_build");
        return -1;
    }
    return 0;
}

/* The node of obj (borrowed, not read): its number, -1 if it is not a node
 * (or an excluded one), -2 with an exception if there is no index. */
static int32_t
hg_node_of(PyObject *obj)
{
    if (hg_require() < 0) {
        return -2;
    }
    int32_t i = hg_find(obj);
    return (i < 0 || (HG.meta[i] & HG_EXCLUDED)) ? -1 : i;
}

/* Visitor finding one referent: arg points to {want, found}. */
typedef struct {
    const void *want;
    int found;
} find_ctx;

static int
find_visit(PyObject *ref, void *arg)
{
    find_ctx *c = arg;
    if ((const void *)ref == c->want) {
        c->found = 1;
        return 1;
    }
    return 0;
}

/* Whether live object `from` (borrowed) references `to` right now; `to`
 * is only compared.  Runs no Python code. */
static int
refers_to(PyObject *from, const void *to)
{
    if (!hg_traversable(from)) {
        return 0;
    }
    find_ctx c = {to, 0};
    Py_TYPE(from)->tp_traverse(from, find_visit, &c);
    return c.found;
}

/* Whether the live object `cur` (borrowed) still refers to `next`, a
 * live object: compared first, read only once a live object is seen
 * referring to it (a reference count of 0 is a dead object on a free
 * list: never revived). */
static int
follow_step(PyObject *cur, const void *next)
{
    return refers_to(cur, next) && hg_alive((PyObject *)next);
}

/* The objects at addresses a[0..len) (a[0] is the live `root`'s, borrowed)
 * found again by following references from the root: a new list of new
 * references, Py_None (new ref) if a step no longer exists, NULL with an
 * exception.  `cur` stays alive: the list holds it, and no Python code
 * runs. */
static PyObject *
follow_path(PyObject *root, const uintptr_t *a, Py_ssize_t len)
{
    if (len < 1 || a[0] != (uintptr_t)root) {
        Py_RETURN_NONE;
    }
    PyObject *out = PyList_New(len);
    if (out == NULL) {
        return NULL;
    }
    PyObject *cur = root;
    PyList_SET_ITEM(out, 0, Py_NewRef(root));
    for (Py_ssize_t k = 1; k < len; k++) {
        if (!follow_step(cur, (const void *)a[k])) {
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        cur = (PyObject *)a[k];
        PyList_SET_ITEM(out, k, Py_NewRef(cur));
    }
    return out;
}

/* The objects of a path of node numbers idx[0..len) (idx[0] is root's
 * node, idx[len-1] the target's), found again from the live `root`
 * (borrowed): see follow_path. */
static PyObject *
validate_path(PyObject *root, const int32_t *idx, int32_t len)
{
    uintptr_t *a = PyMem_RawMalloc((size_t)len * sizeof(uintptr_t));
    if (a == NULL) {
        return PyErr_NoMemory();
    }
    for (int32_t k = 0; k < len; k++) {
        a[k] = (uintptr_t)hg_addr(idx[k]);
    }
    PyObject *out = follow_path(root, a, len);
    PyMem_RawFree(a);
    return out;
}

PyDoc_STRVAR(follow_doc,
"_hg_follow(root, addresses, /)\n--\n\n"
"The objects at `addresses` (ints; root's own first), found again by\n"
"following references from the live root, or None if a step no longer\n"
"exists.  Needs no index.");

/* _hg_follow(root, addresses) -> [root, ...] (a new list of new
 * references) or None.  The addresses are only compared until a live
 * object is seen referring to them.  Arguments borrowed. */
static PyObject *
hg_follow(PyObject *module, PyObject *args)
{
    PyObject *root, *addrs;
    if (!PyArg_ParseTuple(args, "OO!:_hg_follow", &root, &PyList_Type,
                          &addrs)) {
        return NULL;
    }
    Py_ssize_t len = PyList_GET_SIZE(addrs);
    if (len < 1) {
        PyErr_SetString(PyExc_ValueError,
                        "_hg_follow(): addresses must not be empty");
        return NULL;
    }
    uintptr_t *a = PyMem_RawMalloc((size_t)len * sizeof(uintptr_t));
    if (a == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *out = NULL;
    for (Py_ssize_t k = 0; k < len; k++) {
        PyObject *item = PyList_GET_ITEM(addrs, k);
        if (!PyLong_Check(item)) {
            PyErr_SetString(PyExc_TypeError,
                            "_hg_follow(): addresses must be ints");
            goto done;
        }
        a[k] = (uintptr_t)PyLong_AsVoidPtr(item);
        if (a[k] == 0 && PyErr_Occurred()) {
            goto done;
        }
    }
    out = follow_path(root, a, len);
done:
    PyMem_RawFree(a);
    return out;
}

/* A small open-addressing set of node numbers -> a value (the named roots'
 * positions), sized for `count` keys. */
typedef struct {
    int32_t *key, *val;
    int log;
} small_map;

static int
small_map_init(small_map *m, Py_ssize_t count)
{
    m->log = 4;
    while (((size_t)count + 1) * 2 > ((size_t)1 << m->log)) {
        m->log++;
    }
    m->key = PyMem_RawMalloc(((size_t)1 << m->log) * sizeof(int32_t));
    m->val = PyMem_RawMalloc(((size_t)1 << m->log) * sizeof(int32_t));
    if (m->key == NULL || m->val == NULL) {
        return -1;
    }
    memset(m->key, 0xff, ((size_t)1 << m->log) * sizeof(int32_t));
    return 0;
}

static void
small_map_free(small_map *m)
{
    PyMem_RawFree(m->key);
    PyMem_RawFree(m->val);
}

/* The value of key k, or -1; with put >= 0, sets it if k is absent. */
static int32_t
small_map_get(small_map *m, int32_t k, int32_t put)
{
    size_t mask = ((size_t)1 << m->log) - 1;
    for (size_t h = hg_hash((uintptr_t)k + 1, m->log);; h = (h + 1) & mask) {
        if (m->key[h] == k) {
            return m->val[h];
        }
        if (m->key[h] < 0) {
            if (put >= 0) {
                m->key[h] = k;
                m->val[h] = put;
            }
            return -1;
        }
    }
}

/* The search's parent links: a small_map while the search is small (a
 * search that ends near the target touches little memory), an array over
 * all nodes once it is not. */
typedef struct {
    int32_t *arr; /* parent + 1 per node, 0 unseen; NULL while small */
    small_map map;
    int32_t count;
} parent_map;

/* v's parent, or -1 if v was not reached. */
static int32_t
pm_get(parent_map *p, int32_t v)
{
    if (p->arr != NULL) {
        return p->arr[v] - 1;
    }
    return small_map_get(&p->map, v, -1);
}

/* Records v (not reached before) reached from `par`.  0, or -1 out of
 * memory. */
static int
pm_set(parent_map *p, int32_t v, int32_t par)
{
    if (p->arr == NULL
        && ((size_t)p->count + 1) * 2 > ((size_t)1 << p->map.log)) {
        size_t slots = (size_t)1 << p->map.log;
        small_map old = p->map;
        if (slots >= ((size_t)1 << 16) || slots * 8 >= (size_t)HG.n) {
            p->arr = PyMem_RawCalloc((size_t)HG.n, sizeof(int32_t));
            if (p->arr == NULL) {
                return -1;
            }
            for (size_t h = 0; h < slots; h++) {
                if (old.key[h] >= 0) {
                    p->arr[old.key[h]] = old.val[h] + 1;
                }
            }
        }
        else {
            if (small_map_init(&p->map, (Py_ssize_t)slots) < 0) {
                small_map_free(&p->map);
                p->map = old;
                return -1;
            }
            for (size_t h = 0; h < slots; h++) {
                if (old.key[h] >= 0) {
                    small_map_get(&p->map, old.key[h], old.val[h]);
                }
            }
        }
        small_map_free(&old);
        if (p->arr != NULL) {
            memset(&p->map, 0, sizeof(p->map));
        }
    }
    p->count++;
    if (p->arr != NULL) {
        p->arr[v] = par + 1;
    }
    else {
        small_map_get(&p->map, v, par);
    }
    return 0;
}

PyDoc_STRVAR(paths_doc,
"_hg_paths(target, roots, max_paths, /)\n--\n\n"
"Paths from the named roots (or an external node) to target, or None\n"
"if target is not in the index.");

/* _hg_paths(target, roots, max_paths) -> None if the target is not in the
 * index, else (paths, stale, anon, reachable, indegree, gen) where paths is
 * a list of (root position in `roots`, [objects root .. target]); stale
 * counts paths that no longer exist; anon is the number of references
 * from the nearest external node when no named root reaches the target,
 * or None; reachable is False when no named root and no external node
 * leads to the target (it sits only in unreachable cycles); indegree
 * counts the target's referrers in the index (with multiplicity).  All
 * arguments borrowed.
 *
 * Breadth first over the referrers from the target; the parent links in
 * a hash map while the search is small (parent_map), so a search that ends
 * near the target costs what it visits, not the heap's size. */
static PyObject *
hg_paths(PyObject *module, PyObject *args)
{
    PyObject *target, *roots;
    int max_paths;
    if (!PyArg_ParseTuple(args, "OO!i:_hg_paths", &target, &PyList_Type,
                          &roots, &max_paths)) {
        return NULL;
    }
    int32_t t = hg_node_of(target);
    if (t == -2) {
        return NULL;
    }
    if (t < 0) {
        Py_RETURN_NONE;
    }
    small_map rootpos = {0};
    parent_map parent = {0};
    int32_t qcap = 1024;
    int32_t *queue = PyMem_RawMalloc((size_t)qcap * sizeof(int32_t));
    int32_t *pathbuf = NULL;
    PyObject *paths = PyList_New(0), *result = NULL, *anon = NULL;
    if (!queue || small_map_init(&parent.map, 64) < 0
        || small_map_init(&rootpos, PyList_GET_SIZE(roots)) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (paths == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(roots); k++) {
        int32_t r = hg_find(PyList_GET_ITEM(roots, k));
        if (r >= 0) {
            small_map_get(&rootpos, r, (int32_t)k);
        }
    }
    uint64_t epoch = hg_epoch;
    int32_t qh = 0, qt = 0, first_ext = -1, found = 0, stale = 0;
    int reachable = 0;
    if (pm_set(&parent, t, t) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    queue[qt++] = t;
    while (qh < qt && found < max_paths) {
        int32_t v = queue[qh++];
        int32_t pos = small_map_get(&rootpos, v, -1);
        if (pos >= 0) {
            reachable = 1;
            int32_t len = 1;
            for (int32_t x = v; x != t; x = pm_get(&parent, x)) {
                len++;
            }
            PyMem_RawFree(pathbuf);
            pathbuf = PyMem_RawMalloc((size_t)len * sizeof(int32_t));
            if (pathbuf == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            len = 0;
            for (int32_t x = v;; x = pm_get(&parent, x)) {
                pathbuf[len++] = x;
                if (x == t) {
                    break;
                }
            }
            PyObject *root = PyList_GET_ITEM(roots, pos);
            PyObject *objs = validate_path(root, pathbuf, len);
            if (objs == NULL) {
                goto done;
            }
            if (objs == Py_None) {
                Py_DECREF(objs);
                stale++;
            }
            else {
                PyObject *item = Py_BuildValue("(iN)", (int)pos, objs);
                if (item == NULL || PyList_Append(paths, item) < 0) {
                    Py_XDECREF(item);
                    goto done;
                }
                Py_DECREF(item);
                found++;
            }
            if (hg_check_epoch(epoch) < 0) {
                goto done;
            }
            if (v != t) {
                continue; /* a path starts at the nearest named root */
            }
        }
        if (v != t && (HG.meta[v] & HG_EXT) && first_ext < 0) {
            first_ext = v;
            reachable = 1;
        }
        for (int32_t e = HG.rev_off[v]; e < HG.rev_off[v + 1]; e++) {
            int32_t u = HG.rev[e];
            if (pm_get(&parent, u) >= 0) {
                continue;
            }
            if (qt == qcap) {
                int32_t *nq = NULL;
                if (qcap <= INT32_MAX / 2) {
                    qcap *= 2;
                    nq = PyMem_RawRealloc(queue, (size_t)qcap * 4);
                }
                if (nq == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                queue = nq;
            }
            if (pm_set(&parent, u, v) < 0) {
                PyErr_NoMemory();
                goto done;
            }
            queue[qt++] = u;
        }
    }
    if (found == 0 && first_ext >= 0) {
        /* No named root: report how far the nearest unnamed external
         * holder is (its object cannot be handed out: nothing live that
         * the caller holds leads to it, so it is never read). */
        int32_t len = 0;
        for (int32_t x = first_ext; x != t; x = pm_get(&parent, x)) {
            len++;
        }
        anon = PyLong_FromLong(len);
        if (anon == NULL) {
            goto done;
        }
    }
    Py_ssize_t indeg = HG.rev_off[t + 1] - HG.rev_off[t];
    result = Py_BuildValue("(NiOOni)", paths, (int)stale,
                           anon ? anon : Py_None,
                           reachable ? Py_True : Py_False, indeg,
                           (int)(HG.meta[t] & HG_GEN_MASK));
    paths = NULL;
done:
    Py_XDECREF(paths);
    Py_XDECREF(anon);
    PyMem_RawFree(parent.arr);
    small_map_free(&parent.map);
    PyMem_RawFree(queue);
    PyMem_RawFree(pathbuf);
    small_map_free(&rootpos);
    return result;
}

/* Size of a live object (borrowed) from its type alone: what sys.getsizeof
 * would say without calling __sizeof__. */
static Py_ssize_t
basic_size(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    Py_ssize_t s = tp->tp_basicsize;
    if (tp->tp_itemsize && !PyLong_Check(op)) {
        Py_ssize_t k = Py_SIZE(op);
        s += tp->tp_itemsize * (k < 0 ? -k : k);
    }
    if (PyObject_IS_GC(op)) {
        s += 2 * (Py_ssize_t)sizeof(void *); /* the gc header */
    }
    return s;
}

/* Whether op's type (or a base) defines __sizeof__ in Python (a function
 * that may be slow -- pandas computes a deep memory usage -- or wrong):
 * only heap types can.  Reads type dicts only; runs no Python code. */
static int
python_sizeof(PyObject *op)
{
    static PyObject *name = NULL;
    if (name == NULL) {
        name = PyUnicode_InternFromString("__sizeof__");
        if (name == NULL) {
            PyErr_Clear();
            return 1;
        }
    }
    PyObject *mro = Py_TYPE(op)->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro)) {
        return 1;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(mro); k++) {
        PyTypeObject *b = (PyTypeObject *)PyTuple_GET_ITEM(mro, k);
        if (!(b->tp_flags & Py_TPFLAGS_HEAPTYPE) || b->tp_dict == NULL) {
            continue; /* a static type: its __sizeof__ is C */
        }
        PyObject *v = PyDict_GetItemWithError(b->tp_dict, name); /* borrowed */
        if (v == NULL) {
            if (PyErr_Occurred()) {
                PyErr_Clear();
                return 1;
            }
            continue;
        }
        return !Py_IS_TYPE(v, &PyMethodDescr_Type);
    }
    return 0;
}

/* Sizes of live objects: sys.getsizeof (looked up once) and the last type
 * found to have a Python __sizeof__ or not. */
typedef struct {
    PyObject *getsizeof; /* new reference, or NULL */
    PyTypeObject *last;
    int last_python;
} sizer;

/* Size of a live object (borrowed) as sys.getsizeof reports it, or its
 * type's size when __sizeof__ is Python code; never fails. */
static Py_ssize_t
object_size(sizer *z, PyObject *op)
{
    if (Py_TYPE(op) != z->last) {
        z->last = Py_TYPE(op);
        z->last_python = python_sizeof(op);
    }
    if (z->last_python || z->getsizeof == NULL) {
        return basic_size(op);
    }
    PyObject *r = PyObject_CallOneArg(z->getsizeof, op);
    if (r == NULL) {
        PyErr_Clear();
        return basic_size(op);
    }
    Py_ssize_t s = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    if (s < 0) {
        PyErr_Clear();
        s = basic_size(op);
    }
    return s;
}

/* What the retained size walks: the live objects reached from the target
 * (strong references while it works), with their node numbers; leaves
 * (objects that are no node) in a table of their own with the references
 * the walk saw to them. */
typedef struct {
    uint8_t *state; /* per node: 0 unseen, 1 candidate, 2 not retained */
    PyObject **obj; /* candidates, strong references */
    int32_t *idx;
    int32_t nobj, cap;
    PyObject **leaf; /* open addressing, strong references */
    int32_t *leafcnt;
    int leaf_log;
    int32_t nleaf;
    int32_t target;
    int oom;
} ret_ctx;

static int
ret_push(ret_ctx *c, PyObject *op, int32_t j)
{
    if (c->nobj == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 256;
        PyObject **o = PyMem_RawRealloc(c->obj,
                                        (size_t)cap * sizeof(PyObject *));
        if (o == NULL) {
            return -1;
        }
        c->obj = o;
        int32_t *x = PyMem_RawRealloc(c->idx, (size_t)cap * sizeof(int32_t));
        if (x == NULL) {
            return -1;
        }
        c->idx = x;
        c->cap = cap;
    }
    c->obj[c->nobj] = Py_NewRef(op);
    c->idx[c->nobj++] = j;
    return 0;
}

/* The leaf table's slot for op (borrowed), adding it when `add`; NULL
 * when absent (or out of memory, c->oom set). */
static int32_t *
leaf_slot(ret_ctx *c, PyObject *op, int add)
{
    if (add && ((size_t)c->nleaf + 1) * 2 > ((size_t)1 << c->leaf_log)) {
        int log = c->leaf_log ? c->leaf_log + 1 : 8;
        PyObject **nl = PyMem_RawCalloc((size_t)1 << log, sizeof(PyObject *));
        int32_t *nc = PyMem_RawCalloc((size_t)1 << log, sizeof(int32_t));
        if (nl == NULL || nc == NULL) {
            PyMem_RawFree(nl);
            PyMem_RawFree(nc);
            c->oom = 1;
            return NULL;
        }
        size_t mask = ((size_t)1 << log) - 1;
        for (size_t k = 0; c->leaf_log && k < ((size_t)1 << c->leaf_log);
             k++) {
            if (c->leaf[k] != NULL) {
                size_t h = hg_hash((uintptr_t)c->leaf[k] >> 3, log);
                while (nl[h] != NULL) {
                    h = (h + 1) & mask;
                }
                nl[h] = c->leaf[k];
                nc[h] = c->leafcnt[k];
            }
        }
        PyMem_RawFree(c->leaf);
        PyMem_RawFree(c->leafcnt);
        c->leaf = nl;
        c->leafcnt = nc;
        c->leaf_log = log;
    }
    if (c->leaf_log == 0) {
        return NULL;
    }
    size_t mask = ((size_t)1 << c->leaf_log) - 1;
    for (size_t h = hg_hash((uintptr_t)op >> 3, c->leaf_log);;
         h = (h + 1) & mask) {
        if (c->leaf[h] == op) {
            return &c->leafcnt[h];
        }
        if (c->leaf[h] == NULL) {
            if (!add) {
                return NULL;
            }
            c->leaf[h] = Py_NewRef(op);
            c->leafcnt[h] = 0;
            c->nleaf++;
            return &c->leafcnt[h];
        }
    }
}

/* Whether node j can be retained by the target: not external, and no
 * referrer known to be held from elsewhere (external, or already found
 * not retained).  Exact as a pruning rule: what only a node that is not
 * retained leads to is not retained either. */
static int
ret_candidate(ret_ctx *c, int32_t j)
{
    if (HG.meta[j] & (HG_EXT | HG_EXCLUDED)) {
        return 0;
    }
    for (int32_t e = HG.rev_off[j]; e < HG.rev_off[j + 1]; e++) {
        int32_t r = HG.rev[e];
        if (r != c->target && ((HG.meta[r] & HG_EXT) || c->state[r] == 2)) {
            return 0;
        }
    }
    return 1;
}

/* Visitor of the walk from the target. */
static int
reach_visit(PyObject *ref, void *arg)
{
    ret_ctx *c = arg;
    if (ref == NULL || c->oom || !hg_alive(ref)) {
        return 0;
    }
    int32_t j = hg_find(ref);
    if (j < 0) {
        if (!hg_traversable(ref)) { /* a leaf: count the reference */
            int32_t *cnt = leaf_slot(c, ref, 1);
            if (cnt == NULL) {
                c->oom = 1;
                return 0;
            }
            (*cnt)++;
        }
        return 0; /* (or a container newer than the index) */
    }
    if (c->state[j] != 0) {
        return 0;
    }
    if (!ret_candidate(c, j)) {
        c->state[j] = 2;
        return 0;
    }
    c->state[j] = 1;
    if (ret_push(c, ref, j) < 0) {
        c->oom = 1;
    }
    return 0;
}

/* Visitor of the drop phase: candidates a dropped one refers to. */
typedef struct {
    ret_ctx *c;
    int32_t *work;
    int32_t nwork;
} drop_ctx;

/* ... and un-counts the references it holds on leaves. */
static int
drop_visit(PyObject *ref, void *arg)
{
    drop_ctx *d = arg;
    int32_t j = hg_find(ref);
    if (j >= 0 && j != d->c->target && d->c->state[j] == 1) {
        d->c->state[j] = 2;
        d->work[d->nwork++] = j;
    }
    else if (j < 0) {
        int32_t *cnt = leaf_slot(d->c, ref, 0);
        if (cnt != NULL) {
            (*cnt)--;
        }
    }
    return 0;
}

PyDoc_STRVAR(retained_doc,
"_hg_retained(target, /)\n--\n\n"
"(objects, bytes) target dominates, itself included, or None if it\n"
"is not in the index.");

/* _hg_retained(target) -> (objects, bytes) freeing the target would free,
 * itself included, or None if the target is not in the index.  target
 * borrowed.
 *
 * The objects it dominates -- every path from an external node to them
 * goes through it -- computed locally, without the heap's dominator tree:
 * S := the nodes reached from the target (by tp_traverse of the live
 * objects, each held while this works, no Python code running), not
 * walking past a node that cannot be retained (ret_candidate); then every
 * node of S with a referrer outside S is dropped, and what it refers to
 * in turn.  What stays is the target's dominator subtree.  A leaf (an
 * object with no tp_traverse: no node) is retained when the retained
 * objects hold every reference to it.  Cost: what the target reaches,
 * not the heap. */
static PyObject *
hg_retained(PyObject *module, PyObject *target)
{
    int32_t t = hg_node_of(target);
    if (t == -2) {
        return NULL;
    }
    if (t < 0) {
        Py_RETURN_NONE;
    }
    ret_ctx c = {0};
    drop_ctx d = {&c, NULL, 0};
    /* z.getsizeof is a new reference: sys.getsizeof may be Python code
     * that rebinds sys.getsizeof, dropping the function between calls. */
    sizer z = {NULL, NULL, 0};
    PyObject *result = NULL;
    c.target = t;
    c.state = PyMem_RawCalloc((size_t)HG.n + 1, 1);
    if (c.state == NULL || ret_push(&c, target, t) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    c.state[t] = 1;
    for (int32_t k = 0; k < c.nobj && !c.oom; k++) {
        PyObject *op = c.obj[k];
        if (hg_traversable(op)) {
            Py_TYPE(op)->tp_traverse(op, reach_visit, &c);
        }
    }
    d.work = PyMem_RawMalloc(((size_t)c.nobj + 1) * sizeof(int32_t));
    if (c.oom || d.work == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* a candidate with a referrer outside S is not retained */
    for (int32_t k = 1; k < c.nobj; k++) {
        int32_t v = c.idx[k];
        for (int32_t e = HG.rev_off[v]; e < HG.rev_off[v + 1]; e++) {
            if (c.state[HG.rev[e]] != 1) {
                c.state[v] = 2;
                d.work[d.nwork++] = v;
                break;
            }
        }
    }
    /* ... nor what only such a one leads to */
    {
        /* node -> position in c.obj, for the live object to traverse */
        small_map pos = {0};
        if (small_map_init(&pos, c.nobj) < 0) {
            small_map_free(&pos);
            PyErr_NoMemory();
            goto done;
        }
        for (int32_t k = 0; k < c.nobj; k++) {
            small_map_get(&pos, c.idx[k], k);
        }
        while (d.nwork > 0) {
            int32_t v = d.work[--d.nwork];
            PyObject *op = c.obj[small_map_get(&pos, v, -1)];
            if (hg_traversable(op)) {
                Py_TYPE(op)->tp_traverse(op, drop_visit, &d);
            }
        }
        small_map_free(&pos);
    }
    /* leaves: retained when the retained objects hold all their refs
     * (counted by the walk, less those of the dropped ones) */
    /* PySys_GetObject gives a borrowed reference: hold it */
    z.getsizeof = Py_XNewRef(PySys_GetObject("getsizeof"));
    int64_t bytes = 0;
    int32_t count = 0;
    for (int32_t k = 0; k < c.nobj; k++) {
        if (c.state[c.idx[k]] == 1) {
            bytes += object_size(&z, c.obj[k]);
            count++;
        }
    }
    for (size_t h = 0; c.leaf_log && h < ((size_t)1 << c.leaf_log); h++) {
        if (h + 16 < ((size_t)1 << c.leaf_log) && c.leaf[h + 16] != NULL) {
            AGC_PREFETCH(c.leaf[h + 16]); /* its reference count, next */
        }
        PyObject *lf = c.leaf[h];
        /* all its references: the retained objects' and ours */
        if (lf != NULL && Py_REFCNT(lf) == (Py_ssize_t)c.leafcnt[h] + 1) {
            bytes += object_size(&z, lf);
            count++;
        }
    }
    result = Py_BuildValue("(iL)", (int)count, (long long)bytes);
done:
    for (int32_t k = 0; k < c.nobj; k++) {
        Py_DECREF(c.obj[k]);
    }
    for (size_t h = 0; c.leaf_log && h < ((size_t)1 << c.leaf_log); h++) {
        Py_XDECREF(c.leaf[h]);
    }
    PyMem_RawFree(c.obj);
    PyMem_RawFree(c.idx);
    PyMem_RawFree(c.leaf);
    PyMem_RawFree(c.leafcnt);
    PyMem_RawFree(c.state);
    PyMem_RawFree(d.work);
    Py_XDECREF(z.getsizeof);
    return result;
}

PyDoc_STRVAR(stats_doc,
"_hg_stats()\n--\n\n"
"None, or (nodes, edges, bytes, build ns) of the heap index.");

/* _hg_stats() -> None or (nodes, edges, bytes, build ns). */
static PyObject *
hg_stats(PyObject *module, PyObject *unused)
{
    if (!HG.valid) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(iLnL)", (int)HG.n, (long long)HG.nedges,
                         (Py_ssize_t)hg_bytes(), (long long)HG.build_ns);
}

PyDoc_STRVAR(clear_doc,
"_hg_clear()\n--\n\nFree the heap index.");

static PyObject *
hg_clear(PyObject *module, PyObject *unused)
{
    hg_free();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(set_external_doc,
"_hg_set_external(obj, flag, /)\n--\n\n"
"Mark obj as held (or not) from outside the heap; False if obj is\n"
"not in the index.");

/* _hg_set_external(obj, flag): whether something outside the heap holds
 * obj (the caller knows better than the build for the object it holds
 * itself).
 * obj borrowed, not read. */
static PyObject *
hg_set_external(PyObject *module, PyObject *args)
{
    PyObject *obj;
    int flag;
    if (!PyArg_ParseTuple(args, "Op:_hg_set_external", &obj, &flag)) {
        return NULL;
    }
    int32_t i = hg_node_of(obj);
    if (i == -2) {
        return NULL;
    }
    if (i < 0) {
        Py_RETURN_FALSE;
    }
    if (((HG.meta[i] & HG_EXT) != 0) != (flag != 0)) {
        HG.meta[i] ^= HG_EXT;
    }
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(contains_doc,
"_hg_contains(obj, /)\n--\n\n"
"Whether obj's address is a node of the heap index.");

/* _hg_contains(obj) -> whether obj's address is a node (not read). */
static PyObject *
hg_contains(PyObject *module, PyObject *obj)
{
    return PyBool_FromLong(HG.valid && hg_find(obj) >= 0);
}

PyMethodDef agc_heapindex_methods[] = {
    {"_frame_locals", agc_frame_locals, METH_O, frame_locals_doc},
    {"_hg_build", hg_build, METH_VARARGS, build_doc},
    {"_hg_paths", hg_paths, METH_VARARGS, paths_doc},
    {"_hg_follow", hg_follow, METH_VARARGS, follow_doc},
    {"_hg_retained", hg_retained, METH_O, retained_doc},
    {"_hg_stats", hg_stats, METH_NOARGS, stats_doc},
    {"_hg_clear", hg_clear, METH_NOARGS, clear_doc},
    {"_hg_contains", hg_contains, METH_O, contains_doc},
    {"_hg_set_external", hg_set_external, METH_VARARGS, set_external_doc},
    {NULL, NULL, 0, NULL},
};
