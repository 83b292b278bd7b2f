/* task_model.c — a model run asynchronously: max_batch task slots, each with its own arena (code and constants
 * loaded once) and host input/output buffers, so up to max_batch requests are in flight on the hardware queue.
 * A slot is free -> acquired (get_task) -> running (task_execute) -> free again after its callbacks. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { SLOT_FREE, SLOT_ACQUIRED, SLOT_RUNNING };

struct nux_task {
    nux_task_model_t model;
    int state;
    uint64_t arena;
    int loaded;
    uint8_t **buffers; /* inputs, then outputs */
    nux_request_id_t id;
    nux_job job;
};

struct nux_task_model {
    nux_handle_t nux;
    nux_enf enf;
    int max_batch, n_inputs, n_outputs;
    const nux_enf_tensor **tensors; /* inputs, then outputs */
    nux_output_callback_t output_cb;
    nux_error_callback_t error_cb;
    nux_finish_callback_t finish_cb;
    struct nux_task *tasks;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a slot was freed */
    int running;
};

static nux_error_t read_outputs(struct nux_task *t) {
    nux_task_model_t m = t->model;
    nux_device *d = m->nux->device;
    int rc = 0;
    pthread_mutex_lock(&m->nux->lock);
    for (int i = m->n_inputs; i < m->n_inputs + m->n_outputs && !rc; i++)
        rc = d->ops->read(d, t->arena + m->tensors[i]->offset, t->buffers[i], m->tensors[i]->size);
    pthread_mutex_unlock(&m->nux->lock);
    return rc ? nux_error_t_device_error : nux_error_t_success;
}

/* On the completion thread: outputs, callbacks, then the slot is free. */
static void task_done(nux_job *job, nux_error_t error, const char *message) {
    struct nux_task *t = (struct nux_task *)((char *)job - offsetof(struct nux_task, job));
    nux_task_model_t m = t->model;
    (void)message;
    if (!error) error = read_outputs(t);
    if (error) {
        if (m->error_cb) m->error_cb(t->id, error);
    } else {
        for (int i = 0; m->output_cb && i < m->n_outputs; i++)
            m->output_cb(t->id, i, t->buffers[m->n_inputs + i], m->tensors[m->n_inputs + i]->size);
        if (m->finish_cb) m->finish_cb(t->id);
    }
    pthread_mutex_lock(&m->lock);
    t->state = SLOT_FREE;
    m->running--;
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
}

static void free_model(nux_task_model_t m) {
    for (int s = 0; m->tasks && s < m->max_batch; s++) {
        struct nux_task *t = &m->tasks[s];
        if (t->loaded) nux_context_unload(m->nux, &m->enf, t->arena);
        for (int i = 0; t->buffers && i < m->n_inputs + m->n_outputs; i++) free(t->buffers[i]);
        free(t->buffers);
    }
    free(m->tasks);
    free(m->tensors);
    nux_enf_free(&m->enf);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->changed);
    free(m);
}

static nux_error_t make_slot(nux_task_model_t m, struct nux_task *t) {
    int n = m->n_inputs + m->n_outputs;
    t->model = m;
    t->job = (nux_job){.enf = &m->enf, .done = task_done};
    if (!(t->buffers = calloc((size_t)n + 1, sizeof *t->buffers))) return nux_fail(nux_error_t_out_of_memory, "OOM");
    for (int i = 0; i < n; i++)
        if (!(t->buffers[i] = calloc(1, m->tensors[i]->size))) return nux_fail(nux_error_t_out_of_memory, "OOM");
    nux_error_t err = nux_context_load(m->nux, &m->enf, &t->arena);
    t->loaded = !err;
    t->job.arena_base = t->arena;
    return err;
}

static nux_error_t make_model(nux_task_model_t m) {
    m->n_inputs = nux_enf_count(&m->enf, NUX_ENF_ROLE_INPUT);
    m->n_outputs = nux_enf_count(&m->enf, NUX_ENF_ROLE_OUTPUT);
    int n = m->n_inputs + m->n_outputs;
    m->tensors = calloc((size_t)n + 1, sizeof *m->tensors);
    m->tasks = calloc((size_t)m->max_batch, sizeof *m->tasks);
    if (!m->tensors || !m->tasks) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    for (int i = 0; i < n; i++) {
        int role = i < m->n_inputs ? NUX_ENF_ROLE_INPUT : NUX_ENF_ROLE_OUTPUT;
        m->tensors[i] = &m->enf.tensors[nux_enf_find(&m->enf, role, i < m->n_inputs ? i : i - m->n_inputs)];
    }
    nux_error_t err = nux_error_t_success;
    for (int s = 0; s < m->max_batch && !err; s++) err = make_slot(m, &m->tasks[s]);
    return err;
}

nux_error_t nux_create_task_model(nux_handle_t nux, unsigned char *enf, size_t len, int max_batch,
                                  nux_output_callback_t output_cb, nux_error_callback_t error_cb,
                                  nux_finish_callback_t finish_cb, nux_task_model_t *out) {
    if (!nux || !out) return nux_fail(nux_error_t_invalid_argument, "nux_create_task_model: NULL handle or output");
    *out = NULL;
    if (max_batch < 1 || max_batch > 1024)
        return nux_fail(nux_error_t_invalid_argument, "max_batch must be in [1, 1024], got %d", max_batch);
    nux_task_model_t m = calloc(1, sizeof *m);
    if (!m) return nux_fail(nux_error_t_out_of_memory, "out of memory");
    *m = (struct nux_task_model){.nux = nux, .max_batch = max_batch, .output_cb = output_cb, .error_cb = error_cb,
                                 .finish_cb = finish_cb};
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->changed, NULL);
    nux_error_t err = nux_enf_parse(enf, len, &m->enf);
    if (!err) err = nux_enf_npu_only(&m->enf);
    if (!err) err = make_model(m);
    if (err) {
        free_model(m);
        return err;
    }
    *out = m;
    return nux_error_t_success;
}

static nux_error_t get_task(nux_task_model_t m, nux_task_t *out, int block) {
    if (!m || !out) return nux_fail(nux_error_t_invalid_argument, "get_task: NULL model or output");
    pthread_mutex_lock(&m->lock);
    for (;;) {
        for (int s = 0; s < m->max_batch; s++)
            if (m->tasks[s].state == SLOT_FREE) {
                m->tasks[s].state = SLOT_ACQUIRED;
                *out = &m->tasks[s];
                pthread_mutex_unlock(&m->lock);
                return nux_error_t_success;
            }
        if (!block) break;
        pthread_cond_wait(&m->changed, &m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    *out = NULL;
    return nux_fail(nux_error_t_get_task_failed, "all %d task slots are busy", m->max_batch);
}

/* Inside a callback (on the completion thread) blocking could never end: slots are freed by that thread. */
nux_error_t task_model_get_task(nux_task_model_t m, nux_task_t *out) {
    return get_task(m, out, !(m && pthread_equal(pthread_self(), m->nux->thread)));
}
nux_error_t task_model_try_get_task(nux_task_model_t m, nux_task_t *out) { return get_task(m, out, 0); }

nux_buffer_t task_input(nux_task_t t, int index) {
    return t && index >= 0 && index < t->model->n_inputs ? t->buffers[index] : NULL;
}

nux_buffer_len_t task_input_size(nux_task_t t, int index) {
    return t && index >= 0 && index < t->model->n_inputs ? t->model->tensors[index]->size : 0;
}

nux_error_t task_execute(nux_task_t t, nux_request_id_t id) {
    if (!t) return nux_fail(nux_error_t_invalid_argument, "task_execute: NULL task");
    nux_task_model_t m = t->model;
    pthread_mutex_lock(&m->lock);
    int acquired = t->state == SLOT_ACQUIRED;
    if (acquired) t->state = SLOT_RUNNING, m->running++;
    pthread_mutex_unlock(&m->lock);
    if (!acquired) return nux_fail(nux_error_t_invalid_task, "task_execute: the task was not obtained by get_task, "
                                   "or it was executed already");
    t->id = id;
    nux_device *d = m->nux->device;
    int rc = 0;
    nux_lock(m->nux);
    for (int i = 0; i < m->n_inputs && !rc; i++)
        rc = d->ops->write(d, t->arena + m->tensors[i]->offset, t->buffers[i], m->tensors[i]->size);
    pthread_mutex_unlock(&m->nux->lock);
    if (rc) {
        pthread_mutex_lock(&m->lock);
        t->state = SLOT_ACQUIRED, m->running--;
        pthread_mutex_unlock(&m->lock);
        return nux_error_t_device_error;
    }
    nux_queue_job(m->nux, &t->job);
    return nux_error_t_success;
}

bool task_model_is_all_task_done(nux_task_model_t m) {
    if (!m) return true;
    pthread_mutex_lock(&m->lock);
    bool done = m->running == 0;
    pthread_mutex_unlock(&m->lock);
    return done;
}

void destroy_task_model(nux_task_model_t m) {
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    while (m->running) pthread_cond_wait(&m->changed, &m->lock);
    pthread_mutex_unlock(&m->lock);
    free_model(m);
}

int task_model_count_inputs(nux_task_model_t m) { return m ? m->n_inputs : -1; }
int task_model_count_outputs(nux_task_model_t m) { return m ? m->n_outputs : -1; }
