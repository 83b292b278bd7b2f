// cl_nux_f2: the nux NPU as custom logic for the AWS F2 small shell (shell_stable).
//
// Thin by design: everything with behaviour lives in nux_cl_core (Amaranth, generated with the NPU's own
// Verilog). This file maps the core's flat ports onto the shell's port names (cl_ports.vh, from the HDK),
// synchronises and inverts rst_main_n, instantiates sh_ddr for the DIMM, and ties off every port the
// NPU does not use (PCIM, SDA, HBM monitor, PCIe pass-through, debug), as the HDK requires.
// Generated companions: cl_id_defines.vh (PCIe IDs) and cl_nux_defines.vh (IRQ vector), from nux.isa.aws.
module cl_nux_f2
  #(
    parameter EN_DDR = 1,
    parameter EN_HBM = 0
  )
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
  always_comb begin
    cl_sh_id0          = `CL_SH_ID0;
    cl_sh_id1          = `CL_SH_ID1;
    cl_sh_status0      = 32'b0;
    cl_sh_status1      = 32'b0;
    cl_sh_status2      = 32'b0;
    cl_sh_flr_done     = flr_q;  // nothing to drain: the host quiesces the NPU through CTRL.RESET
    cl_sh_dma_wr_full  = 1'b0;
    cl_sh_dma_rd_full  = 1'b0;
  end

  // ------------------------------------------------------------------ the core: OCL, PCIS, DDR AXI, IRQ
  logic [15:0]  ddr_awid,    ddr_arid,    ddr_bid,   ddr_rid;
  logic [63:0]  ddr_awaddr,  ddr_araddr;
  logic [7:0]   ddr_awlen,   ddr_arlen;
  logic [2:0]   ddr_awsize,  ddr_arsize;
  logic [1:0]   ddr_awburst, ddr_arburst, ddr_bresp, ddr_rresp;
  logic         ddr_awvalid, ddr_awready, ddr_wlast, ddr_wvalid, ddr_wready, ddr_bvalid, ddr_bready;
  logic         ddr_arvalid, ddr_arready, ddr_rlast, ddr_rvalid, ddr_rready;
  logic [511:0] ddr_wdata,   ddr_rdata;
  logic [63:0]  ddr_wstrb;
  logic         irq_req, ddr_ready;

  nux_cl_core CORE (
    .clk            (clk_main_a0),
    .rst            (rst),
    .ocl_awaddr     (ocl_cl_awaddr),        .ocl_awvalid    (ocl_cl_awvalid),     .ocl_awready (cl_ocl_awready),
    .ocl_wdata      (ocl_cl_wdata),         .ocl_wstrb      (ocl_cl_wstrb),
    .ocl_wvalid     (ocl_cl_wvalid),        .ocl_wready     (cl_ocl_wready),
    .ocl_bresp      (cl_ocl_bresp),         .ocl_bvalid     (cl_ocl_bvalid),      .ocl_bready  (ocl_cl_bready),
    .ocl_araddr     (ocl_cl_araddr),        .ocl_arvalid    (ocl_cl_arvalid),     .ocl_arready (cl_ocl_arready),
    .ocl_rdata      (cl_ocl_rdata),         .ocl_rresp      (cl_ocl_rresp),
    .ocl_rvalid     (cl_ocl_rvalid),        .ocl_rready     (ocl_cl_rready),
    .pcis_awid      (sh_cl_dma_pcis_awid),  .pcis_awaddr    (sh_cl_dma_pcis_awaddr),
    .pcis_awlen     (sh_cl_dma_pcis_awlen), .pcis_awsize    (sh_cl_dma_pcis_awsize),
    .pcis_awburst   (sh_cl_dma_pcis_awburst),
    .pcis_awvalid   (sh_cl_dma_pcis_awvalid), .pcis_awready (cl_sh_dma_pcis_awready),
    .pcis_wdata     (sh_cl_dma_pcis_wdata), .pcis_wstrb     (sh_cl_dma_pcis_wstrb),
    .pcis_wlast     (sh_cl_dma_pcis_wlast), .pcis_wvalid    (sh_cl_dma_pcis_wvalid),
    .pcis_wready    (cl_sh_dma_pcis_wready),
    .pcis_bid       (cl_sh_dma_pcis_bid),   .pcis_bresp     (cl_sh_dma_pcis_bresp),
    .pcis_bvalid    (cl_sh_dma_pcis_bvalid), .pcis_bready   (sh_cl_dma_pcis_bready),
    .pcis_arid      (sh_cl_dma_pcis_arid),  .pcis_araddr    (sh_cl_dma_pcis_araddr),
    .pcis_arlen     (sh_cl_dma_pcis_arlen), .pcis_arsize    (sh_cl_dma_pcis_arsize),
    .pcis_arburst   (sh_cl_dma_pcis_arburst),
    .pcis_arvalid   (sh_cl_dma_pcis_arvalid), .pcis_arready (cl_sh_dma_pcis_arready),
    .pcis_rid       (cl_sh_dma_pcis_rid),   .pcis_rdata     (cl_sh_dma_pcis_rdata),
    .pcis_rresp     (cl_sh_dma_pcis_rresp), .pcis_rlast     (cl_sh_dma_pcis_rlast),
    .pcis_rvalid    (cl_sh_dma_pcis_rvalid), .pcis_rready   (sh_cl_dma_pcis_rready),
    .ddr_awid (ddr_awid), .ddr_awaddr (ddr_awaddr), .ddr_awlen (ddr_awlen), .ddr_awsize (ddr_awsize),
    .ddr_awburst (ddr_awburst), .ddr_awvalid (ddr_awvalid), .ddr_awready (ddr_awready),
    .ddr_wdata (ddr_wdata), .ddr_wstrb (ddr_wstrb), .ddr_wlast (ddr_wlast), .ddr_wvalid (ddr_wvalid),
    .ddr_wready (ddr_wready), .ddr_bid (ddr_bid), .ddr_bresp (ddr_bresp), .ddr_bvalid (ddr_bvalid),
    .ddr_bready (ddr_bready),
    .ddr_arid (ddr_arid), .ddr_araddr (ddr_araddr), .ddr_arlen (ddr_arlen), .ddr_arsize (ddr_arsize),
    .ddr_arburst (ddr_arburst), .ddr_arvalid (ddr_arvalid), .ddr_arready (ddr_arready),
    .ddr_rid (ddr_rid), .ddr_rdata (ddr_rdata), .ddr_rresp (ddr_rresp), .ddr_rlast (ddr_rlast),
    .ddr_rvalid (ddr_rvalid), .ddr_rready (ddr_rready),
    .irq_req        (irq_req),
    .irq_ack        (sh_cl_apppf_irq_ack[`NUX_IRQ_VECTOR])
  );
  // PCIS carries no user/ruser side band we need; the shell ignores ruser
  assign cl_sh_dma_pcis_ruser = 64'b0;

  always_comb begin
    cl_sh_apppf_irq_req = 16'b0;
    cl_sh_apppf_irq_req[`NUX_IRQ_VECTOR] = irq_req;
  end

  // ------------------------------------------------------------------ DDR: the DIMM through sh_ddr
  sh_ddr #(.DDR_PRESENT(EN_DDR)) SH_DDR (
    .clk (clk_main_a0), .rst_n (rst_n_sync), .stat_clk (clk_main_a0), .stat_rst_n (rst_n_sync),
    .CLK_DIMM_DP (CLK_DIMM_DP), .CLK_DIMM_DN (CLK_DIMM_DN),
    .M_ACT_N (M_ACT_N), .M_MA (M_MA), .M_BA (M_BA), .M_BG (M_BG), .M_CKE (M_CKE), .M_ODT (M_ODT),
    .M_CS_N (M_CS_N), .M_CLK_DN (M_CLK_DN), .M_CLK_DP (M_CLK_DP), .M_PAR (M_PAR), .M_DQ (M_DQ),
    .M_ECC (M_ECC), .M_DQS_DP (M_DQS_DP), .M_DQS_DN (M_DQS_DN), .cl_RST_DIMM_N (RST_DIMM_N),
    .cl_sh_ddr_axi_awid (ddr_awid), .cl_sh_ddr_axi_awaddr (ddr_awaddr), .cl_sh_ddr_axi_awlen (ddr_awlen),
    .cl_sh_ddr_axi_awsize (ddr_awsize), .cl_sh_ddr_axi_awvalid (ddr_awvalid),
    .cl_sh_ddr_axi_awburst (ddr_awburst), .cl_sh_ddr_axi_awuser (1'b0), .cl_sh_ddr_axi_awready (ddr_awready),
    .cl_sh_ddr_axi_wdata (ddr_wdata), .cl_sh_ddr_axi_wstrb (ddr_wstrb), .cl_sh_ddr_axi_wlast (ddr_wlast),
    .cl_sh_ddr_axi_wvalid (ddr_wvalid), .cl_sh_ddr_axi_wready (ddr_wready),
    .cl_sh_ddr_axi_bid (ddr_bid), .cl_sh_ddr_axi_bresp (ddr_bresp), .cl_sh_ddr_axi_bvalid (ddr_bvalid),
    .cl_sh_ddr_axi_bready (ddr_bready),
    .cl_sh_ddr_axi_arid (ddr_arid), .cl_sh_ddr_axi_araddr (ddr_araddr), .cl_sh_ddr_axi_arlen (ddr_arlen),
    .cl_sh_ddr_axi_arsize (ddr_arsize), .cl_sh_ddr_axi_arvalid (ddr_arvalid),
    .cl_sh_ddr_axi_arburst (ddr_arburst), .cl_sh_ddr_axi_aruser (1'b0), .cl_sh_ddr_axi_arready (ddr_arready),
    .cl_sh_ddr_axi_rid (ddr_rid), .cl_sh_ddr_axi_rdata (ddr_rdata), .cl_sh_ddr_axi_rresp (ddr_rresp),
    .cl_sh_ddr_axi_rlast (ddr_rlast), .cl_sh_ddr_axi_rvalid (ddr_rvalid), .cl_sh_ddr_axi_rready (ddr_rready),
    .sh_ddr_stat_bus_addr (sh_cl_ddr_stat_addr), .sh_ddr_stat_bus_wdata (sh_cl_ddr_stat_wdata),
    .sh_ddr_stat_bus_wr (sh_cl_ddr_stat_wr), .sh_ddr_stat_bus_rd (sh_cl_ddr_stat_rd),
    .sh_ddr_stat_bus_ack (cl_sh_ddr_stat_ack), .sh_ddr_stat_bus_rdata (cl_sh_ddr_stat_rdata),
    .ddr_sh_stat_int (cl_sh_ddr_stat_int), .sh_cl_ddr_is_ready (ddr_ready)
  );
  assign cl_sh_status_vled = {14'b0, ddr_ready, irq_req};

  // ------------------------------------------------------------------ unused interfaces, tied off
  always_comb begin
    cl_sh_pcim_awid = 16'b0;  cl_sh_pcim_awaddr = 64'b0; cl_sh_pcim_awlen = 8'b0;  cl_sh_pcim_awsize = 3'b0;
    cl_sh_pcim_awburst = 2'b0; cl_sh_pcim_awcache = 4'b0; cl_sh_pcim_awlock = 1'b0; cl_sh_pcim_awprot = 3'b0;
    cl_sh_pcim_awqos = 4'b0;  cl_sh_pcim_awuser = 55'b0; cl_sh_pcim_awvalid = 1'b0;
    cl_sh_pcim_wid = 16'b0;   cl_sh_pcim_wdata = 512'b0; cl_sh_pcim_wstrb = 64'b0; cl_sh_pcim_wlast = 1'b0;
    cl_sh_pcim_wuser = 64'b0; cl_sh_pcim_wvalid = 1'b0;  cl_sh_pcim_bready = 1'b0;
    cl_sh_pcim_arid = 16'b0;  cl_sh_pcim_araddr = 64'b0; cl_sh_pcim_arlen = 8'b0;  cl_sh_pcim_arsize = 3'b0;
    cl_sh_pcim_arburst = 2'b0; cl_sh_pcim_arcache = 4'b0; cl_sh_pcim_arlock = 1'b0; cl_sh_pcim_arprot = 3'b0;
    cl_sh_pcim_arqos = 4'b0;  cl_sh_pcim_aruser = 55'b0; cl_sh_pcim_arvalid = 1'b0; cl_sh_pcim_rready = 1'b0;

    cl_sda_awready = 1'b0; cl_sda_wready = 1'b0; cl_sda_bresp = 2'b0; cl_sda_bvalid = 1'b0;
    cl_sda_arready = 1'b0; cl_sda_rdata = 32'b0; cl_sda_rresp = 2'b0; cl_sda_rvalid = 1'b0;

    tdo = 1'b0;

    hbm_apb_paddr_0 = 22'b0; hbm_apb_pprot_0 = 3'b0; hbm_apb_psel_0 = 1'b0; hbm_apb_penable_0 = 1'b0;
    hbm_apb_pwrite_0 = 1'b0; hbm_apb_pwdata_0 = 32'b0; hbm_apb_pstrb_0 = 4'b0; hbm_apb_pready_0 = 1'b0;
    hbm_apb_prdata_0 = 32'b0; hbm_apb_pslverr_0 = 1'b0;
    hbm_apb_paddr_1 = 22'b0; hbm_apb_pprot_1 = 3'b0; hbm_apb_psel_1 = 1'b0; hbm_apb_penable_1 = 1'b0;
    hbm_apb_pwrite_1 = 1'b0; hbm_apb_pwdata_1 = 32'b0; hbm_apb_pstrb_1 = 4'b0; hbm_apb_pready_1 = 1'b0;
    hbm_apb_prdata_1 = 32'b0; hbm_apb_pslverr_1 = 1'b0;

    PCIE_EP_TXP = 8'b0; PCIE_EP_TXN = 8'b0; PCIE_RP_PERSTN = 1'b0; PCIE_RP_TXP = 8'b0; PCIE_RP_TXN = 8'b0;
  end

endmodule
