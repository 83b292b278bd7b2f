#define _POSIX_C_SOURCE 200809L
/* nux_bench.c — `nux bench`'s C runtime rows: end-to-end latency of libnux's synchronous model_run and of tasks
 * with K in flight, with no Python in the timed loops. Built and driven by nux.clib.bench.
 *
 *   nux_bench MODEL.enf N K
 *
 * Inputs are pseudo-random bytes in the ENF's stored layout. Sync: one warm-up run, then N timed iterations of
 * set every input + model_run + copy every output out. Task: a task model with max_batch K, N tasks in a closed
 * loop (get_task blocks until a slot is free, so at most K are in flight); a task's latency runs from filling its
 * inputs to its finish callback (after output_cb copied the outputs out). Prints two lines on stdout,
 * "sync SECONDS LAT_US..." and "task SECONDS LAT_US...", SECONDS being the wall time of the N inferences.
 * The device is $NUX_DEVICE (default "sim"). Exit status 1 with a message on any libnux error.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nux.h"

#define CHECK(call)                                                                                   \
    do {                                                                                              \
        nux_error_t err_ = (call);                                                                    \
        if (err_ != nux_error_t_success) {                                                            \
            fprintf(stderr, "%s: %s: %s\n", #call, nux_error_name(err_), nux_last_error());           \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *checked_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = checked_malloc(n > 0 ? (size_t)n : 1);
    if (n < 0 || fread(data, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    fclose(f);
    *len = (size_t)n;
    return data;
}

/* Deterministic pseudo-random bytes (xorshift64), so every run measures the same inputs. */
static unsigned char *random_bytes(size_t n, unsigned long long seed) {
    unsigned char *b = checked_malloc(n);
    unsigned long long x = 0x9E3779B97F4A7C15ull ^ (seed + 1);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (unsigned char)(x >> 24);
    }
    return b;
}

static void print_row(const char *mode, double seconds, const double *latency_s, int n) {
    printf("%s %.9f", mode, seconds);
    for (int i = 0; i < n; i++) printf(" %.3f", latency_s[i] * 1e6);
    printf("\n");
    fflush(stdout);
}

static void bench_sync(nux_handle_t nux, unsigned char *enf, size_t len, int n) {
    nux_sync_model_t m;
    CHECK(nux_create_sync_model(nux, enf, len, &m));
    int inputs = model_count_inputs(m), outputs = model_count_outputs(m);
    nux_tensor_t *in = checked_malloc(sizeof *in * (size_t)inputs), *out = checked_malloc(sizeof *out * (size_t)outputs);
    unsigned char **data = checked_malloc(sizeof *data * (size_t)inputs);
    unsigned char **sink = checked_malloc(sizeof *sink * (size_t)outputs);
    for (int i = 0; i < inputs; i++) {
        CHECK(model_input_tensor(m, i, &in[i]));
        data[i] = random_bytes(nux_tensor_size(in[i]), (unsigned long long)i);
    }
    for (int i = 0; i < outputs; i++) {
        CHECK(model_output_tensor(m, i, &out[i]));
        sink[i] = checked_malloc(nux_tensor_size(out[i]));
    }
    double *latency = checked_malloc(sizeof *latency * (size_t)n);
    double start = 0;
    for (int r = -1; r < n; r++) { /* r = -1: the warm-up run */
        double t0 = now();
        if (r == 0) start = t0;
        for (int i = 0; i < inputs; i++) CHECK(tensor_set_buffer(in[i], data[i], (int)nux_tensor_size(in[i])));
        CHECK(model_run(m));
        for (int i = 0; i < outputs; i++) {
            nux_buffer_t buf;
            nux_buffer_len_t size;
            CHECK(tensor_get_buffer(out[i], &buf, &size));
            memcpy(sink[i], buf, size);
        }
        if (r >= 0) latency[r] = now() - t0;
    }
    print_row("sync", now() - start, latency, n);
    destroy_sync_model(m);
    for (int i = 0; i < inputs; i++) free(data[i]);
    for (int i = 0; i < outputs; i++) free(sink[i]);
    free(in), free(out), free(data), free(sink), free(latency);
}

/* Task state shared with the completion thread. */
static double *task_started, *task_latency, task_last_finish;
static unsigned char *task_sink;
static size_t task_sink_size;
static pthread_mutex_t task_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_output(nux_request_id_t id, nux_output_index_t index, nux_buffer_t buf, nux_buffer_len_t len) {
    if (len > task_sink_size) {
        task_sink = realloc(task_sink, len);
        if (!task_sink) { fprintf(stderr, "out of memory\n"); exit(1); }
        task_sink_size = len;
    }
    memcpy(task_sink, buf, len); /* only the completion thread runs callbacks */
}

static void on_finish(nux_request_id_t id) {
    double t = now();
    pthread_mutex_lock(&task_lock);
    task_latency[id] = t - task_started[id];
    task_last_finish = t;
    pthread_mutex_unlock(&task_lock);
}

static void on_error(nux_request_id_t id, nux_error_t error) {
    fprintf(stderr, "task %llu: %s: %s\n", (unsigned long long)id, nux_error_name(error), nux_last_error());
    exit(1);
}

static void bench_task(nux_handle_t nux, unsigned char *enf, size_t len, int n, int in_flight) {
    nux_task_model_t tm;
    CHECK(nux_create_task_model(nux, enf, len, in_flight, on_output, on_error, on_finish, &tm));
    int inputs = task_model_count_inputs(tm);
    unsigned char **data = checked_malloc(sizeof *data * (size_t)inputs);
    task_started = checked_malloc(sizeof *task_started * (size_t)n);
    task_latency = checked_malloc(sizeof *task_latency * (size_t)n);
    double start = now();
    for (int r = 0; r < n; r++) {
        nux_task_t task;
        CHECK(task_model_get_task(tm, &task));
        double t0 = now();
        for (int i = 0; i < inputs; i++) {
            size_t size = task_input_size(task, i);
            if (r == 0) data[i] = random_bytes(size, (unsigned long long)i);
            memcpy(task_input(task, i), data[i], size);
        }
        pthread_mutex_lock(&task_lock);
        task_started[r] = t0;
        pthread_mutex_unlock(&task_lock);
        CHECK(task_execute(task, (nux_request_id_t)r));
    }
    destroy_task_model(tm); /* waits for the tasks still executing */
    print_row("task", task_last_finish - start, task_latency, n);
    for (int i = 0; i < inputs; i++) free(data[i]);
    free(data), free(task_started), free(task_latency), free(task_sink);
}

int main(int argc, char **argv) {
    if (argc != 4 || atoi(argv[2]) < 1 || atoi(argv[3]) < 1 || atoi(argv[3]) > 1024) {
        fprintf(stderr, "usage: %s MODEL.enf N K  (N >= 1 inferences per mode, 1 <= K <= 1024 in flight)\n",
                argv[0]);
        return 2;
    }
    size_t len;
    unsigned char *enf = read_file(argv[1], &len);
    int n = atoi(argv[2]), in_flight = atoi(argv[3]);
    nux_handle_t nux;
    CHECK(create_nux(&nux));
    bench_sync(nux, enf, len, n);
    bench_task(nux, enf, len, n, in_flight);
    destroy_nux(nux);
    free(enf);
    return 0;
}
