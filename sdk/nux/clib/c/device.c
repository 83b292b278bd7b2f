/* device.c — device strings ("sim", "xdma:0,user=/path", "pci:0000:00:1d.0"), identity checks, and polling the
 * interrupt registers for backends without an interrupt line. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

nux_error_t nux_device_parse(const char *text, nux_device_spec *out) {
    memset(out, 0, sizeof *out);
    if (!text || !*text) text = "sim";
    const char *comma = strchr(text, ',');
    size_t head = comma ? (size_t)(comma - text) : strlen(text);
    const char *colon = memchr(text, ':', head);
    size_t name_len = colon ? (size_t)(colon - text) : head;
    size_t arg_len = colon ? head - name_len - 1 : 0;
    if (!name_len || name_len >= sizeof out->name || arg_len >= sizeof out->arg ||
        (comma && strlen(comma + 1) >= sizeof out->options))
        return nux_fail(nux_error_t_nux_creation_failed, "bad device string '%s' (expected name[:arg][,key=value...])",
                        text);
    memcpy(out->name, text, name_len);
    if (colon) memcpy(out->arg, colon + 1, arg_len);
    if (comma) strcpy(out->options, comma + 1);
    return nux_error_t_success;
}

const char *nux_device_option(const nux_device_spec *spec, const char *key, char *buf, size_t size) {
    size_t klen = strlen(key);
    for (const char *p = spec->options; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > klen && !strncmp(p, key, klen) && p[klen] == '=') {
            snprintf(buf, size, "%.*s", (int)(n - klen - 1), p + klen + 1);
            return buf;
        }
        p += n + (end != NULL);
    }
    return NULL;
}

uint64_t nux_device_option_u64(const nux_device_spec *spec, const char *key, uint64_t fallback) {
    char buf[64];
    const char *v = nux_device_option(spec, key, buf, sizeof buf);
    return v ? strtoull(v, NULL, 0) : fallback;
}

nux_error_t nux_device_identify(nux_device *d) {
    uint32_t id = 0, version = 0;
    if (d->ops->read32(d, NUX_REG_ID, &id) || d->ops->read32(d, NUX_REG_VERSION, &version))
        return nux_error_t_nux_creation_failed;
    if (id != NUX_NPU_ID)
        return nux_fail(nux_error_t_nux_creation_failed, "the device is not a nux NPU: ID reads 0x%08x, expected 0x%08x",
                        id, NUX_NPU_ID);
    if (NUX_FIELD_GET(NUX_VERSION_MAJOR, version) != NUX_ISA_VERSION_MAJOR)
        return nux_fail(nux_error_t_unsupported_version, "the NPU implements ISA v%u.%u, libnux speaks v%d.%d",
                        NUX_FIELD_GET(NUX_VERSION_MAJOR, version), NUX_FIELD_GET(NUX_VERSION_MINOR, version),
                        NUX_ISA_VERSION_MAJOR, NUX_ISA_VERSION_MINOR);
    d->isa_minor = NUX_FIELD_GET(NUX_VERSION_MINOR, version);
#define READ_CFG(field, reg) \
    if (d->ops->read32(d, reg, &d->config.field)) return nux_error_t_nux_creation_failed;
    NUX_CFG_REGISTERS(READ_CFG)
#undef READ_CFG
    const char *problem = nux_config_problem(&d->config);
    if (problem) return nux_fail(nux_error_t_nux_creation_failed, "the NPU reports an invalid configuration: %s",
                                 problem);
    return nux_error_t_success;
}

nux_error_t nux_device_open(const nux_device_spec *spec, const nux_config *config, nux_device **out) {
    nux_error_t err;
    if (!strcmp(spec->name, "sim")) err = nux_sim_open(spec, config, out);
    else if (!strcmp(spec->name, "xdma")) err = nux_xdma_open(spec, out);
    else if (!strcmp(spec->name, "pci")) err = nux_pci_open(spec, out);
    else return nux_fail(nux_error_t_nux_creation_failed, "unknown device '%s'; libnux knows sim, xdma and pci "
                         "('golden' is Python-only)", spec->name);
    if (err) return err;
    if ((err = nux_device_identify(*out))) {
        (*out)->ops->close(*out);
        *out = NULL;
    }
    return err;
}

static int irq_pending(nux_device *d, int *pending) {
    uint32_t status, enable;
    if (d->ops->read32(d, NUX_REG_IRQ_STATUS, &status) || d->ops->read32(d, NUX_REG_IRQ_ENABLE, &enable)) return -1;
    *pending = (status & enable) != 0;
    return 0;
}

int nux_poll_irq(nux_device *d, double seconds) {
    double deadline = nux_now() + seconds, interval = 20e-6;
    for (;;) {
        int pending;
        if (irq_pending(d, &pending)) return -1;
        if (pending) return 1;
        double left = deadline - nux_now();
        if (left <= 0) return 0;
        double nap = interval < left ? interval : left;
        struct timespec t = {(time_t)nap, (long)((nap - (double)(time_t)nap) * 1e9)};
        nanosleep(&t, NULL);
        interval = interval * 2 < 1e-3 ? interval * 2 : 1e-3;
    }
}
