# Synthesis of @CL@ for the F1 XDMA shell (shell_v04261818), sourced by create_dcp_from_cl.tcl
# (aws_build_dcp_from_cl.sh). Reads the encrypted CL sources, the shell's sh_ddr (DIMMs A, B, D, here absent) and
# the IP it needs, and the AWS and user constraints. UNVERIFIED until Vivado has run it.
set_param sta.enableAutoGenClkNamePersistence 0
set CL_MODULE $CL_MODULE
set VDEFINES $VDEFINES
create_project -in_memory -part [DEVICE_TYPE] -force
source $HDK_SHELL_DIR/build/scripts/aws_gen_clk_constraints.tcl

read_verilog -sv [glob $CL_DIR/build/src_post_encryption/*.?v]
read_verilog -sv [list \
  $HDK_SHELL_DESIGN_DIR/lib/lib_pipe.sv \
  $HDK_SHELL_DESIGN_DIR/lib/bram_2rw.sv \
  $HDK_SHELL_DESIGN_DIR/lib/flop_fifo.sv \
  $HDK_SHELL_DESIGN_DIR/sh_ddr/synth/sync.v \
  $HDK_SHELL_DESIGN_DIR/sh_ddr/synth/flop_ccf.sv \
  $HDK_SHELL_DESIGN_DIR/sh_ddr/synth/ccf_ctl.v \
  $HDK_SHELL_DESIGN_DIR/sh_ddr/synth/mgt_acc_axl.sv \
  $HDK_SHELL_DESIGN_DIR/sh_ddr/synth/mgt_gen_axl.sv \
  $HDK_SHELL_DESIGN_DIR/sh_ddr/synth/sh_ddr.sv \
  $HDK_SHELL_DESIGN_DIR/interfaces/cl_ports.vh]
read_ip [list \
  $HDK_SHELL_DESIGN_DIR/ip/ddr4_core/ddr4_core.xci \
  $HDK_SHELL_DESIGN_DIR/ip/src_register_slice/src_register_slice.xci \
  $HDK_SHELL_DESIGN_DIR/ip/dest_register_slice/dest_register_slice.xci \
  $HDK_SHELL_DESIGN_DIR/ip/axi_register_slice/axi_register_slice.xci \
  $HDK_SHELL_DESIGN_DIR/ip/axi_register_slice_light/axi_register_slice_light.xci]

read_xdc [list \
  $CL_DIR/build/constraints/cl_clocks_aws.xdc \
  $HDK_SHELL_DIR/build/constraints/cl_ddr.xdc \
  $HDK_SHELL_DIR/build/constraints/cl_synth_aws.xdc \
  $CL_DIR/build/constraints/cl_synth_user.xdc]
set_property USED_IN {synthesis implementation OUT_OF_CONTEXT} [get_files cl_clocks_aws.xdc]
set_property PROCESSING_ORDER EARLY [get_files cl_clocks_aws.xdc]

update_compile_order -fileset sources_1
eval [concat synth_design -top $CL_MODULE -verilog_define XSDB_SLV_DIS $VDEFINES -part [DEVICE_TYPE] \
  -mode out_of_context $synth_options -directive $synth_directive]
