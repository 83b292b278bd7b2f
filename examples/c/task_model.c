/* task_model.c — run an ENF many times with libnux's asynchronous task API.
 *
 *   task_model [-o PREFIX] [-n TASKS] [-b MAX_BATCH] MODEL.enf [INPUT0.bin ...]
 *
 * Every task gets the same inputs (files, or a pattern); each finished task's outputs must equal the first one's.
 * The first task's outputs are summarised and, with -o, written to PREFIX<index>.bin.
 */
#include <pthread.h>
#include <string.h>

#include "common.h"

#define MAX_OUTPUTS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *first[MAX_OUTPUTS];
static size_t first_len[MAX_OUTPUTS];
static long finished, failed, mismatched;

static void on_output(nux_request_id_t id, nux_output_index_t index, nux_buffer_t buf, nux_buffer_len_t len) {
    (void)id;
    pthread_mutex_lock(&lock);
    if (index >= 0 && index < MAX_OUTPUTS) {
        if (!first[index]) {
            first[index] = malloc(len);
            memcpy(first[index], buf, len);
            first_len[index] = len;
        } else if (first_len[index] != len || memcmp(first[index], buf, len)) {
            mismatched++;
        }
    }
    pthread_mutex_unlock(&lock);
}

static void on_error(nux_request_id_t id, nux_error_t error) {
    fprintf(stderr, "task %llu failed: %s\n", (unsigned long long)id, nux_error_name(error));
    pthread_mutex_lock(&lock);
    failed++;
    pthread_mutex_unlock(&lock);
}

static void on_finish(nux_request_id_t id) {
    (void)id;
    pthread_mutex_lock(&lock);
    finished++;
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
    const char *prefix = NULL;
    int tasks = 16, batch = 4, arg = 1;
    for (; arg + 1 < argc && argv[arg][0] == '-'; arg += 2) {
        if (!strcmp(argv[arg], "-o")) prefix = argv[arg + 1];
        else if (!strcmp(argv[arg], "-n")) tasks = atoi(argv[arg + 1]);
        else if (!strcmp(argv[arg], "-b")) batch = atoi(argv[arg + 1]);
    }
    if (arg >= argc) {
        fprintf(stderr, "usage: %s [-o PREFIX] [-n TASKS] [-b MAX_BATCH] MODEL.enf [INPUT.bin ...]\n", argv[0]);
        return 2;
    }
    size_t len;
    unsigned char *enf = read_file(argv[arg], &len);
    nux_handle_t nux;
    nux_task_model_t model;
    CHECK(create_nux(&nux));
    CHECK(nux_create_task_model(nux, enf, len, batch, on_output, on_error, on_finish, &model));
    free(enf);
    for (int r = 0; r < tasks; r++) {
        nux_task_t task;
        CHECK(task_model_get_task(model, &task));
        for (int i = 0; i < task_model_count_inputs(model); i++)
            fill_input(task_input(task, i), task_input_size(task, i), arg + 1 + i < argc ? argv[arg + 1 + i] : NULL,
                       (unsigned long long)i);
        CHECK(task_execute(task, (nux_request_id_t)r));
    }
    int outputs = task_model_count_outputs(model);
    destroy_task_model(model); /* waits for every task */
    destroy_nux(nux);
    printf("%ld finished, %ld failed, %ld mismatched\n", finished, failed, mismatched);
    for (int i = 0; i < outputs && i < MAX_OUTPUTS; i++) {
        if (first[i]) emit_output(prefix, i, first[i], first_len[i]);
        free(first[i]);
    }
    return failed || mismatched || finished != tasks;
}
