"""Data and reference models for the quantizer's tests and benchmark (need scikit-learn; training needs torch).

Nothing here is imported by `nux.quantizer` itself."""
