/* sync_model.c — a model run synchronously: one arena, inputs written into it by tensor_set_buffer, outputs read
 * back into host buffers after model_run. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct nux_tensor {
    nux_sync_model_t model;
    const nux_enf_tensor *info;
    uint8_t *data; /* host copy: what was set (inputs) or what the last run produced (outputs) */
};

struct nux_sync_model {
    nux_handle_t nux;
    nux_enf enf;
    uint64_t arena;
    struct nux_tensor *tensors; /* inputs, then outputs */
    int n_inputs, n_outputs;
    pthread_mutex_t run_lock; /* one run (or input write) at a time */
    pthread_mutex_t lock;
    pthread_cond_t finished_cond;
    int finished;
    nux_job job;
};

static void run_done(nux_job *job, nux_error_t error, const char *message) {
    nux_sync_model_t m = (nux_sync_model_t)((char *)job - offsetof(struct nux_sync_model, job));
    (void)error, (void)message; /* kept in the job */
    pthread_mutex_lock(&m->lock);
    m->finished = 1;
    pthread_cond_signal(&m->finished_cond);
    pthread_mutex_unlock(&m->lock);
}

static nux_error_t make_tensors(nux_sync_model_t m) {
    m->n_inputs = nux_enf_count(&m->enf, NUX_ENF_ROLE_INPUT);
    m->n_outputs = nux_enf_count(&m->enf, NUX_ENF_ROLE_OUTPUT);
    m->tensors = calloc((size_t)(m->n_inputs + m->n_outputs) + 1, sizeof *m->tensors);
    if (!m->tensors) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    for (int i = 0; i < m->n_inputs + m->n_outputs; i++) {
        int role = i < m->n_inputs ? NUX_ENF_ROLE_INPUT : NUX_ENF_ROLE_OUTPUT;
        struct nux_tensor *t = &m->tensors[i];
        t->model = m;
        t->info = &m->enf.tensors[nux_enf_find(&m->enf, role, i < m->n_inputs ? i : i - m->n_inputs)];
        t->data = calloc(1, t->info->size);
        if (!t->data) return nux_fail(nux_error_t_out_of_memory, "out of memory for tensor %s", t->info->name);
    }
    return nux_error_t_success;
}

static void free_model(nux_sync_model_t m) {
    for (int i = 0; m->tensors && i < m->n_inputs + m->n_outputs; i++) free(m->tensors[i].data);
    free(m->tensors);
    nux_enf_free(&m->enf);
    pthread_mutex_destroy(&m->run_lock);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->finished_cond);
    free(m);
}

nux_error_t nux_create_sync_model(nux_handle_t nux, unsigned char *enf, size_t len, nux_sync_model_t *out) {
    if (!nux || !out) return nux_fail(nux_error_t_invalid_argument, "nux_create_sync_model: NULL handle or output");
    *out = NULL;
    nux_sync_model_t m = calloc(1, sizeof *m);
    if (!m) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    pthread_mutex_init(&m->run_lock, NULL);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->finished_cond, NULL);
    nux_error_t err = nux_enf_parse(enf, len, &m->enf);
    if (!err) err = nux_enf_npu_only(&m->enf);
    if (!err) err = make_tensors(m);
    if (!err) err = nux_context_load(nux, &m->enf, &m->arena);
    if (err) {
        free_model(m);
        return err;
    }
    m->nux = nux;
    m->job = (nux_job){.enf = &m->enf, .arena_base = m->arena, .done = run_done};
    *out = m;
    return nux_error_t_success;
}

void destroy_sync_model(nux_sync_model_t m) {
    if (!m) return;
    nux_context_unload(m->nux, &m->enf, m->arena);
    free_model(m);
}

int model_count_inputs(nux_sync_model_t m) { return m ? m->n_inputs : -1; }
int model_count_outputs(nux_sync_model_t m) { return m ? m->n_outputs : -1; }

nux_error_t model_input_tensor(nux_sync_model_t m, int index, nux_tensor_t *out) {
    if (!m || !out) return nux_fail(nux_error_t_invalid_argument, "model_input_tensor: NULL model or output");
    if (index < 0 || index >= m->n_inputs)
        return nux_fail(nux_error_t_invalid_input_index, "the model has %d inputs; no index %d", m->n_inputs, index);
    *out = &m->tensors[index];
    return nux_error_t_success;
}

nux_error_t model_output_tensor(nux_sync_model_t m, int index, nux_tensor_t *out) {
    if (!m || !out) return nux_fail(nux_error_t_invalid_argument, "model_output_tensor: NULL model or output");
    if (index < 0 || index >= m->n_outputs)
        return nux_fail(nux_error_t_invalid_output_index, "the model has %d outputs; no index %d", m->n_outputs,
                        index);
    *out = &m->tensors[m->n_inputs + index];
    return nux_error_t_success;
}

static nux_error_t transfer(nux_sync_model_t m, const struct nux_tensor *t, int to_device) {
    nux_device *d = m->nux->device;
    nux_lock(m->nux);
    int rc = to_device ? d->ops->write(d, m->arena + t->info->offset, t->data, t->info->size)
                       : d->ops->read(d, m->arena + t->info->offset, t->data, t->info->size);
    pthread_mutex_unlock(&m->nux->lock);
    return rc ? nux_error_t_device_error : nux_error_t_success;
}

nux_error_t model_run(nux_sync_model_t m) {
    if (!m) return nux_fail(nux_error_t_invalid_argument, "model_run: NULL model");
    pthread_mutex_lock(&m->run_lock);
    m->finished = 0;
    nux_queue_job(m->nux, &m->job);
    pthread_mutex_lock(&m->lock);
    while (!m->finished) pthread_cond_wait(&m->finished_cond, &m->lock);
    pthread_mutex_unlock(&m->lock);
    nux_error_t err = m->job.error;
    if (err) nux_fail(err, "%s", m->job.message);
    for (int i = m->n_inputs; !err && i < m->n_inputs + m->n_outputs; i++) err = transfer(m, &m->tensors[i], 0);
    pthread_mutex_unlock(&m->run_lock);
    return err;
}

nux_error_t tensor_set_buffer(nux_tensor_t t, void *buf, int len) {
    if (!t) return nux_fail(nux_error_t_invalid_argument, "tensor_set_buffer: NULL tensor");
    if (!buf || len < 0 || (uint64_t)len != t->info->size)
        return nux_fail(nux_error_t_invalid_buffer, "tensor %s needs a buffer of exactly %llu bytes, got %s%d",
                        t->info->name, (unsigned long long)t->info->size, buf ? "" : "NULL, ", len);
    if (t->info->role != NUX_ENF_ROLE_INPUT)
        return nux_fail(nux_error_t_invalid_argument, "tensor %s is an output: only inputs can be set", t->info->name);
    nux_sync_model_t m = t->model;
    pthread_mutex_lock(&m->run_lock);
    memcpy(t->data, buf, (size_t)len);
    nux_error_t err = transfer(m, t, 1);
    pthread_mutex_unlock(&m->run_lock);
    return err;
}

nux_error_t tensor_get_buffer(nux_tensor_t t, nux_buffer_t *buf, nux_buffer_len_t *len) {
    if (!t || !buf || !len) return nux_fail(nux_error_t_invalid_argument, "tensor_get_buffer: NULL argument");
    *buf = t->data;
    *len = t->info->size;
    return nux_error_t_success;
}

const char *nux_tensor_name(nux_tensor_t t) { return t ? t->info->name : NULL; }
nux_buffer_len_t nux_tensor_size(nux_tensor_t t) { return t ? t->info->size : 0; }
