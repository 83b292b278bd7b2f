/* dev_sim.c — the "sim" device: the Verilator simulation library (libnux_sim.so, the C ABI of nux_sim.h) loaded
 * with dlopen. libnux does not build it: `nux sim build --dim N ...` does, into the cache that nux.sim.build uses
 * ($NUX_SIM_CACHE, else $XDG_CACHE_HOME/nux/sim, else ~/.cache/nux/sim). An entry's build.json names its NpuConfig;
 * the newest entry built for exactly the ENF's config (and no Verilog parameter overrides) is used.
 * $NUX_SIM_LIBRARY (or the device option library=PATH) names a library directly. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define SIM_ABI_VERSION 1 /* NUX_SIM_ABI_VERSION of sim/harness/nux_sim.h */
#define UNTIL_IRQ 1u

typedef struct {
    nux_device base;
    void *dl, *sim;
    uint64_t chunk; /* cycles per run call, sized to take ~0.5 ms */
    uint32_t (*abi_version)(void);
    void *(*create)(uint64_t, uint32_t, double);
    void (*destroy)(void *);
    const char *(*last_error)(const void *);
    int (*mmio_write)(void *, uint32_t, uint32_t);
    int (*mmio_read)(void *, uint32_t, uint32_t *);
    int (*dram_write)(void *, uint64_t, const void *, uint64_t);
    int (*dram_read)(void *, uint64_t, void *, uint64_t);
    int (*run)(void *, uint64_t, uint32_t);
    int (*irq)(const void *);
} sim_device;

static int sim_check(sim_device *s, int rc, const char *what) {
    if (rc >= 0) return 0;
    nux_fail(nux_error_t_device_error, "sim: %s: %s", what, s->last_error(s->sim));
    return -1;
}

static int sim_read32(nux_device *d, uint32_t addr, uint32_t *v) {
    sim_device *s = (sim_device *)d;
    return sim_check(s, s->mmio_read(s->sim, addr, v), "MMIO read");
}
static int sim_write32(nux_device *d, uint32_t addr, uint32_t v) {
    sim_device *s = (sim_device *)d;
    return sim_check(s, s->mmio_write(s->sim, addr, v), "MMIO write");
}
static int sim_write(nux_device *d, uint64_t addr, const void *p, uint64_t n) {
    sim_device *s = (sim_device *)d;
    return sim_check(s, s->dram_write(s->sim, addr, p, n), "DRAM write");
}
static int sim_read(nux_device *d, uint64_t addr, void *p, uint64_t n) {
    sim_device *s = (sim_device *)d;
    return sim_check(s, s->dram_read(s->sim, addr, p, n), "DRAM read");
}

/* Simulated time passes only here: run in chunks until the irq rises or `seconds` of wall time pass. */
static int sim_wait_irq(nux_device *d, double seconds) {
    sim_device *s = (sim_device *)d;
    double deadline = nux_now() + seconds;
    while (!s->irq(s->sim)) {
        double start = nux_now();
        if (start >= deadline) return 0;
        if (sim_check(s, s->run(s->sim, s->chunk, UNTIL_IRQ), "run")) return -1;
        double took = nux_now() - start, scale = took > 0 ? 5e-4 / took : 2.0;
        scale = scale < 0.5 ? 0.5 : scale > 2.0 ? 2.0 : scale;
        double next = (double)s->chunk * scale;
        s->chunk = next < 200 ? 200 : next > 1e7 ? 10000000 : (uint64_t)next;
    }
    return 1;
}

static void sim_close(nux_device *d) {
    sim_device *s = (sim_device *)d;
    if (s->sim) s->destroy(s->sim);
    if (s->dl) dlclose(s->dl);
    free(s);
}

static const nux_device_ops SIM_OPS = {sim_read32, sim_write32, sim_write, sim_read, sim_wait_irq, sim_close};

static void cache_dir(char *out, size_t size) {
    const char *env = getenv("NUX_SIM_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env) snprintf(out, size, "%s", env);
    else if (xdg && *xdg) snprintf(out, size, "%s/nux/sim", xdg);
    else snprintf(out, size, "%s/.cache/nux/sim", home ? home : ".");
}

/* The integer after "key": in text, or -1. */
static long long json_int(const char *text, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(text, pattern);
    return at ? strtoll(at + strlen(pattern), NULL, 10) : -1;
}

/* Whether build.json at `path` describes a library for exactly `c`, with no parameter overrides. */
static int entry_matches(const char *path, const nux_config *c) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *config = strstr(text, "\"config\":"), *params = strstr(text, "\"parameters\":");
    if (!config || !params) return 0;
    params += strlen("\"parameters\":");
    while (*params == ' ' || *params == '\n') params++;
    if (strncmp(params, "{}", 2)) return 0;
    const char *end = strchr(config, '}');
    if (!end) return 0;
    char obj[1024];
    snprintf(obj, sizeof obj, "%.*s", (int)(end - config), config);
    return json_int(obj, "dim") == c->dim && json_int(obj, "sp_rows") == c->sp_rows &&
           json_int(obj, "acc_rows") == c->acc_rows && json_int(obj, "axi_data_bits") == c->axi_data_bits &&
           json_int(obj, "dram_addr_bits") == c->dram_addr_bits && json_int(obj, "cmdq_depth") == c->cmdq_depth;
}

static int find_library(const nux_config *c, char *out, size_t size) {
    char root[3072], path[4096];
    cache_dir(root, sizeof root);
    DIR *dir = opendir(root);
    if (!dir) return 0;
    double newest = -1;
    struct dirent *e;
    while ((e = readdir(dir))) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/build.json", root, e->d_name);
        if (e->d_name[0] == '.' || !entry_matches(path, c)) continue;
        snprintf(path, sizeof path, "%s/%s/libnux_sim.so", root, e->d_name);
        if (stat(path, &st) || (double)st.st_mtime <= newest) continue;
        newest = (double)st.st_mtime;
        snprintf(out, size, "%s", path);
    }
    closedir(dir);
    return newest >= 0;
}

static nux_error_t bind(sim_device *s, const char *path) {
    s->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!s->dl) return nux_fail(nux_error_t_simulator_not_built, "sim: cannot load %s: %s", path, dlerror());
#define SYM(field, name)                                                                                   \
    if (!(*(void **)&s->field = dlsym(s->dl, name)))                                                       \
        return nux_fail(nux_error_t_nux_creation_failed, "sim: %s does not export %s: not a nux simulator", \
                        path, name);
    SYM(abi_version, "nux_sim_abi_version") SYM(create, "nux_sim_create") SYM(destroy, "nux_sim_destroy")
    SYM(last_error, "nux_sim_last_error") SYM(mmio_write, "nux_sim_mmio_write") SYM(mmio_read, "nux_sim_mmio_read")
    SYM(dram_write, "nux_sim_dram_write") SYM(dram_read, "nux_sim_dram_read") SYM(run, "nux_sim_run")
    SYM(irq, "nux_sim_irq")
#undef SYM
    if (s->abi_version() != SIM_ABI_VERSION)
        return nux_fail(nux_error_t_nux_creation_failed, "sim: %s has simulator ABI %u, libnux expects %d; rebuild it",
                        path, s->abi_version(), SIM_ABI_VERSION);
    return nux_error_t_success;
}

nux_error_t nux_sim_open(const nux_device_spec *spec, const nux_config *c, nux_device **out) {
    char path[4096], opt[64];
    const char *env = getenv("NUX_SIM_LIBRARY");
    if (nux_device_option(spec, "library", path, sizeof path)) {
    } else if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else if (!find_library(c, path, sizeof path)) {
        return nux_fail(nux_error_t_simulator_not_built,
                        "sim: no simulator library for this ENF's NpuConfig; build it once with `nux sim build --dim %u "
                        "--sp-rows %u --acc-rows %u --axi-data-bits %u --dram-addr-bits %u --cmdq-depth %u` (or set "
                        "NUX_SIM_LIBRARY)",
                        c->dim, c->sp_rows, c->acc_rows, c->axi_data_bits, c->dram_addr_bits, c->cmdq_depth);
    }
    const char *dram = nux_device_option(spec, "dram_size", opt, sizeof opt);
    uint64_t dram_size = dram ? strtoull(dram, NULL, 0) : 64u << 20;
    if (!dram_size || dram_size % 4096)
        return nux_fail(nux_error_t_nux_creation_failed, "sim: dram_size must be a positive multiple of 4096");
    sim_device *s = calloc(1, sizeof *s);
    if (!s) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    s->base.ops = &SIM_OPS;
    s->chunk = 10000;
    nux_error_t err = bind(s, path);
    if (!err && !(s->sim = s->create(dram_size, 20, 1.0)))
        err = nux_fail(nux_error_t_nux_creation_failed, "sim: cannot create a simulator with %llu bytes of DRAM",
                       (unsigned long long)dram_size);
    if (err) {
        sim_close(&s->base);
        return err;
    }
    s->base.dram_size = dram_size;
    *out = &s->base;
    return nux_error_t_success;
}
