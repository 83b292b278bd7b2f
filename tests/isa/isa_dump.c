/* Prints what the generated nux_isa.h says, one fact per line, so a test can compare it with nux.isa: every
 * register, every field (shift, width, mask), the CFG_* / TASK_* / perf X-macros, and NUX_FIELD_GET / PUT applied
 * to the STATUS word given as argv[1]. Uses nothing but the header: no offset or bit is typed here. */
#include <stdio.h>
#include <stdlib.h>

#include "nux_isa.h"

#define REG(name, offset) printf("reg %s %u\n", #name, (unsigned)(offset));
#define FIELD(reg, field)                                                                                    \
    printf("field %s %s %u %u %u\n", #reg, #field, (unsigned)NUX_##reg##_##field##_SHIFT,                  \
           (unsigned)NUX_##reg##_##field##_WIDTH, (unsigned)NUX_##reg##_##field##_MASK);
#define CFG(field, offset) printf("cfg %s %u\n", #field, (unsigned)(offset));
#define TASK(field, word, offset) printf("task %s %d %u\n", #field, word, (unsigned)(offset));
#define PERF(name, offset, deterministic) printf("perf %s %u %d\n", #name, (unsigned)(offset), deterministic);

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    const uint32_t status = (uint32_t)strtoul(argv[1], NULL, 0);
    printf("id %u version %u mmio %u %d perf_count %d\n", (unsigned)NUX_NPU_ID, (unsigned)NUX_VERSION_VALUE,
           (unsigned)NUX_MMIO_SIZE, NUX_MMIO_ADDR_BITS, NUX_PERF_COUNT);
    NUX_REGISTERS(REG)
    NUX_REGISTER_FIELDS(FIELD)
    NUX_CFG_REGISTERS(CFG)
    NUX_TASK_WORDS(TASK)
    NUX_PERF_COUNTERS(PERF)
    printf("status %u %u %u %u %u\n", (unsigned)NUX_FIELD_GET(NUX_STATUS_BUSY, status),
           (unsigned)NUX_FIELD_GET(NUX_STATUS_ERROR, status), (unsigned)NUX_FIELD_GET(NUX_STATUS_CMDQ_OVERFLOW, status),
           (unsigned)NUX_FIELD_GET(NUX_STATUS_ERROR_CODE, status), (unsigned)NUX_FIELD_GET(NUX_STATUS_QUEUED, status));
    printf("put %u\n", (unsigned)(NUX_FIELD_PUT(NUX_STATUS_ERROR_CODE, NUX_ERR_BUS_ERROR) |
                                  NUX_FIELD_PUT(NUX_STATUS_QUEUED, 300) | NUX_FIELD_PUT(NUX_STATUS_ERROR, 1)));
    return 0;
}
