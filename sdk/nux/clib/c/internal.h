/* internal.h — what libnux's files share: errors, the parsed ENF, the device interface, the command queue. */
#ifndef NUX_INTERNAL_H
#define NUX_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "nux.h"
#include "nux_enf.h"
#include "nux_isa.h"

/* ---- errors (error.c) ---- */
/* Records a one-line message for nux_last_error() in this thread and returns `code`. */
nux_error_t nux_fail(nux_error_t code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double nux_now(void); /* monotonic seconds */

/* ---- NpuConfig ---- */
typedef struct {
    uint32_t dim, sp_rows, acc_rows, axi_data_bits, dram_addr_bits, cmdq_depth;
} nux_config;
/* NULL when valid, else why not (the rules of nux.isa.NpuConfig). */
const char *nux_config_problem(const nux_config *c);

/* ---- a parsed, validated ENF (enf_read.c, enf_check.c) ---- */
typedef struct {
    char *name;
    uint8_t role, dtype, layout, rank;
    uint32_t dims[NUX_ENF_MAX_RANK];
    int32_t zero_point;
    double scale;
    uint64_t offset, size;
} nux_enf_tensor;

typedef struct {
    uint64_t offset, size;
    const uint8_t *code;
} nux_enf_program;

typedef struct {
    uint8_t *image; /* our copy of the file; programs and consts point into it */
    nux_config config;
    uint32_t isa_minor; /* the ISA 1.x minor the code needs (header isa_version_minor) */
    uint64_t arena_size, const_offset, const_size;
    const uint8_t *consts;
    nux_enf_tensor *tensors;
    uint32_t n_tensors;
    nux_enf_program *programs;
    uint32_t n_programs;
    uint32_t n_host_graphs;
    nux_enf_step_t *steps; /* the run order (programs in order when the file has no STEPS) */
    uint32_t n_steps;
} nux_enf;

/* Parses and validates `len` bytes (copied); nux_error_t_invalid_enf / _unsupported_version with a message. */
nux_error_t nux_enf_parse(const unsigned char *data, size_t len, nux_enf *out);
void nux_enf_free(nux_enf *enf);
/* A byte range [start, end) of a file or an arena; nux_region_order sorts them for overlap checks. */
typedef struct {
    uint64_t start, end;
} nux_region;
int nux_region_order(const void *a, const void *b);
/* The semantic rules (enf_check.c), on an ENF whose container was read. */
nux_error_t nux_enf_check(const nux_enf *enf);
/* META: a UTF-8 JSON object that survives Python's JSON round trip (enf_meta.c). */
nux_error_t nux_enf_check_meta(const uint8_t *data, uint64_t size);
int nux_valid_utf8(const uint8_t *p, uint64_t n, int allow_nul);
uint32_t nux_crc32(uint32_t crc, const uint8_t *p, size_t n);
/* Bytes a tensor occupies; 0 when the product overflows. */
uint64_t nux_tensor_nbytes(uint8_t dtype, uint8_t layout, uint8_t rank, const uint32_t *dims, uint32_t dim);

/* ---- devices (device.c, dev_*.c) ---- */
typedef struct nux_device nux_device;
typedef struct {
    int (*read32)(nux_device *d, uint32_t addr, uint32_t *value); /* 0 ok, else -1 with nux_fail set */
    int (*write32)(nux_device *d, uint32_t addr, uint32_t value);
    int (*write)(nux_device *d, uint64_t addr, const void *data, uint64_t n);
    int (*read)(nux_device *d, uint64_t addr, void *data, uint64_t n);
    /* Block until the interrupt is pending or `seconds` pass (simulators advance time): 1 pending, 0 not, -1. */
    int (*wait_irq)(nux_device *d, double seconds);
    void (*close)(nux_device *d);
} nux_device_ops;

struct nux_device {
    const nux_device_ops *ops;
    uint64_t dram_size;
    nux_config config;  /* what the device reports */
    uint32_t isa_minor; /* VERSION.MINOR: the ISA 1.x the device implements */
};

/* A parsed device string: "name[:arg][,key=value...]". */
typedef struct {
    char name[16];
    char arg[64];
    char options[512];
} nux_device_spec;
nux_error_t nux_device_parse(const char *text, nux_device_spec *out);
/* The value of option `key` in the spec ("" -> NULL when absent), copied into `buf`. */
const char *nux_device_option(const nux_device_spec *spec, const char *key, char *buf, size_t size);
/* An integer option (any C base), or `fallback` when absent. */
uint64_t nux_device_option_u64(const nux_device_spec *spec, const char *key, uint64_t fallback);
/* Reads ID, VERSION and CFG_* and checks them (nux_error_t_nux_creation_failed when not a nux NPU). */
nux_error_t nux_device_identify(nux_device *d);
/* `config` is the ENF's (sim builds the device for it); hardware ignores it. */
nux_error_t nux_device_open(const nux_device_spec *spec, const nux_config *config, nux_device **out);
nux_error_t nux_sim_open(const nux_device_spec *spec, const nux_config *config, nux_device **out);
nux_error_t nux_xdma_open(const nux_device_spec *spec, nux_device **out);
nux_error_t nux_pci_open(const nux_device_spec *spec, nux_device **out);
/* wait_irq for devices without an interrupt: poll IRQ_STATUS & IRQ_ENABLE with a growing back-off. */
int nux_poll_irq(nux_device *d, double seconds);

/* ---- device memory (memory.c) ---- */
typedef struct {
    uint64_t *start, *len; /* free blocks, sorted, never adjacent */
    size_t n, cap;
} nux_memory;
nux_error_t nux_memory_init(nux_memory *m, uint64_t size);
void nux_memory_destroy(nux_memory *m);
/* 4096-aligned blocks; `size` bytes at *addr. */
nux_error_t nux_memory_alloc(nux_memory *m, uint64_t size, uint64_t *addr);
void nux_memory_free(nux_memory *m, uint64_t addr, uint64_t size);

/* ---- jobs and the command queue (queue.c) ---- */
/* One run of a model in one arena: its NPU steps, submitted in order; `done` is called once, without locks held,
 * from the completion thread. */
typedef struct nux_job nux_job;
struct nux_job {
    const nux_enf *enf;
    uint64_t arena_base;
    uint32_t next_step, steps_done;
    nux_error_t error;  /* set once the job has failed (its remaining hardware tasks are ignored) */
    char message[256];  /* why it failed */
    void (*done)(nux_job *job, nux_error_t error, const char *message);
    nux_job *next; /* software queue link */
};

typedef struct {
    nux_job *job;
    uint32_t tag;
} nux_hw_entry;

/* ---- the handle (context.c) ---- */
struct nux_context {
    pthread_mutex_t lock; /* the device, the queue, the memory */
    _Atomic int users;    /* threads waiting for `lock`: the completion thread lets them in between waits */
    pthread_cond_t work;  /* the completion thread waits here for jobs */
    nux_device_spec spec;
    nux_device *device; /* opened by the first model (sim is built for that model's config) */
    nux_memory memory;
    double timeout;
    /* queue */
    nux_job *waiting_head, *waiting_tail; /* jobs with steps not yet submitted */
    nux_hw_entry *inflight;               /* ring of submitted hardware tasks, oldest first */
    uint32_t n_inflight, first, depth;
    uint32_t next_tag, last_completed;
    double head_since; /* when the oldest in-flight task became the oldest */
    uint32_t staged[8]; /* last value written to each TASK_* register word (cheap to skip rewrites) */
    int staged_valid;
    int models;
    int stop;
    int thread_started;
    pthread_t thread;
};

/* Take `lock` from a caller's thread (the completion thread yields it between its waits for the interrupt). */
void nux_lock(nux_handle_t h);
/* Opens the device for `enf` if needed, checks compatibility, allocates and fills an arena (code + consts). */
nux_error_t nux_context_load(nux_handle_t h, const nux_enf *enf, uint64_t *arena_base);
void nux_context_unload(nux_handle_t h, const nux_enf *enf, uint64_t arena_base);
/* Queue a job (the completion thread submits and tracks it). */
void nux_queue_job(nux_handle_t h, nux_job *job);
/* CTRL.RESET, wait idle, re-arm interrupts; caller holds the lock. */
nux_error_t nux_queue_reset_device(nux_handle_t h);
void *nux_queue_thread(void *arg);
/* Refuses ENFs with host steps. */
nux_error_t nux_enf_npu_only(const nux_enf *enf);
/* Index of the `index`-th tensor with `role`, or -1. */
int nux_enf_find(const nux_enf *enf, uint8_t role, int index);
int nux_enf_count(const nux_enf *enf, uint8_t role);

#endif
