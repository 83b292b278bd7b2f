#!/usr/bin/env bash
# Load the AFI into FPGA slot N of this F1/F2 instance and show the nux NPU behind it.
# Usage: sudo ./load_afi.sh AGFI [SLOT]      (needs the aws-fpga SDK: source sdk_setup.sh)
# UNVERIFIED until run on an F1/F2 instance.
set -euo pipefail
agfi="${1:?usage: load_afi.sh agfi-... [slot]}"; slot="${2:-0}"
fpga-clear-local-image -S "$slot"
fpga-load-local-image -S "$slot" -I "$agfi"
fpga-describe-local-image -S "$slot" -R -H
bdf=$(fpga-describe-local-image -S "$slot" -R -M | awk -F'[ ,]+' '/AppPF/ {print $NF; exit}' || true)
echo "AppPF of slot $slot: ${bdf:-see the table above (lspci -D -d 1d0f:@DEVICE_ID@)}"
if [ "@SHELL@" = "F2" ]; then
  echo "next: nux info --device pci:${bdf:-<BDF>}"
else
  echo "next: load the XDMA driver (see docs/aws.md), then: nux info --device xdma:$slot"
fi
