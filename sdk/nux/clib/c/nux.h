/* nux.h — the C API of libnux: run compiled ENF models on the nux NPU (docs/c_api.md).
 *
 * Two ways to run a model:
 *  - a sync model: set inputs, model_run() blocks until the outputs are ready;
 *  - a task model: up to max_batch requests in flight; results come back through callbacks.
 *
 * Buffers hold a tensor's bytes exactly as the ENF stores them in the arena (docs/enf.md: little-endian, the
 * tensor's layout, ROWS padded to the array width); their length must be the tensor's size in the ENF.
 *
 * Every function that can fail returns a nux_error_t; nux_last_error() gives a one-line message about the last
 * failure in the calling thread. All functions are thread-safe unless stated otherwise.
 */
#ifndef NUX_H
#define NUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NUX_API __attribute__((visibility("default")))
#else
#define NUX_API
#endif

typedef struct nux_context *nux_handle_t;        /* one NPU (a device) */
typedef struct nux_sync_model *nux_sync_model_t; /* a model run synchronously */
typedef struct nux_task_model *nux_task_model_t; /* a model run asynchronously, up to max_batch at once */
typedef struct nux_task *nux_task_t;             /* one request slot of a task model */
typedef struct nux_tensor *nux_tensor_t;         /* an input or output of a sync model */
typedef void *nux_buffer_t;                      /* tensor bytes */
typedef size_t nux_buffer_len_t;                 /* their length in bytes */
typedef uint64_t nux_request_id_t;               /* chosen by the caller of task_execute, passed back */
typedef int nux_output_index_t;                  /* index among the model's outputs */

typedef enum {
    nux_error_t_success = 0,
    nux_error_t_nux_creation_failed = 1,     /* the device could not be opened or is not a nux NPU */
    nux_error_t_invalid_input_index = 2,     /* no input with that index */
    nux_error_t_invalid_output_index = 3,    /* no output with that index */
    nux_error_t_model_execution_failed = 4,  /* the NPU stopped with an error (it was reset and is usable) */
    nux_error_t_invalid_buffer = 5,          /* NULL buffer, or a length other than the tensor's size */
    nux_error_t_get_task_failed = 6,         /* try_get_task: every task slot is busy */
    /* ours, beyond the guide */
    nux_error_t_invalid_argument = 7,        /* a NULL handle or output pointer, a bad max_batch, ... */
    nux_error_t_invalid_enf = 8,             /* the ENF is malformed or corrupt (same rules as nux.enf) */
    nux_error_t_unsupported_version = 9,     /* the ENF format or ISA major version is not this library's, or the
                                                code needs a newer ISA minor than the device implements */
    nux_error_t_incompatible_config = 10,    /* the ENF was compiled for an NpuConfig this device cannot run */
    nux_error_t_host_fallback = 11,          /* the ENF has host (HOST) steps: run it with Python nux.session */
    nux_error_t_simulator_not_built = 12,    /* sim device: no simulator library; run `nux sim build ...` */
    nux_error_t_device_error = 13,           /* an MMIO/DMA access or a device reset failed */
    nux_error_t_timeout = 14,                /* the NPU did not finish in time; it was reset and is usable */
    nux_error_t_task_aborted = 15,           /* another task's failure reset the NPU while this one was queued */
    nux_error_t_out_of_memory = 16,          /* host or device memory exhausted */
    nux_error_t_invalid_task = 17,           /* the task is not one obtained by get_task and not yet executed */
} nux_error_t;

typedef void (*nux_output_callback_t)(nux_request_id_t id, nux_output_index_t index, nux_buffer_t buffer,
                                      nux_buffer_len_t len);
typedef void (*nux_error_callback_t)(nux_request_id_t id, nux_error_t error);
typedef void (*nux_finish_callback_t)(nux_request_id_t id);

/* ---- the device -------------------------------------------------------------------------------------------- */
/* Opens the device named by $NUX_DEVICE ("sim" when unset): see nux_create_with_device. */
NUX_API nux_error_t create_nux(nux_handle_t *nux);
/* Opens `device`: "sim" (Verilator simulation; built for the first model's NpuConfig), "xdma[:N]" (AWS F1,
 * /dev/xdmaN_*), "pci[:DDDD:BB:DD.F]" (sysfs BARs). Options follow after commas, e.g.
 * "xdma:0,user=/dev/xdma0_user,dram_size=0x10000000" (docs/c_api.md lists them). */
NUX_API nux_error_t nux_create_with_device(const char *device, nux_handle_t *nux);
/* Closes the device. Destroy every model of the handle first. */
NUX_API void destroy_nux(nux_handle_t nux);
/* How long one task may run before the NPU is reset and the task fails with nux_error_t_timeout (default 10 s,
 * or $NUX_TIMEOUT_MS). */
NUX_API nux_error_t nux_set_timeout(nux_handle_t nux, unsigned milliseconds);

/* ---- sync model -------------------------------------------------------------------------------------------- */
/* The ENF bytes are copied (and validated); `enf` may be freed afterwards. */
NUX_API nux_error_t nux_create_sync_model(nux_handle_t nux, unsigned char *enf, size_t len, nux_sync_model_t *out);
NUX_API void destroy_sync_model(nux_sync_model_t model);
NUX_API int model_count_inputs(nux_sync_model_t model);  /* -1 on a NULL model */
NUX_API int model_count_outputs(nux_sync_model_t model); /* -1 on a NULL model */
NUX_API nux_error_t model_input_tensor(nux_sync_model_t model, int index, nux_tensor_t *out);
NUX_API nux_error_t model_output_tensor(nux_sync_model_t model, int index, nux_tensor_t *out);
/* One inference on the inputs set before; blocks until the outputs are ready (or an error). */
NUX_API nux_error_t model_run(nux_sync_model_t model);
/* Copies `len` bytes in; `len` must equal the tensor's size (nux_tensor_size). */
NUX_API nux_error_t tensor_set_buffer(nux_tensor_t tensor, void *buf, int len);
/* Points at the tensor's bytes (outputs: the result of the last model_run), valid until the next model_run or
 * destroy_sync_model. */
NUX_API nux_error_t tensor_get_buffer(nux_tensor_t tensor, nux_buffer_t *buf, nux_buffer_len_t *len);
/* Extras: the tensor's name and byte size (0 / NULL on a NULL tensor). */
NUX_API const char *nux_tensor_name(nux_tensor_t tensor);
NUX_API nux_buffer_len_t nux_tensor_size(nux_tensor_t tensor);

/* ---- task model -------------------------------------------------------------------------------------------- */
/* Up to `max_batch` (1..1024) tasks in flight. Callbacks run on the handle's completion thread: for a task that
 * finished, output_cb once per output (index order; the buffer is valid during the call only) then finish_cb;
 * for one that failed, error_cb once. The task slot is free again when the callback returns. Callbacks may call
 * task_model_get_task / task_execute (inside a callback get_task does not block: it fails with
 * nux_error_t_get_task_failed when no slot is free), but must not destroy the model. Any callback may be NULL. */
NUX_API nux_error_t nux_create_task_model(nux_handle_t nux, unsigned char *enf, size_t len, int max_batch,
                                          nux_output_callback_t output_cb, nux_error_callback_t error_cb,
                                          nux_finish_callback_t finish_cb, nux_task_model_t *out);
/* Blocks until a task slot is free. */
NUX_API nux_error_t task_model_get_task(nux_task_model_t model, nux_task_t *out);
/* Does not block: nux_error_t_get_task_failed when every slot is busy. */
NUX_API nux_error_t task_model_try_get_task(nux_task_model_t model, nux_task_t *out);
/* The task's input buffer `index` (fill it before task_execute); NULL / 0 on a bad task or index. */
NUX_API nux_buffer_t task_input(nux_task_t task, int index);
NUX_API nux_buffer_len_t task_input_size(nux_task_t task, int index);
/* Queues the task (does not wait); `id` comes back in the callbacks. The task belongs to the runtime until its
 * callbacks have run. */
NUX_API nux_error_t task_execute(nux_task_t task, nux_request_id_t id);
/* True when no task is executing (every executed task has had its callbacks). */
NUX_API bool task_model_is_all_task_done(nux_task_model_t model);
/* Waits for executing tasks (each bounded by the timeout) and frees the model. */
NUX_API void destroy_task_model(nux_task_model_t model);
NUX_API int task_model_count_inputs(nux_task_model_t model);
NUX_API int task_model_count_outputs(nux_task_model_t model);

/* ---- errors ------------------------------------------------------------------------------------------------ */
/* A message about the calling thread's last failure ("" if none); valid until its next libnux call. */
NUX_API const char *nux_last_error(void);
/* The code's name, e.g. "nux_error_t_invalid_enf". */
NUX_API const char *nux_error_name(nux_error_t error);

#ifdef __cplusplus
}
#endif
#endif /* NUX_H */
