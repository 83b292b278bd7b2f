// A stand-in for nux_npu with the final ports (docs/isa.md section 7), used only to test the simulator harness
// independently of the real RTL: the register file of section 6 (ID, CFG_*, STATUS, IRQ, COMPLETED, task staging)
// and a tiny DMA engine. A doorbell "runs" a task by copying TASK_PROG_LEN bus beats (<= 256, one INCR burst)
// from TASK_PROG_BASE to TASK_ARENA_BASE, then completes it (COMPLETED, LAST_TAG, IRQ DONE). A DECERR/SLVERR
// answer stops it with ERROR/BUS_ERROR. TASK_PROG_LEN = 0 never completes (a hung task; CTRL.RESET aborts it
// once the burst in flight has finished). Offsets, bit positions and error codes come from the generated
// nux_isa.vh (nux.isa.headers), which the simulator build writes next to this file.
`include "nux_isa.vh"
`default_nettype none
module nux_npu #(
    parameter integer DIM = 4,
    parameter integer SP_ROWS = 256,
    parameter integer ACC_ROWS = 128,
    parameter integer DATA_BITS = 64,
    parameter integer ADDR_BITS = 32,
    parameter integer CMDQ_DEPTH = 4
) (
    input  wire clk,
    input  wire rst,
    input  wire [`NUX_MMIO_ADDR_BITS-1:0] s_axil_awaddr, input wire s_axil_awvalid, output wire s_axil_awready,
    input  wire [31:0] s_axil_wdata, input wire [3:0] s_axil_wstrb, input wire s_axil_wvalid,
    output wire s_axil_wready,
    output wire [1:0] s_axil_bresp, output reg s_axil_bvalid, input wire s_axil_bready,
    input  wire [`NUX_MMIO_ADDR_BITS-1:0] s_axil_araddr, input wire s_axil_arvalid, output wire s_axil_arready,
    output reg [31:0] s_axil_rdata, output wire [1:0] s_axil_rresp, output reg s_axil_rvalid,
    input  wire s_axil_rready,
    output wire [3:0] m_axi_awid, output wire [ADDR_BITS-1:0] m_axi_awaddr, output wire [7:0] m_axi_awlen,
    output wire [2:0] m_axi_awsize, output wire [1:0] m_axi_awburst, output reg m_axi_awvalid,
    input  wire m_axi_awready,
    output wire [DATA_BITS-1:0] m_axi_wdata, output wire [DATA_BITS/8-1:0] m_axi_wstrb, output wire m_axi_wlast,
    output reg m_axi_wvalid, input wire m_axi_wready,
    input  wire [3:0] m_axi_bid, input wire [1:0] m_axi_bresp, input wire m_axi_bvalid, output wire m_axi_bready,
    output wire [3:0] m_axi_arid, output wire [ADDR_BITS-1:0] m_axi_araddr, output wire [7:0] m_axi_arlen,
    output wire [2:0] m_axi_arsize, output wire [1:0] m_axi_arburst, output reg m_axi_arvalid,
    input  wire m_axi_arready,
    input  wire [3:0] m_axi_rid, input wire [DATA_BITS-1:0] m_axi_rdata, input wire [1:0] m_axi_rresp,
    input  wire m_axi_rlast, input wire m_axi_rvalid, output wire m_axi_rready,
    output wire irq
);
    localparam [2:0] S_IDLE = 0, S_AR = 1, S_R = 2, S_AW = 3, S_W = 4, S_B = 5, S_HANG = 6;
    reg [2:0] state;
    reg [31:0] prog_base_lo, prog_base_hi, prog_len, arena_base_lo, arena_base_hi, arena_size, tag;
    reg [31:0] completed, last_tag, fault_tag;
    reg [`NUX_IRQ_STATUS_BITS-1:0] irq_status, irq_enable;
    reg error;
    reg [63:0] cycles;
    reg [63:0] src, dst;
    reg [8:0] beats, beat;
    reg [DATA_BITS-1:0] buffer [0:255];
    reg [31:0] hi_latch;
    reg abort;  // CTRL.RESET seen while a burst was in flight: finish the burst, then drop the task

    wire [63:0] prog_base = {prog_base_hi, prog_base_lo};
    wire [63:0] arena_base = {arena_base_hi, arena_base_lo};
    wire busy = state != S_IDLE;

    // AXI-Lite: a write is taken when address and data are both present (one cycle, no skid buffer).
    wire wr_fire = s_axil_awvalid && s_axil_wvalid && !s_axil_bvalid;
    assign s_axil_awready = wr_fire;
    assign s_axil_wready = wr_fire;
    assign s_axil_bresp = 2'b00;
    assign s_axil_arready = !s_axil_rvalid;
    assign s_axil_rresp = 2'b00;
    wire rd_fire = s_axil_arvalid && s_axil_arready;

    assign m_axi_awid = 4'd1;
    assign m_axi_arid = 4'd2;
    assign m_axi_awaddr = dst[ADDR_BITS-1:0];
    assign m_axi_araddr = src[ADDR_BITS-1:0];
    assign m_axi_awlen = beats[7:0] - 8'd1;
    assign m_axi_arlen = beats[7:0] - 8'd1;
    assign m_axi_awsize = $clog2(DATA_BITS / 8);
    assign m_axi_arsize = $clog2(DATA_BITS / 8);
    assign m_axi_awburst = 2'b01;
    assign m_axi_arburst = 2'b01;
    assign m_axi_wdata = buffer[beat[7:0]];
    assign m_axi_wstrb = {(DATA_BITS/8){1'b1}};
    assign m_axi_wlast = beat == beats - 9'd1;
    assign m_axi_bready = state == S_B;
    assign m_axi_rready = state == S_R;
    assign irq = |(irq_status & irq_enable);

    // STATUS: BUSY, ERROR, ERROR_CODE (BUS_ERROR is the only error the stub makes) and QUEUED (0 or 1)
    wire [31:0] one = 32'd1;
    wire [31:0] status = (busy ? one << `NUX_STATUS_BUSY_LSB | one << `NUX_STATUS_QUEUED_LSB : 32'd0)
                       | (error ? one << `NUX_STATUS_ERROR_LSB | `NUX_ERR_BUS_ERROR << `NUX_STATUS_ERROR_CODE_LSB : 32'd0);

    function [31:0] reg_read(input [`NUX_MMIO_ADDR_BITS-1:0] addr);
        case (addr)
            `NUX_REG_ID: reg_read = `NUX_NPU_ID;
            `NUX_REG_VERSION: reg_read = `NUX_VERSION_VALUE;
            `NUX_REG_CFG_DIM: reg_read = DIM;
            `NUX_REG_CFG_SP_ROWS: reg_read = SP_ROWS;
            `NUX_REG_CFG_ACC_ROWS: reg_read = ACC_ROWS;
            `NUX_REG_CFG_AXI_DATA_BITS: reg_read = DATA_BITS;
            `NUX_REG_CFG_DRAM_ADDR_BITS: reg_read = ADDR_BITS;
            `NUX_REG_CFG_CMDQ_DEPTH: reg_read = CMDQ_DEPTH;
            `NUX_REG_STATUS: reg_read = status;
            `NUX_REG_FAULT_TAG: reg_read = fault_tag;
            `NUX_REG_IRQ_ENABLE: reg_read = {{(32-`NUX_IRQ_STATUS_BITS){1'b0}}, irq_enable};
            `NUX_REG_IRQ_STATUS: reg_read = {{(32-`NUX_IRQ_STATUS_BITS){1'b0}}, irq_status};
            `NUX_REG_COMPLETED: reg_read = completed;
            `NUX_REG_CMDQ_FREE: reg_read = busy ? CMDQ_DEPTH - 1 : CMDQ_DEPTH;
            `NUX_REG_TASK_PROG_BASE_LO: reg_read = prog_base_lo;
            `NUX_REG_TASK_PROG_BASE_HI: reg_read = prog_base_hi;
            `NUX_REG_TASK_PROG_LEN: reg_read = prog_len;
            `NUX_REG_TASK_ARENA_BASE_LO: reg_read = arena_base_lo;
            `NUX_REG_TASK_ARENA_BASE_HI: reg_read = arena_base_hi;
            `NUX_REG_TASK_ARENA_SIZE: reg_read = arena_size;
            `NUX_REG_TASK_TAG: reg_read = tag;
            `NUX_REG_LAST_TAG: reg_read = last_tag;
            `NUX_PERF_CYCLES: reg_read = cycles[31:0];
            `NUX_PERF_CYCLES_HI: reg_read = hi_latch;
            default: reg_read = 32'd0;
        endcase
    endfunction
    localparam [`NUX_IRQ_STATUS_BITS-1:0] IRQ_DONE = 1 << `NUX_IRQ_STATUS_DONE_LSB;
    localparam [`NUX_IRQ_STATUS_BITS-1:0] IRQ_ERROR = 1 << `NUX_IRQ_STATUS_ERROR_LSB;

    always @(posedge clk) begin
        if (busy) cycles <= cycles + 64'd1;
        if (rd_fire) begin
            s_axil_rvalid <= 1'b1;
            s_axil_rdata <= reg_read(s_axil_araddr);
            if (s_axil_araddr == `NUX_PERF_CYCLES) hi_latch <= cycles[63:32];
        end else if (s_axil_rready) begin
            s_axil_rvalid <= 1'b0;
        end
        if (wr_fire) s_axil_bvalid <= 1'b1;
        else if (s_axil_bready) s_axil_bvalid <= 1'b0;

        case (state)
            S_AR: if (m_axi_arready) begin m_axi_arvalid <= 1'b0; state <= S_R; end
            S_R: if (m_axi_rvalid) begin
                buffer[beat[7:0]] <= m_axi_rdata;
                beat <= beat + 9'd1;
                if (m_axi_rresp[1]) error <= 1'b1;
                if (m_axi_rlast) begin
                    beat <= 9'd0;
                    if (m_axi_rresp[1] || error || abort) state <= S_IDLE;
                    else begin state <= S_AW; m_axi_awvalid <= 1'b1; end
                end
            end
            S_AW: if (m_axi_awready) begin m_axi_awvalid <= 1'b0; m_axi_wvalid <= 1'b1; state <= S_W; end
            S_W: if (m_axi_wready) begin
                beat <= beat + 9'd1;
                if (m_axi_wlast) begin m_axi_wvalid <= 1'b0; state <= S_B; end
            end
            S_B: if (m_axi_bvalid) begin
                state <= S_IDLE;
                if (m_axi_bresp[1]) error <= 1'b1;
                else if (!abort) begin completed <= completed + 32'd1; last_tag <= tag; end
            end
            default: ;
        endcase
        if (state == S_IDLE) abort <= 1'b0;
        if (state != S_IDLE && (state == S_R || state == S_B) && m_axi_rvalid && m_axi_rresp[1]) fault_tag <= tag;
        if (state == S_B && m_axi_bvalid && !abort) irq_status <= irq_status | (m_axi_bresp[1] ? IRQ_ERROR : IRQ_DONE);
        if (state == S_R && m_axi_rvalid && m_axi_rlast && m_axi_rresp[1]) irq_status <= irq_status | IRQ_ERROR;

        if (wr_fire) begin
            case (s_axil_awaddr)
                `NUX_REG_CTRL: if (s_axil_wdata[`NUX_CTRL_RESET_LSB]) begin
                    error <= 1'b0; completed <= 32'd0; last_tag <= 32'd0; irq_status <= 0;
                    if (state == S_HANG || state == S_IDLE) state <= S_IDLE;
                    else abort <= 1'b1;
                end
                `NUX_REG_IRQ_ENABLE: irq_enable <= s_axil_wdata[`NUX_IRQ_STATUS_BITS-1:0];
                `NUX_REG_IRQ_STATUS: irq_status <= irq_status & ~s_axil_wdata[`NUX_IRQ_STATUS_BITS-1:0];
                `NUX_REG_TASK_PROG_BASE_LO: prog_base_lo <= s_axil_wdata;
                `NUX_REG_TASK_PROG_BASE_HI: prog_base_hi <= s_axil_wdata;
                `NUX_REG_TASK_PROG_LEN: prog_len <= s_axil_wdata;
                `NUX_REG_TASK_ARENA_BASE_LO: arena_base_lo <= s_axil_wdata;
                `NUX_REG_TASK_ARENA_BASE_HI: arena_base_hi <= s_axil_wdata;
                `NUX_REG_TASK_ARENA_SIZE: arena_size <= s_axil_wdata;
                `NUX_REG_TASK_TAG: tag <= s_axil_wdata;
                `NUX_REG_DOORBELL: if (state == S_IDLE && !error) begin
                    src <= prog_base; dst <= arena_base; beat <= 9'd0;
                    beats <= prog_len[8:0];
                    if (prog_len == 32'd0) state <= S_HANG;
                    else begin state <= S_AR; m_axi_arvalid <= 1'b1; end
                end
                default: ;
            endcase
        end

        if (rst) begin
            state <= S_IDLE; error <= 1'b0; abort <= 1'b0; completed <= 32'd0; last_tag <= 32'd0;
            fault_tag <= 32'd0; irq_status <= 0; irq_enable <= 0; cycles <= 64'd0;
            s_axil_bvalid <= 1'b0; s_axil_rvalid <= 1'b0; m_axi_awvalid <= 1'b0; m_axi_wvalid <= 1'b0;
            m_axi_arvalid <= 1'b0; prog_base_lo <= 0; prog_base_hi <= 0; prog_len <= 0; arena_base_lo <= 0;
            arena_base_hi <= 0; arena_size <= 0; tag <= 0; beat <= 0; beats <= 0; src <= 0; dst <= 0;
            hi_latch <= 0;
        end
    end
    wire _unused = &{1'b0, s_axil_wstrb, m_axi_bid, m_axi_rid, arena_size, 1'b0};
endmodule
`default_nettype wire
