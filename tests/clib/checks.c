/* checks.c — libnux test driver (tests/clib): each mode exercises one contract and prints what it saw.
 *
 *   checks api MODEL.enf                 bad arguments -> documented codes; then a run still works
 *   checks timeout MODEL.enf             a 1 ms timeout fails the run with nux_error_t_timeout; the next run works
 *   checks fault BAD.enf GOOD.enf        BAD faults on the NPU: sync and task runs fail with their codes, GOOD
 *                                        then runs on the same handle
 *   checks chain COPY.enf                callbacks submit the next task (max_batch 2); with max_batch 1,
 *                                        get_task inside a callback fails instead of deadlocking
 *   checks fuzz FILE...                  one line per file: the code nux_create_sync_model returned
 *   checks hw DEVICE MODEL.enf          a register-file stand-in (xdma/pci on plain files): load, set the input
 *                                        pattern, run with a 50 ms timeout (nothing executes: a timeout)
 *   checks isa DEVICE MODEL.enf          the model's code needs a newer ISA minor than the device reports: creating
 *                                        the model fails with nux_error_t_unsupported_version; prints the message
 *   checks stress COPY.enf TASKS THREADS BATCH   tasks from several threads; every id exactly one callback, right
 *                                        outputs (the model copies its input to its output)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../../examples/c/common.h"

#define EXPECT(call, code)                                                                                 \
    do {                                                                                                   \
        nux_error_t got_ = (call);                                                                         \
        if (got_ != (code)) {                                                                              \
            fprintf(stderr, "line %d: %s returned %s, expected %s (%s)\n", __LINE__, #call,                 \
                    nux_error_name(got_), nux_error_name(code), nux_last_error());                         \
            exit(1);                                                                                       \
        }                                                                                                  \
    } while (0)

static int api(unsigned char *enf, size_t len) {
    nux_handle_t nux;
    nux_sync_model_t m;
    nux_tensor_t t;
    nux_buffer_t buf;
    nux_buffer_len_t n;
    EXPECT(create_nux(NULL), nux_error_t_invalid_argument);
    EXPECT(nux_create_with_device("nonsense", &nux), nux_error_t_nux_creation_failed);
    EXPECT(nux_create_with_device("xdma:7,user=/nonexistent/user", &nux), nux_error_t_nux_creation_failed);
    EXPECT(nux_create_with_device("pci", &nux), nux_error_t_nux_creation_failed);
    EXPECT(nux_create_sync_model(NULL, enf, len, &m), nux_error_t_invalid_argument);
    CHECK(create_nux(&nux));
    EXPECT(nux_create_sync_model(nux, NULL, len, &m), nux_error_t_invalid_argument);
    EXPECT(nux_create_sync_model(nux, enf, len - 1, &m), nux_error_t_invalid_enf);
    EXPECT(nux_create_task_model(nux, enf, len, 0, NULL, NULL, NULL, (nux_task_model_t *)&m),
           nux_error_t_invalid_argument);
    CHECK(nux_create_sync_model(nux, enf, len, &m));
    if (model_count_inputs(NULL) != -1 || model_count_outputs(NULL) != -1) return 1;
    EXPECT(model_input_tensor(m, -1, &t), nux_error_t_invalid_input_index);
    EXPECT(model_input_tensor(m, model_count_inputs(m), &t), nux_error_t_invalid_input_index);
    EXPECT(model_output_tensor(m, model_count_outputs(m), &t), nux_error_t_invalid_output_index);
    EXPECT(model_input_tensor(NULL, 0, &t), nux_error_t_invalid_argument);
    EXPECT(model_run(NULL), nux_error_t_invalid_argument);
    EXPECT(tensor_set_buffer(NULL, enf, 1), nux_error_t_invalid_argument);
    EXPECT(tensor_get_buffer(NULL, &buf, &n), nux_error_t_invalid_argument);
    CHECK(model_input_tensor(m, 0, &t));
    size_t size = nux_tensor_size(t);
    unsigned char *in = calloc(1, size + 1);
    EXPECT(tensor_set_buffer(t, in, (int)size + 1), nux_error_t_invalid_buffer);
    EXPECT(tensor_set_buffer(t, in, (int)size - 1), nux_error_t_invalid_buffer);
    EXPECT(tensor_set_buffer(t, NULL, (int)size), nux_error_t_invalid_buffer);
    EXPECT(tensor_set_buffer(t, in, -1), nux_error_t_invalid_buffer);
    CHECK(tensor_set_buffer(t, in, (int)size));
    CHECK(model_run(m));
    free(in);
    if (task_input(NULL, 0) || task_input_size(NULL, 0)) return 1;
    EXPECT(task_execute(NULL, 1), nux_error_t_invalid_argument);
    EXPECT(task_model_get_task(NULL, NULL), nux_error_t_invalid_argument);
    destroy_sync_model(m);
    destroy_sync_model(NULL);
    destroy_task_model(NULL);
    destroy_nux(nux);
    destroy_nux(NULL);
    printf("api ok\n");
    return 0;
}

static int timeout(unsigned char *enf, size_t len) {
    nux_handle_t nux;
    nux_sync_model_t m;
    nux_tensor_t t;
    CHECK(create_nux(&nux));
    CHECK(nux_create_sync_model(nux, enf, len, &m));
    CHECK(model_input_tensor(m, 0, &t));
    size_t size = nux_tensor_size(t);
    void *in = malloc(size);
    fill_input(in, size, NULL, 1);
    CHECK(tensor_set_buffer(t, in, (int)size));
    free(in);
    CHECK(nux_set_timeout(nux, 1));
    EXPECT(model_run(m), nux_error_t_timeout);
    printf("timeout: %s\n", nux_last_error());
    CHECK(nux_set_timeout(nux, 60000));
    CHECK(model_run(m));
    nux_buffer_t out;
    nux_buffer_len_t n;
    CHECK(model_output_tensor(m, 0, &t));
    CHECK(tensor_get_buffer(t, &out, &n));
    emit_output(NULL, 0, out, n);
    destroy_sync_model(m);
    destroy_nux(nux);
    return 0;
}

static int hw(const char *device, unsigned char *enf, size_t len) {
    nux_handle_t nux;
    nux_sync_model_t m;
    nux_tensor_t t;
    CHECK(nux_create_with_device(device, &nux));
    CHECK(nux_create_sync_model(nux, enf, len, &m));
    CHECK(model_input_tensor(m, 0, &t));
    size_t size = nux_tensor_size(t);
    void *in = malloc(size);
    fill_input(in, size, NULL, 3);
    CHECK(tensor_set_buffer(t, in, (int)size));
    free(in);
    CHECK(nux_set_timeout(nux, 50));
    EXPECT(model_run(m), nux_error_t_timeout);
    destroy_sync_model(m);
    destroy_nux(nux);
    printf("hw ok\n");
    return 0;
}

static int isa(const char *device, unsigned char *enf, size_t len) {
    nux_handle_t nux;
    nux_sync_model_t m;
    CHECK(nux_create_with_device(device, &nux));
    EXPECT(nux_create_sync_model(nux, enf, len, &m), nux_error_t_unsupported_version);
    printf("isa: %s\n", nux_last_error());
    destroy_nux(nux);
    return 0;
}

static atomic_int fault_errors, fault_finishes;
static void fault_error(nux_request_id_t id, nux_error_t error) {
    printf("task %llu: %s\n", (unsigned long long)id, nux_error_name(error));
    atomic_fetch_add(&fault_errors, 1);
}
static void fault_finish(nux_request_id_t id) {
    (void)id;
    atomic_fetch_add(&fault_finishes, 1);
}

static int fault(unsigned char *bad, size_t bad_len, unsigned char *good, size_t good_len) {
    nux_handle_t nux;
    nux_sync_model_t m, ok;
    nux_task_model_t tm;
    CHECK(create_nux(&nux));
    CHECK(nux_create_sync_model(nux, bad, bad_len, &m));
    CHECK(nux_create_sync_model(nux, good, good_len, &ok));
    EXPECT(model_run(m), nux_error_t_model_execution_failed);
    printf("sync: %s\n", nux_last_error());
    CHECK(model_run(ok));
    CHECK(nux_create_task_model(nux, bad, bad_len, 2, NULL, fault_error, fault_finish, &tm));
    for (int r = 0; r < 4; r++) {
        nux_task_t task;
        CHECK(task_model_get_task(tm, &task));
        CHECK(task_execute(task, (nux_request_id_t)r));
    }
    destroy_task_model(tm);
    CHECK(model_run(ok));
    printf("errors %d finishes %d\n", atomic_load(&fault_errors), atomic_load(&fault_finishes));
    destroy_sync_model(m);
    destroy_sync_model(ok);
    destroy_nux(nux);
    return 0;
}

static nux_task_model_t chain_model;
static atomic_int chained, refused;
#define CHAIN 50

static void chain_next(nux_request_id_t id) {
    nux_task_t task;
    atomic_fetch_add(&chained, 1);
    if (id + 1 >= CHAIN) return;
    nux_error_t err = task_model_get_task(chain_model, &task);
    if (err == nux_error_t_get_task_failed) {
        atomic_fetch_add(&refused, 1);
        return;
    }
    CHECK(err);
    fill_input(task_input(task, 0), task_input_size(task, 0), NULL, id + 1);
    CHECK(task_execute(task, id + 1));
}

static int chain(unsigned char *enf, size_t len) {
    nux_handle_t nux;
    nux_task_t task;
    CHECK(create_nux(&nux));
    for (int batch = 2; batch >= 1; batch--) {
        atomic_store(&chained, 0);
        CHECK(nux_create_task_model(nux, enf, len, batch, NULL, NULL, chain_next, &chain_model));
        CHECK(task_model_get_task(chain_model, &task));
        CHECK(task_execute(task, 0));
        while (atomic_load(&chained) < (batch == 2 ? CHAIN : 1) || !task_model_is_all_task_done(chain_model)) {
        }
        destroy_task_model(chain_model);
        printf("max_batch %d: %d chained, %d refused\n", batch, atomic_load(&chained), atomic_load(&refused));
    }
    destroy_nux(nux);
    return 0;
}

static int fuzz(int count, char **files) {
    nux_handle_t nux;
    CHECK(create_nux(&nux));
    for (int i = 0; i < count; i++) {
        size_t len;
        unsigned char *enf = read_file(files[i], &len);
        nux_sync_model_t m = NULL;
        nux_error_t err = nux_create_sync_model(nux, enf, len, &m);
        printf("%s %s\n", files[i], nux_error_name(err));
        destroy_sync_model(m);
        free(enf);
    }
    destroy_nux(nux);
    return 0;
}

/* ---- stress: request id r carries the pattern seeded by r; the copy model must give it back */
static atomic_int *finishes, *errors, *bad_outputs;
static size_t input_size;

static void check_output(nux_request_id_t id, nux_output_index_t index, nux_buffer_t buf, nux_buffer_len_t len) {
    unsigned char *expected = malloc(len);
    fill_input(expected, len, NULL, id);
    if (index != 0 || len != input_size || memcmp(expected, buf, len)) atomic_fetch_add(&bad_outputs[id], 1);
    free(expected);
}
static void count_error(nux_request_id_t id, nux_error_t error) {
    (void)error;
    atomic_fetch_add(&errors[id], 1);
}
static void count_finish(nux_request_id_t id) { atomic_fetch_add(&finishes[id], 1); }

typedef struct {
    nux_task_model_t model;
    int first, count;
} worker_args;

static void *worker(void *p) {
    worker_args *w = p;
    for (int r = w->first; r < w->first + w->count; r++) {
        nux_task_t task;
        while (r % 2 && task_model_try_get_task(w->model, &task) != nux_error_t_success) {
        } /* odd ids spin on try_get_task, even ids block */
        if (r % 2 == 0) CHECK(task_model_get_task(w->model, &task));
        fill_input(task_input(task, 0), task_input_size(task, 0), NULL, (unsigned long long)r);
        CHECK(task_execute(task, (nux_request_id_t)r));
    }
    return NULL;
}

static int stress(unsigned char *enf, size_t len, int tasks, int threads, int batch) {
    finishes = calloc((size_t)tasks, sizeof *finishes);
    errors = calloc((size_t)tasks, sizeof *errors);
    bad_outputs = calloc((size_t)tasks, sizeof *bad_outputs);
    nux_handle_t nux;
    nux_task_model_t model;
    CHECK(create_nux(&nux));
    CHECK(nux_create_task_model(nux, enf, len, batch, check_output, count_error, count_finish, &model));
    nux_task_t probe;
    CHECK(task_model_get_task(model, &probe));
    input_size = task_input_size(probe, 0);
    fill_input(task_input(probe, 0), input_size, NULL, 0);
    EXPECT(task_execute(probe, 0) == nux_error_t_success ? task_execute(probe, 0) : nux_error_t_success,
           nux_error_t_invalid_task); /* a task cannot be executed twice */
    pthread_t *ids = malloc((size_t)threads * sizeof *ids);
    worker_args *args = malloc((size_t)threads * sizeof *args);
    int per = (tasks - 1) / threads;
    for (int i = 0; i < threads; i++) {
        args[i] = (worker_args){model, 1 + i * per, i == threads - 1 ? tasks - 1 - i * per : per};
        pthread_create(&ids[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    destroy_task_model(model);
    destroy_nux(nux);
    int once = 0, wrong = 0, failed = 0;
    for (int r = 0; r < tasks; r++) {
        once += finishes[r] + errors[r] == 1;
        failed += errors[r] > 0;
        wrong += bad_outputs[r] > 0;
    }
    printf("stress: %d tasks, %d with exactly one callback, %d failed, %d wrong outputs\n", tasks, once, failed, wrong);
    free(finishes), free(errors), free(bad_outputs), free(ids), free(args);
    return once != tasks || failed || wrong;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (!strcmp(argv[1], "fuzz")) return fuzz(argc - 2, argv + 2);
    if (!strcmp(argv[1], "fault") && argc == 4) {
        size_t n, m;
        unsigned char *bad = read_file(argv[2], &n), *good = read_file(argv[3], &m);
        int rc = fault(bad, n, good, m);
        free(bad), free(good);
        return rc;
    }
    if ((!strcmp(argv[1], "hw") || !strcmp(argv[1], "isa")) && argc == 4) {
        size_t n;
        unsigned char *model = read_file(argv[3], &n);
        int rc = (!strcmp(argv[1], "hw") ? hw : isa)(argv[2], model, n);
        free(model);
        return rc;
    }
    size_t len;
    unsigned char *enf = read_file(argv[2], &len);
    int rc = 2;
    if (!strcmp(argv[1], "api")) rc = api(enf, len);
    else if (!strcmp(argv[1], "timeout")) rc = timeout(enf, len);
    else if (!strcmp(argv[1], "chain")) rc = chain(enf, len);
    else if (!strcmp(argv[1], "stress") && argc == 6)
        rc = stress(enf, len, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    free(enf);
    return rc;
}
