/* dev_pci.c — "pci:<BDF>": the NPU through its PCI BARs mapped from sysfs (as nux.driver.pci): resource0 (OCL)
 * holds the registers, each access one aligned 32-bit load or store; resource4 (PCIS, resource4_wc preferred)
 * is the card's DDR. Options: sysfs_root=, bar0=, bar4= (paths; tests use plain files), mmio_offset=,
 * dram_base=, dram_size=. No interrupt without a kernel driver: the irq is polled. */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct {
    nux_device base;
    volatile uint32_t *regs;
    uint8_t *data;
    size_t regs_len, data_len;
    uint64_t dram_base;
} pci_device;

static int p_read32(nux_device *d, uint32_t addr, uint32_t *v) {
    if (addr % 4 || addr >= NUX_MMIO_SIZE)
        return nux_fail(nux_error_t_device_error, "pci: bad MMIO offset 0x%x", addr), -1;
    *v = ((pci_device *)d)->regs[addr / 4];
    return 0;
}

static int p_write32(nux_device *d, uint32_t addr, uint32_t v) {
    if (addr % 4 || addr >= NUX_MMIO_SIZE)
        return nux_fail(nux_error_t_device_error, "pci: bad MMIO offset 0x%x", addr), -1;
    ((pci_device *)d)->regs[addr / 4] = v;
    return 0;
}

static int p_dma(nux_device *d, uint64_t addr, uint64_t n, uint8_t **at) {
    pci_device *p = (pci_device *)d;
    if (addr > d->dram_size || n > d->dram_size - addr)
        return nux_fail(nux_error_t_device_error, "pci: DMA [0x%llx, +0x%llx) is outside device memory",
                        (unsigned long long)addr, (unsigned long long)n), -1;
    *at = p->data + p->dram_base + addr;
    return 0;
}

static int p_write(nux_device *d, uint64_t addr, const void *data, uint64_t n) {
    uint8_t *at;
    if (p_dma(d, addr, n, &at)) return -1;
    memcpy(at, data, n);
    return 0;
}

static int p_read(nux_device *d, uint64_t addr, void *data, uint64_t n) {
    uint8_t *at;
    if (p_dma(d, addr, n, &at)) return -1;
    memcpy(data, at, n);
    return 0;
}

static void p_close(nux_device *d) {
    pci_device *p = (pci_device *)d;
    if (p->regs) munmap((void *)p->regs, p->regs_len);
    if (p->data) munmap(p->data, p->data_len);
    free(p);
}

static const nux_device_ops PCI_OPS = {p_read32, p_write32, p_write, p_read, nux_poll_irq, p_close};

/* mmap `length` bytes (0: the rest of the file) of `path` at `offset`. */
static void *map(const char *path, uint64_t offset, size_t *length) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    void *m = MAP_FAILED;
    if (fd >= 0 && !fstat(fd, &st) && (uint64_t)st.st_size > offset) {
        size_t want = *length ? *length : (size_t)((uint64_t)st.st_size - offset);
        if (offset + want <= (uint64_t)st.st_size) m = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                                                            (off_t)offset);
        *length = want;
    }
    if (fd >= 0) close(fd);
    if (m == MAP_FAILED) {
        nux_fail(nux_error_t_nux_creation_failed, "pci: cannot map %s: is the FPGA image loaded and the device "
                 "present? (lspci -D -d 1d0f:)", path);
        return NULL;
    }
    return m;
}

nux_error_t nux_pci_open(const nux_device_spec *spec, nux_device **out) {
    char root[256], bar0[512], bar4[512];
    if (!nux_device_option(spec, "sysfs_root", root, sizeof root)) strcpy(root, "/sys/bus/pci/devices");
    int have0 = nux_device_option(spec, "bar0", bar0, sizeof bar0) != NULL;
    int have4 = nux_device_option(spec, "bar4", bar4, sizeof bar4) != NULL;
    if (!spec->arg[0] && !(have0 && have4))
        return nux_fail(nux_error_t_nux_creation_failed, "pci: name the device as pci:<BDF> (e.g. "
                        "pci:0000:00:1d.0), or pass bar0= and bar4=");
    const char *bdf = spec->arg, *domain = strchr(bdf, ':') && strchr(strchr(bdf, ':') + 1, ':') ? "" : "0000:";
    if (!have0) snprintf(bar0, sizeof bar0, "%s/%s%s/resource0", root, domain, bdf);
    if (!have4) {
        snprintf(bar4, sizeof bar4, "%s/%s%s/resource4_wc", root, domain, bdf);
        if (access(bar4, F_OK)) snprintf(bar4, sizeof bar4, "%s/%s%s/resource4", root, domain, bdf);
    }
    pci_device *p = calloc(1, sizeof *p);
    if (!p) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    p->base.ops = &PCI_OPS;
    p->regs_len = 4096;
    p->regs = map(bar0, nux_device_option_u64(spec, "mmio_offset", 0), &p->regs_len);
    if (p->regs) p->data = map(bar4, 0, &p->data_len);
    p->dram_base = nux_device_option_u64(spec, "dram_base", 0);
    if (!p->regs || !p->data || p->dram_base >= p->data_len) {
        if (p->regs && p->data) nux_fail(nux_error_t_nux_creation_failed, "pci: dram_base is beyond BAR4");
        p_close(&p->base);
        return nux_error_t_nux_creation_failed;
    }
    p->base.dram_size = nux_device_option_u64(spec, "dram_size", p->data_len - p->dram_base);
    if (!p->base.dram_size || p->base.dram_size > p->data_len - p->dram_base) {
        p_close(&p->base);
        return nux_fail(nux_error_t_nux_creation_failed, "pci: device memory does not fit BAR4 (%s)", bar4);
    }
    *out = &p->base;
    return nux_error_t_success;
}
