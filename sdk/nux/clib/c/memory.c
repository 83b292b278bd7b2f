/* memory.c — device-memory allocator: first fit over a sorted free list, neighbours coalesced on free (as
 * nux.driver.memory). A device holds a few long-lived arenas, so a list is fast enough. Caller holds the lock. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ALIGN 4096u

static int reserve(nux_memory *m, size_t n) {
    if (n <= m->cap) return 0;
    size_t cap = m->cap ? m->cap * 2 : 8;
    uint64_t *s = realloc(m->start, cap * sizeof *s);
    if (!s) return -1;
    m->start = s;
    uint64_t *l = realloc(m->len, cap * sizeof *l);
    if (!l) return -1;
    m->len = l;
    m->cap = cap;
    return 0;
}

nux_error_t nux_memory_init(nux_memory *m, uint64_t size) {
    memset(m, 0, sizeof *m);
    if (reserve(m, 1)) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    m->start[0] = 0, m->len[0] = size, m->n = 1;
    return nux_error_t_success;
}

void nux_memory_destroy(nux_memory *m) {
    free(m->start);
    free(m->len);
    memset(m, 0, sizeof *m);
}

static void remove_at(nux_memory *m, size_t i) {
    memmove(m->start + i, m->start + i + 1, (m->n - i - 1) * sizeof *m->start);
    memmove(m->len + i, m->len + i + 1, (m->n - i - 1) * sizeof *m->len);
    m->n--;
}

static int insert_at(nux_memory *m, size_t i, uint64_t start, uint64_t len) {
    if (reserve(m, m->n + 1)) return -1;
    memmove(m->start + i + 1, m->start + i, (m->n - i) * sizeof *m->start);
    memmove(m->len + i + 1, m->len + i, (m->n - i) * sizeof *m->len);
    m->start[i] = start, m->len[i] = len, m->n++;
    return 0;
}

nux_error_t nux_memory_alloc(nux_memory *m, uint64_t size, uint64_t *addr) {
    if (reserve(m, m->n + 1)) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    for (size_t i = 0; i < m->n; i++) {
        uint64_t start = m->start[i], end = start + m->len[i], at = (start + ALIGN - 1) / ALIGN * ALIGN;
        if (at > end || size > end - at) continue;
        remove_at(m, i);
        if (end > at + size) insert_at(m, i, at + size, end - at - size); /* capacity reserved above */
        if (at > start) insert_at(m, i, start, at - start);
        *addr = at;
        return nux_error_t_success;
    }
    return nux_fail(nux_error_t_out_of_memory, "cannot allocate %llu bytes of device memory",
                    (unsigned long long)size);
}

void nux_memory_free(nux_memory *m, uint64_t addr, uint64_t size) {
    size_t i = 0;
    while (i < m->n && m->start[i] < addr) i++;
    if (i < m->n && m->start[i] == addr + size) { /* merge with the next free block */
        size += m->len[i];
        remove_at(m, i);
    }
    if (i > 0 && m->start[i - 1] + m->len[i - 1] == addr) { /* and with the previous one */
        m->len[i - 1] += size;
        return;
    }
    insert_at(m, i, addr, size); /* freeing never needs more than one extra entry: reserved at alloc */
}
