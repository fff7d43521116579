/*
 * registry.h -- the registry of container objects altgc collects.
 *
 * Layout
 * ------
 * `objs` is a dense array of entries, one per registered object, split into
 * four contiguous partitions, oldest first:
 *
 *     [ permanent | generation 2 | generation 1 | generation 0 ]
 *     0        start[2]       start[1]       start[0]            n
 *
 * (start[3] is the permanent generation's start and is always 0.)  An
 * object's generation is the partition its index falls in, so it costs no
 * bits; promoting survivors of a collection is moving a boundary, and a
 * generation is a contiguous run of pointers to scan.  New objects are
 * appended at the end (generation 0).
 *
 * An entry is the object's address with flag bits in its low bits (objects
 * are at least pointer-aligned):
 *   AGC_ENTRY_PRE32  the object's memory block starts 32 bytes before it
 *                    (3.11+ managed dict / 3.12+ managed weakref pre-header)
 *                    instead of 16 (PyGC_Head).  The free hook needs it to
 *                    map a freed block back to the object without reading
 *                    the block.
 *   AGC_ENTRY_ADOPTED  install mode registered the object (install.c);
 *                    uninstall() removes exactly these entries.  track()
 *                    of an adopted object clears the bit (the user's
 *                    registration outlives uninstall()).
 *   AGC_ENTRY_FREELIST  the object is an exact instance of a free-list
 *                    type (agc_freelist_kind, kinds.h), whose deaths only
 *                    an interposed tp_dealloc sees.  Adding such an entry
 *                    raises its kind's interposition demand (kinds.h),
 *                    removing it lowers the demand again; removal reads
 *                    the object's type to know the kind (its memory is
 *                    still the object's then: every removal happens
 *                    before the block is freed or free-listed).
 * A zero entry is a *hole*: a registered object that died (or was
 * untracked) while the layout was pinned (during a collection or a scan
 * that may call back into Python).  Holes are removed by
 * agc_registry_compact once the pin is released.
 *
 * `slots` is an open-addressing hash table (linear probing, backward-shift
 * deletion, so no tombstones) from address to index.  A slot is 32 bits,
 * 0 when empty, in three fields whose widths the table fixes when it is
 * built (`ibits`, enough for any index of the array's capacity and of the
 * 0.8 x nslots entries the table holds before it grows again):
 *
 *     [ check | distance | index + 1 ]
 *       cbits   dbits      ibits        cbits + dbits = 32 - ibits
 *
 * `distance` is how far the slot lies past the entry's home slot,
 * saturated at dmax (2^dbits - 1: "dmax or more"), dbits = min(4,
 * (32 - ibits) / 2); `check` is the top cbits = 32 - ibits - dbits bits
 * of the low half of the address's hash (the home slot and the filters
 * use the high half).  A lookup compares the check with the address's and
 * reads `objs` only to confirm a match (a false one per 2^cbits slots it
 * passes).  A deletion learns a slot's home from its distance, reading
 * `objs` only for a saturated one.  At 10^6 objects the fields are
 * 21 + 4 + 7 bits; at 10^7, 24 + 4 + 4; the array holds at most
 * 2^31 - 1 entries, so ibits <= 31 and cbits >= 1.
 *
 * Memory: 8 bytes per entry (times the array's spare capacity, at most
 * 1.125 once it holds 65,536) plus 4 bytes per slot at a load factor kept
 * between ~0.5 and 0.8, plus 2-4 bits per slot for a negative filter (a
 * bit per tag, see registry.c) that answers most lookups of unregistered
 * addresses without a probe, plus a sixteenth of a byte per slot (at
 * least 8 KiB) for a
 * coarser one in front of it: a bit per hash of the 4 KiB page an object
 * starts in, which answers most lookups of addresses in pages holding no
 * registered object (the deaths of short-lived objects) without even
 * hashing the address.  The four arrays come from pages.h: from 256 KiB
 * up they are mapped from the kernel, so that growing them leaves no
 * holes in malloc's heap and freeing them returns their pages.
 *
 * Deaths wait in a queue
 * ----------------------
 * A death outside a collection costs a table probe (the slot, then the
 * entry that confirms it) and a removal (the entry that fills the gap,
 * and its slot): three or four cache misses in a large registry, one
 * after the other.  So the hooks do not look a death up when it is
 * reported: they append its key to a small queue (agc_registry_note_*),
 * and the queue is settled a batch at a time -- when it is full, or
 * before anything reads the registry.  Settling looks each key up and
 * removes it, in the order reported; in a registry too large for the
 * caches it first prefetches the keys' home slots, then their entries,
 * so that the misses of a batch overlap.  Until then the dead
 * objects' entries stay in the table, which is safe because nothing
 * reads them (I8): a memory block reused meanwhile holds an object that
 * is not registered (registering settles first), and an address handed
 * out again by a free list likewise.  A queued key never makes the
 * registry read the dead object: its free-list kind, which the removal
 * of an AGC_ENTRY_FREELIST entry needs, was read by the hook and queued
 * with it.
 *
 * Invariants (checked by agc_registry_validate):
 *   I1  0 = start[3] <= start[2] <= start[1] <= start[0] <= n <= objs_cap
 *   I2  every slot that is not empty holds an index i < n whose entry is not
 *       a hole; its check bits are those of the entry's address, its
 *       distance is the slot's distance from the address's home slot
 *       (saturated at dmax), and the probe sequence from the home slot
 *       reaches the slot without crossing an empty slot; every index + 1
 *       fits in ibits
 *   I3  every non-hole entry has exactly one slot; used == n - holes
 *   I4  holes exist only while pinned > 0 or before compaction; nholes
 *       counts them, and none lies below holes_low
 *   I5  every non-hole entry lies in [lo_addr, hi_addr], and its tag's
 *       bit is set in the negative filter, and its page's bit in the page
 *       filter
 *   I6  (debug only, reads the objects) every non-hole entry is a live
 *       object: its type has Py_TPFLAGS_HAVE_GC and its refcount is > 0,
 *       or 0 while it is being deallocated (dying, compat.h
 *       agc_is_dying) -- then the interpreter has untracked it, or from
 *       3.14 the trashcan may have chained it through its GC header (it
 *       reads as tracked); the collector skips it (ST_OUTSIDE in
 *       collector.c), get_objects() and get_referrers() leave it out, and
 *       it leaves the registry when its memory is freed or free-listed
 *       (its death queued then, I8: the queue is settled before any
 *       reader)
 *   I7  (debug only, reads the objects) an entry has AGC_ENTRY_FREELIST
 *       exactly when its object's type is a free-list kind; the number of
 *       such entries of each kind is at most that kind's interposition
 *       demand, and a kind with such entries has its tp_dealloc
 *       interposed (kinds.h) -- so no registered object can go to a free
 *       list unseen
 *   I8  deaths reported while the layout is not pinned wait in the death
 *       queue (dq, at most AGC_DQ_CAP keys, in the order reported) until
 *       it is settled: the entries they name stay in the table until then,
 *       so nothing may read an entry while the queue holds a key.  Every
 *       function below that reads or changes entries settles it first,
 *       pinning settles it, and while pinned nothing is queued; the
 *       accessors check (debug) that it is empty, and validation fails if
 *       it is not
 */
#ifndef ALTGC_REGISTRY_H
#define ALTGC_REGISTRY_H

#include "kinds.h"

#define AGC_ENTRY_PRE32 ((uintptr_t)1)
#define AGC_ENTRY_ADOPTED ((uintptr_t)2)
#define AGC_ENTRY_FREELIST ((uintptr_t)4)
#define AGC_ENTRY_FLAGS ((uintptr_t)7)
#define AGC_ENTRY_OBJ(e) ((PyObject *)((e) & ~AGC_ENTRY_FLAGS))

#define AGC_PERMANENT 3   /* the frozen objects' partition */

/* Keys the death queue holds before it is settled (I8): enough to
 * overlap the table's cache misses, few enough to stay in L1. */
#define AGC_DQ_CAP 32

typedef struct agc_registry {
    uintptr_t *objs;          /* entries, see above */
    Py_ssize_t n;             /* entries in use (holes included) */
    Py_ssize_t objs_cap;
    Py_ssize_t start[4];      /* partition starts, indexed by generation */
    uint32_t *slots;
    size_t nslots;            /* capacity of the hash table */
    int ibits;                /* a slot's index field (see above) */
    uint32_t imask;           /* (1 << ibits) - 1 */
    uint32_t dmax;            /* saturated distance, (1 << dbits) - 1 */
    uint32_t cmask;           /* the check field */
    uint64_t *filter;         /* negative filter over tags (registry.c) */
    size_t filter_bits;       /* a power of two */
    uint64_t *pages;          /* negative filter over 4 KiB pages */
    int pages_shift;          /* 64 - log2(bits of `pages`) */
    size_t used;              /* occupied slots == live entries */
    uintptr_t lo_addr;        /* address range of registered objects */
    uintptr_t hi_addr;
    int pinned;               /* >0: removals leave holes */
    Py_ssize_t nholes;
    Py_ssize_t holes_low;     /* the lowest hole's index (nholes > 0) */
    /* The holes' indices, while there are at most n / 8 of them: past
     * that, compaction scans from holes_low whatever the list says (a
     * scan of n - holes_low <= 8 * nholes entries), so the list stops
     * growing, and a collection that frees a large heap does not keep an
     * index per death. */
    Py_ssize_t *holes;
    Py_ssize_t holes_cap;
    int holes_overflow;       /* `holes` is incomplete: compact by scan */
    /* An announced death (agc_registry_expect): the object the collector
     * is dropping its last reference to, its index, and the slot its
     * entry had when announced.  NULL: none. */
    const PyObject *expect;
    Py_ssize_t expect_idx;
    size_t expect_pos;
    int expect_pre32;         /* its entry has AGC_ENTRY_PRE32 */
    int expect_done;          /* its entry is gone already */
    /* Addresses a death notification found unregistered although the
     * filters let them through (direct-mapped by agc_absent_slot; memory
     * blocks, from the free hook, with the low bit set).  Free lists hand
     * the same few addresses out again and again, so one unlucky address
     * would otherwise cost a table probe at every death.  Also the block
     * of an object agc_registry_discard just removed: the free hook that
     * follows (a full free list) then needs no probe.
     * agc_registry_add clears the slots an address could be answered
     * from before registering it; agc_registry_add_batch clears them
     * all. */
    uintptr_t absent[16];
    /* The death queue (I8, "Deaths wait in a queue" above): keys of the
     * deaths reported since it was last settled -- an object's address
     * from a tp_dealloc hook, with its free-list kind in dq_kind, or a
     * memory block's address with the low bit set from the free hook. */
    uintptr_t dq[AGC_DQ_CAP];
    int8_t dq_kind[AGC_DQ_CAP];
    int ndq;
    /* Entries the settling of the queue removed, not yet taken by the
     * receiver (agc_registry_take_settled): generation 0's count goes
     * down by one per registered death (events.h). */
    Py_ssize_t settled;
} agc_registry;

#define AGC_ABSENT_SLOTS 16

static inline size_t
agc_absent_slot(uintptr_t a)
{
    return (size_t)(a >> 4) & (AGC_ABSENT_SLOTS - 1);
}

/* Multiplicative (Fibonacci-style) hashing of the address without its 4
 * alignment bits: bit i of the product depends on every address bit below
 * it, so the high half -- the tag, whose top bits give the home slot and
 * whose low bits the filter bit -- mixes all the bits that vary between
 * objects, and the low half's top bits (a slot's check field) the bits up
 * to the 36th.  One multiply: the collector hashes every referent it
 * visits.  (The multiplier differs from the page filter's, so that the two
 * filters fail independently.) */
static inline uint64_t
agc_hash_of(const void *p)
{
    return ((uint64_t)(uintptr_t)p >> 4) * 0xD6E8FEB86659FD93ULL;
}

static inline uint32_t
agc_tag_of(const void *p)
{
    return (uint32_t)(agc_hash_of(p) >> 32);
}

/* Home slot of a tag: the tag scaled to the table ("fastrange"), so any
 * table size works. */
static inline size_t
agc_home_of(uint32_t tag, size_t nslots)
{
    return (size_t)(((uint64_t)tag * (uint64_t)nslots) >> 32);
}

/* The process's registry: one per process, because the hooks that learn
 * of deaths (allocator, tp_dealloc) are process-wide. */
extern agc_registry agc_reg;

/* All functions borrow the objects they are given; the registry never owns
 * a reference.  None of them calls into Python or sets an exception, so
 * they are safe inside the allocator's free hook. */

void agc_registry_init(agc_registry *reg);

/* 1 added, 0 already registered, -1 out of memory (registry unchanged).
 * `flags`: AGC_ENTRY_* bits for the new entry (AGC_ENTRY_PRE32 == 1, so a
 * 0/1 "has a 32-byte pre-header" flag may be passed as is). */
int agc_registry_add(agc_registry *reg, PyObject *op, uintptr_t flags);
/* (-2: op is an _asyncio.FutureIter of a type beyond those altgc can
 * interpose, compat.h AGC_KIND_REFUSED: not registered.) */

/* Registers ops[0 .. n) (borrowed, n <= AGC_ADD_BATCH) as
 * agc_registry_add would, each with `flags` and, from its type,
 * AGC_ENTRY_PRE32: a bulk registration (install mode's adoption), with the
 * table's reads prefetched and the per-type work done once per run of one
 * type.  Returns the number added (objects registered already, or
 * refused, are skipped), or -1 if memory is short (those added before the
 * failure stay registered). */
#define AGC_ADD_BATCH 32
Py_ssize_t agc_registry_add_batch(agc_registry *reg, PyObject *const *ops,
                                  int n, uintptr_t flags);

/* Removes every entry with any of the `flags` bits (holes while pinned;
 * otherwise one compaction pass and a table rebuild).  Returns the number
 * removed. */
Py_ssize_t agc_registry_discard_flagged(agc_registry *reg, uintptr_t flags);

/* Index of op's entry, or -1. */
Py_ssize_t agc_registry_find(agc_registry *reg, const PyObject *op);

/* Makes room for `extra` more entries without growing again (a bulk
 * registration).  0, or -1 if memory is short (nothing changed that
 * matters: adding still works, growing as it goes). */
int agc_registry_reserve(agc_registry *reg, Py_ssize_t extra);

/* What the removals below return: nothing was registered there; an entry
 * was removed whose death generation 0's count loses; or an adopted one's
 * (AGC_ENTRY_ADOPTED), whose allocation and death the builtin gc's own
 * count holds (install.c, count0_outside). */
#define AGC_GONE_NONE 0
#define AGC_GONE_COUNTED 1
#define AGC_GONE_ADOPTED 2

/* Removes op: an AGC_GONE_* value.  While pinned it leaves a hole at the
 * entry's index so other indices stay valid. */
int agc_registry_discard(agc_registry *reg, const PyObject *op);

/* Removes the object whose memory block starts at `block` (the free
 * hook's case): an AGC_GONE_* value.  Reads nothing in the block but the
 * removed object's type, and that only for AGC_ENTRY_FREELIST entries. */
int agc_registry_discard_block(agc_registry *reg, const void *block);

/* Looks up and removes the deaths in the queue (I8), then empties it; the
 * entries removed whose deaths count (AGC_GONE_COUNTED) are added to
 * reg->settled.  Called by
 * agc_registry_settle, and by the note functions when the queue is full.
 * Reads no object: see "Deaths wait in a queue". */
void agc_registry_settle_queue(agc_registry *reg);

/* Settles the death queue if it holds anything: for callers about to read
 * the registry through the accessors below (the functions above that
 * read or change entries settle it themselves). */
static inline void
agc_registry_settle(agc_registry *reg)
{
    if (reg->ndq != 0) {
        agc_registry_settle_queue(reg);
    }
}

/* Deaths waiting in the queue now (I8); for tests. */
static inline int
agc_registry_queued(const agc_registry *reg)
{
    return reg->ndq;
}

/* The number of counted deaths settled since the last call (each one a
 * registered object's, not adopted), and zero from now on. */
static inline Py_ssize_t
agc_registry_take_settled(agc_registry *reg)
{
    Py_ssize_t n = reg->settled;
    reg->settled = 0;
    return n;
}

/* A tp_dealloc hook reports op dying (borrowed, refcount 0, its memory
 * still its own; `kind` the hook's free-list kind).  While pinned the
 * entry is removed at once (an AGC_GONE_* value); otherwise the death is
 * queued (0: whether op was registered is learnt when the queue is
 * settled). */
static inline int
agc_registry_note_dealloc(agc_registry *reg, const PyObject *op, int kind)
{
    if (reg->pinned) {
        return agc_registry_discard(reg, op);
    }
    if (reg->ndq == AGC_DQ_CAP) {
        agc_registry_settle_queue(reg);
    }
    reg->dq_kind[reg->ndq] = (int8_t)kind;
    reg->dq[reg->ndq++] = (uintptr_t)op;
    return 0;
}

/* The free hook reports that the memory block at `block` is being freed,
 * as agc_registry_discard_block would be told.  While pinned the entry is
 * removed at once (an AGC_GONE_* value); otherwise the death is queued (0),
 * unless the key just queued is the death of the object the block holds
 * (its tp_dealloc hook came first) or the block is known to hold nothing
 * registered (the absent cache). */
static inline int
agc_registry_note_block(agc_registry *reg, const void *block)
{
    if (reg->pinned) {
        return agc_registry_discard_block(reg, block);
    }
    uintptr_t b = (uintptr_t)block;
    if (reg->ndq != 0) {
        uintptr_t last = reg->dq[reg->ndq - 1];
        if (last == b + 16 || last == b + 32) {
            return 0;
        }
    }
    if (reg->absent[agc_absent_slot(b)] == (b | 1)) {
        return 0;
    }
    if (reg->ndq == AGC_DQ_CAP) {
        agc_registry_settle_queue(reg);
    }
    reg->dq_kind[reg->ndq] = -1;
    reg->dq[reg->ndq++] = b | 1;
    return 0;
}

/* Announced deaths.  The collector, about to drop what it knows to be the
 * last reference to the registered object at index `idx` (a non-hole
 * entry), announces it: the object's slot is found now (its line
 * prefetched earlier with agc_registry_prefetch), and the death
 * notification that follows -- from the dealloc hook, the free hook, or
 * both -- removes the entry without probing the table.  After the removal
 * further notifications about that address return 0 without a probe: its
 * memory block is still the dying object's, or, once freed, holds
 * nothing registered, since any registration (agc_registry_add) cancels
 * the announcement.  agc_registry_expect_end ends it (if the object did
 * not die after all, its entry simply stays).  Only while pinned. */
void agc_registry_expect(agc_registry *reg, Py_ssize_t idx);
void agc_registry_expect_end(agc_registry *reg);

/* Pin / unpin the layout (nestable).  Unpinning the last pin compacts. */
void agc_registry_pin(agc_registry *reg);
void agc_registry_unpin(agc_registry *reg);

/* Generation of index i: 0, 1, 2 or AGC_PERMANENT. */
int agc_registry_gen_of(const agc_registry *reg, Py_ssize_t i);

/* Start and end (exclusive) of a generation's partition. */
Py_ssize_t agc_registry_gen_start(const agc_registry *reg, int gen);
Py_ssize_t agc_registry_gen_end(const agc_registry *reg, int gen);

/* After a collection of `gen` whose young range ended at `young_end`:
 * everything in [start[gen], young_end) joins generation min(gen + 1, 2);
 * entries appended during the collection stay in generation 0. */
void agc_registry_promote(agc_registry *reg, int gen, Py_ssize_t young_end);

/* gc.freeze(): every generation joins the permanent one.
 * gc.unfreeze(): the permanent generation joins generation 2. */
void agc_registry_freeze(agc_registry *reg);
void agc_registry_unfreeze(agc_registry *reg);

/* Bytes of memory the registry holds. */
size_t agc_registry_bytes(const agc_registry *reg);

/* Shrink the arrays if they are mostly empty (not while pinned). */
void agc_registry_maybe_shrink(agc_registry *reg);

/* Checks I1-I5 and I8 (and I6, I7 when `deep`).  Returns 0, or -1 and
 * writes a description of the first violation into buf. */
int agc_registry_validate(const agc_registry *reg, int deep, char *buf,
                          size_t bufsize);

/* 0 proves that no registered object starts in the 4 KiB page of
 * address `a` (see registry.c). */
static inline int
agc_pages_test(const agc_registry *reg, uintptr_t a)
{
    uint64_t b = ((uint64_t)(a >> 12) * 0x9E3779B97F4A7C15ULL)
                 >> reg->pages_shift;
    return (int)((reg->pages[b >> 6] >> (b & 63)) & 1);
}

/* 0 proves that no registered object has this tag (see registry.c). */
static inline int
agc_filter_test(const agc_registry *reg, uint32_t tag)
{
    size_t b = tag & (reg->filter_bits - 1);
    return (int)((reg->filter[b >> 6] >> (b & 63)) & 1);
}

/* Prefetches what adding or finding op (borrowed, not read) will read: its
 * filter word and home slot.  Callers with many objects to add or to see
 * die prefetch a batch first. */
static inline void
agc_registry_prefetch(const agc_registry *reg, const void *op)
{
    if (reg->nslots == 0) {
        return;
    }
    uint32_t tag = agc_tag_of(op);
    size_t b = tag & (reg->filter_bits - 1);
    AGC_PREFETCH(&reg->filter[b >> 6]);
    AGC_PREFETCH(&reg->slots[agc_home_of(tag, reg->nslots)]);
}

/* 0 proves that no object registered now starts at address `a`, by the
 * address range and the tag filter: for the tp_dealloc hooks, whose dying
 * objects are of a registered kind and so nearly always in pages that
 * hold registered objects (the page filter would pass them). */
static inline int
agc_registry_maybe_obj(const agc_registry *reg, uintptr_t a)
{
    return reg->used != 0 && a >= reg->lo_addr && a <= reg->hi_addr
           && agc_filter_test(reg, agc_tag_of((const void *)a));
}

/* 0 proves that no object registered now starts at address `a`: the
 * filters in front of a table probe, inlined into the death hooks so that
 * the deaths of unregistered objects (nearly all of them) cost no call.
 * 1: maybe (the table decides). */
static inline int
agc_registry_maybe(const agc_registry *reg, uintptr_t a)
{
    return reg->used != 0 && a >= reg->lo_addr && a <= reg->hi_addr
           && agc_pages_test(reg, a)
           && agc_filter_test(reg, agc_tag_of((const void *)a));
}

/* 0 proves that no object registered now starts 16 or 32 bytes into the
 * memory block at address `a` (the free hook's case).  Both addresses
 * nearly always lie in one 4 KiB page, which one page-filter test then
 * settles for both (most frees are of objects in pages that hold no
 * registered object: ints, strings, short-lived instances), leaving the
 * tag filter for each. */
static AGC_ALWAYS_INLINE int
agc_registry_maybe_block(const agc_registry *reg, uintptr_t a)
{
    if (a + 32 < reg->lo_addr || a + 16 > reg->hi_addr) {
        return 0;
    }
    if ((((a + 16) ^ (a + 32)) >> 12) == 0) {
        if (!agc_pages_test(reg, a + 16)
            || (!agc_filter_test(reg, agc_tag_of((const void *)(a + 16)))
                && !agc_filter_test(reg,
                                    agc_tag_of((const void *)(a + 32))))) {
            return 0;
        }
        return 1;
    }
    return agc_registry_maybe(reg, a + 16) || agc_registry_maybe(reg, a + 32);
}

/* Nothing is registered. */
static inline int
agc_registry_empty(const agc_registry *reg)
{
    return reg->used == 0;
}

/* A death is announced (agc_registry_expect): the death notifications go
 * straight to agc_registry_discard / agc_registry_discard_block, which
 * test for it first. */
static inline int
agc_registry_expecting(const agc_registry *reg)
{
    return reg->expect != NULL;
}

/* ---- accessors -----------------------------------------------------
 *
 * Everything above the registry reads it through these (inlined: the
 * collector calls them in its hottest loops), never its fields. */

/* End (exclusive) of the entries: the last partition, generation 0,
 * ends here. */
static inline Py_ssize_t
agc_registry_end(const agc_registry *reg)
{
    AGC_ASSERT(reg->ndq == 0);   /* I8 */
    return reg->n;
}

/* The entry at index i < agc_registry_end(): an address with AGC_ENTRY_*
 * flags, or 0 for a hole. */
static inline uintptr_t
agc_registry_entry(const agc_registry *reg, Py_ssize_t i)
{
    AGC_ASSERT(reg->ndq == 0);   /* I8 */
    return reg->objs[i];
}

/* The object at index i (borrowed), or NULL for a hole. */
static inline PyObject *
agc_registry_obj(const agc_registry *reg, Py_ssize_t i)
{
    AGC_ASSERT(reg->ndq == 0);   /* I8 */
    return AGC_ENTRY_OBJ(reg->objs[i]);
}

/* Number of registered objects (holes not counted). */
static inline Py_ssize_t
agc_registry_size(const agc_registry *reg)
{
    AGC_ASSERT(reg->ndq == 0);   /* I8 */
    return (Py_ssize_t)reg->used;
}

/* Holes in the entries (registered objects that died while pinned). */
static inline Py_ssize_t
agc_registry_holes(const agc_registry *reg)
{
    AGC_ASSERT(reg->ndq == 0);   /* I8 */
    return reg->nholes;
}

/* Entries the array has room for. */
static inline Py_ssize_t
agc_registry_capacity(const agc_registry *reg)
{
    return reg->objs_cap;
}

/* Slots of the hash table. */
static inline Py_ssize_t
agc_registry_table_slots(const agc_registry *reg)
{
    return (Py_ssize_t)reg->nslots;
}

/* Every registered object lies in [*lo, *hi] (empty: lo > hi). */
static inline void
agc_registry_range(const agc_registry *reg, uintptr_t *lo, uintptr_t *hi)
{
    *lo = reg->lo_addr;
    *hi = reg->hi_addr;
}

/* Clears the AGC_ENTRY_ADOPTED flag of the entry at index i (a non-hole
 * entry): the user registered the object too. */
static inline void
agc_registry_disown(agc_registry *reg, Py_ssize_t i)
{
    reg->objs[i] &= ~AGC_ENTRY_ADOPTED;
}

/* ---- slots (see the layout above) ---------------------------------- */

/* The check and distance fields a slot `d` slots past its home holds for
 * an address of hash h. */
static AGC_ALWAYS_INLINE uint32_t
agc_slot_key(const agc_registry *reg, uint64_t h, size_t d)
{
    uint32_t dd = d < reg->dmax ? (uint32_t)d : reg->dmax;
    return ((uint32_t)h & reg->cmask) | (dd << reg->ibits);
}

/* Slot s may hold the address of hash h (its entry confirms it): the
 * check fields agree. */
static AGC_ALWAYS_INLINE int
agc_slot_may_be(const agc_registry *reg, uint32_t s, uint64_t h)
{
    return ((s ^ (uint32_t)h) & reg->cmask) == 0;
}

/* The index a non-empty slot holds. */
static AGC_ALWAYS_INLINE Py_ssize_t
agc_slot_index(const agc_registry *reg, uint32_t s)
{
    return (Py_ssize_t)(s & reg->imask) - 1;
}

/* agc_registry_probe_start without the tag filter: for callers that
 * expect nearly every address they look up to be registered, to whom the
 * filter's read is a cost without a saving.  Prefetches the home slot's
 * cache line only: a probe run (1.5-2.5 slots at the table's load) seldom
 * reaches the next line, and fetching it for every referent too cost a
 * 10^7-object collection 5% of its time in memory bandwidth. */
static AGC_ALWAYS_INLINE size_t
agc_registry_probe_home(const agc_registry *reg, uint32_t tag)
{
    size_t pos = agc_home_of(tag, reg->nslots);
    AGC_PREFETCH(&reg->slots[pos]);
    return pos;
}

/* A batched probe of the table, for callers that look many referents up
 * at once (the collector): agc_registry_probe_start gives the home slot
 * of `tag` with its cache line prefetched, or (size_t)-1 when the tag
 * filter proves no registered object has the tag; agc_registry_probe_slot
 * reads slot p (0: empty, the probe ends), agc_registry_probe_next steps
 * to the next slot; agc_slot_may_be tells a candidate. */
static AGC_ALWAYS_INLINE size_t
agc_registry_probe_start(const agc_registry *reg, uint32_t tag)
{
    if (!agc_filter_test(reg, tag)) {
        return (size_t)-1;          /* surely not registered */
    }
    return agc_registry_probe_home(reg, tag);
}

static AGC_ALWAYS_INLINE uint32_t
agc_registry_probe_slot(const agc_registry *reg, size_t p)
{
    return reg->slots[p];
}

static AGC_ALWAYS_INLINE size_t
agc_registry_probe_next(const agc_registry *reg, size_t p)
{
    if (++p == reg->nslots) {
        p = 0;
    }
    return p;
}

#endif /* ALTGC_REGISTRY_H */
