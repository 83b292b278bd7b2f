# nux CL (F2), timing constraints. Everything runs on clk_main_a0 (250 MHz on F2, 4.0 ns), whose constraint the
# shell generates (aws_gen_clk_constraints.tcl); no other clock exists in this CL, so there is no crossing to
# constrain. rst_main_n is synchronous to clk_main_a0 and only re-registered (two flops) for fan-out.
# UNVERIFIED until Vivado has run: if the NPU misses 250 MHz at a large dim, the answer is a slower clock from
# AWS_CLK_GEN (a second clock domain and an AXI clock converter) -- not supported by this CL yet.
