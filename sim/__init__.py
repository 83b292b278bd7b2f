"""nux.sim"""
