"""Exceptions raised by pyedge. Every failure names the thing that is wrong."""
from __future__ import annotations


class PyedgeError(Exception):
    """Base class of all pyedge errors."""


class ModelError(PyedgeError, ValueError):
    """The .tflite file is not a valid TFLite model (corrupt, truncated, inconsistent)."""


class UnsupportedOpError(PyedgeError, ValueError):
    """The model uses an op, op version, dtype or custom op pyedge cannot run."""


class BlobError(PyedgeError, ValueError):
    """A pyedge blob failed validation; `status` is the C core's status name."""

    def __init__(self, message: str, status: str = ""):
        super().__init__(message)
        self.status = status


class InvokeError(PyedgeError, RuntimeError):
    """A kernel failed while running; `op_index` is the failing op in the blob."""

    def __init__(self, message: str, status: str = "", op_index: int = -1):
        super().__init__(message)
        self.status = status
        self.op_index = op_index


class ResizeError(PyedgeError, RuntimeError):
    """allocate_tensors() after resize_tensor_input(): the model cannot take the new input
    shape (the message names the op and why), or pyedge cannot re-plan it."""
