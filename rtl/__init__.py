"""nux.rtl"""
