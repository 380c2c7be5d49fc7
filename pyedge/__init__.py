"""pyedge: run quantized TFLite models through a portable C core, bit-exact with TFLite's
reference kernels."""
from .errors import BlobError, InvokeError, ModelError, PyedgeError, ResizeError, UnsupportedOpError
from .cpu import cpu_features
from .interpreter import Interpreter


def __getattr__(name: str):
    # the compiler (reader, lowering, planner, packer) loads only when asked for: running a .peb
    # needs none of it
    if name in ("pack_graph", "pack_tflite"):
        from . import pack
        return getattr(pack, name)
    if name == "read_tflite":
        from .tflite_reader import read_tflite
        return read_tflite
    raise AttributeError(f"module 'pyedge' has no attribute {name!r}")


__all__ = [
    "Interpreter", "cpu_features", "pack_tflite", "pack_graph", "read_tflite",
    "PyedgeError", "ModelError", "UnsupportedOpError", "BlobError", "InvokeError", "ResizeError",
]
__version__ = "0.1.0"
