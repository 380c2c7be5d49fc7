"""pyedge: run quantized TFLite models through a portable C core, bit-exact with TFLite's
reference kernels."""
from .errors import BlobError, InvokeError, ModelError, PyedgeError, UnsupportedOpError
from .interpreter import Interpreter
from .pack import pack_graph, pack_tflite
from .tflite_reader import read_tflite

__all__ = [
    "Interpreter", "pack_tflite", "pack_graph", "read_tflite",
    "PyedgeError", "ModelError", "UnsupportedOpError", "BlobError", "InvokeError",
]
__version__ = "0.1.0"
