# Copy the nux CL sources into src_post_encryption and encrypt them with the F1 HDK's key (the HDK flow only
# takes encrypted customer sources). UNVERIFIED until Vivado has run it.
set TARGET_DIR $::env(CL_DIR)/build/src_post_encryption
file mkdir $TARGET_DIR
foreach f [glob -nocomplain -dir $TARGET_DIR *] { file delete -force $f }
foreach f [glob -dir $::env(CL_DIR)/design *.{v,sv,vh}] { file copy -force $f $TARGET_DIR }
exec chmod +w {*}[glob $TARGET_DIR/*]
encrypt -k $::env(HDK_SHELL_DIR)/build/scripts/vivado_keyfile_2024_1.txt -lang verilog \
  [glob -nocomplain -- $TARGET_DIR/*.{v,sv}] [glob -nocomplain -- $TARGET_DIR/*.vh]
