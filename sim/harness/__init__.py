"""C++ sources of the simulator harness (nux_sim.h is the C ABI); a package only so installs ship them."""
