# nux CL (F1), synthesis constraints: none needed (one clock, clk_main_a0; see cl_pnr_user.xdc).
