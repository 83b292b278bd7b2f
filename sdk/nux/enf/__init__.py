"""ENF, the nux executable format: the data model (model.py), the binary file format (format.py, layout.py) and the
rules every executable obeys (validate.py). Spec: docs/enf.md."""

from nux.enf.format import load_enf, read_enf, save_enf, write_enf
from nux.enf.layout import FORMAT_VERSION, MAGIC, SectionKind
from nux.enf.model import DType, Enf, EnfError, HostGraph, Layout, Program, Step, StepKind, TensorInfo, TensorRole
from nux.enf.validate import code_minor, required_isa_minor, tensor_nbytes, validate_enf

__all__ = [
    "load_enf", "read_enf", "save_enf", "write_enf", "FORMAT_VERSION", "MAGIC", "SectionKind", "DType", "Enf",
    "EnfError", "HostGraph", "Layout", "Program", "Step", "StepKind", "TensorInfo", "TensorRole", "tensor_nbytes",
    "validate_enf", "code_minor", "required_isa_minor",
]
