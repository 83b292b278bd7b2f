// nux_sim.cpp — the C ABI of nux_sim.h around the Verilated `nux_npu`: clock, reset, an AXI-Lite master for
// MMIO, an AXI4 DRAM slave with latency and bandwidth, run-until loops and FST tracing.
//
// Compiled by nux.sim.build together with the generated wrapper top `nux_sim_top` (nux.sim.wrapper: the NPU with
// registered inputs) and two generated headers: nux_isa.h (register map, from nux.isa.headers) and
// nux_sim_build.h (NUX_AXI_DATA_BITS and the build-info JSON). Port widths follow the NpuConfig, so every access
// to a data or address port goes through the width-generic helpers below (Verilator represents a port as
// CData/SData/IData/QData or VlWide<N> depending on its width).

#include "nux_sim.h"

#include <cstdio>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "Vnux_sim_top.h"
#include "nux_isa.h"
#include "nux_sim_build.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_fst_c.h"
#else
struct VerilatedFstC {};  // built without tracing (BuildOptions(trace=False)): nux_sim_trace_open refuses
#endif

namespace {

using Vtop = Vnux_sim_top;
constexpr unsigned kDataBytes = NUX_AXI_DATA_BITS / 8;
constexpr size_t kMaxOutstanding = 16;  // bursts the DRAM model accepts per direction before back-pressuring

// ---- width-generic port access ------------------------------------------------------------------------------
template <typename T>
void put_bytes(T &port, const uint8_t *bytes) {
    uint64_t value = 0;
    for (unsigned i = 0; i < sizeof(T) && i < kDataBytes; ++i) value |= uint64_t(bytes[i]) << (8 * i);
    port = T(value);
}
template <std::size_t W>
void put_bytes(VlWide<W> &port, const uint8_t *bytes) {
    for (std::size_t w = 0; w < W; ++w) {
        uint32_t word = 0;
        for (unsigned b = 0; b < 4 && 4 * w + b < kDataBytes; ++b) word |= uint32_t(bytes[4 * w + b]) << (8 * b);
        port[w] = word;
    }
}
template <typename T>
void get_bytes(const T &port, uint8_t *bytes) {
    const uint64_t value = port;
    for (unsigned i = 0; i < kDataBytes && i < 8; ++i) bytes[i] = uint8_t(value >> (8 * i));
}
template <std::size_t W>
void get_bytes(const VlWide<W> &port, uint8_t *bytes) {
    for (unsigned i = 0; i < kDataBytes; ++i) bytes[i] = uint8_t(port[i / 4] >> (8 * (i % 4)));
}

struct Burst {
    unsigned id;
    uint64_t addr;     // address of the first beat as issued
    unsigned beats;    // len + 1
    unsigned size;     // bytes per beat (2^axsize)
    unsigned beat;     // beats done
    uint64_t ready_at; // first cycle the slave may answer
    bool decerr;       // write bursts: some beat fell outside DRAM
};

struct Response {
    unsigned id;
    unsigned resp;
    uint64_t ready_at;
};

}  // namespace

// The harness drives the NPU through `nux_sim_top` (nux.sim.wrapper): each NPU input X is a flop fed by the
// top-level input X_d. One clock cycle is: sample this cycle's handshakes (NPU outputs settled by the last eval,
// the harness's own outputs in `cur`), advance the bus models, write what the harness drives next cycle to the
// X_d inputs, then the rising edge (the flops and the NPU update together) and a cheap falling-edge eval.
struct Driven {  // harness outputs as the NPU sees them during the current cycle
    bool arready = false, awready = false, wready = false, rvalid = false, bvalid = false;
    bool lite_awvalid = false, lite_wvalid = false, lite_arvalid = false;
};

struct nux_sim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vtop> top;
    std::unique_ptr<VerilatedFstC> trace;
    std::vector<uint8_t> dram;
    uint32_t latency = 0;
    double bandwidth = 1.0;
    double rd_credit = 1.0, wr_credit = 1.0;
    uint64_t cycles = 0;
    uint32_t poll_interval = 64;
    std::string error, protocol_error;
    uint64_t protocol_errors = 0;

    std::deque<Burst> reads, writes;  // accepted AR / AW bursts, served in order
    std::deque<Response> bresps;
    Driven cur;

    // AXI-Lite master: one transaction at a time.
    bool lite_aw = false, lite_w = false, lite_ar = false, lite_b_seen = false, lite_r_seen = false;
    uint32_t lite_rdata = 0;

    void fail(const std::string &msg) { error = msg; }
    void protocol(const std::string &msg) {
        if (protocol_errors++ == 0) protocol_error = msg;
    }
    void dump(uint64_t t) {
#if VM_TRACE
        if (trace) trace->dump(t);
#else
        (void)t;
#endif
    }

    // True when the whole bus word holding `addr` lies inside DRAM.
    bool word_in_dram(uint64_t addr) const {
        const uint64_t base = addr & ~uint64_t(kDataBytes - 1);
        return base + kDataBytes <= dram.size();
    }
    // Address of beat `i` of an INCR burst (the first beat may be unaligned; later ones are size-aligned).
    static uint64_t beat_addr(const Burst &b, unsigned i) {
        return i == 0 ? b.addr : (b.addr & ~uint64_t(b.size - 1)) + uint64_t(i) * b.size;
    }
    Burst accept(unsigned id, uint64_t addr, unsigned len, unsigned size_log2, unsigned burst, const char *dir) {
        Burst b{id, addr, len + 1, 1u << size_log2, 0, cycles + 1 + latency, false};
        if (burst != 1) protocol(std::string(dir) + ": burst type " + std::to_string(burst) + " is not INCR");
        if (b.size > kDataBytes) protocol(std::string(dir) + ": beat size wider than the data bus");
        const uint64_t last = beat_addr(b, b.beats - 1) + b.size - 1;
        if ((addr >> 12) != (last >> 12)) {
            char msg[160];
            std::snprintf(msg, sizeof msg, "%s: burst at 0x%llx of %u beats crosses a 4 KiB boundary", dir,
                          (unsigned long long)addr, b.beats);
            protocol(msg);
        }
        return b;
    }

    void take_write_beat() {
        Vtop &t = *top;
        if (writes.empty()) {
            protocol("W beat without a write address");
            return;
        }
        wr_credit -= 1.0;
        Burst &b = writes.front();
        const uint64_t a = beat_addr(b, b.beat);
        uint8_t word[kDataBytes];
        get_bytes(t.m_axi_wdata, word);
        const uint64_t strb = t.m_axi_wstrb;
        if (word_in_dram(a)) {
            uint8_t *dst = &dram[a & ~uint64_t(kDataBytes - 1)];
            for (unsigned i = 0; i < kDataBytes; ++i)
                if ((strb >> i) & 1) dst[i] = word[i];
        } else {
            b.decerr = true;
        }
        const bool last = ++b.beat == b.beats;
        if (bool(t.m_axi_wlast) != last) protocol("W: wlast does not match the burst length");
        if (last) {
            bresps.push_back(Response{b.id, b.decerr ? 3u : 0u, cycles + 1 + latency});
            writes.pop_front();
        }
    }

    // What the harness drives during cycle `next`, written to the wrapper's X_d inputs.
    Driven drive(uint64_t next) {
        Vtop &t = *top;
        Driven d;
        rd_credit = std::min(rd_credit + bandwidth, 1.0);
        wr_credit = std::min(wr_credit + bandwidth, 1.0);
        d.arready = reads.size() < kMaxOutstanding;
        d.awready = writes.size() < kMaxOutstanding;
        d.wready = !writes.empty() && wr_credit >= 1.0;
        d.rvalid = cur.rvalid;  // a presented beat stays until taken (cleared by the caller on r_fire)
        if (!d.rvalid && !reads.empty() && reads.front().ready_at <= next && rd_credit >= 1.0) {
            d.rvalid = true;
            rd_credit -= 1.0;
        }
        if (d.rvalid) {
            const Burst &b = reads.front();
            const uint64_t a = beat_addr(b, b.beat);
            uint8_t word[kDataBytes] = {};
            const bool ok = word_in_dram(a);
            if (ok) std::memcpy(word, &dram[a & ~uint64_t(kDataBytes - 1)], kDataBytes);
            put_bytes(t.m_axi_rdata_d, word);
            t.m_axi_rresp_d = ok ? 0 : 3;  // DECERR
            t.m_axi_rid_d = b.id;
            t.m_axi_rlast_d = b.beat + 1 == b.beats;
        }
        d.bvalid = !bresps.empty() && bresps.front().ready_at <= next;
        if (d.bvalid) {
            t.m_axi_bid_d = bresps.front().id;
            t.m_axi_bresp_d = bresps.front().resp;
        }
        d.lite_awvalid = lite_aw;
        d.lite_wvalid = lite_w;
        d.lite_arvalid = lite_ar;
        t.m_axi_arready_d = d.arready;
        t.m_axi_awready_d = d.awready;
        t.m_axi_wready_d = d.wready;
        t.m_axi_rvalid_d = d.rvalid;
        t.m_axi_bvalid_d = d.bvalid;
        t.s_axil_awvalid_d = d.lite_awvalid;
        t.s_axil_wvalid_d = d.lite_wvalid;
        t.s_axil_arvalid_d = d.lite_arvalid;
        return d;
    }

    void cycle() {
        Vtop &t = *top;
        // this cycle's handshakes
        const bool ar_fire = t.m_axi_arvalid && cur.arready;
        const bool r_fire = cur.rvalid && t.m_axi_rready && !reads.empty();
        const bool aw_fire = t.m_axi_awvalid && cur.awready;
        const bool w_fire = t.m_axi_wvalid && cur.wready;
        const bool b_fire = cur.bvalid && t.m_axi_bready && !bresps.empty();
        if (ar_fire) reads.push_back(accept(t.m_axi_arid, t.m_axi_araddr, t.m_axi_arlen, t.m_axi_arsize,
                                            t.m_axi_arburst, "AR"));
        if (aw_fire) writes.push_back(accept(t.m_axi_awid, t.m_axi_awaddr, t.m_axi_awlen, t.m_axi_awsize,
                                             t.m_axi_awburst, "AW"));
        if (w_fire) take_write_beat();
        if (r_fire) {
            Burst &b = reads.front();
            cur.rvalid = false;
            if (++b.beat == b.beats) reads.pop_front();
        }
        if (b_fire) bresps.pop_front();
        if (cur.lite_awvalid && t.s_axil_awready) lite_aw = false;
        if (cur.lite_wvalid && t.s_axil_wready) lite_w = false;
        if (cur.lite_arvalid && t.s_axil_arready) lite_ar = false;
        if (t.s_axil_bvalid) lite_b_seen = true;  // bready is always 1
        if (t.s_axil_rvalid) {                     // rready is always 1
            lite_r_seen = true;
            lite_rdata = t.s_axil_rdata;
        }
        const Driven next = drive(cycles + 1);

        t.clk = 1;
        t.eval();
        ++cycles;
        cur = next;
        dump(2 * cycles);
        t.clk = 0;
        t.eval();
        dump(2 * cycles + 1);
    }

    void reset(uint32_t n) {
        // Drop every transaction in flight. The flops still show this cycle's outputs to the NPU once more, but
        // it is about to be reset, so whatever it does with them is void.
        reads.clear();
        writes.clear();
        bresps.clear();
        cur.rvalid = cur.bvalid = false;
        lite_aw = lite_w = lite_ar = lite_b_seen = lite_r_seen = false;
        Vtop &t = *top;
        t.s_axil_bready_d = t.s_axil_rready_d = 1;
        t.s_axil_wstrb_d = 0xF;
        t.rst_d = 1;
        // the NPU sees rst one cycle after rst_d: n cycles of reset, then one to release it
        for (uint32_t i = 0; i < (n ? n : 1); ++i) cycle();
        t.rst_d = 0;
        cycle();
    }

    int wait_lite(bool &seen, const char *what, uint32_t addr) {
        for (uint32_t i = 0; i < NUX_SIM_MMIO_TIMEOUT; ++i) {
            cycle();
            if (seen) return NUX_SIM_OK;
        }
        char msg[128];
        std::snprintf(msg, sizeof msg, "MMIO %s at 0x%03x got no response in %u cycles", what, addr,
                      NUX_SIM_MMIO_TIMEOUT);
        fail(msg);
        lite_aw = lite_w = lite_ar = false;
        return NUX_SIM_ETIMEOUT;
    }

    int mmio_write(uint32_t addr, uint32_t value) {
        top->s_axil_awaddr_d = addr;
        top->s_axil_wdata_d = value;
        lite_aw = lite_w = true;
        lite_b_seen = false;
        return wait_lite(lite_b_seen, "write", addr);
    }

    int mmio_read(uint32_t addr, uint32_t *value) {
        top->s_axil_araddr_d = addr;
        lite_ar = true;
        lite_r_seen = false;
        const int rc = wait_lite(lite_r_seen, "read", addr);
        *value = lite_rdata;
        return rc;
    }
};

namespace {
bool check_mmio(nux_sim *sim, uint32_t addr) {
    if (addr % 4 == 0 && addr < NUX_MMIO_SIZE) return true;
    char msg[96];
    std::snprintf(msg, sizeof msg, "MMIO offset 0x%x is not a 4-byte aligned offset below 0x%x", addr,
                  unsigned(NUX_MMIO_SIZE));
    sim->fail(msg);
    return false;
}
bool check_dram(nux_sim *sim, uint64_t addr, uint64_t n, const void *data) {
    if (!data && n) {
        sim->fail("null buffer");
        return false;
    }
    if (addr <= sim->dram.size() && n <= sim->dram.size() - addr) return true;
    char msg[128];
    std::snprintf(msg, sizeof msg, "backdoor access of %llu bytes at 0x%llx is outside DRAM [0, 0x%llx)",
                  (unsigned long long)n, (unsigned long long)addr, (unsigned long long)sim->dram.size());
    sim->fail(msg);
    return false;
}
}  // namespace

extern "C" {

uint32_t nux_sim_abi_version(void) { return NUX_SIM_ABI_VERSION; }
const char *nux_sim_build_info(void) { return NUX_SIM_BUILD_INFO; }

nux_sim *nux_sim_create(uint64_t dram_size, uint32_t latency, double bandwidth) {
    if (dram_size == 0 || dram_size % 4096 || !(bandwidth > 0.0 && bandwidth <= 1.0)) return nullptr;
    try {
        auto *sim = new nux_sim;
        sim->ctx = std::make_unique<VerilatedContext>();
        sim->ctx->traceEverOn(true);
        sim->ctx->fatalOnError(false);
        sim->top = std::make_unique<Vtop>(sim->ctx.get(), "nux_sim_top");
        sim->dram.assign(dram_size, 0);
        sim->latency = latency;
        sim->bandwidth = bandwidth;
        sim->top->clk = 0;
        sim->top->eval();
        sim->reset(4);
        return sim;
    } catch (...) {
        return nullptr;
    }
}

void nux_sim_destroy(nux_sim *sim) {
    if (!sim) return;
    nux_sim_trace_close(sim);
    sim->top->final();
    delete sim;
}

const char *nux_sim_last_error(const nux_sim *sim) { return sim ? sim->error.c_str() : "null simulator"; }

void nux_sim_reset(nux_sim *sim, uint32_t cycles) { sim->reset(cycles); }

int nux_sim_mmio_write(nux_sim *sim, uint32_t addr, uint32_t value) {
    if (!check_mmio(sim, addr)) return NUX_SIM_EINVAL;
    return sim->mmio_write(addr, value);
}

int nux_sim_mmio_read(nux_sim *sim, uint32_t addr, uint32_t *value) {
    if (!value) {
        sim->fail("null value pointer");
        return NUX_SIM_EINVAL;
    }
    if (!check_mmio(sim, addr)) return NUX_SIM_EINVAL;
    return sim->mmio_read(addr, value);
}

int nux_sim_dram_write(nux_sim *sim, uint64_t addr, const void *data, uint64_t n) {
    if (!check_dram(sim, addr, n, data)) return NUX_SIM_ERANGE;
    if (n) std::memcpy(&sim->dram[addr], data, n);
    return NUX_SIM_OK;
}

int nux_sim_dram_read(nux_sim *sim, uint64_t addr, void *data, uint64_t n) {
    if (!check_dram(sim, addr, n, data)) return NUX_SIM_ERANGE;
    if (n) std::memcpy(data, &sim->dram[addr], n);
    return NUX_SIM_OK;
}

uint64_t nux_sim_dram_size(const nux_sim *sim) { return sim->dram.size(); }

void nux_sim_step(nux_sim *sim, uint64_t cycles) {
    for (uint64_t i = 0; i < cycles; ++i) sim->cycle();
}

int nux_sim_run(nux_sim *sim, uint64_t max_cycles, uint32_t until) {
    const uint64_t end = sim->cycles + max_cycles;
    uint64_t next_poll = sim->cycles;
    for (;;) {
        if ((until & NUX_SIM_UNTIL_IRQ) && sim->top->irq) return NUX_SIM_STOP_IRQ;
        if ((until & NUX_SIM_UNTIL_IDLE) && sim->cycles >= next_poll) {
            uint32_t status = 0;
            const int rc = sim->mmio_read(NUX_REG_STATUS, &status);
            if (rc) return rc;
            if (!NUX_FIELD_GET(NUX_STATUS_BUSY, status)) return NUX_SIM_STOP_IDLE;
            next_poll = sim->cycles + sim->poll_interval;
        }
        if (sim->cycles >= end) return NUX_SIM_STOP_LIMIT;
        sim->cycle();
    }
}

void nux_sim_set_poll_interval(nux_sim *sim, uint32_t cycles) { sim->poll_interval = cycles ? cycles : 1; }

uint64_t nux_sim_cycles(const nux_sim *sim) { return sim->cycles; }
int nux_sim_irq(const nux_sim *sim) { return sim->top->irq ? 1 : 0; }
uint64_t nux_sim_protocol_errors(const nux_sim *sim) { return sim->protocol_errors; }
const char *nux_sim_protocol_error(const nux_sim *sim) { return sim->protocol_error.c_str(); }

int nux_sim_trace_open(nux_sim *sim, const char *path) {
    if (!path) {
        sim->fail("null trace path");
        return NUX_SIM_EINVAL;
    }
#if VM_TRACE
    nux_sim_trace_close(sim);
    // The FST writer does not report an unwritable path, so probe it first.
    std::FILE *probe = std::fopen(path, "wb");
    if (!probe) {
        sim->fail(std::string("cannot open trace file ") + path + ": " + std::strerror(errno));
        return NUX_SIM_EIO;
    }
    std::fclose(probe);
    auto trace = std::make_unique<VerilatedFstC>();
    try {
        sim->top->trace(trace.get(), 99);
        trace->open(path);
    } catch (const std::exception &exc) {
        sim->fail(std::string("cannot open trace file ") + path + ": " + exc.what());
        return NUX_SIM_EIO;
    }
    if (!trace->isOpen()) {
        sim->fail(std::string("cannot open trace file ") + path);
        return NUX_SIM_EIO;
    }
    sim->trace = std::move(trace);
    sim->dump(2 * sim->cycles + 1);
    return NUX_SIM_OK;
#else
    sim->fail(std::string("cannot open trace file ") + path + ": this simulator was built without tracing");
    return NUX_SIM_EIO;
#endif
}

void nux_sim_trace_close(nux_sim *sim) {
#if VM_TRACE
    if (!sim->trace) return;
    sim->trace->close();
    sim->trace.reset();
#else
    (void)sim;
#endif
}

}  // extern "C"
