# Synthesis of @CL@ for the F2 small shell, sourced by the HDK's build_all.tcl (aws_build_dcp_from_cl.py).
# The HDK's synth_cl_header.tcl sets src_post_enc_dir, constraints_dir and DEVICE_TYPE and reads the shell's
# sh_ddr and IP; encrypt.tcl has already copied and encrypted every file of design/ into src_post_enc_dir.
# UNVERIFIED until Vivado has run it (written from the HDK's documented flow, not executed here).
source ${HDK_SHELL_DIR}/build/scripts/synth_cl_header.tcl

print "Reading nux CL sources (nux_npu.v, nux_cl_core.v, @CL@.sv)"
read_verilog -sv [glob ${src_post_enc_dir}/*.?v]

print "Reading nux CL constraints"
read_xdc [list ${constraints_dir}/cl_synth_user.xdc ${constraints_dir}/cl_timing_user.xdc]
set_property PROCESSING_ORDER LATE [get_files cl_synth_user.xdc]
set_property PROCESSING_ORDER LATE [get_files cl_timing_user.xdc]

update_compile_order -fileset sources_1
synth_design -mode out_of_context -top ${CL} -verilog_define XSDB_SLV_DIS -part ${DEVICE_TYPE} \
             -keep_equivalent_registers

source ${HDK_SHELL_DIR}/build/scripts/synth_cl_footer.tcl
