/* enf_check.c — the semantic rules of an ENF (nux.enf.validate, rule for rule): regions inside the arena, no code
 * overwritten by constants or tensors, sizes that match shapes, code that decodes, steps that point at something.
 * The decode tables (legal opcodes, reserved-bit masks) are generated from nux.isa into nux_decode.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nux_decode.h"

#define BAD(...) nux_fail(nux_error_t_invalid_enf, "invalid ENF: " __VA_ARGS__)

static const uint32_t ITEMSIZE[] = {[NUX_ENF_DTYPE_INT8] = 1, [NUX_ENF_DTYPE_UINT8] = 1, [NUX_ENF_DTYPE_INT32] = 4,
                                    [NUX_ENF_DTYPE_FLOAT32] = 4};

uint64_t nux_tensor_nbytes(uint8_t dtype, uint8_t layout, uint8_t rank, const uint32_t *dims, uint32_t dim) {
    uint64_t n = ITEMSIZE[dtype];
    for (uint8_t k = 0; k < rank; k++) {
        uint64_t d = dims[k];
        if (layout == NUX_ENF_LAYOUT_ROWS && k == rank - 1) d = (d + dim - 1) / dim * dim;
        if (__builtin_mul_overflow(n, d, &n)) return 0;
    }
    return n;
}

static int inside(uint64_t offset, uint64_t size, uint64_t arena) { return offset <= arena && size <= arena - offset; }

static nux_error_t check_code(const nux_enf_program *p, uint32_t i, uint64_t arena) {
    if (!p->size) return BAD("program %u: code is empty (a program needs at least one instruction)", i);
    if (p->size % NUX_INSTR_BYTES) return BAD("program %u: code length is not a multiple of %d", i, NUX_INSTR_BYTES);
    if (!inside(p->offset, p->size, arena)) return BAD("program %u: code lies outside the arena", i);
    if (p->offset % NUX_INSTR_BYTES) return BAD("program %u: arena offset is not %d-byte aligned", i, NUX_INSTR_BYTES);
    for (uint64_t at = 0; at < p->size; at += NUX_INSTR_BYTES) {
        uint32_t w[NUX_INSTR_BYTES / 4];
        memcpy(w, p->code + at, sizeof w);
        unsigned op = w[0] & 0xF;
        if (!NUX_DECODE_LEGAL[op]) return BAD("program %u: instruction %llu: illegal opcode %u", i,
                                              (unsigned long long)(at / NUX_INSTR_BYTES), op);
        for (unsigned k = 0; k < NUX_INSTR_BYTES / 4; k++)
            if (w[k] & NUX_DECODE_RESERVED[op][k])
                return BAD("program %u: instruction %llu: reserved bits set in word %u", i,
                           (unsigned long long)(at / NUX_INSTR_BYTES), k);
    }
    return nux_error_t_success;
}

static nux_error_t check_tensor(const nux_enf_tensor *t, uint32_t dim, uint64_t arena) {
    if (t->role > NUX_ENF_ROLE_INTERNAL) return BAD("tensor %s: unknown role %u", t->name, t->role);
    if (t->dtype > NUX_ENF_DTYPE_FLOAT32) return BAD("tensor %s: unknown dtype %u", t->name, t->dtype);
    if (t->layout > NUX_ENF_LAYOUT_ROWS) return BAD("tensor %s: unknown layout %u", t->name, t->layout);
    for (uint8_t k = 0; k < t->rank; k++)
        if (!t->dims[k]) return BAD("tensor %s: a dimension is 0", t->name);
    if (t->layout == NUX_ENF_LAYOUT_NHWC && t->rank != 4) return BAD("tensor %s: layout nhwc needs rank 4", t->name);
    if (t->layout == NUX_ENF_LAYOUT_ROWS && !t->rank) return BAD("tensor %s: layout rows needs rank >= 1", t->name);
    uint64_t expected = nux_tensor_nbytes(t->dtype, t->layout, t->rank, t->dims, dim);
    if (!expected || t->size != expected)
        return BAD("tensor %s: size %llu does not match its shape (expected %llu bytes)", t->name,
                   (unsigned long long)t->size, (unsigned long long)expected);
    if (!inside(t->offset, t->size, arena)) return BAD("tensor %s: region lies outside the arena", t->name);
    if (!isfinite(t->scale) || !(t->scale > 0)) return BAD("tensor %s: scale must be a finite number > 0", t->name);
    static const int64_t lo[] = {-128, 0, INT32_MIN, 0}, hi[] = {127, 255, INT32_MAX, 0};
    if (t->zero_point < lo[t->dtype] || t->zero_point > hi[t->dtype])
        return BAD("tensor %s: zero_point %d is outside its dtype's range", t->name, t->zero_point);
    return nux_error_t_success;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const nux_enf_tensor *const *)a)->name, (*(const nux_enf_tensor *const *)b)->name);
}

static nux_error_t check_unique_names(const nux_enf *enf) {
    const nux_enf_tensor **sorted = malloc((enf->n_tensors + 1) * sizeof *sorted);
    if (!sorted) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    for (uint32_t i = 0; i < enf->n_tensors; i++) sorted[i] = &enf->tensors[i];
    qsort(sorted, enf->n_tensors, sizeof *sorted, by_name);
    nux_error_t err = nux_error_t_success;
    for (uint32_t i = 1; i < enf->n_tensors && !err; i++)
        if (!strcmp(sorted[i]->name, sorted[i - 1]->name)) err = BAD("duplicate tensor name %s", sorted[i]->name);
    free(sorted);
    return err;
}

int nux_region_order(const void *a, const void *b) {
    const nux_region *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Code regions must not overlap each other or the constants; tensors must not overlap either. */
static nux_error_t check_regions(const nux_enf *enf) {
    uint32_t n = enf->n_programs + (enf->const_size ? 1 : 0);
    nux_region *fixed = malloc((n + 1) * sizeof *fixed);
    if (!fixed) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    for (uint32_t i = 0; i < enf->n_programs; i++)
        fixed[i] = (nux_region){enf->programs[i].offset, enf->programs[i].offset + enf->programs[i].size};
    if (enf->const_size) fixed[n - 1] = (nux_region){enf->const_offset, enf->const_offset + enf->const_size};
    qsort(fixed, n, sizeof *fixed, nux_region_order);
    nux_error_t err = nux_error_t_success;
    for (uint32_t i = 1; i < n && !err; i++)
        if (fixed[i].start < fixed[i - 1].end) err = BAD("code or constant regions overlap at arena offset %llu",
                                                         (unsigned long long)fixed[i].start);
    for (uint32_t t = 0; t < enf->n_tensors && !err; t++) {
        uint64_t start = enf->tensors[t].offset, end = start + enf->tensors[t].size;
        uint32_t lo = 0, hi = n; /* first fixed region whose end is > start */
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (fixed[mid].end <= start) lo = mid + 1;
            else hi = mid;
        }
        if (lo < n && fixed[lo].start < end) err = BAD("tensor %s overlaps code or constants", enf->tensors[t].name);
    }
    free(fixed);
    return err;
}

nux_error_t nux_enf_check(const nux_enf *enf) {
    uint64_t arena = enf->arena_size;
    if (!arena || arena > NUX_ENF_MAX_ARENA_SIZE) return BAD("arena_size %llu must be in [1, 2^32)",
                                                             (unsigned long long)arena);
    if (enf->config.dram_addr_bits < 64 && arena > (UINT64_C(1) << enf->config.dram_addr_bits))
        return BAD("arena_size exceeds device DRAM (2^%u bytes)", enf->config.dram_addr_bits);
    nux_error_t err;
    for (uint32_t i = 0; i < enf->n_programs; i++)
        if ((err = check_code(&enf->programs[i], i, arena))) return err;
    if (!inside(enf->const_offset, enf->const_size, arena)) return BAD("consts lie outside the arena");
    for (uint32_t i = 0; i < enf->n_tensors; i++)
        if ((err = check_tensor(&enf->tensors[i], enf->config.dim, arena))) return err;
    if ((err = check_unique_names(enf)) || (err = check_regions(enf))) return err;
    for (uint32_t i = 0; i < enf->n_steps; i++) {
        const nux_enf_step_t *s = &enf->steps[i];
        if (s->kind > NUX_ENF_STEP_HOST) return BAD("step %u: unknown kind %u", i, s->kind);
        uint32_t count = s->kind == NUX_ENF_STEP_NPU ? enf->n_programs : enf->n_host_graphs;
        if (s->index >= count) return BAD("step %u: %s %u does not exist", i,
                                          s->kind == NUX_ENF_STEP_NPU ? "program" : "host graph", s->index);
    }
    return nux_error_t_success;
}

nux_error_t nux_enf_npu_only(const nux_enf *enf) {
    for (uint32_t i = 0; i < enf->n_steps; i++)
        if (enf->steps[i].kind == NUX_ENF_STEP_HOST)
            return nux_fail(nux_error_t_host_fallback,
                            "the ENF has host-fallback steps (step %u of %u); libnux runs NPU programs only: run the "
                            "model with Python nux.session",
                            i, enf->n_steps);
    return nux_error_t_success;
}

int nux_enf_count(const nux_enf *enf, uint8_t role) {
    int n = 0;
    for (uint32_t i = 0; i < enf->n_tensors; i++) n += enf->tensors[i].role == role;
    return n;
}

int nux_enf_find(const nux_enf *enf, uint8_t role, int index) {
    for (uint32_t i = 0; i < enf->n_tensors && index >= 0; i++)
        if (enf->tensors[i].role == role && index-- == 0) return (int)i;
    return -1;
}
