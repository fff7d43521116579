/*
 * registry.c -- the registry of borrowed container pointers.
 *
 * See registry.h for the layout and the invariants.  Nothing here calls
 * into Python, takes or drops a reference, or sets an exception: the
 * allocator's free hook calls agc_registry_discard_block and
 * agc_registry_discard, where any of those would be unsafe.
 */
#include "registry.h"

#include "pages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 64
#define MIN_OBJS 64
/* The array's largest capacity, so that an index + 1 fits in 31 bits and
 * a slot keeps at least one check bit (registry.h). */
#define MAX_OBJS (((Py_ssize_t)1 << 31) - 1)

agc_registry agc_reg;

/* The page filter's size in bytes (0 before the table is first built). */
static size_t
page_filter_bytes(const agc_registry *reg)
{
    return reg->pages != NULL ? ((size_t)1 << (64 - reg->pages_shift)) / 8 : 0;
}

/* Slots from position `home` to position `i`, cyclically. */
static inline size_t
slot_dist(const agc_registry *reg, size_t i, size_t home)
{
    return i >= home ? i - home : i + reg->nslots - home;
}

/* The slot for index idx of an address of hash h, `d` slots past its home
 * slot. */
static inline uint32_t
make_slot(const agc_registry *reg, uint64_t h, size_t d, Py_ssize_t idx)
{
    return agc_slot_key(reg, h, d) | (uint32_t)(idx + 1);
}

/* Home slot of the entry that slot s at position j holds: from the
 * distance field, or by hashing the entry's address when it is saturated
 * (reads `objs`). */
static inline size_t
slot_home(const agc_registry *reg, uint32_t s, size_t j)
{
    uint32_t d = (s >> reg->ibits) & reg->dmax;
    if (d < reg->dmax) {
        return j >= d ? j - d : j + reg->nslots - d;
    }
    PyObject *op = AGC_ENTRY_OBJ(reg->objs[agc_slot_index(reg, s)]);
    return agc_home_of(agc_tag_of(op), reg->nslots);
}

void
agc_registry_init(agc_registry *reg)
{
    memset(reg, 0, sizeof(*reg));
    reg->lo_addr = UINTPTR_MAX;
    reg->hi_addr = 0;
}

/* The negative filter: one bit per tag's low bits, set for every
 * registered object, cleared only when the table is rebuilt.  A clear bit
 * proves an address is not registered without probing the table: the
 * common answer of the free hook, which is asked about every object the
 * process frees. */
static inline void
filter_set(agc_registry *reg, uint32_t tag)
{
    size_t b = tag & (reg->filter_bits - 1);
    reg->filter[b >> 6] |= (uint64_t)1 << (b & 63);
}

/* The page filter: one bit per hash of the 4 KiB page an object starts
 * in, set for every registered object, cleared only when the table is
 * rebuilt.  Most short-lived objects live in pages (pymalloc pools of
 * their size class) that hold no registered object, so the death hooks'
 * lookups of them end here, before the tag is computed. */
static inline void
pages_set(agc_registry *reg, uintptr_t a)
{
    uint64_t b = ((uint64_t)(a >> 12) * 0x9E3779B97F4A7C15ULL)
                 >> reg->pages_shift;
    reg->pages[b >> 6] |= (uint64_t)1 << (b & 63);
}

/* Slot position of `op`, or (size_t)-1; *idx receives its index. */
static size_t
find_slot(const agc_registry *reg, const void *op, Py_ssize_t *idx)
{
    uintptr_t a = (uintptr_t)op;
    if (reg->used == 0 || a < reg->lo_addr || a > reg->hi_addr
        || !agc_pages_test(reg, a)) {
        return (size_t)-1;
    }
    uint64_t h = agc_hash_of(op);
    uint32_t tag = (uint32_t)(h >> 32);
    if (!agc_filter_test(reg, tag)) {
        return (size_t)-1;
    }
    size_t i = agc_home_of(tag, reg->nslots);
    for (;;) {
        uint32_t s = reg->slots[i];
        if (s == 0) {
            return (size_t)-1;
        }
        if (agc_slot_may_be(reg, s, h)) {
            Py_ssize_t k = agc_slot_index(reg, s);
            if ((void *)AGC_ENTRY_OBJ(reg->objs[k]) == op) {
                *idx = k;
                return i;
            }
        }
        if (++i == reg->nslots) {
            i = 0;
        }
    }
}

Py_ssize_t
agc_registry_find(agc_registry *reg, const PyObject *op)
{
    Py_ssize_t idx;
    agc_registry_settle(reg);
    if (find_slot(reg, op, &idx) == (size_t)-1) {
        return -1;
    }
    return idx;
}

/* Slot of the registered object whose memory block starts at `block`, or
 * (size_t)-1.  A GC object sits 16 bytes (PyGC_Head) into its block, or 32
 * bytes when its type has a pre-header; the entry's flag says which, so a
 * small neighbouring block is never mistaken for the object's. */
static size_t
find_block_slot(const agc_registry *reg, const void *block, Py_ssize_t *idx)
{
    const char *b = (const char *)block;
    size_t pos = find_slot(reg, b + 16, idx);
    if (pos != (size_t)-1 && !(reg->objs[*idx] & AGC_ENTRY_PRE32)) {
        return pos;
    }
    pos = find_slot(reg, b + 32, idx);
    if (pos != (size_t)-1 && (reg->objs[*idx] & AGC_ENTRY_PRE32)) {
        return pos;
    }
    return (size_t)-1;
}

/* Fills the empty slot `i` (the end of the probe run from `home`, the
 * home slot of op, whose hash is h) with index idx, and sets op's filter
 * bits. */
static inline void
slot_fill(agc_registry *reg, size_t i, size_t home, uint64_t h, const void *op,
          Py_ssize_t idx)
{
    filter_set(reg, (uint32_t)(h >> 32));
    pages_set(reg, (uintptr_t)op);
    reg->slots[i] = make_slot(reg, h, slot_dist(reg, i, home), idx);
}

static void
slot_insert(agc_registry *reg, const void *op, Py_ssize_t idx)
{
    uint64_t h = agc_hash_of(op);
    size_t home = agc_home_of((uint32_t)(h >> 32), reg->nslots);
    size_t i = home;
    while (reg->slots[i] != 0) {
        if (++i == reg->nslots) {
            i = 0;
        }
    }
    slot_fill(reg, i, home, h, op, idx);
}

/* Inserts every entry of `objs` into the empty table (filters cleared):
 * the table's rebuild, after a rehash or after entries moved. */
static void
insert_all(agc_registry *reg)
{
    for (Py_ssize_t i = 0; i < reg->n; i++) {
        uintptr_t e = reg->objs[i];
        if (e != 0) {
            slot_insert(reg, AGC_ENTRY_OBJ(e), i);
        }
    }
}

/* 1 if `extra` more entries fit without growing the array or the table
 * (agc_registry_reserve would do nothing). */
static inline int
has_room(const agc_registry *reg, Py_ssize_t extra)
{
    Py_ssize_t need = reg->n + extra;
    return need <= reg->objs_cap && need <= (Py_ssize_t)reg->imask
           && (reg->used + (size_t)extra) * 5 <= reg->nslots * 4;
}

/* Backward-shift deletion: later members of the probe run move up so that
 * no lookup ever stops early at the freed slot. */
static void
slot_delete(agc_registry *reg, size_t pos)
{
    size_t n = reg->nslots;
    size_t i = pos, j = pos;
    for (;;) {
        j = (j + 1 == n) ? 0 : j + 1;
        uint32_t s = reg->slots[j];
        if (s == 0) {
            break;
        }
        size_t k = slot_home(reg, s, j);
        /* s may fill the gap at i unless its home lies cyclically in
         * (i, j]. */
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) {
            continue;
        }
        /* Moved nearer its home: a new distance, the same check and
         * index. */
        uint32_t d = (uint32_t)slot_dist(reg, i, k);
        if (d > reg->dmax) {
            d = reg->dmax;
        }
        reg->slots[i] = (s & (reg->cmask | reg->imask)) | (d << reg->ibits);
        i = j;
    }
    reg->slots[i] = 0;
}

/* Rebuilds the hash table with `nslots` slots from `objs`.  Returns -1 if
 * memory is short (the old table stays). */
static int
rehash(agc_registry *reg, size_t nslots)
{
    if (nslots < MIN_SLOTS) {
        nslots = MIN_SLOTS;
    }
    if (nslots > ((size_t)1 << 32) - 1) {
        return -1;
    }
    /* The index field: every index + 1 up to the array's capacity, and up
     * to as many entries as the table holds before it grows again (0.8 of
     * its slots).  Sized to the array alone, the field outgrew it each
     * time the array passed a power of two, and the table was built again
     * at the same size: a third of the entries reinserted while a
     * registry grew from 0 to 400k (benchmarks/probe_adopt.py). */
    size_t fill = nslots / 5 * 4;
    Py_ssize_t top = reg->objs_cap;
    if ((size_t)top < fill) {
        top = fill < (size_t)MAX_OBJS ? (Py_ssize_t)fill : MAX_OBJS;
    }
    int ibits = 1;
    while ((((Py_ssize_t)1 << ibits) - 1) < top) {
        ibits++;
    }
    AGC_ASSERT(ibits <= 31);
    /* A few distance bits serve deletions (most probe distances are
     * short); the rest, the check, serves lookups. */
    int dbits = (32 - ibits) / 2 < 4 ? (32 - ibits) / 2 : 4;
    /* Filter: 2-4 bits per slot, a power of two. */
    size_t fbits = 64;
    while (fbits < nslots * 2) {
        fbits *= 2;
    }
    /* Page filter: about half a bit per slot, at least 2**16 bits. */
    int plog = 16;
    while (((size_t)1 << plog) < nslots / 2) {
        plog++;
    }
    uint32_t *slots = agc_pages_alloc(nslots * sizeof(uint32_t));
    uint64_t *filter = agc_pages_alloc(fbits / 8);
    uint64_t *pages = agc_pages_alloc(((size_t)1 << plog) / 8);
    if (slots == NULL || filter == NULL || pages == NULL) {
        agc_pages_free(slots, nslots * sizeof(uint32_t));
        agc_pages_free(filter, fbits / 8);
        agc_pages_free(pages, ((size_t)1 << plog) / 8);
        return -1;
    }
    agc_pages_free(reg->slots, reg->nslots * sizeof(uint32_t));
    agc_pages_free(reg->filter, reg->filter_bits / 8);
    agc_pages_free(reg->pages, page_filter_bytes(reg));
    reg->slots = slots;
    reg->nslots = nslots;
    reg->ibits = ibits;
    reg->imask = ((uint32_t)1 << ibits) - 1;
    reg->dmax = ((uint32_t)1 << dbits) - 1;
    reg->cmask = ~(uint32_t)0 << (ibits + dbits);
    reg->filter = filter;
    reg->filter_bits = fbits;
    reg->pages = pages;
    reg->pages_shift = 64 - plog;
    insert_all(reg);
    return 0;
}

/* A registration may reuse the address of an announced death that has
 * happened, or of a death found unregistered (the absent cache): from now
 * on such an address needs the table again.  Cancels the announcement and
 * forgets op's possible absent answers (its own, and those of the blocks
 * it may start 16 or 32 bytes into). */
static inline void
forget_answers(agc_registry *reg, uintptr_t a)
{
    reg->expect = NULL;
    reg->absent[agc_absent_slot(a)] = 0;
    reg->absent[agc_absent_slot(a - 16)] = 0;
    reg->absent[agc_absent_slot(a - 32)] = 0;
}

/* The registration proper, once there is room for it (has_room) and the
 * answers about its address are forgotten (forget_answers).  op
 * (borrowed) has hash h; `kind` is agc_freelist_kind of its type (callers
 * adding many objects compute it once per type).  One probe answers both
 * questions: op's slot if it is registered, else the empty slot that ends
 * its probe run, where it goes (I2).  1 added, 0 registered already, -2
 * refused (AGC_KIND_REFUSED). */
static AGC_ALWAYS_INLINE int
add_with_room(agc_registry *reg, PyObject *op, uint64_t h, int kind,
              uintptr_t flags)
{
    uintptr_t a = (uintptr_t)op;
    uint32_t tag = (uint32_t)(h >> 32);
    size_t home = agc_home_of(tag, reg->nslots);
    size_t i = home;
    int maybe = reg->used != 0 && a >= reg->lo_addr && a <= reg->hi_addr
                && agc_pages_test(reg, a) && agc_filter_test(reg, tag);
    for (;;) {
        uint32_t s = reg->slots[i];
        if (s == 0) {
            break;
        }
        if (maybe && agc_slot_may_be(reg, s, h)
            && (void *)AGC_ENTRY_OBJ(reg->objs[agc_slot_index(reg, s)])
                   == op) {
            return 0;
        }
        if (++i == reg->nslots) {
            i = 0;
        }
    }
    if (kind == AGC_KIND_REFUSED) {
        return -2;
    }
    flags &= AGC_ENTRY_PRE32 | AGC_ENTRY_ADOPTED;
    if (kind >= 0) {
        flags |= AGC_ENTRY_FREELIST;
        agc_kind_demand_add(kind);
    }
    Py_ssize_t idx = reg->n++;
    reg->objs[idx] = a | flags;
    slot_fill(reg, i, home, h, op, idx);
    reg->used++;
    if (a < reg->lo_addr) {
        reg->lo_addr = a;
    }
    if (a > reg->hi_addr) {
        reg->hi_addr = a;
    }
    return 1;
}

int
agc_registry_add(agc_registry *reg, PyObject *op, uintptr_t flags)
{
    agc_registry_settle(reg);
    forget_answers(reg, (uintptr_t)op);
    /* Room first: growing rehashes, and the probe must find the slot of
     * the table the entry goes into. */
    if (!has_room(reg, 1) && agc_registry_reserve(reg, 1) < 0) {
        return agc_registry_find(reg, op) >= 0 ? 0 : -1;
    }
    return add_with_room(reg, op, agc_hash_of(op),
                         agc_freelist_kind(Py_TYPE(op)), flags);
}

Py_ssize_t
agc_registry_add_batch(agc_registry *reg, PyObject *const *ops, int n,
                       uintptr_t flags)
{
    AGC_ASSERT(n >= 0 && n <= AGC_ADD_BATCH);
    Py_ssize_t added = 0;
    agc_registry_settle(reg);
    if (!has_room(reg, n) && agc_registry_reserve(reg, n) < 0) {
        /* One at a time, growing as it goes (or failing at the one that
         * does not fit). */
        for (int k = 0; k < n; k++) {
            PyObject *op = ops[k];
            int rc = agc_registry_add(
                reg, op,
                flags | (agc_has_pre32(Py_TYPE(op)) ? AGC_ENTRY_PRE32 : 0));
            if (rc == -1) {
                return -1;
            }
            added += rc == 1;
        }
        return added;
    }
    /* The whole absent cache is cleared rather than three of its slots per
     * object: it only saves probes, and a batch would clear most of it. */
    reg->expect = NULL;
    memset(reg->absent, 0, sizeof(reg->absent));
    /* Prefetch what each probe reads first, so that the random reads of
     * a large table overlap instead of following one another. */
    for (int k = 0; k < n; k++) {
        agc_registry_prefetch(reg, ops[k]);
    }
    /* Objects of a batch share few types: the kind and the pre-header
     * flag are looked up once per run of one type. */
    PyTypeObject *tp = NULL;
    int kind = -1;
    uintptr_t pre = 0;
    for (int k = 0; k < n; k++) {
        PyObject *op = ops[k];
        if (Py_TYPE(op) != tp) {
            tp = Py_TYPE(op);
            kind = agc_freelist_kind(tp);
            pre = agc_has_pre32(tp) ? AGC_ENTRY_PRE32 : 0;
        }
        added += add_with_room(reg, op, agc_hash_of(op), kind, flags | pre)
                 == 1;
    }
    return added;
}

int
agc_registry_gen_of(const agc_registry *reg, Py_ssize_t i)
{
    AGC_ASSERT(reg->ndq == 0); /* I8 */
    if (i < reg->start[2]) {
        return AGC_PERMANENT;
    }
    if (i < reg->start[1]) {
        return 2;
    }
    if (i < reg->start[0]) {
        return 1;
    }
    return 0;
}

Py_ssize_t
agc_registry_gen_start(const agc_registry *reg, int gen)
{
    AGC_ASSERT(reg->ndq == 0); /* I8 */
    return gen == AGC_PERMANENT ? 0 : reg->start[gen];
}

Py_ssize_t
agc_registry_gen_end(const agc_registry *reg, int gen)
{
    AGC_ASSERT(reg->ndq == 0); /* I8 */
    if (gen == 0) {
        return reg->n;
    }
    if (gen == AGC_PERMANENT) {
        return reg->start[2];
    }
    return reg->start[gen - 1];
}

/* Moves the (non-hole) entry at `from` to `to` and repoints its slot. */
static void
move_entry(agc_registry *reg, Py_ssize_t from, Py_ssize_t to)
{
    uintptr_t e = reg->objs[from];
    PyObject *op = AGC_ENTRY_OBJ(e);
    size_t i = agc_home_of(agc_tag_of(op), reg->nslots);
    for (;;) {
        uint32_t s = reg->slots[i];
        AGC_ASSERT(s != 0);
        if (agc_slot_index(reg, s) == from) {
            reg->slots[i] = (s & ~reg->imask) | (uint32_t)(to + 1);
            break;
        }
        if (++i == reg->nslots) {
            i = 0;
        }
    }
    reg->objs[to] = e;
}

/* Closes the gap at `idx` (whose slot is already gone) in O(1): the last
 * entry of idx's partition fills it, then the gap moves to the start of the
 * next younger partition, which gives up its own last entry, and so on down
 * to generation 0, which shrinks.  Every entry moved comes from an index
 * greater than idx. */
static void
remove_at(agc_registry *reg, Py_ssize_t idx)
{
    Py_ssize_t hole = idx;
    for (int g = agc_registry_gen_of(reg, idx);; g--) {
        Py_ssize_t last = agc_registry_gen_end(reg, g) - 1;
        if (last != hole) {
            move_entry(reg, last, hole);
        }
        hole = last;
        if (g == 0) {
            break;
        }
        reg->start[g - 1]--; /* the younger partition takes the gap */
    }
    reg->objs[hole] = 0;
    reg->n--;
}

static void
reset_range_if_empty(agc_registry *reg)
{
    if (reg->used == 0) {
        reg->lo_addr = UINTPTR_MAX;
        reg->hi_addr = 0;
    }
}

/* What a removal knows of the object's free-list kind: KIND_READ, the
 * object's memory is still its own and its type may be read; KIND_UNKNOWN,
 * it may be freed (a queued block: no free-list-kind entry can be named by
 * one, I7 and agc_registry_note_block); else the kind a tp_dealloc hook
 * read. */
#define KIND_READ (-2)
#define KIND_UNKNOWN (-1)

/* An entry is leaving the registry: lower its kind's interposition demand
 * (registry.h, AGC_ENTRY_FREELIST).  `kind`: see KIND_READ. */
static inline void
entry_gone(uintptr_t e, int kind)
{
    if (e & AGC_ENTRY_FREELIST) {
        if (kind == KIND_READ) {
            kind = agc_freelist_kind(Py_TYPE(AGC_ENTRY_OBJ(e)));
        }
        /* KIND_UNKNOWN breaks I7: the demand then stays raised, which
         * only keeps the kind interposed. */
        AGC_ASSERT(kind >= 0);
        if (kind >= 0) {
            agc_kind_demand_drop(kind);
        }
    }
}

/* What removing entry `e` returns (AGC_GONE_COUNTED or _ADOPTED). */
#define GONE(e)                                                               \
    (((e) & AGC_ENTRY_ADOPTED) ? AGC_GONE_ADOPTED : AGC_GONE_COUNTED)

/* Removes the entry at `idx` whose slot is at `pos`.  `kind`: see
 * KIND_READ. */
static void
discard_at(agc_registry *reg, size_t pos, Py_ssize_t idx, int kind)
{
    entry_gone(reg->objs[idx], kind);
    slot_delete(reg, pos);
    reg->used--;
    if (reg->pinned) {
        reg->objs[idx] = 0;
        if (reg->nholes == 0 || idx < reg->holes_low) {
            reg->holes_low = idx;
        }
        if (reg->nholes < reg->holes_cap) {
            reg->holes[reg->nholes] = idx;
        }
        else if (!reg->holes_overflow) {
            Py_ssize_t cap = reg->holes_cap * 2 + 64;
            Py_ssize_t *h = reg->holes_cap > reg->n / 8
                                ? NULL /* compaction will scan */
                                : PyMem_RawRealloc(reg->holes,
                                                   (size_t)cap * sizeof(*h));
            if (h == NULL) {
                reg->holes_overflow = 1;
            }
            else {
                reg->holes = h;
                reg->holes_cap = cap;
                reg->holes[reg->nholes] = idx;
            }
        }
        reg->nholes++;
    }
    else {
        remove_at(reg, idx);
    }
    reset_range_if_empty(reg);
}

void
agc_registry_expect(agc_registry *reg, Py_ssize_t idx)
{
    AGC_ASSERT(reg->pinned > 0);
    AGC_ASSERT(idx >= 0 && idx < reg->n && reg->objs[idx] != 0);
    uintptr_t e = reg->objs[idx];
    const PyObject *op = AGC_ENTRY_OBJ(e);
    /* The slot holding index idx is the entry's: no need to read objs. */
    size_t i = agc_home_of(agc_tag_of(op), reg->nslots);
    while (agc_slot_index(reg, reg->slots[i]) != idx) {
        AGC_ASSERT(reg->slots[i] != 0);
        if (++i == reg->nslots) {
            i = 0;
        }
    }
    reg->expect = op;
    reg->expect_idx = idx;
    reg->expect_pos = i;
    reg->expect_pre32 = (e & AGC_ENTRY_PRE32) != 0;
    reg->expect_done = 0;
}

void
agc_registry_expect_end(agc_registry *reg)
{
    reg->expect = NULL;
}

/* The announced object died: remove its entry (1), or 0 if that was done
 * already. */
static int
take_expected(agc_registry *reg)
{
    if (reg->expect_done) {
        return 0;
    }
    reg->expect_done = 1;
    Py_ssize_t idx = reg->expect_idx;
    size_t pos = reg->expect_pos;
    if (agc_slot_index(reg, reg->slots[pos]) != idx) {
        /* Another removal's backward shift moved the slot since. */
        Py_ssize_t k;
        pos = find_slot(reg, reg->expect, &k);
        if (pos == (size_t)-1) {
            return 0;
        }
        AGC_ASSERT(k == idx);
    }
    int gone = GONE(reg->objs[idx]);
    discard_at(reg, pos, idx, KIND_READ);
    return gone;
}

/* agc_registry_discard once the queue is settled (or while it is being
 * settled, in order).  `kind`: see KIND_READ. */
static int
discard_now(agc_registry *reg, const PyObject *op, int kind)
{
    Py_ssize_t idx;
    uintptr_t *absent = &reg->absent[agc_absent_slot((uintptr_t)op)];
    if (*absent == (uintptr_t)op) {
        return 0;
    }
    size_t pos = find_slot(reg, op, &idx);
    if (pos == (size_t)-1) {
        *absent = (uintptr_t)op;
        return 0;
    }
    /* The free hook is told next, when the object's memory block is freed
     * (unless it goes to a free list): its block is now known to hold
     * nothing registered, as discard_block's absent answers record it
     * (the low bit set).  A registration that reuses the block forgets
     * the answer (forget_answers). */
    const char *block = (const char *)op
                        - ((reg->objs[idx] & AGC_ENTRY_PRE32) ? 32 : 16);
    reg->absent[agc_absent_slot((uintptr_t)block)] = (uintptr_t)block | 1;
    int gone = GONE(reg->objs[idx]);
    discard_at(reg, pos, idx, kind);
    return gone;
}

int
agc_registry_discard(agc_registry *reg, const PyObject *op)
{
    if (reg->expect != NULL && op == reg->expect) {
        return take_expected(reg);
    }
    agc_registry_settle(reg);
    return discard_now(reg, op, KIND_READ);
}

/* agc_registry_discard_block once the queue is settled (or while it is
 * being settled, in order).  `kind`: see KIND_READ. */
static int
discard_block_now(agc_registry *reg, const void *block, int kind)
{
    Py_ssize_t idx;
    /* A block's entry is its address with the low bit set, so that it
     * never answers for an object at that address; a registration at
     * block + 16 or block + 32 clears it (agc_registry_add). */
    uintptr_t key = (uintptr_t)block | 1;
    uintptr_t *absent = &reg->absent[agc_absent_slot((uintptr_t)block)];
    if (*absent == key) {
        return 0;
    }
    size_t pos = find_block_slot(reg, block, &idx);
    if (pos == (size_t)-1) {
        *absent = key;
        return 0;
    }
    int gone = GONE(reg->objs[idx]);
    discard_at(reg, pos, idx, kind);
    return gone;
}

int
agc_registry_discard_block(agc_registry *reg, const void *block)
{
    if (reg->expect != NULL) {
        const char *b = (const char *)block;
        if ((const void *)(b + (reg->expect_pre32 ? 32 : 16))
            == (const void *)reg->expect) {
            return take_expected(reg);
        }
    }
    agc_registry_settle(reg);
    return discard_block_now(reg, block, KIND_READ);
}

/* Settling's second pass, for address `a` of a queued key (its home slot
 * and filter word prefetched by the first): prefetches the entry of the
 * first slot whose check bits match a's -- nearly always a's own entry.
 * 1 if there was one.  Reads the table only. */
static int
prefetch_candidate(const agc_registry *reg, uintptr_t a)
{
    uint64_t h = agc_hash_of((const void *)a);
    uint32_t tag = (uint32_t)(h >> 32);
    if (a < reg->lo_addr || a > reg->hi_addr || !agc_filter_test(reg, tag)) {
        return 0;
    }
    for (size_t i = agc_home_of(tag, reg->nslots);;) {
        uint32_t s = reg->slots[i];
        if (s == 0) {
            return 0;
        }
        if (agc_slot_may_be(reg, s, h)) {
            AGC_PREFETCH(&reg->objs[agc_slot_index(reg, s)]);
            return 1;
        }
        if (++i == reg->nslots) {
            i = 0;
        }
    }
}

/* Registries from this size (entries and table) up are settled with
 * their reads prefetched: below it they stay in the caches, where the
 * passes would only add instructions. */
#define SETTLE_PREFETCH_MIN ((size_t)1 << 20)

/* Prefetches what settling the queue's first n keys will read. */
static void
prefetch_queue(const agc_registry *reg, int n)
{
    /* Two passes, so that each one's cache misses overlap: the home slot
     * and filter word of every address a key may name, then the entry
     * each one's slot points to. */
    for (int k = 0; k < n; k++) {
        uintptr_t key = reg->dq[k];
        if (key & 1) {
            agc_registry_prefetch(reg, (const void *)(key - 1 + 16));
            agc_registry_prefetch(reg, (const void *)(key - 1 + 32));
        }
        else {
            agc_registry_prefetch(reg, (const void *)key);
        }
    }
    for (int k = 0; k < n; k++) {
        uintptr_t key = reg->dq[k];
        if ((key & 1) == 0) {
            prefetch_candidate(reg, key);
        }
        else if (!prefetch_candidate(reg, key - 1 + 16)) {
            prefetch_candidate(reg, key - 1 + 32);
        }
    }
}

void
agc_registry_settle_queue(agc_registry *reg)
{
    int n = reg->ndq;
    AGC_ASSERT(!reg->pinned && n <= AGC_DQ_CAP);
    reg->ndq = 0;
    if (reg->used == 0) {
        return; /* nothing registered: every key names nothing */
    }
    if ((size_t)reg->objs_cap * sizeof(uintptr_t)
            + reg->nslots * sizeof(uint32_t)
        >= SETTLE_PREFETCH_MIN) {
        prefetch_queue(reg, n);
    }
    for (int k = 0; k < n; k++) {
        uintptr_t key = reg->dq[k];
        if (key & 1) {
            reg->settled += discard_block_now(reg, (const void *)(key - 1),
                                              KIND_UNKNOWN)
                            == AGC_GONE_COUNTED;
        }
        else {
            reg->settled += discard_now(reg, (const PyObject *)key,
                                        reg->dq_kind[k])
                            == AGC_GONE_COUNTED;
        }
    }
}

/* Re-inserts every entry into the current table (after the entries moved).
 * Needs no memory: the table already holds at least `used` slots at a
 * load factor <= 0.8. */
static void
reinsert_all(agc_registry *reg)
{
    memset(reg->slots, 0, reg->nslots * sizeof(uint32_t));
    memset(reg->filter, 0, reg->filter_bits / 8);
    if (reg->pages != NULL) {
        memset(reg->pages, 0, ((size_t)1 << (64 - reg->pages_shift)) / 8);
    }
    insert_all(reg);
}

Py_ssize_t
agc_registry_discard_flagged(agc_registry *reg, uintptr_t flags)
{
    agc_registry_settle(reg);
    if (reg->pinned) {
        /* Indices must stay put: remove one by one, leaving holes. */
        Py_ssize_t removed = 0;
        for (Py_ssize_t i = 0; i < reg->n; i++) {
            uintptr_t e = reg->objs[i];
            if (e == 0 || (e & flags) == 0) {
                continue;
            }
            Py_ssize_t idx;
            size_t pos = find_slot(reg, AGC_ENTRY_OBJ(e), &idx);
            AGC_ASSERT(pos != (size_t)-1 && idx == i);
            if (pos != (size_t)-1) {
                discard_at(reg, pos, idx, KIND_READ);
                removed++;
            }
        }
        return removed;
    }
    /* One stable pass over the partitions, oldest first, then the table
     * rebuilt from the array: O(n) sequential work instead of a random
     * probe and a deletion per removed entry. */
    static const int order[4] = {AGC_PERMANENT, 2, 1, 0};
    Py_ssize_t bounds[4][2];
    for (int k = 0; k < 4; k++) {
        bounds[k][0] = agc_registry_gen_start(reg, order[k]);
        bounds[k][1] = agc_registry_gen_end(reg, order[k]);
    }
    Py_ssize_t w = 0, removed = 0;
    for (int k = 0; k < 4; k++) {
        if (order[k] != AGC_PERMANENT) {
            reg->start[order[k]] = w;
        }
        for (Py_ssize_t i = bounds[k][0]; i < bounds[k][1]; i++) {
            uintptr_t e = reg->objs[i];
            if (e != 0 && (e & flags) == 0) {
                reg->objs[w++] = e;
            }
            else if (e != 0) {
                entry_gone(e, KIND_READ);
                removed++;
            }
        }
    }
    reg->n = w;
    reg->used -= (size_t)removed;
    if (removed > 0 && rehash(reg, reg->used * 2) < 0) {
        reinsert_all(reg);
    }
    reset_range_if_empty(reg);
    return removed;
}

int
agc_registry_reserve(agc_registry *reg, Py_ssize_t extra)
{
    agc_registry_settle(reg);
    if (extra <= 0 || has_room(reg, extra)) {
        return 0;
    }
    Py_ssize_t need = reg->n + extra;
    if (need > MAX_OBJS) {
        return -1;
    }
    if (need > reg->objs_cap) {
        /* Geometric growth, so that adding one at a time is amortised O(1):
         * by a quarter, by an eighth once the array is large (realloc then
         * remaps pages instead of copying, and the slack is memory held
         * for nothing). */
        Py_ssize_t cap = reg->objs_cap
                         + reg->objs_cap / (reg->objs_cap < 65536 ? 4 : 8)
                         + MIN_OBJS;
        if (cap < need) {
            cap = need;
        }
        if (cap > MAX_OBJS) {
            cap = MAX_OBJS;
        }
        uintptr_t *objs = agc_pages_realloc(
            reg->objs, (size_t)reg->objs_cap * sizeof(uintptr_t),
            (size_t)cap * sizeof(uintptr_t));
        if (objs == NULL) {
            return -1;
        }
        reg->objs = objs;
        reg->objs_cap = cap;
    }
    /* Keep the load factor at most 0.8; grow to about 0.5.  An array
     * whose indices outgrew the slots' index field needs the table
     * rebuilt with a wider one. */
    size_t used = reg->used + (size_t)extra;
    if (used * 5 > reg->nslots * 4) {
        return rehash(reg, used * 2);
    }
    if (need > (Py_ssize_t)reg->imask) {
        return rehash(reg, reg->nslots);
    }
    return 0;
}

static int
cmp_desc(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x < y) - (x > y);
}

/* Stable compaction of [lo, n): every entry from the first hole on slides
 * down over the holes, partitions keeping their order.  O(n - lo). */
static void
compact_scan(agc_registry *reg, Py_ssize_t lo)
{
    static const int order[4] = {AGC_PERMANENT, 2, 1, 0};
    Py_ssize_t bounds[4][2];
    for (int k = 0; k < 4; k++) {
        bounds[k][0] = agc_registry_gen_start(reg, order[k]);
        bounds[k][1] = agc_registry_gen_end(reg, order[k]);
    }
    Py_ssize_t w = lo;
    for (int k = 0; k < 4; k++) {
        if (bounds[k][1] <= lo) {
            continue; /* wholly below the first hole */
        }
        if (order[k] != AGC_PERMANENT && bounds[k][0] >= lo) {
            reg->start[order[k]] = w;
        }
        Py_ssize_t i = bounds[k][0] > lo ? bounds[k][0] : lo;
        for (; i < bounds[k][1]; i++) {
            if (reg->objs[i] != 0) {
                if (i != w) {
                    move_entry(reg, i, w);
                }
                w++;
            }
        }
    }
    reg->n = w;
}

/* Removes every hole.  Many holes (a collection that freed much of its
 * young range): one stable scan from the lowest hole.  Few holes: each is
 * closed by the O(1) remove_at, highest index first -- a removal only
 * moves entries from above the gap, which are then free of holes.  An
 * incomplete list of holes (more than n / 8, or it could not grow) means
 * the scan. */
static void
compact(agc_registry *reg)
{
    if (reg->nholes == 0) {
        return;
    }
    if (reg->holes_overflow || (reg->n - reg->holes_low) <= 8 * reg->nholes) {
        compact_scan(reg, reg->holes_low);
    }
    else {
        qsort(reg->holes, (size_t)reg->nholes, sizeof(Py_ssize_t), cmp_desc);
        for (Py_ssize_t k = 0; k < reg->nholes; k++) {
            AGC_ASSERT(reg->objs[reg->holes[k]] == 0);
            remove_at(reg, reg->holes[k]);
        }
    }
    reg->nholes = 0;
    reg->holes_overflow = 0;
}

void
agc_registry_pin(agc_registry *reg)
{
    agc_registry_settle(reg); /* I8: nothing is queued while pinned */
    reg->pinned++;
}

void
agc_registry_unpin(agc_registry *reg)
{
    AGC_ASSERT(reg->pinned > 0);
    if (--reg->pinned == 0) {
        compact(reg);
    }
}

void
agc_registry_promote(agc_registry *reg, int gen, Py_ssize_t young_end)
{
    AGC_ASSERT(young_end <= reg->n && reg->ndq == 0);
    if (gen == 0) {
        reg->start[0] = young_end;
    }
    else {
        reg->start[1] = young_end;
        reg->start[0] = young_end;
    }
}

void
agc_registry_freeze(agc_registry *reg)
{
    agc_registry_settle(reg);
    reg->start[2] = reg->start[1] = reg->start[0] = reg->n;
}

void
agc_registry_unfreeze(agc_registry *reg)
{
    agc_registry_settle(reg);
    reg->start[2] = 0;
}

size_t
agc_registry_bytes(const agc_registry *reg)
{
    return (size_t)reg->objs_cap * sizeof(uintptr_t)
           + reg->nslots * sizeof(uint32_t) + reg->filter_bits / 8
           + page_filter_bytes(reg)
           + (size_t)reg->holes_cap * sizeof(Py_ssize_t);
}

void
agc_registry_maybe_shrink(agc_registry *reg)
{
    if (reg->pinned) {
        return;
    }
    agc_registry_settle(reg);
    if (reg->nslots > 4 * MIN_SLOTS && reg->used * 5 < reg->nslots) {
        (void)rehash(reg, reg->used * 2);
    }
    if (reg->objs_cap > 4 * MIN_OBJS && reg->n * 4 < reg->objs_cap) {
        Py_ssize_t cap = reg->n + reg->n / 4 + MIN_OBJS;
        uintptr_t *objs = agc_pages_realloc(
            reg->objs, (size_t)reg->objs_cap * sizeof(uintptr_t),
            (size_t)cap * sizeof(uintptr_t));
        if (objs != NULL) {
            reg->objs = objs;
            reg->objs_cap = cap;
        }
    }
    if (reg->holes_cap > 1024) {
        PyMem_RawFree(reg->holes);
        reg->holes = NULL;
        reg->holes_cap = 0;
    }
}

#define FAIL(...)                                                             \
    do {                                                                      \
        snprintf(buf, bufsize, __VA_ARGS__);                                  \
        return -1;                                                            \
    } while (0)

int
agc_registry_validate(const agc_registry *reg, int deep, char *buf,
                      size_t bufsize)
{
    /* I1 */
    if (!(0 <= reg->start[2] && reg->start[2] <= reg->start[1]
          && reg->start[1] <= reg->start[0] && reg->start[0] <= reg->n
          && reg->n <= reg->objs_cap)) {
        FAIL("I1: partition bounds out of order: %zd %zd %zd n=%zd cap=%zd",
             reg->start[2], reg->start[1], reg->start[0], reg->n,
             reg->objs_cap);
    }
    /* I8, before anything reads an entry */
    if (reg->ndq != 0) {
        FAIL("I8: %d deaths queued, not settled (pinned %d)", reg->ndq,
             reg->pinned);
    }
    /* I4 */
    Py_ssize_t holes = 0, live = 0;
    Py_ssize_t kinds[AGC_NKINDS] = {0};
    for (Py_ssize_t i = 0; i < reg->n; i++) {
        uintptr_t e = reg->objs[i];
        if (e == 0) {
            if (i < reg->holes_low) {
                FAIL("I4: hole %zd below holes_low %zd", i, reg->holes_low);
            }
            holes++;
            continue;
        }
        live++;
        PyObject *op = AGC_ENTRY_OBJ(e);
        /* I5 */
        if ((uintptr_t)op < reg->lo_addr || (uintptr_t)op > reg->hi_addr) {
            FAIL("I5: entry %zd (%p) outside the address range", i,
                 (void *)op);
        }
        if (!agc_filter_test(reg, agc_tag_of(op))) {
            FAIL("I5: entry %zd (%p) missing from the negative filter", i,
                 (void *)op);
        }
        if (!agc_pages_test(reg, (uintptr_t)op)) {
            FAIL("I5: entry %zd (%p) missing from the page filter", i,
                 (void *)op);
        }
        /* I3: its slot leads back to it */
        Py_ssize_t found;
        if (find_slot(reg, op, &found) == (size_t)-1 || found != i) {
            FAIL("I3: entry %zd (%p) not found through the table", i,
                 (void *)op);
        }
        /* I6 */
        if (deep) {
            if (Py_REFCNT(op) < 0
                || (Py_REFCNT(op) == 0 && PyObject_GC_IsTracked(op)
                    && !AGC_DYING_MAY_LOOK_TRACKED)) {
                FAIL("I6: entry %zd (%p) has refcount %zd", i, (void *)op,
                     (Py_ssize_t)Py_REFCNT(op));
            }
            if (!PyType_IS_GC(Py_TYPE(op))) {
                FAIL("I6: entry %zd (%p) is not a GC object", i, (void *)op);
            }
            /* I7 */
            int kind = agc_freelist_kind(Py_TYPE(op));
            if ((kind >= 0) != ((e & AGC_ENTRY_FREELIST) != 0)) {
                FAIL("I7: entry %zd (%p, %.50s) has the free-list bit %s", i,
                     (void *)op, Py_TYPE(op)->tp_name,
                     kind >= 0 ? "clear" : "set");
            }
            if (kind >= 0) {
                kinds[kind]++;
            }
        }
    }
    for (int k = 0; k < AGC_NKINDS; k++) {
        if (kinds[k] > agc_kind_demand[k]) {
            FAIL("I7: %zd entries of free-list kind %d, demand %zd", kinds[k],
                 k, agc_kind_demand[k]);
        }
        if (kinds[k] > 0 && !agc_kind_interposed(k)) {
            FAIL("I7: %zd entries of free-list kind %d, tp_dealloc not "
                 "interposed",
                 kinds[k], k);
        }
    }
    if (holes != reg->nholes) {
        FAIL("I4: %zd holes, nholes says %zd", holes, reg->nholes);
    }
    if (holes && !reg->pinned) {
        FAIL("I4: %zd holes while not pinned", holes);
    }
    if ((size_t)live != reg->used) {
        FAIL("I3: %zd live entries, used says %zu", live, reg->used);
    }
    /* I2 */
    size_t occupied = 0;
    for (size_t p = 0; p < reg->nslots; p++) {
        uint32_t s = reg->slots[p];
        if (s == 0) {
            continue;
        }
        occupied++;
        Py_ssize_t k = agc_slot_index(reg, s);
        if (k < 0 || k >= reg->n || reg->objs[k] == 0) {
            FAIL("I2: slot %zu points at index %zd (n=%zd)", p, k, reg->n);
        }
        PyObject *op = AGC_ENTRY_OBJ(reg->objs[k]);
        uint64_t h = agc_hash_of(op);
        size_t home = agc_home_of((uint32_t)(h >> 32), reg->nslots);
        if ((s & ~reg->imask)
            != agc_slot_key(reg, h, slot_dist(reg, p, home))) {
            FAIL("I2: slot %zu has check or distance bits that are not its "
                 "object's",
                 p);
        }
        for (size_t q = home; q != p; q = (q + 1 == reg->nslots) ? 0 : q + 1) {
            if (reg->slots[q] == 0) {
                FAIL("I2: slot %zu unreachable from its home slot", p);
            }
        }
    }
    if (occupied != reg->used) {
        FAIL("I3: %zu occupied slots, used says %zu", occupied, reg->used);
    }
    if (reg->nslots && reg->n > (Py_ssize_t)reg->imask) {
        FAIL("I2: %zd entries do not fit the index field (%d bits)", reg->n,
             reg->ibits);
    }
    if (reg->nslots && reg->used * 5 > reg->nslots * 4) {
        FAIL("I2: load factor above 0.8 (%zu / %zu)", reg->used, reg->nslots);
    }
    return 0;
}
