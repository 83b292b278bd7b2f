#define _POSIX_C_SOURCE 200809L
/* runtime_c.c — libnux timing: latency of synchronous model_run and of tasks (execute -> finish_cb), task
 * throughput. Driven by benchmarks/runtime_c.py, which prints the table.
 *
 *   runtime_c MODEL.enf SYNC_RUNS TASKS MAX_BATCH
 *
 * Prints "sync <seconds per run...>" and "task <seconds per task...>" lines and "tasks_per_s X".
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../examples/c/common.h"

static double *task_seconds, *started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double finished_at;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void on_finish(nux_request_id_t id) {
    double t = now();
    pthread_mutex_lock(&lock);
    task_seconds[id] = t - started[id];
    finished_at = t;
    pthread_mutex_unlock(&lock);
}

static void on_error(nux_request_id_t id, nux_error_t error) {
    fprintf(stderr, "task %llu: %s\n", (unsigned long long)id, nux_error_name(error));
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    size_t len;
    unsigned char *enf = read_file(argv[1], &len);
    int runs = atoi(argv[2]), tasks = atoi(argv[3]), batch = atoi(argv[4]);
    nux_handle_t nux;
    nux_sync_model_t m;
    nux_task_model_t tm;
    CHECK(create_nux(&nux));
    CHECK(nux_create_sync_model(nux, enf, len, &m));
    CHECK(model_run(m)); /* warm-up */
    printf("sync");
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        CHECK(model_run(m));
        printf(" %.9f", now() - t0);
    }
    printf("\n");
    destroy_sync_model(m);
    task_seconds = calloc((size_t)tasks, sizeof *task_seconds);
    started = calloc((size_t)tasks, sizeof *started);
    CHECK(nux_create_task_model(nux, enf, len, batch, NULL, on_error, on_finish, &tm));
    double t0 = now();
    for (int r = 0; r < tasks; r++) {
        nux_task_t task;
        CHECK(task_model_get_task(tm, &task));
        pthread_mutex_lock(&lock);
        started[r] = now();
        pthread_mutex_unlock(&lock);
        CHECK(task_execute(task, (nux_request_id_t)r));
    }
    destroy_task_model(tm);
    printf("task");
    for (int r = 0; r < tasks; r++) printf(" %.9f", task_seconds[r]);
    printf("\ntasks_per_s %.1f\n", tasks / (finished_at - t0));
    destroy_nux(nux);
    free(enf), free(task_seconds), free(started);
    return 0;
}
