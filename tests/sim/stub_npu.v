// A stand-in for nux_npu with the final ports (docs/isa.md section 7), used only to test the simulator harness
// independently of the real RTL: the register file of section 6 (ID, CFG_*, STATUS, IRQ, COMPLETED, task staging)
// and a tiny DMA engine. A doorbell "runs" a task by copying TASK_PROG_LEN bus beats (<= 256, one INCR burst)
// from TASK_PROG_BASE to TASK_ARENA_BASE, then completes it (COMPLETED, LAST_TAG, IRQ DONE). A DECERR/SLVERR
// answer stops it with ERROR/BUS_ERROR. TASK_PROG_LEN = 0 never completes (a hung task; CTRL.RESET aborts it
// once the burst in flight has finished).
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
    input  wire [11:0] s_axil_awaddr, input wire s_axil_awvalid, output wire s_axil_awready,
    input  wire [31:0] s_axil_wdata, input wire [3:0] s_axil_wstrb, input wire s_axil_wvalid,
    output wire s_axil_wready,
    output wire [1:0] s_axil_bresp, output reg s_axil_bvalid, input wire s_axil_bready,
    input  wire [11:0] s_axil_araddr, input wire s_axil_arvalid, output wire s_axil_arready,
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
    reg [1:0] irq_status, irq_enable;
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

    function [31:0] reg_read(input [11:0] addr);
        case (addr)
            12'h000: reg_read = 32'h4E555831;
            12'h004: reg_read = 32'h00010000;
            12'h008: reg_read = DIM;
            12'h00C: reg_read = SP_ROWS;
            12'h010: reg_read = ACC_ROWS;
            12'h014: reg_read = DATA_BITS;
            12'h018: reg_read = ADDR_BITS;
            12'h01C: reg_read = CMDQ_DEPTH;
            12'h024: reg_read = {8'd0, 7'd0, busy, error ? 8'd8 : 8'd0, 6'd0, error, busy};
            12'h02C: reg_read = fault_tag;
            12'h030: reg_read = {30'd0, irq_enable};
            12'h034: reg_read = {30'd0, irq_status};
            12'h038: reg_read = completed;
            12'h03C: reg_read = busy ? CMDQ_DEPTH - 1 : CMDQ_DEPTH;
            12'h040: reg_read = prog_base_lo;
            12'h044: reg_read = prog_base_hi;
            12'h048: reg_read = prog_len;
            12'h04C: reg_read = arena_base_lo;
            12'h050: reg_read = arena_base_hi;
            12'h054: reg_read = arena_size;
            12'h058: reg_read = tag;
            12'h060: reg_read = last_tag;
            12'h100: reg_read = cycles[31:0];
            12'h104: reg_read = hi_latch;
            default: reg_read = 32'd0;
        endcase
    endfunction

    always @(posedge clk) begin
        if (busy) cycles <= cycles + 64'd1;
        if (rd_fire) begin
            s_axil_rvalid <= 1'b1;
            s_axil_rdata <= reg_read(s_axil_araddr);
            if (s_axil_araddr == 12'h100) hi_latch <= cycles[63:32];
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
        if (state == S_B && m_axi_bvalid && !abort) irq_status <= irq_status | (m_axi_bresp[1] ? 2'b10 : 2'b01);
        if (state == S_R && m_axi_rvalid && m_axi_rlast && m_axi_rresp[1]) irq_status <= irq_status | 2'b10;

        if (wr_fire) begin
            case (s_axil_awaddr)
                12'h020: if (s_axil_wdata[0]) begin
                    error <= 1'b0; completed <= 32'd0; last_tag <= 32'd0; irq_status <= 2'b00;
                    if (state == S_HANG || state == S_IDLE) state <= S_IDLE;
                    else abort <= 1'b1;
                end
                12'h030: irq_enable <= s_axil_wdata[1:0];
                12'h034: irq_status <= irq_status & ~s_axil_wdata[1:0];
                12'h040: prog_base_lo <= s_axil_wdata;
                12'h044: prog_base_hi <= s_axil_wdata;
                12'h048: prog_len <= s_axil_wdata;
                12'h04C: arena_base_lo <= s_axil_wdata;
                12'h050: arena_base_hi <= s_axil_wdata;
                12'h054: arena_size <= s_axil_wdata;
                12'h058: tag <= s_axil_wdata;
                12'h05C: if (state == S_IDLE && !error) begin
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
            fault_tag <= 32'd0; irq_status <= 2'b00; irq_enable <= 2'b00; cycles <= 64'd0;
            s_axil_bvalid <= 1'b0; s_axil_rvalid <= 1'b0; m_axi_awvalid <= 1'b0; m_axi_wvalid <= 1'b0;
            m_axi_arvalid <= 1'b0; prog_base_lo <= 0; prog_base_hi <= 0; prog_len <= 0; arena_base_lo <= 0;
            arena_base_hi <= 0; arena_size <= 0; tag <= 0; beat <= 0; beats <= 0; src <= 0; dst <= 0;
            hi_latch <= 0;
        end
    end
    wire _unused = &{1'b0, s_axil_wstrb, m_axi_bid, m_axi_rid, arena_size, 1'b0};
endmodule
`default_nettype wire
