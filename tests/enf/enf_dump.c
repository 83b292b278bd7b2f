/* A minimal ENF reader in C built only on the generated nux_enf.h: shows that the format can be read with
 * fixed-size structs. Prints one line per item; test_c_reader.py compares the lines with the Python reader.
 * Checks magic, version, file size and CRC-32, then walks the section table. Exit code 1 on a bad file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nux_enf.h"

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static int fail(const char *why) {
    printf("error %s\n", why);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) return fail("usage");
    FILE *f = fopen(argv[1], "rb");
    if (!f) return fail("open");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) return fail("read");
    fclose(f);

    if ((size_t)n < sizeof(nux_enf_header_t)) return fail("short");
    const nux_enf_header_t *h = (const nux_enf_header_t *)buf;
    if (memcmp(h->magic, NUX_ENF_MAGIC, 8) != 0) return fail("magic");
    if (h->version_major != NUX_ENF_VERSION_MAJOR) return fail("version");
    if (h->file_size != (uint64_t)n) return fail("size");
    static const uint8_t zero[4] = {0};
    uint32_t crc = crc32_update(0, buf, NUX_ENF_CHECKSUM_OFFSET);
    crc = crc32_update(crc, zero, 4);
    crc = crc32_update(crc, buf + NUX_ENF_CHECKSUM_OFFSET + 4, (size_t)n - NUX_ENF_CHECKSUM_OFFSET - 4);
    if (crc != h->checksum) return fail("checksum");
    if (h->section_table_offset + (uint64_t)h->section_count * sizeof(nux_enf_section_t) > (uint64_t)n)
        return fail("table");
    printf("config %u %u %u %u %u %u\n", h->dim, h->sp_rows, h->acc_rows, h->axi_data_bits, h->dram_addr_bits,
           h->cmdq_depth);

    const nux_enf_section_t *table = (const nux_enf_section_t *)(buf + h->section_table_offset);
    for (uint32_t i = 0; i < h->section_count; i++) {
        const nux_enf_section_t *s = &table[i];
        if (s->offset + s->size > (uint64_t)n) return fail("section");
        const uint8_t *p = buf + s->offset;
        if (s->kind == NUX_ENF_SECTION_MEMPLAN) {
            const nux_enf_memplan_t *m = (const nux_enf_memplan_t *)p;
            printf("memplan %llu %llu %llu\n", (unsigned long long)m->arena_size,
                   (unsigned long long)m->const_offset, (unsigned long long)m->const_size);
        } else if (s->kind == NUX_ENF_SECTION_TENSORS) {
            const nux_enf_tensors_header_t *th = (const nux_enf_tensors_header_t *)p;
            const nux_enf_tensor_t *t = (const nux_enf_tensor_t *)(p + sizeof *th);
            const char *pool = (const char *)(t + th->count);
            for (uint32_t k = 0; k < th->count; k++) {
                printf("tensor %.*s %u %u %u %.17g %d %llu %llu", (int)t[k].name_len, pool + t[k].name_offset,
                       t[k].role, t[k].dtype, t[k].layout, t[k].scale, t[k].zero_point,
                       (unsigned long long)t[k].arena_offset, (unsigned long long)t[k].size);
                for (uint32_t d = 0; d < t[k].rank; d++) printf(" %u", t[k].dims[d]);
                printf("\n");
            }
        } else if (s->kind == NUX_ENF_SECTION_CODE) {
            const nux_enf_code_header_t *c = (const nux_enf_code_header_t *)p;
            size_t code_at = (sizeof *c + c->name_len + 7u) & ~(size_t)7u;
            printf("code %llu %llu %.*s|%u\n", (unsigned long long)c->arena_offset,
                   (unsigned long long)c->code_size, (int)c->name_len, (const char *)(p + sizeof *c),
                   crc32_update(0, p + code_at, (size_t)c->code_size));
        } else if (s->kind == NUX_ENF_SECTION_HOST) {
            const nux_enf_host_header_t *g = (const nux_enf_host_header_t *)p;
            const uint32_t *edges = (const uint32_t *)(p + sizeof *g);
            size_t onnx_at = (sizeof *g + 4u * (g->input_count + g->output_count) + 7u) & ~(size_t)7u;
            printf("host %u %u %llu", g->input_count, g->output_count, (unsigned long long)g->onnx_size);
            for (uint32_t k = 0; k < g->input_count + g->output_count; k++) printf(" %u", edges[k]);
            printf(" |%u\n", crc32_update(0, p + onnx_at, (size_t)g->onnx_size));
        } else if (s->kind == NUX_ENF_SECTION_STEPS) {
            const nux_enf_steps_header_t *sh = (const nux_enf_steps_header_t *)p;
            const nux_enf_step_t *st = (const nux_enf_step_t *)(p + sizeof *sh);
            for (uint32_t k = 0; k < sh->count; k++) printf("step %u %u\n", st[k].kind, st[k].index);
        } else if (s->kind == NUX_ENF_SECTION_CONST) {
            printf("const %llu |%u\n", (unsigned long long)s->size, crc32_update(0, p, (size_t)s->size));
        } else if (s->kind == NUX_ENF_SECTION_META) {
            printf("meta %.*s\n", (int)s->size, (const char *)p);
        }
    }
    free(buf);
    return 0;
}
