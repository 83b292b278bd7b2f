"""nux.driver"""
