/* queue.c — the command queue and the completion thread (as nux.driver.tasks).
 *
 * One thread per handle owns the device's progress: it submits queued jobs' NPU steps while the hardware queue has
 * room (up to CFG_CMDQ_DEPTH in flight), retires them by COMPLETED (unwrapped from 32 bits; a job is done when its
 * last step is), and waits for the interrupt (the simulator advances time there). A fault is attributed by
 * FAULT_TAG; a task running longer than the timeout is a hang. Either way the NPU is reset, the culprit fails,
 * the other tasks in flight are aborted, and queued jobs go on. Jobs' `done` run on this thread without locks. */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define IRQS (NUX_FIELD_PUT(NUX_IRQ_ENABLE_DONE, 1) | NUX_FIELD_PUT(NUX_IRQ_ENABLE_ERROR, 1))
#define WAIT_SLICE 1e-3 /* the longest the thread waits for the irq before looking at new work */

static int rd(nux_handle_t h, uint32_t reg, uint32_t *v) { return h->device->ops->read32(h->device, reg, v); }
static int wr(nux_handle_t h, uint32_t reg, uint32_t v) { return h->device->ops->write32(h->device, reg, v); }

nux_error_t nux_queue_reset_device(nux_handle_t h) {
    if (wr(h, NUX_REG_CTRL, NUX_FIELD_PUT(NUX_CTRL_RESET, 1))) return nux_error_t_device_error;
    double deadline = nux_now() + 1.0;
    for (uint32_t status;;) {
        if (rd(h, NUX_REG_STATUS, &status)) return nux_error_t_device_error;
        if (!(status & (NUX_STATUS_BUSY_MASK | NUX_STATUS_ERROR_MASK))) break;
        if (nux_now() > deadline)
            return nux_fail(nux_error_t_device_error, "the NPU is still busy 1 s after CTRL.RESET (STATUS 0x%08x)",
                            status);
    }
    h->last_completed = 0;
    h->staged_valid = 0;
    if (wr(h, NUX_REG_IRQ_ENABLE, IRQS) || wr(h, NUX_REG_IRQ_STATUS, IRQS)) return nux_error_t_device_error;
    return nux_error_t_success;
}

void nux_queue_job(nux_handle_t h, nux_job *job) {
    job->next_step = job->steps_done = 0;
    job->error = nux_error_t_success;
    job->message[0] = 0;
    job->next = NULL;
    if (!job->enf->n_steps) { /* nothing for the NPU to do */
        job->done(job, nux_error_t_success, "");
        return;
    }
    nux_lock(h);
    if (h->waiting_tail) h->waiting_tail->next = job;
    else h->waiting_head = job;
    h->waiting_tail = job;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->lock);
}

static void unlink_waiting(nux_handle_t h, nux_job *job) {
    nux_job **p = &h->waiting_head, *prev = NULL;
    while (*p && *p != job) prev = *p, p = &(*p)->next;
    if (!*p) return;
    *p = job->next;
    if (h->waiting_tail == job) h->waiting_tail = prev;
}

/* Mark `job` failed (once) and put it on the done list. */
static void fail_job(nux_handle_t h, nux_job *job, nux_error_t err, const char *message, nux_job **done) {
    if (job->error) return;
    unlink_waiting(h, job);
    job->error = err;
    strncpy(job->message, message, sizeof job->message - 1);
    job->message[sizeof job->message - 1] = 0;
    job->next = *done;
    *done = job;
}

static nux_hw_entry *entry(nux_handle_t h, uint32_t i) { return &h->inflight[(h->first + i) % h->depth]; }

/* Every hardware task in flight is gone after a reset: the culprit gets `err`, the others are aborted. */
static void reset_after(nux_handle_t h, nux_job *culprit, nux_error_t err, const char *message, nux_job **done) {
    if (culprit) fail_job(h, culprit, err, message, done);
    for (uint32_t i = 0; i < h->n_inflight; i++)
        fail_job(h, entry(h, i)->job, nux_error_t_task_aborted,
                 "the NPU was reset while this task was queued (another task failed or timed out)", done);
    h->n_inflight = h->first = 0;
    if (nux_queue_reset_device(h)) /* the device is gone: fail everything still waiting */
        while (h->waiting_head) fail_job(h, h->waiting_head, nux_error_t_device_error, nux_last_error(), done);
}

static void retire(nux_handle_t h, uint32_t count, nux_job **done) {
    for (; count && h->n_inflight; count--) {
        nux_job *job = entry(h, 0)->job;
        h->first = (h->first + 1) % h->depth;
        h->n_inflight--;
        h->head_since = nux_now();
        if (++job->steps_done == job->enf->n_steps && !job->error) {
            job->next = *done;
            *done = job;
        }
    }
}

static void fault(nux_handle_t h, uint32_t status, nux_job **done) {
    uint32_t pc = 0, tag = 0;
    rd(h, NUX_REG_FAULT_PC, &pc);
    rd(h, NUX_REG_FAULT_TAG, &tag);
    nux_job *culprit = NULL;
    for (uint32_t i = 0; i < h->n_inflight && !culprit; i++)
        if (entry(h, i)->tag == tag) culprit = entry(h, i)->job;
    char message[160];
    snprintf(message, sizeof message, "the NPU stopped with error code %u at pc %u (task tag %u); it was reset",
             NUX_FIELD_GET(NUX_STATUS_ERROR_CODE, status), pc, tag);
    reset_after(h, culprit, nux_error_t_model_execution_failed, message, done);
}

/* Read STATUS then COMPLETED (so COMPLETED counts every task before an error) and account for them. */
static int poll(nux_handle_t h, nux_job **done) {
    uint32_t status, completed;
    if (wr(h, NUX_REG_IRQ_STATUS, IRQS) || rd(h, NUX_REG_STATUS, &status) || rd(h, NUX_REG_COMPLETED, &completed))
        return -1;
    retire(h, completed - h->last_completed, done);
    h->last_completed = completed;
    if (status & NUX_STATUS_ERROR_MASK) fault(h, status, done);
    else if (status & NUX_STATUS_CMDQ_OVERFLOW_MASK)
        reset_after(h, NULL, nux_error_t_task_aborted, "", done);
    return 0;
}

static int stage(nux_handle_t h, int word, uint32_t reg, uint32_t value) {
    if (h->staged_valid & (1 << word) && h->staged[word] == value) return 0;
    h->staged[word] = value;
    h->staged_valid |= 1 << word;
    return wr(h, reg, value);
}

static int submit_one(nux_handle_t h, nux_job *job) {
    const nux_enf_program *p = &job->enf->programs[job->enf->steps[job->next_step].index];
    uint64_t prog_base = job->arena_base + p->offset, prog_len = p->size / NUX_INSTR_BYTES;
    uint64_t arena_base = job->arena_base, arena_size = job->enf->arena_size, tag = h->next_tag;
    h->next_tag = h->next_tag + 1 ? h->next_tag + 1 : 1;
    int word = 0, rc = 0;
#define WRITE_WORD(field, half, reg) rc |= stage(h, word++, reg, (uint32_t)((field) >> (32 * (half))));
    NUX_TASK_WORDS(WRITE_WORD)
#undef WRITE_WORD
    if (rc || wr(h, NUX_REG_DOORBELL, 1)) return -1;
    if (!h->n_inflight) h->head_since = nux_now();
    *entry(h, h->n_inflight++) = (nux_hw_entry){job, (uint32_t)tag};
    if (++job->next_step == job->enf->n_steps) unlink_waiting(h, job);
    return 0;
}

static int submit(nux_handle_t h) {
    uint32_t free_slots = 0;
    while (h->waiting_head && h->n_inflight < h->depth) {
        if (!free_slots && rd(h, NUX_REG_CMDQ_FREE, &free_slots)) return -1;
        if (!free_slots) break;
        if (submit_one(h, h->waiting_head)) return -1;
        free_slots--;
    }
    return 0;
}

static void step(nux_handle_t h, nux_job **done) {
    if (poll(h, done) || submit(h)) {
        reset_after(h, h->n_inflight ? entry(h, 0)->job : NULL, nux_error_t_device_error, nux_last_error(), done);
        return;
    }
    if (*done || !h->n_inflight) return;
    double left = h->head_since + h->timeout - nux_now();
    if (left <= 0) {
        char message[160];
        snprintf(message, sizeof message, "the NPU did not finish the task within %g s; it was reset", h->timeout);
        reset_after(h, entry(h, 0)->job, nux_error_t_timeout, message, done);
    } else if (h->device->ops->wait_irq(h->device, left < WAIT_SLICE ? left : WAIT_SLICE) < 0) {
        reset_after(h, entry(h, 0)->job, nux_error_t_device_error, nux_last_error(), done);
    }
}

void *nux_queue_thread(void *arg) {
    nux_handle_t h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        if (!h->waiting_head && !h->n_inflight) {
            if (h->stop) break;
            pthread_cond_wait(&h->work, &h->lock);
            continue;
        }
        nux_job *done = NULL;
        step(h, &done);
        if (!done) {
            if (h->users) { /* let submitters in between two waits for the interrupt */
                pthread_mutex_unlock(&h->lock);
                sched_yield();
                pthread_mutex_lock(&h->lock);
            }
            continue;
        }
        pthread_mutex_unlock(&h->lock);
        /* the list is newest first: deliver in completion order */
        nux_job *ordered = NULL;
        while (done) {
            nux_job *next = done->next;
            done->next = ordered, ordered = done, done = next;
        }
        while (ordered) {
            nux_job *next = ordered->next;
            ordered->done(ordered, ordered->error, ordered->message);
            ordered = next;
        }
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}
