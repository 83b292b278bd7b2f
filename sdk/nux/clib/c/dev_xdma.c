/* dev_xdma.c — "xdma[:N]": AWS F1 through the Xilinx XDMA driver (as nux.driver.xdma). MMIO is a 4-byte
 * pread/pwrite on /dev/xdmaN_user; DMA is pwrite on /dev/xdmaN_h2c_K and pread on /dev/xdmaN_c2h_K at the card
 * address, in chunks, continuing short transfers. Options: channel=K, user=, h2c=, c2h= (paths; tests use plain
 * files), dram_size= (default 2^CFG_DRAM_ADDR_BITS), dram_base=, chunk=. The irq is polled (IRQ_STATUS). */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef struct {
    nux_device base;
    int user, h2c, c2h;
    uint64_t dram_base, chunk;
} xdma_device;

static int check_mmio(uint32_t addr) {
    if (addr % 4 || addr >= NUX_MMIO_SIZE) {
        nux_fail(nux_error_t_device_error, "MMIO offset 0x%x is unaligned or outside the register window", addr);
        return -1;
    }
    return 0;
}

static int check_dma(nux_device *d, uint64_t addr, uint64_t n) {
    if (addr > d->dram_size || n > d->dram_size - addr) {
        nux_fail(nux_error_t_device_error, "DMA [0x%llx, +0x%llx) is outside device memory", (unsigned long long)addr,
                 (unsigned long long)n);
        return -1;
    }
    return 0;
}

static int x_read32(nux_device *d, uint32_t addr, uint32_t *v) {
    if (check_mmio(addr)) return -1;
    if (pread(((xdma_device *)d)->user, v, 4, addr) != 4)
        return nux_fail(nux_error_t_device_error, "xdma: MMIO read at 0x%x failed", addr), -1;
    return 0;
}

static int x_write32(nux_device *d, uint32_t addr, uint32_t v) {
    if (check_mmio(addr)) return -1;
    if (pwrite(((xdma_device *)d)->user, &v, 4, addr) != 4)
        return nux_fail(nux_error_t_device_error, "xdma: MMIO write at 0x%x failed", addr), -1;
    return 0;
}

static int x_write(nux_device *d, uint64_t addr, const void *data, uint64_t n) {
    xdma_device *x = (xdma_device *)d;
    if (check_dma(d, addr, n)) return -1;
    for (uint64_t done = 0; done < n;) {
        uint64_t piece = n - done < x->chunk ? n - done : x->chunk;
        ssize_t w = pwrite(x->h2c, (const uint8_t *)data + done, piece, (off_t)(x->dram_base + addr + done));
        if (w <= 0) return nux_fail(nux_error_t_device_error, "xdma: DMA write stalled at 0x%llx",
                                    (unsigned long long)(addr + done)), -1;
        done += (uint64_t)w;
    }
    return 0;
}

static int x_read(nux_device *d, uint64_t addr, void *data, uint64_t n) {
    xdma_device *x = (xdma_device *)d;
    if (check_dma(d, addr, n)) return -1;
    for (uint64_t done = 0; done < n;) {
        uint64_t piece = n - done < x->chunk ? n - done : x->chunk;
        ssize_t r = pread(x->c2h, (uint8_t *)data + done, piece, (off_t)(x->dram_base + addr + done));
        if (r <= 0) return nux_fail(nux_error_t_device_error, "xdma: DMA read ended at 0x%llx",
                                    (unsigned long long)(addr + done)), -1;
        done += (uint64_t)r;
    }
    return 0;
}

static void x_close(nux_device *d) {
    xdma_device *x = (xdma_device *)d;
    int fds[3] = {x->user, x->h2c, x->c2h};
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(x);
}

static const nux_device_ops XDMA_OPS = {x_read32, x_write32, x_write, x_read, nux_poll_irq, x_close};

static int open_node(const nux_device_spec *spec, const char *key, const char *fallback, int flags) {
    char path[256];
    const char *p = nux_device_option(spec, key, path, sizeof path);
    int fd = open(p ? p : fallback, flags | O_CLOEXEC);
    if (fd < 0)
        nux_fail(nux_error_t_nux_creation_failed, "xdma: cannot open %s: is the XDMA driver loaded and the AFI "
                 "programmed? (lsmod | grep xdma; ls /dev/xdma*)", p ? p : fallback);
    return fd;
}

nux_error_t nux_xdma_open(const nux_device_spec *spec, nux_device **out) {
    xdma_device *x = calloc(1, sizeof *x);
    if (!x) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    x->base.ops = &XDMA_OPS;
    x->user = x->h2c = x->c2h = -1;
    int index = spec->arg[0] ? atoi(spec->arg) : 0, channel = (int)nux_device_option_u64(spec, "channel", 0);
    char user[64], h2c[64], c2h[64];
    snprintf(user, sizeof user, "/dev/xdma%d_user", index);
    snprintf(h2c, sizeof h2c, "/dev/xdma%d_h2c_%d", index, channel);
    snprintf(c2h, sizeof c2h, "/dev/xdma%d_c2h_%d", index, channel);
    x->dram_base = nux_device_option_u64(spec, "dram_base", 0);
    x->chunk = nux_device_option_u64(spec, "chunk", 8u << 20);
    if ((x->user = open_node(spec, "user", user, O_RDWR)) < 0 || (x->h2c = open_node(spec, "h2c", h2c, O_WRONLY)) < 0 ||
        (x->c2h = open_node(spec, "c2h", c2h, O_RDONLY)) < 0 || !x->chunk) {
        if (!x->chunk) nux_fail(nux_error_t_nux_creation_failed, "xdma: chunk must be positive");
        x_close(&x->base);
        return nux_error_t_nux_creation_failed;
    }
    uint32_t bits = 0;
    x->base.dram_size = 1; /* until known: MMIO does not need it */
    if (x_read32(&x->base, NUX_REG_CFG_DRAM_ADDR_BITS, &bits)) bits = 0;
    x->base.dram_size = nux_device_option_u64(spec, "dram_size", bits >= 16 && bits < 64 ? UINT64_C(1) << bits : 0);
    if (!x->base.dram_size) {
        x_close(&x->base);
        return nux_fail(nux_error_t_nux_creation_failed, "xdma: the device does not report its DRAM size; pass "
                        "dram_size=");
    }
    *out = &x->base;
    return nux_error_t_success;
}
