/* common.h — file and buffer helpers shared by the libnux examples (not part of libnux). */
#ifndef NUX_EXAMPLES_COMMON_H
#define NUX_EXAMPLES_COMMON_H
#include <stdio.h>
#include <stdlib.h>

#include "nux.h"

/* The whole file in a malloc'd buffer (exits with a message on failure). */
static inline unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(n > 0 ? (size_t)n : 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    fclose(f);
    *len = (size_t)n;
    return data;
}

/* Fill `buf` from `path` (its size must be `len`) or, when path is NULL, with a pattern seeded by `seed`. */
static inline void fill_input(void *buf, size_t len, const char *path, unsigned long long seed) {
    unsigned char *b = buf;
    if (!path) {
        for (size_t i = 0; i < len; i++) b[i] = (unsigned char)((i * 7u + seed * 13u) & 0xFF);
        return;
    }
    size_t n;
    unsigned char *data = read_file(path, &n);
    if (n != len) { fprintf(stderr, "%s has %zu bytes, the input needs %zu\n", path, n, len); exit(2); }
    for (size_t i = 0; i < len; i++) b[i] = data[i];
    free(data);
}

/* Print a line about an output; write it to PREFIX<index>.bin when prefix is given. */
static inline void emit_output(const char *prefix, int index, const void *buf, size_t len) {
    const unsigned char *b = buf;
    unsigned long long hash = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) hash = (hash ^ b[i]) * 1099511628211ull;
    printf("output %d: %zu bytes, fnv1a %016llx, first bytes", index, len, hash);
    for (size_t i = 0; i < len && i < 8; i++) printf(" %02x", b[i]);
    printf("\n");
    if (!prefix) return;
    char path[1024];
    snprintf(path, sizeof path, "%s%d.bin", prefix, index);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len) { fprintf(stderr, "cannot write %s\n", path); exit(2); }
    fclose(f);
}

#define CHECK(call)                                                                                   \
    do {                                                                                              \
        nux_error_t err_ = (call);                                                                    \
        if (err_ != nux_error_t_success) {                                                            \
            fprintf(stderr, "%s: %s: %s\n", #call, nux_error_name(err_), nux_last_error());           \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)
#endif
