#!/usr/bin/env bash
# Turn the HDK's checkpoint tarball into an AFI: upload to S3, create-fpga-image, poll until available.
# Usage: ./create_afi.sh s3://BUCKET/PREFIX [TARBALL]      (needs the AWS CLI and credentials on this machine)
# Prints the AFI and AGFI IDs; the AGFI is what fpga-load-local-image takes. UNVERIFIED until run against AWS.
set -euo pipefail
cd "$(dirname "$0")"
dest="${1:?usage: create_afi.sh s3://bucket/prefix [tarball]}"
tarball="${2:-$(ls -t build/checkpoints/to_aws/*.tar build/checkpoints/*.tar 2>/dev/null | head -1)}"
[ -f "$tarball" ] || { echo "no checkpoint tarball; run ./hdk_build.sh first" >&2; exit 1; }
bucket="${dest#s3://}"; bucket="${bucket%%/*}"; prefix="${dest#s3://$bucket}"; prefix="${prefix#/}"
aws s3 cp "$tarball" "s3://$bucket/${prefix:+$prefix/}dcp/$(basename "$tarball")"
ids=$(aws ec2 create-fpga-image --name "@CL@-$(date +%Y%m%d-%H%M%S)" \
  --description "nux NPU (@SHELL@ shell, @CONFIG@)" \
  --input-storage-location "Bucket=$bucket,Key=${prefix:+$prefix/}dcp/$(basename "$tarball")" \
  --logs-storage-location "Bucket=$bucket,Key=${prefix:+$prefix/}logs/" \
  --query '[FpgaImageId, FpgaImageGlobalId]' --output text)
read -r afi agfi <<<"$ids"
echo "AFI $afi  AGFI $agfi  (generation takes about an hour)"
while :; do
  state=$(aws ec2 describe-fpga-images --fpga-image-ids "$afi" --query 'FpgaImages[0].State.Code' --output text)
  echo "$(date +%T) $afi: $state"
  case "$state" in
    available) echo "$agfi" > agfi.txt; echo "ready: ./load_afi.sh $agfi"; exit 0 ;;
    failed) aws ec2 describe-fpga-images --fpga-image-ids "$afi" --query 'FpgaImages[0].State.Message'; exit 1 ;;
  esac
  sleep 60
done
