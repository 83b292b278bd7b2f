/* enf_read.c — the ENF container: header, CRC, section table, and each section's records (docs/enf.md).
 *
 * The input is hostile: every count and size is checked against the bytes present before it is used, and all
 * arithmetic on file values is overflow-checked. Records are the generated structs of nux_enf.h, copied out with
 * memcpy (the file is little-endian, as is every host libnux supports). The semantic rules are in enf_check.c.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libnux reads ENF records in place: a little-endian host is required"
#endif

#define BAD(...) nux_fail(nux_error_t_invalid_enf, "invalid ENF: " __VA_ARGS__)
#define MAX_KIND NUX_ENF_SECTION_META

typedef struct {
    const uint8_t *p;
    uint64_t size;
} span;

typedef struct {
    span of[MAX_KIND + 1][1];  /* the single-instance kinds */
    span *code, *host;
    uint32_t counts[MAX_KIND + 1];
} sections;

static uint64_t align8(uint64_t n) { return (n + NUX_ENF_ALIGN - 1) / NUX_ENF_ALIGN * NUX_ENF_ALIGN; }

static nux_error_t read_header(const uint8_t *d, uint64_t len, nux_enf_header_t *h) {
    if (len < sizeof NUX_ENF_MAGIC || memcmp(d, NUX_ENF_MAGIC, sizeof NUX_ENF_MAGIC))
        return BAD("not an ENF file: bad magic");
    if (len < sizeof *h) return BAD("truncated: the header needs %zu bytes, %llu present", sizeof *h,
                                    (unsigned long long)len);
    memcpy(h, d, sizeof *h);
    if (h->version_major != NUX_ENF_VERSION_MAJOR)
        return nux_fail(nux_error_t_unsupported_version, "unsupported ENF format version %u.%u: libnux reads %d.x",
                        h->version_major, h->version_minor, NUX_ENF_VERSION_MAJOR);
    if (h->header_size < sizeof *h || h->header_size % NUX_ENF_ALIGN || h->header_size > len)
        return BAD("bad header_size %u", h->header_size);
    if (h->file_size != len)
        return BAD("file %s: header says %llu bytes, got %llu", h->file_size > len ? "truncated" : "has trailing bytes",
                   (unsigned long long)h->file_size, (unsigned long long)len);
    static const uint8_t zero[4];
    uint32_t crc = nux_crc32(0, d, NUX_ENF_CHECKSUM_OFFSET);
    crc = nux_crc32(crc, zero, 4);
    crc = nux_crc32(crc, d + NUX_ENF_CHECKSUM_OFFSET + 4, len - NUX_ENF_CHECKSUM_OFFSET - 4);
    if (crc != h->checksum)
        return BAD("checksum mismatch: header says 0x%08x, content gives 0x%08x (corrupted)", h->checksum, crc);
    if (h->flags & NUX_ENF_REQUIRED_FLAGS_MASK)
        return BAD("unknown required flags 0x%04x (newer writer?)", h->flags & NUX_ENF_REQUIRED_FLAGS_MASK);
    if (h->isa_version_major != NUX_ISA_VERSION_MAJOR)
        return nux_fail(nux_error_t_unsupported_version, "the code was assembled for ISA %u.%u, libnux speaks ISA %d.%d",
                        h->isa_version_major, h->isa_version_minor, NUX_ISA_VERSION_MAJOR, NUX_ISA_VERSION_MINOR);
    return nux_error_t_success;
}


static nux_error_t add_section(sections *s, uint32_t kind, span sp) {
    span **list = kind == NUX_ENF_SECTION_CODE ? &s->code : kind == NUX_ENF_SECTION_HOST ? &s->host : NULL;
    if (list) {
        span *grown = realloc(*list, (s->counts[kind] + 1) * sizeof **list);
        if (!grown) return nux_fail(nux_error_t_out_of_memory, "out of memory reading the section table");
        *list = grown;
        grown[s->counts[kind]] = sp;
    } else if (s->counts[kind] == 0) {
        s->of[kind][0] = sp;
    }
    s->counts[kind]++;
    return nux_error_t_success;
}

static nux_error_t read_sections(const uint8_t *d, uint64_t len, const nux_enf_header_t *h, sections *s) {
    uint64_t count = h->section_count, table = h->section_table_offset;
    if (count > NUX_ENF_MAX_SECTIONS) return BAD("section_count %llu exceeds the limit", (unsigned long long)count);
    uint64_t end = table + count * sizeof(nux_enf_section_t);
    if (table < h->header_size || table % NUX_ENF_ALIGN || table > len || end > len)
        return BAD("section table must be 8-aligned, after the header and inside the file");
    nux_region *regions = malloc((count + 2) * sizeof *regions);
    if (!regions) return nux_fail(nux_error_t_out_of_memory, "out of memory reading the section table");
    size_t n = 0;
    regions[n++] = (nux_region){0, h->header_size};
    regions[n++] = (nux_region){table, end};
    nux_error_t err = nux_error_t_success;
    for (uint64_t i = 0; i < count && !err; i++) {
        nux_enf_section_t e;
        memcpy(&e, d + table + i * sizeof e, sizeof e);
        if (e.kind < NUX_ENF_OPTIONAL_KIND_BASE && (e.kind < 1 || e.kind > MAX_KIND)) {
            err = BAD("section %llu: unknown section kind %u", (unsigned long long)i, e.kind);
        } else if (e.offset % NUX_ENF_ALIGN || e.offset > len || e.size > len - e.offset) {
            err = BAD("section %llu must start 8-aligned and lie inside the file", (unsigned long long)i);
        } else {
            regions[n++] = (nux_region){e.offset, e.offset + e.size};
            if (e.kind <= MAX_KIND) err = add_section(s, e.kind, (span){d + e.offset, e.size});
        }
    }
    if (!err) {
        qsort(regions, n, sizeof *regions, nux_region_order);
        for (size_t i = 1; i < n && !err; i++)
            if (regions[i].start < regions[i - 1].end)
                err = BAD("region [%llu, %llu) overlaps [%llu, %llu)", (unsigned long long)regions[i].start,
                          (unsigned long long)regions[i].end, (unsigned long long)regions[i - 1].start,
                          (unsigned long long)regions[i - 1].end);
    }
    free(regions);
    if (err) return err;
    static const uint32_t most[MAX_KIND + 1] = {0, 1, 1, 1, NUX_ENF_MAX_SECTIONS, NUX_ENF_MAX_SECTIONS, 1, 1};
    for (uint32_t k = 1; k <= MAX_KIND; k++) {
        uint32_t least = k == NUX_ENF_SECTION_MEMPLAN || k == NUX_ENF_SECTION_TENSORS;
        if (s->counts[k] < least || s->counts[k] > most[k])
            return BAD("file has %u sections of kind %u; allowed: %u..%u", s->counts[k], k, least, most[k]);
    }
    return nux_error_t_success;
}

/* UTF-8 without overlong forms or surrogates (what Python's strict decoder accepts), NUL only if allowed. */
int nux_valid_utf8(const uint8_t *p, uint64_t n, int allow_nul) {
    for (uint64_t i = 0; i < n;) {
        uint8_t c = p[i];
        int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if ((c == 0 && !allow_nul) || extra < 0 || i + extra >= n + (extra == 0)) return 0;
        uint32_t cp = extra ? c & (0x3F >> extra) : c;
        for (int k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += (uint64_t)extra + 1;
    }
    return 1;
}

static nux_error_t copy_name(const uint8_t *p, uint64_t n, int allow_empty, char **out, const char *what) {
    if (n > NUX_ENF_MAX_NAME_BYTES || (!n && !allow_empty) || !nux_valid_utf8(p, n, 0))
        return BAD("%s: name is empty, too long, not UTF-8 or contains NUL", what);
    *out = malloc(n + 1);
    if (!*out) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    memcpy(*out, p, n);
    (*out)[n] = 0;
    return nux_error_t_success;
}

static nux_error_t read_tensors(span s, nux_enf *enf) {
    nux_enf_tensors_header_t h;
    if (s.size < sizeof h) return BAD("TENSORS: truncated");
    memcpy(&h, s.p, sizeof h);
    if (h.count > NUX_ENF_MAX_TENSORS) return BAD("TENSORS: tensor count %u exceeds the limit", h.count);
    uint64_t pool_at = sizeof h + (uint64_t)h.count * sizeof(nux_enf_tensor_t);
    if (pool_at > s.size) return BAD("TENSORS: %u entries do not fit the %llu-byte section", h.count,
                                     (unsigned long long)s.size);
    enf->tensors = calloc(h.count ? h.count : 1, sizeof *enf->tensors);
    if (!enf->tensors) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    uint64_t pool = s.size - pool_at;
    for (uint32_t i = 0; i < h.count; i++) {
        nux_enf_tensor_t e;
        memcpy(&e, s.p + sizeof h + (uint64_t)i * sizeof e, sizeof e);
        if ((uint64_t)e.name_offset + e.name_len > pool) return BAD("tensor %u: name outside the name pool", i);
        nux_enf_tensor *t = &enf->tensors[i];
        nux_error_t err = copy_name(s.p + pool_at + e.name_offset, e.name_len, 0, &t->name, "tensor");
        if (err) return err;
        enf->n_tensors = i + 1;
        if (e.rank > NUX_ENF_MAX_RANK) return BAD("tensor %u (%s): rank %u exceeds %u", i, t->name, e.rank,
                                                  NUX_ENF_MAX_RANK);
        for (uint32_t k = e.rank; k < NUX_ENF_MAX_RANK; k++)
            if (e.dims[k]) return BAD("tensor %u (%s): unused dims must be zero", i, t->name);
        t->role = e.role, t->dtype = e.dtype, t->layout = e.layout, t->rank = e.rank;
        memcpy(t->dims, e.dims, sizeof t->dims);
        t->zero_point = e.zero_point, t->scale = e.scale, t->offset = e.arena_offset, t->size = e.size;
    }
    return nux_error_t_success;
}

static nux_error_t read_code(span s, uint32_t i, nux_enf_program *p) {
    nux_enf_code_header_t h;
    if (s.size < sizeof h) return BAD("CODE section %u: truncated", i);
    memcpy(&h, s.p, sizeof h);
    if (h.name_len > NUX_ENF_MAX_NAME_BYTES) return BAD("program %u: name length %u exceeds the limit", i, h.name_len);
    uint64_t code_at = align8(sizeof h + h.name_len);
    if (h.code_size > s.size || code_at + h.code_size != s.size)
        return BAD("program %u: section is %llu bytes, its contents say otherwise", i, (unsigned long long)s.size);
    if (!nux_valid_utf8(s.p + sizeof h, h.name_len, 0)) return BAD("program %u: name is not UTF-8 or contains NUL", i);
    p->offset = h.arena_offset, p->size = h.code_size, p->code = s.p + code_at;
    return nux_error_t_success;
}

static int has(const uint32_t *list, uint32_t n, uint32_t v) {
    for (uint32_t i = 0; i < n; i++)
        if (list[i] == v) return 1;
    return 0;
}

static nux_error_t read_host(span s, uint32_t i, uint32_t n_tensors) {
    nux_enf_host_header_t h;
    if (s.size < sizeof h) return BAD("HOST section %u: truncated", i);
    memcpy(&h, s.p, sizeof h);
    uint64_t edges = (uint64_t)h.input_count + h.output_count;
    if (edges > NUX_ENF_MAX_HOST_EDGES) return BAD("host graph %u: too many inputs and outputs", i);
    uint64_t onnx_at = align8(sizeof h + 4 * edges);
    if (h.onnx_size > s.size || onnx_at + h.onnx_size != s.size)
        return BAD("host graph %u: section size does not match its contents", i);
    if (!h.output_count || !h.onnx_size) return BAD("host graph %u: needs outputs and a non-empty ONNX model", i);
    uint32_t *e = malloc(edges * 4);
    if (!e) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    memcpy(e, s.p + sizeof h, edges * 4);
    nux_error_t err = nux_error_t_success;
    for (uint64_t k = 0; k < edges && !err; k++) {
        int same_side_before = k < h.input_count ? has(e, (uint32_t)k, e[k])
                                                 : has(e + h.input_count, (uint32_t)(k - h.input_count), e[k]);
        if (e[k] >= n_tensors) err = BAD("host graph %u: tensor index %u out of range", i, e[k]);
        else if (same_side_before) err = BAD("host graph %u: lists tensor %u twice", i, e[k]);
    }
    free(e);
    return err;
}

static nux_error_t read_steps(span s, nux_enf *enf) {
    nux_enf_steps_header_t h;
    if (s.size < sizeof h) return BAD("STEPS: truncated");
    memcpy(&h, s.p, sizeof h);
    if (h.count > NUX_ENF_MAX_STEPS) return BAD("STEPS: step count %u exceeds the limit", h.count);
    if (s.size != sizeof h + (uint64_t)h.count * sizeof(nux_enf_step_t)) return BAD("STEPS: size does not match count");
    enf->steps = malloc((h.count ? h.count : 1) * sizeof *enf->steps);
    if (!enf->steps) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    memcpy(enf->steps, s.p + sizeof h, (uint64_t)h.count * sizeof *enf->steps);
    enf->n_steps = h.count;
    return nux_error_t_success;
}

static nux_error_t read_body(const nux_enf_header_t *h, sections *s, nux_enf *enf) {
    enf->config = (nux_config){h->dim, h->sp_rows, h->acc_rows, h->axi_data_bits, h->dram_addr_bits, h->cmdq_depth};
    const char *problem = nux_config_problem(&enf->config);
    if (problem) return BAD("target NpuConfig is invalid: %s", problem);
    span plan = s->of[NUX_ENF_SECTION_MEMPLAN][0];
    nux_enf_memplan_t m;
    if (plan.size != sizeof m) return BAD("MEMPLAN: section is %llu bytes, not %zu", (unsigned long long)plan.size,
                                          sizeof m);
    memcpy(&m, plan.p, sizeof m);
    span consts = s->counts[NUX_ENF_SECTION_CONST] ? s->of[NUX_ENF_SECTION_CONST][0] : (span){NULL, 0};
    if (m.const_size != consts.size) return BAD("MEMPLAN const_size %llu != CONST section size %llu",
                                                (unsigned long long)m.const_size, (unsigned long long)consts.size);
    enf->arena_size = m.arena_size, enf->const_offset = m.const_offset, enf->const_size = m.const_size;
    enf->consts = consts.p;
    nux_error_t err = read_tensors(s->of[NUX_ENF_SECTION_TENSORS][0], enf);
    if (err) return err;
    uint32_t n = s->counts[NUX_ENF_SECTION_CODE];
    enf->programs = calloc(n ? n : 1, sizeof *enf->programs);
    if (!enf->programs) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    for (uint32_t i = 0; i < n; i++, enf->n_programs = i)
        if ((err = read_code(s->code[i], i, &enf->programs[i]))) return err;
    enf->n_host_graphs = s->counts[NUX_ENF_SECTION_HOST];
    for (uint32_t i = 0; i < enf->n_host_graphs; i++)
        if ((err = read_host(s->host[i], i, enf->n_tensors))) return err;
    if (s->counts[NUX_ENF_SECTION_STEPS] && (err = read_steps(s->of[NUX_ENF_SECTION_STEPS][0], enf))) return err;
    if (s->counts[NUX_ENF_SECTION_META]) return nux_enf_check_meta(s->of[NUX_ENF_SECTION_META][0].p,
                                                                   s->of[NUX_ENF_SECTION_META][0].size);
    return nux_error_t_success;
}

/* No STEPS section: the programs run in order. */
static nux_error_t default_steps(nux_enf *enf) {
    enf->steps = malloc((enf->n_programs ? enf->n_programs : 1) * sizeof *enf->steps);
    if (!enf->steps) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    for (uint32_t i = 0; i < enf->n_programs; i++) enf->steps[i] = (nux_enf_step_t){NUX_ENF_STEP_NPU, i};
    enf->n_steps = enf->n_programs;
    return nux_error_t_success;
}

nux_error_t nux_enf_parse(const unsigned char *data, size_t len, nux_enf *enf) {
    memset(enf, 0, sizeof *enf);
    if (!data) return nux_fail(nux_error_t_invalid_argument, "the ENF buffer is NULL");
    enf->image = malloc(len ? len : 1);
    if (!enf->image) return nux_fail(nux_error_t_out_of_memory, "out of memory copying a %zu-byte ENF", len);
    memcpy(enf->image, data, len);
    nux_enf_header_t h = {0};
    sections s = {0};
    nux_error_t err = read_header(enf->image, len, &h);
    enf->isa_minor = h.isa_version_minor;
    if (!err) err = read_sections(enf->image, len, &h, &s);
    if (!err) err = read_body(&h, &s, enf);
    if (!err) err = nux_enf_check(enf);
    if (!err && !s.counts[NUX_ENF_SECTION_STEPS]) err = default_steps(enf);
    free(s.code);
    free(s.host);
    if (err) nux_enf_free(enf);
    return err;
}

void nux_enf_free(nux_enf *enf) {
    for (uint32_t i = 0; i < enf->n_tensors; i++) free(enf->tensors[i].name);
    free(enf->tensors);
    free(enf->programs);
    free(enf->steps);
    free(enf->image);
    memset(enf, 0, sizeof *enf);
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & -(c & 1u));
        crc_table[i] = c;
    }
}

/* zlib's CRC-32 (the checksum field of the header). */
uint32_t nux_crc32(uint32_t crc, const uint8_t *p, size_t n) {
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = (crc >> 8) ^ crc_table[(crc ^ p[i]) & 0xFF];
    return ~crc;
}
