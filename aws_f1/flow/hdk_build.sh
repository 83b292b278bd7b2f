#!/usr/bin/env bash
# Build @CL@ (nux NPU, @SHELL@ shell) with the AWS HDK. Run on a build instance with Vivado and the aws-fpga
# repository set up (`source hdk_setup.sh` in aws-fpga, which sets HDK_DIR and HDK_SHELL_DIR).
# Usage: ./hdk_build.sh [extra options for the HDK build script]
# UNVERIFIED until run with Vivado: written from the HDK's documented flow.
set -euo pipefail
cd "$(dirname "$0")"
export CL_DIR="$PWD"
: "${HDK_DIR:?source aws-fpga/hdk_setup.sh first}"
: "${HDK_SHELL_DIR:?source aws-fpga/hdk_setup.sh first}"
[ "$(basename "$CL_DIR")" = "@CL@" ] || { echo "the CL folder must be named @CL@" >&2; exit 1; }
cd build/scripts
if [ "@SHELL@" = "F2" ]; then
  # F2: the per-CL part is synth_@CL@.tcl; the rest are the HDK's common scripts, linked as its examples do.
  for f in aws_build_dcp_from_cl.py build_all.tcl build_level_1_cl.tcl encrypt.tcl; do
    ln -sf "$HDK_SHELL_DIR/build/scripts/$f" "$f"
  done
  python3 aws_build_dcp_from_cl.py --cl @CL@ "$@"
else
  # F1: create_dcp_from_cl.tcl is per-CL in the HDK; take cl_dram_dma's from your HDK checkout and point it at us.
  sed 's/^set CL_MODULE .*/set CL_MODULE @CL@/' \
    "$HDK_DIR/cl/examples/cl_dram_dma/build/scripts/create_dcp_from_cl.tcl" > create_dcp_from_cl.tcl
  ln -sf "$HDK_SHELL_DIR/build/scripts/aws_build_dcp_from_cl.sh" aws_build_dcp_from_cl.sh
  ./aws_build_dcp_from_cl.sh -clock_recipe_a "${NUX_CLOCK_RECIPE_A:-A0}" -foreground "$@"
fi
echo "checkpoint tarball: $(ls -t "$CL_DIR"/build/checkpoints/to_aws/*.tar "$CL_DIR"/build/checkpoints/*.tar 2>/dev/null | head -1)"
