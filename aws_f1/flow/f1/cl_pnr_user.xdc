# nux CL (F1), place-and-route constraints. clk_main_a0 comes from clock recipe A (A0 = 125 MHz, A1 = 250 MHz),
# constrained by the shell's generated cl_clocks_aws.xdc. No Pblock: the CL region is the shell's.
# UNVERIFIED until Vivado has run.
