/* sync_model.c — run an ENF once with libnux's synchronous API.
 *
 *   sync_model [-o PREFIX] [-n RUNS] MODEL.enf [INPUT0.bin INPUT1.bin ...]
 *
 * Inputs are raw tensor bytes (the ENF's arena layout); a missing input is filled with a pattern. Each output is
 * summarised on stdout and, with -o, written to PREFIX<index>.bin. The device is $NUX_DEVICE (default "sim").
 */
#include <string.h>

#include "common.h"

int main(int argc, char **argv) {
    const char *prefix = NULL;
    int runs = 1, arg = 1;
    for (; arg + 1 < argc && argv[arg][0] == '-'; arg += 2) {
        if (!strcmp(argv[arg], "-o")) prefix = argv[arg + 1];
        else if (!strcmp(argv[arg], "-n")) runs = atoi(argv[arg + 1]);
    }
    if (arg >= argc) {
        fprintf(stderr, "usage: %s [-o PREFIX] [-n RUNS] MODEL.enf [INPUT.bin ...]\n", argv[0]);
        return 2;
    }
    size_t len;
    unsigned char *enf = read_file(argv[arg], &len);
    nux_handle_t nux;
    nux_sync_model_t model;
    CHECK(create_nux(&nux));
    CHECK(nux_create_sync_model(nux, enf, len, &model));
    free(enf);
    for (int i = 0; i < model_count_inputs(model); i++) {
        nux_tensor_t t;
        CHECK(model_input_tensor(model, i, &t));
        size_t size = nux_tensor_size(t);
        void *buf = malloc(size);
        fill_input(buf, size, arg + 1 + i < argc ? argv[arg + 1 + i] : NULL, (unsigned long long)i);
        CHECK(tensor_set_buffer(t, buf, (int)size));
        free(buf);
    }
    for (int r = 0; r < runs; r++) CHECK(model_run(model));
    for (int i = 0; i < model_count_outputs(model); i++) {
        nux_tensor_t t;
        nux_buffer_t buf;
        nux_buffer_len_t size;
        CHECK(model_output_tensor(model, i, &t));
        CHECK(tensor_get_buffer(t, &buf, &size));
        emit_output(prefix, i, buf, size);
    }
    destroy_sync_model(model);
    destroy_nux(nux);
    return 0;
}
