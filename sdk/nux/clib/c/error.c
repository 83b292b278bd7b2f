/* error.c — error codes, their names, and the per-thread message behind nux_last_error(). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"

static _Thread_local char last_message[512];

nux_error_t nux_fail(nux_error_t code, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, args);
    va_end(args);
    return code;
}

const char *nux_last_error(void) { return last_message; }

double nux_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

const char *nux_error_name(nux_error_t error) {
    switch (error) {
#define NAME(e) case e: return #e;
        NAME(nux_error_t_success)
        NAME(nux_error_t_nux_creation_failed)
        NAME(nux_error_t_invalid_input_index)
        NAME(nux_error_t_invalid_output_index)
        NAME(nux_error_t_model_execution_failed)
        NAME(nux_error_t_invalid_buffer)
        NAME(nux_error_t_get_task_failed)
        NAME(nux_error_t_invalid_argument)
        NAME(nux_error_t_invalid_enf)
        NAME(nux_error_t_unsupported_version)
        NAME(nux_error_t_incompatible_config)
        NAME(nux_error_t_host_fallback)
        NAME(nux_error_t_simulator_not_built)
        NAME(nux_error_t_device_error)
        NAME(nux_error_t_timeout)
        NAME(nux_error_t_task_aborted)
        NAME(nux_error_t_out_of_memory)
        NAME(nux_error_t_invalid_task)
#undef NAME
    }
    return "nux_error_t_unknown";
}

const char *nux_config_problem(const nux_config *c) {
    static const char *const rows = "sp_rows and acc_rows must be powers of two in [2*dim, 65536]";
    if (c->dim != 4 && c->dim != 8 && c->dim != 16 && c->dim != 32) return "dim must be 4, 8, 16 or 32";
    uint32_t r[2] = {c->sp_rows, c->acc_rows};
    for (int i = 0; i < 2; i++)
        if (r[i] < 2 * c->dim || r[i] > 65536 || (r[i] & (r[i] - 1))) return rows;
    uint32_t a = c->axi_data_bits;
    if (a != 32 && a != 64 && a != 128 && a != 256 && a != 512) return "axi_data_bits must be 32..512 (power of two)";
    if (c->dram_addr_bits < 16 || c->dram_addr_bits > 64) return "dram_addr_bits must be in [16, 64]";
    if (c->cmdq_depth < 1 || c->cmdq_depth > 255) return "cmdq_depth must be in [1, 255]";
    return NULL;
}
