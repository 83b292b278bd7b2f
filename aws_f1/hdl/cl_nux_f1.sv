// cl_nux_f1: the nux NPU as custom logic for the AWS F1 XDMA shell (shell_v04261818).
//
// Same core as cl_nux_f2 (nux_cl_core); only the shell's port names differ. DDR C lives in the F1 shell, so
// the core's DDR master drives the cl_sh_ddr_* ports directly; sh_ddr is still instantiated, with DIMMs
// A, B and D absent, because the HDK requires it to terminate their pins and stats. Host data arrives on
// PCIS from the XDMA engine (/dev/xdmaN_h2c_K, _c2h_K) or from BAR4 accesses; F1's PCIS has no AxBURST
// (always INCR) and 6-bit IDs.
module cl_nux_f1
  (
    `include "cl_ports.vh"
  );

  `include "cl_id_defines.vh"
  `include "cl_nux_defines.vh"

  // ------------------------------------------------------------------ reset: two flops, then active high
  logic rst_n_meta, rst_n_sync;
  always_ff @(posedge clk_main_a0) begin
    rst_n_meta <= rst_main_n;
    rst_n_sync <= rst_n_meta;
  end
  wire rst = ~rst_n_sync;

  // ------------------------------------------------------------------ identity, status, FLR
  logic flr_q;
  always_ff @(posedge clk_main_a0) flr_q <= sh_cl_flr_assert;
  logic irq_req;
  always_comb begin
    cl_sh_id0          = `CL_SH_ID0;
    cl_sh_id1          = `CL_SH_ID1;
    cl_sh_status0      = 32'b0;
    cl_sh_status1      = 32'b0;
    cl_sh_status_vled  = {14'b0, sh_cl_ddr_is_ready, irq_req};
    cl_sh_flr_done     = flr_q;  // nothing to drain: the host quiesces the NPU through CTRL.RESET
    cl_sh_dma_wr_full  = 1'b0;
    cl_sh_dma_rd_full  = 1'b0;
  end

  // ------------------------------------------------------------------ the core: OCL, PCIS, DDR C, IRQ
  nux_cl_core CORE (
    .clk            (clk_main_a0),
    .rst            (rst),
    .ocl_awaddr     (sh_ocl_awaddr),        .ocl_awvalid    (sh_ocl_awvalid),     .ocl_awready (ocl_sh_awready),
    .ocl_wdata      (sh_ocl_wdata),         .ocl_wstrb      (sh_ocl_wstrb),
    .ocl_wvalid     (sh_ocl_wvalid),        .ocl_wready     (ocl_sh_wready),
    .ocl_bresp      (ocl_sh_bresp),         .ocl_bvalid     (ocl_sh_bvalid),      .ocl_bready  (sh_ocl_bready),
    .ocl_araddr     (sh_ocl_araddr),        .ocl_arvalid    (sh_ocl_arvalid),     .ocl_arready (ocl_sh_arready),
    .ocl_rdata      (ocl_sh_rdata),         .ocl_rresp      (ocl_sh_rresp),
    .ocl_rvalid     (ocl_sh_rvalid),        .ocl_rready     (sh_ocl_rready),
    .pcis_awid      (sh_cl_dma_pcis_awid),  .pcis_awaddr    (sh_cl_dma_pcis_awaddr),
    .pcis_awlen     (sh_cl_dma_pcis_awlen), .pcis_awsize    (sh_cl_dma_pcis_awsize),
    .pcis_awburst   (2'b01),
    .pcis_awvalid   (sh_cl_dma_pcis_awvalid), .pcis_awready (cl_sh_dma_pcis_awready),
    .pcis_wdata     (sh_cl_dma_pcis_wdata), .pcis_wstrb     (sh_cl_dma_pcis_wstrb),
    .pcis_wlast     (sh_cl_dma_pcis_wlast), .pcis_wvalid    (sh_cl_dma_pcis_wvalid),
    .pcis_wready    (cl_sh_dma_pcis_wready),
    .pcis_bid       (cl_sh_dma_pcis_bid),   .pcis_bresp     (cl_sh_dma_pcis_bresp),
    .pcis_bvalid    (cl_sh_dma_pcis_bvalid), .pcis_bready   (sh_cl_dma_pcis_bready),
    .pcis_arid      (sh_cl_dma_pcis_arid),  .pcis_araddr    (sh_cl_dma_pcis_araddr),
    .pcis_arlen     (sh_cl_dma_pcis_arlen), .pcis_arsize    (sh_cl_dma_pcis_arsize),
    .pcis_arburst   (2'b01),
    .pcis_arvalid   (sh_cl_dma_pcis_arvalid), .pcis_arready (cl_sh_dma_pcis_arready),
    .pcis_rid       (cl_sh_dma_pcis_rid),   .pcis_rdata     (cl_sh_dma_pcis_rdata),
    .pcis_rresp     (cl_sh_dma_pcis_rresp), .pcis_rlast     (cl_sh_dma_pcis_rlast),
    .pcis_rvalid    (cl_sh_dma_pcis_rvalid), .pcis_rready   (sh_cl_dma_pcis_rready),
    .ddr_awid (cl_sh_ddr_awid), .ddr_awaddr (cl_sh_ddr_awaddr), .ddr_awlen (cl_sh_ddr_awlen),
    .ddr_awsize (cl_sh_ddr_awsize), .ddr_awburst (cl_sh_ddr_awburst), .ddr_awvalid (cl_sh_ddr_awvalid),
    .ddr_awready (sh_cl_ddr_awready),
    .ddr_wdata (cl_sh_ddr_wdata), .ddr_wstrb (cl_sh_ddr_wstrb), .ddr_wlast (cl_sh_ddr_wlast),
    .ddr_wvalid (cl_sh_ddr_wvalid), .ddr_wready (sh_cl_ddr_wready),
    .ddr_bid (sh_cl_ddr_bid), .ddr_bresp (sh_cl_ddr_bresp), .ddr_bvalid (sh_cl_ddr_bvalid),
    .ddr_bready (cl_sh_ddr_bready),
    .ddr_arid (cl_sh_ddr_arid), .ddr_araddr (cl_sh_ddr_araddr), .ddr_arlen (cl_sh_ddr_arlen),
    .ddr_arsize (cl_sh_ddr_arsize), .ddr_arburst (cl_sh_ddr_arburst), .ddr_arvalid (cl_sh_ddr_arvalid),
    .ddr_arready (sh_cl_ddr_arready),
    .ddr_rid (sh_cl_ddr_rid), .ddr_rdata (sh_cl_ddr_rdata), .ddr_rresp (sh_cl_ddr_rresp),
    .ddr_rlast (sh_cl_ddr_rlast), .ddr_rvalid (sh_cl_ddr_rvalid), .ddr_rready (cl_sh_ddr_rready),
    .irq_req        (irq_req),
    .irq_ack        (sh_cl_apppf_irq_ack[`NUX_IRQ_VECTOR])
  );
  assign cl_sh_ddr_wid = 16'b0;  // AXI4 has no write ID; the shell's port is a leftover of AXI3

  always_comb begin
    cl_sh_apppf_irq_req = 16'b0;
    cl_sh_apppf_irq_req[`NUX_IRQ_VECTOR] = irq_req;
  end

  // ------------------------------------------------------------------ DIMMs A, B, D: absent, terminated
  logic [15:0]  off_id[2:0];
  logic [63:0]  off_addr[2:0];
  logic [7:0]   off_len[2:0];
  logic [1:0]   off_burst[2:0];
  logic [511:0] off_data[2:0];
  logic [63:0]  off_strb[2:0];
  always_comb begin
    for (int i = 0; i < 3; i++) begin
      off_id[i] = 16'b0; off_addr[i] = 64'b0; off_len[i] = 8'b0; off_burst[i] = 2'b01;
      off_data[i] = 512'b0; off_strb[i] = 64'b0;
    end
  end
  sh_ddr #(.DDR_A_PRESENT(0), .DDR_B_PRESENT(0), .DDR_D_PRESENT(0)) SH_DDR (
    .clk (clk_main_a0), .rst_n (rst_n_sync), .stat_clk (clk_main_a0), .stat_rst_n (rst_n_sync),
    .CLK_300M_DIMM0_DP (CLK_300M_DIMM0_DP), .CLK_300M_DIMM0_DN (CLK_300M_DIMM0_DN),
    .M_A_ACT_N (M_A_ACT_N), .M_A_MA (M_A_MA), .M_A_BA (M_A_BA), .M_A_BG (M_A_BG), .M_A_CKE (M_A_CKE),
    .M_A_ODT (M_A_ODT), .M_A_CS_N (M_A_CS_N), .M_A_CLK_DN (M_A_CLK_DN), .M_A_CLK_DP (M_A_CLK_DP),
    .M_A_PAR (M_A_PAR), .M_A_DQ (M_A_DQ), .M_A_ECC (M_A_ECC), .M_A_DQS_DP (M_A_DQS_DP),
    .M_A_DQS_DN (M_A_DQS_DN), .cl_RST_DIMM_A_N (cl_RST_DIMM_A_N),
    .CLK_300M_DIMM1_DP (CLK_300M_DIMM1_DP), .CLK_300M_DIMM1_DN (CLK_300M_DIMM1_DN),
    .M_B_ACT_N (M_B_ACT_N), .M_B_MA (M_B_MA), .M_B_BA (M_B_BA), .M_B_BG (M_B_BG), .M_B_CKE (M_B_CKE),
    .M_B_ODT (M_B_ODT), .M_B_CS_N (M_B_CS_N), .M_B_CLK_DN (M_B_CLK_DN), .M_B_CLK_DP (M_B_CLK_DP),
    .M_B_PAR (M_B_PAR), .M_B_DQ (M_B_DQ), .M_B_ECC (M_B_ECC), .M_B_DQS_DP (M_B_DQS_DP),
    .M_B_DQS_DN (M_B_DQS_DN), .cl_RST_DIMM_B_N (cl_RST_DIMM_B_N),
    .CLK_300M_DIMM3_DP (CLK_300M_DIMM3_DP), .CLK_300M_DIMM3_DN (CLK_300M_DIMM3_DN),
    .M_D_ACT_N (M_D_ACT_N), .M_D_MA (M_D_MA), .M_D_BA (M_D_BA), .M_D_BG (M_D_BG), .M_D_CKE (M_D_CKE),
    .M_D_ODT (M_D_ODT), .M_D_CS_N (M_D_CS_N), .M_D_CLK_DN (M_D_CLK_DN), .M_D_CLK_DP (M_D_CLK_DP),
    .M_D_PAR (M_D_PAR), .M_D_DQ (M_D_DQ), .M_D_ECC (M_D_ECC), .M_D_DQS_DP (M_D_DQS_DP),
    .M_D_DQS_DN (M_D_DQS_DN), .cl_RST_DIMM_D_N (cl_RST_DIMM_D_N),
    .cl_sh_ddr_awid (off_id), .cl_sh_ddr_awaddr (off_addr), .cl_sh_ddr_awlen (off_len),
    .cl_sh_ddr_awburst (off_burst), .cl_sh_ddr_awvalid (3'b0), .sh_cl_ddr_awready (),
    .cl_sh_ddr_wid (off_id), .cl_sh_ddr_wdata (off_data), .cl_sh_ddr_wstrb (off_strb),
    .cl_sh_ddr_wlast (3'b0), .cl_sh_ddr_wvalid (3'b0), .sh_cl_ddr_wready (),
    .sh_cl_ddr_bid (), .sh_cl_ddr_bresp (), .sh_cl_ddr_bvalid (), .cl_sh_ddr_bready (3'b0),
    .cl_sh_ddr_arid (off_id), .cl_sh_ddr_araddr (off_addr), .cl_sh_ddr_arlen (off_len),
    .cl_sh_ddr_arburst (off_burst), .cl_sh_ddr_arvalid (3'b0), .sh_cl_ddr_arready (),
    .sh_cl_ddr_rid (), .sh_cl_ddr_rdata (), .sh_cl_ddr_rresp (), .sh_cl_ddr_rlast (), .sh_cl_ddr_rvalid (),
    .cl_sh_ddr_rready (3'b0), .sh_cl_ddr_is_ready (),
    .sh_ddr_stat_addr0 (sh_ddr_stat_addr0), .sh_ddr_stat_wr0 (sh_ddr_stat_wr0),
    .sh_ddr_stat_rd0 (sh_ddr_stat_rd0), .sh_ddr_stat_wdata0 (sh_ddr_stat_wdata0),
    .ddr_sh_stat_ack0 (ddr_sh_stat_ack0), .ddr_sh_stat_rdata0 (ddr_sh_stat_rdata0),
    .ddr_sh_stat_int0 (ddr_sh_stat_int0),
    .sh_ddr_stat_addr1 (sh_ddr_stat_addr1), .sh_ddr_stat_wr1 (sh_ddr_stat_wr1),
    .sh_ddr_stat_rd1 (sh_ddr_stat_rd1), .sh_ddr_stat_wdata1 (sh_ddr_stat_wdata1),
    .ddr_sh_stat_ack1 (ddr_sh_stat_ack1), .ddr_sh_stat_rdata1 (ddr_sh_stat_rdata1),
    .ddr_sh_stat_int1 (ddr_sh_stat_int1),
    .sh_ddr_stat_addr2 (sh_ddr_stat_addr2), .sh_ddr_stat_wr2 (sh_ddr_stat_wr2),
    .sh_ddr_stat_rd2 (sh_ddr_stat_rd2), .sh_ddr_stat_wdata2 (sh_ddr_stat_wdata2),
    .ddr_sh_stat_ack2 (ddr_sh_stat_ack2), .ddr_sh_stat_rdata2 (ddr_sh_stat_rdata2),
    .ddr_sh_stat_int2 (ddr_sh_stat_int2)
  );

  // ------------------------------------------------------------------ unused interfaces, tied off
  always_comb begin
    cl_sh_pcim_awid = 16'b0;  cl_sh_pcim_awaddr = 64'b0; cl_sh_pcim_awlen = 8'b0;  cl_sh_pcim_awsize = 3'b0;
    cl_sh_pcim_awuser = 19'b0; cl_sh_pcim_awvalid = 1'b0;
    cl_sh_pcim_wdata = 512'b0; cl_sh_pcim_wstrb = 64'b0; cl_sh_pcim_wlast = 1'b0; cl_sh_pcim_wvalid = 1'b0;
    cl_sh_pcim_bready = 1'b0;
    cl_sh_pcim_arid = 16'b0;  cl_sh_pcim_araddr = 64'b0; cl_sh_pcim_arlen = 8'b0;  cl_sh_pcim_arsize = 3'b0;
    cl_sh_pcim_aruser = 19'b0; cl_sh_pcim_arvalid = 1'b0; cl_sh_pcim_rready = 1'b0;

    cl_sda_awready = 1'b0; cl_sda_wready = 1'b0; cl_sda_bresp = 2'b0; cl_sda_bvalid = 1'b0;
    cl_sda_arready = 1'b0; cl_sda_rdata = 32'b0; cl_sda_rresp = 2'b0; cl_sda_rvalid = 1'b0;

    bar1_sh_awready = 1'b0; bar1_sh_wready = 1'b0; bar1_sh_bresp = 2'b0; bar1_sh_bvalid = 1'b0;
    bar1_sh_arready = 1'b0; bar1_sh_rdata = 32'b0; bar1_sh_rresp = 2'b0; bar1_sh_rvalid = 1'b0;

    tdo = 1'b0;
  end

endmodule
