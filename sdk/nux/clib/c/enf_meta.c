/* enf_meta.c — META must be what nux.enf accepts: UTF-8 JSON (RFC 8259) whose top level is an object, with no
 * number too large for a double (Python reads it as infinity, which JSON cannot write back) and no lone surrogate
 * escape. A recursive-descent check only: libnux does not use META's contents. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_DEPTH 512

typedef struct {
    const uint8_t *p, *end;
} cursor;

static void skip_space(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int literal(cursor *c, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n)) return 0;
    c->p += n;
    return 1;
}

static int hex4(cursor *c, unsigned *out) {
    if (c->end - c->p < 4) return 0;
    *out = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t h = *c->p++;
        int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (v < 0) return 0;
        *out = *out << 4 | (unsigned)v;
    }
    return 1;
}

static int string(cursor *c) {
    if (c->p >= c->end || *c->p++ != '"') return 0;
    while (c->p < c->end) {
        uint8_t ch = *c->p++;
        if (ch == '"') return 1;
        if (ch < 0x20) return 0;
        if (ch != '\\') continue;
        if (c->p >= c->end) return 0;
        ch = *c->p++;
        if (strchr("\"\\/bfnrt", ch) && ch) continue;
        unsigned u, low;
        if (ch != 'u' || !hex4(c, &u)) return 0;
        if (u >= 0xDC00 && u <= 0xDFFF) return 0; /* a lone low surrogate */
        if (u >= 0xD800 && u <= 0xDBFF && !(literal(c, "\\u") && hex4(c, &low) && low >= 0xDC00 && low <= 0xDFFF))
            return 0;
    }
    return 0;
}

static int number(cursor *c) {
    const uint8_t *start = c->p;
    int real = 0;
    if (c->p < c->end && *c->p == '-') c->p++;
    if (c->p >= c->end) return 0;
    if (*c->p == '0') c->p++;
    else if (*c->p >= '1' && *c->p <= '9') while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    else return 0;
    if (c->p < c->end && *c->p == '.') {
        real = 1, c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        real = 1, c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    if (!real) return 1;
    char text[400];
    size_t n = (size_t)(c->p - start);
    if (n >= sizeof text) return 1; /* long mantissas are finite unless the exponent says otherwise: rare, accept */
    memcpy(text, start, n);
    text[n] = 0;
    return isfinite(strtod(text, NULL));
}

static int value(cursor *c, int depth);

static int members(cursor *c, int depth, char close, int keyed) {
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == close) return c->p++, 1;
    for (;;) {
        skip_space(c);
        if (keyed) {
            if (!string(c)) return 0;
            skip_space(c);
            if (c->p >= c->end || *c->p++ != ':') return 0;
        }
        if (!value(c, depth + 1)) return 0;
        skip_space(c);
        if (c->p >= c->end) return 0;
        uint8_t ch = *c->p++;
        if (ch == close) return 1;
        if (ch != ',') return 0;
    }
}

static int value(cursor *c, int depth) {
    skip_space(c);
    if (c->p >= c->end || depth > MAX_DEPTH) return 0;
    switch (*c->p) {
    case '{': return members(c, depth, '}', 1);
    case '[': return members(c, depth, ']', 0);
    case '"': return string(c);
    case 't': return literal(c, "true");
    case 'f': return literal(c, "false");
    case 'n': return literal(c, "null");
    default: return number(c);
    }
}

nux_error_t nux_enf_check_meta(const uint8_t *data, uint64_t size) {
    cursor c = {data, data + size};
    skip_space(&c);
    int object = c.p < c.end && *c.p == '{';
    if (!nux_valid_utf8(data, size, 1) || !object || !value(&c, 0) || (skip_space(&c), c.p != c.end))
        return nux_fail(nux_error_t_invalid_enf, "invalid ENF: META is not a UTF-8 JSON object");
    return nux_error_t_success;
}
