/* nux_sim.h — the C ABI of the Verilator simulation of the nux NPU (one header, shared by nux.sim's ctypes
 * binding and libnux).
 *
 * A `nux_sim` is one simulated NPU (the Verilog top `nux_npu`, built by nux.sim.build for one NpuConfig) plus the
 * world around it: an AXI-Lite master that drives one MMIO transaction at a time, and an AXI4 DRAM slave (a byte
 * array) with a configurable latency and bandwidth. Simulated time advances only inside these calls; every call
 * is synchronous and single-threaded per instance (distinct instances are independent).
 *
 * Return codes: 0 (NUX_SIM_OK) on success, a negative NUX_SIM_E* on failure; nux_sim_last_error() says why.
 */
#ifndef NUX_SIM_H
#define NUX_SIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define NUX_SIM_API __declspec(dllexport)
#else
#define NUX_SIM_API __attribute__((visibility("default")))
#endif

/* Bumped whenever a signature or a semantic below changes; loaders refuse other versions. */
#define NUX_SIM_ABI_VERSION 1

typedef struct nux_sim nux_sim;

enum {
    NUX_SIM_OK = 0,
    NUX_SIM_EINVAL = -1,   /* bad argument (null pointer, zero size, bandwidth out of (0, 1]) */
    NUX_SIM_ERANGE = -2,   /* backdoor access outside the DRAM array */
    NUX_SIM_ETIMEOUT = -3, /* the NPU did not answer an MMIO transaction within NUX_SIM_MMIO_TIMEOUT cycles */
    NUX_SIM_EIO = -4,      /* the trace file could not be opened */
};

/* Cycles an AXI-Lite transaction may take before nux_sim_mmio_* gives up with NUX_SIM_ETIMEOUT. */
#define NUX_SIM_MMIO_TIMEOUT 100000u

/* nux_sim_run stop conditions (a bit mask) and results. */
#define NUX_SIM_UNTIL_IRQ 1u  /* stop when the irq output is high */
#define NUX_SIM_UNTIL_IDLE 2u /* stop when STATUS.BUSY reads 0 (polled over AXI-Lite every poll interval) */
#define NUX_SIM_STOP_LIMIT 0  /* result: max_cycles elapsed without a stop condition */
#define NUX_SIM_STOP_IRQ 1    /* result: irq is high */
#define NUX_SIM_STOP_IDLE 2   /* result: STATUS.BUSY is 0 */

/* ABI version of the loaded library (compare with NUX_SIM_ABI_VERSION). */
NUX_SIM_API uint32_t nux_sim_abi_version(void);
/* What the library was built for, as JSON: {"top": ..., "config": {NpuConfig fields}, "flags": [...]}. */
NUX_SIM_API const char *nux_sim_build_info(void);

/* A new simulator with `dram_size` bytes of zeroed DRAM (a multiple of 4096). The DRAM model answers an AXI read
 * with its first beat 1 + `latency` cycles after the address handshake (a write response 1 + `latency` cycles
 * after the last data beat), and moves at most `bandwidth` data beats per cycle (0 < bandwidth <= 1) on each of
 * the read and write channels. The NPU is held in reset for a few cycles. NULL on bad arguments or out of
 * memory. */
NUX_SIM_API nux_sim *nux_sim_create(uint64_t dram_size, uint32_t latency, double bandwidth);
NUX_SIM_API void nux_sim_destroy(nux_sim *sim);
/* The message of the last failing call on `sim` ("" if none); valid until the next call. */
NUX_SIM_API const char *nux_sim_last_error(const nux_sim *sim);

/* Drive `rst` high for `cycles` cycles (at least 1) and drop every bus transaction in flight; DRAM is kept. */
NUX_SIM_API void nux_sim_reset(nux_sim *sim, uint32_t cycles);

/* One AXI-Lite transaction on s_axil (4-byte aligned offset below NUX_MMIO_SIZE); simulated time advances. */
NUX_SIM_API int nux_sim_mmio_write(nux_sim *sim, uint32_t addr, uint32_t value);
NUX_SIM_API int nux_sim_mmio_read(nux_sim *sim, uint32_t addr, uint32_t *value);

/* Backdoor access to the DRAM array (host DMA on the simulator): no simulated time passes. */
NUX_SIM_API int nux_sim_dram_write(nux_sim *sim, uint64_t addr, const void *data, uint64_t n);
NUX_SIM_API int nux_sim_dram_read(nux_sim *sim, uint64_t addr, void *data, uint64_t n);
NUX_SIM_API uint64_t nux_sim_dram_size(const nux_sim *sim);

/* Advance exactly `cycles` clock cycles. */
NUX_SIM_API void nux_sim_step(nux_sim *sim, uint64_t cycles);
/* Advance until a condition of `until` (NUX_SIM_UNTIL_*) holds or `max_cycles` have passed; returns the
 * NUX_SIM_STOP_* that ended it (a condition already true returns at once), or a negative error. */
NUX_SIM_API int nux_sim_run(nux_sim *sim, uint64_t max_cycles, uint32_t until);
/* Cycles between the STATUS polls of NUX_SIM_UNTIL_IDLE (default 64, at least 1). */
NUX_SIM_API void nux_sim_set_poll_interval(nux_sim *sim, uint32_t cycles);

/* Clock cycles simulated since nux_sim_create. */
NUX_SIM_API uint64_t nux_sim_cycles(const nux_sim *sim);
/* Current level of the irq output (0 or 1). */
NUX_SIM_API int nux_sim_irq(const nux_sim *sim);
/* AXI protocol violations the DRAM model has seen from the NPU (4 KiB crossing, bad burst type, wlast
 * mismatch, ...); the first one's description is in nux_sim_protocol_error(). */
NUX_SIM_API uint64_t nux_sim_protocol_errors(const nux_sim *sim);
NUX_SIM_API const char *nux_sim_protocol_error(const nux_sim *sim);

/* Start dumping every signal to an FST file (GTKWave, Surfer) from now on; NUX_SIM_EIO if it cannot be opened.
 * The trace is flushed and closed by nux_sim_trace_close or nux_sim_destroy. */
NUX_SIM_API int nux_sim_trace_open(nux_sim *sim, const char *path);
NUX_SIM_API void nux_sim_trace_close(nux_sim *sim);

#ifdef __cplusplus
}
#endif

#endif /* NUX_SIM_H */
