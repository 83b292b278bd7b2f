/* context.c — a handle: the device (opened at creation, or for "sim" by the first model, since the simulator is
 * built for that model's NpuConfig), its memory, its completion thread; and loading a model's arena. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void nux_lock(nux_handle_t h) {
    h->users++;
    pthread_mutex_lock(&h->lock);
    h->users--;
}

nux_error_t create_nux(nux_handle_t *nux) { return nux_create_with_device(getenv("NUX_DEVICE"), nux); }

static nux_error_t start(nux_handle_t h, const nux_config *config) {
    nux_error_t err = nux_device_open(&h->spec, config, &h->device);
    if (err) return err;
    uint64_t dram = h->device->dram_size, bits = h->device->config.dram_addr_bits;
    if (bits < 64 && dram > (UINT64_C(1) << bits)) dram = UINT64_C(1) << bits;
    h->depth = h->device->config.cmdq_depth;
    h->inflight = calloc(h->depth, sizeof *h->inflight);
    if (!h->inflight) err = nux_fail(nux_error_t_out_of_memory, "out of memory");
    if (!err) err = nux_memory_init(&h->memory, dram);
    if (!err) err = nux_queue_reset_device(h);
    if (!err && pthread_create(&h->thread, NULL, nux_queue_thread, h))
        err = nux_fail(nux_error_t_nux_creation_failed, "cannot start the completion thread");
    if (!err) {
        h->thread_started = 1;
        return nux_error_t_success;
    }
    h->device->ops->close(h->device);
    h->device = NULL;
    free(h->inflight);
    h->inflight = NULL;
    nux_memory_destroy(&h->memory);
    return err;
}

nux_error_t nux_create_with_device(const char *device, nux_handle_t *nux) {
    if (!nux) return nux_fail(nux_error_t_invalid_argument, "create_nux: the output pointer is NULL");
    *nux = NULL;
    nux_handle_t h = calloc(1, sizeof *h);
    if (!h) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    nux_error_t err = nux_device_parse(device, &h->spec);
    if (err) {
        free(h);
        return err;
    }
    const char *ms = getenv("NUX_TIMEOUT_MS");
    h->timeout = ms && atoi(ms) > 0 ? atoi(ms) / 1000.0 : 10.0;
    h->next_tag = 1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->work, NULL);
    if (strcmp(h->spec.name, "sim") && (err = start(h, NULL))) { /* hardware: open it now */
        destroy_nux(h);
        return err;
    }
    *nux = h;
    return nux_error_t_success;
}

void destroy_nux(nux_handle_t h) {
    if (!h) return;
    if (h->thread_started) {
        pthread_mutex_lock(&h->lock);
        h->stop = 1;
        pthread_cond_signal(&h->work);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
    }
    if (h->device) h->device->ops->close(h->device);
    free(h->inflight);
    nux_memory_destroy(&h->memory);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->work);
    free(h);
}

nux_error_t nux_set_timeout(nux_handle_t h, unsigned milliseconds) {
    if (!h || !milliseconds) return nux_fail(nux_error_t_invalid_argument, "nux_set_timeout: NULL handle or 0 ms");
    nux_lock(h);
    h->timeout = milliseconds / 1000.0;
    pthread_mutex_unlock(&h->lock);
    return nux_error_t_success;
}

/* Why a program compiled for `enf` cannot run on `dev` (nux.isa.NpuConfig.compatibility_error), or NULL. */
static nux_error_t check_fit(const nux_config *enf, const nux_config *dev) {
    if (enf->dim != dev->dim || enf->sp_rows > dev->sp_rows || enf->acc_rows > dev->acc_rows ||
        enf->dram_addr_bits > dev->dram_addr_bits)
        return nux_fail(nux_error_t_incompatible_config,
                        "the ENF was compiled for dim %u, sp_rows %u, acc_rows %u, dram_addr_bits %u; this NPU has "
                        "dim %u, sp_rows %u, acc_rows %u, dram_addr_bits %u",
                        enf->dim, enf->sp_rows, enf->acc_rows, enf->dram_addr_bits, dev->dim, dev->sp_rows,
                        dev->acc_rows, dev->dram_addr_bits);
    return nux_error_t_success;
}

/* The ENF's code needs a newer ISA minor than the device implements (nux.errors.IsaVersionError's sentence). */
static nux_error_t check_isa(uint32_t needed, uint32_t device) {
    if (needed > device)
        return nux_fail(nux_error_t_unsupported_version,
                        "program needs ISA %d.%u; the device implements ISA %d.%u (rebuild the NPU or compile with "
                        "isa_minor=%u)", NUX_ISA_VERSION_MAJOR, needed, NUX_ISA_VERSION_MAJOR, device, device);
    return nux_error_t_success;
}

static nux_error_t write_image(nux_handle_t h, const nux_enf *enf, uint64_t base) {
    uint8_t *image = calloc(1, enf->arena_size);
    if (!image) return nux_fail(nux_error_t_out_of_memory, "out of memory for a %llu-byte arena",
                                (unsigned long long)enf->arena_size);
    for (uint32_t i = 0; i < enf->n_programs; i++)
        memcpy(image + enf->programs[i].offset, enf->programs[i].code, enf->programs[i].size);
    if (enf->const_size) memcpy(image + enf->const_offset, enf->consts, enf->const_size);
    int rc = h->device->ops->write(h->device, base, image, enf->arena_size);
    free(image);
    return rc ? nux_error_t_device_error : nux_error_t_success;
}

nux_error_t nux_context_load(nux_handle_t h, const nux_enf *enf, uint64_t *arena_base) {
    nux_lock(h);
    nux_error_t err = h->device ? nux_error_t_success : start(h, &enf->config);
    if (!err) err = check_isa(enf->isa_minor, h->device->isa_minor);
    if (!err) err = check_fit(&enf->config, &h->device->config);
    if (!err) err = nux_memory_alloc(&h->memory, enf->arena_size, arena_base);
    if (!err && (err = write_image(h, enf, *arena_base))) nux_memory_free(&h->memory, *arena_base, enf->arena_size);
    if (!err) h->models++;
    pthread_mutex_unlock(&h->lock);
    return err;
}

void nux_context_unload(nux_handle_t h, const nux_enf *enf, uint64_t arena_base) {
    nux_lock(h);
    nux_memory_free(&h->memory, arena_base, enf->arena_size);
    h->models--;
    pthread_mutex_unlock(&h->lock);
}
