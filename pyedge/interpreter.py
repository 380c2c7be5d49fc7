"""pyedge.Interpreter: a drop-in for tflite_runtime.interpreter.Interpreter."""
from __future__ import annotations

import mmap
import os
from typing import Any, Callable

import numpy as np

from ._native import check_blob, ffi, lib, op_names, status_name, status_text
from .blob import ALIGN, SEC_CONST, STORE_CONST, STORE_NONE, is_blob, read_blob
from .errors import BlobError, InvokeError, PyedgeError, ResizeError
from .graph import TFLITE_DTYPES, TFLITE_TYPE_NAMES


def _aligned_copy(data: bytes) -> np.ndarray:
    raw = np.empty(len(data) + ALIGN, np.uint8)
    off = (-raw.ctypes.data) % ALIGN
    buf = raw[off:off + len(data)]
    buf[:] = np.frombuffer(data, np.uint8)
    return buf


def _aligned_zeros(n: int) -> np.ndarray:
    raw = np.zeros(max(n, 1) + ALIGN, np.uint8)
    off = (-raw.ctypes.data) % ALIGN
    return raw[off:off + max(n, 1)]


class Interpreter:
    """Runs a .tflite model (packed in memory) or a .peb blob through pyedge's C core.

    The API mirrors tflite_runtime.interpreter.Interpreter; TFLite-only arguments
    (experimental_op_resolver_type, delegates) are accepted and ignored. `num_threads` splits
    conv, depthwise and fully connected ops over a thread pool (outputs are identical for every
    count). The kernels are chosen from the CPU's features (pyedge.cpu_features()), capped by the
    environment variable PYEDGE_ISA (scalar, avx2, avx512, avx512vnni, ...) read here, or by
    `isa`. `profile=True` times every op (op_profile()).
    """

    def __init__(self, model_path: str | os.PathLike | None = None, model_content: bytes | None = None,
                 experimental_delegates: Any = None, num_threads: int | None = None,
                 experimental_op_resolver_type: Any = None,
                 experimental_preserve_all_tensors: bool = False, *, isa: str | None = None,
                 profile: bool = False, **_: Any):
        if (model_path is None) == (model_content is None):
            raise ValueError("give exactly one of model_path or model_content")
        self._mmap = None
        self.features = int(lib.pe_detect_features())
        if isa is not None:
            cap = int(lib.pe_features_for_tier(isa.encode()))
            if cap == 0xFFFFFFFF and isa != "all":
                raise ValueError(f"unknown ISA tier {isa!r}")
            self.features &= cap
        self.num_threads = max(1, int(num_threads)) if num_threads not in (None, -1) else 1
        self._profile = bool(profile)
        self._pool = None
        if model_path is not None:
            with open(model_path, "rb") as f:
                head = f.read(4)
                if head == b"PEB1" and os.fstat(f.fileno()).st_size > 0:
                    self._mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                else:
                    f.seek(0)
                    model_content = f.read()
        self._tflite: bytes | None = None  # the .tflite model, for constants packing dropped
        self._tflite_graph = None
        if self._mmap is not None:
            self._blob = np.frombuffer(self._mmap, np.uint8)  # runs in place, page-aligned
        elif is_blob(model_content):
            self._blob = _aligned_copy(model_content)
        else:
            self._tflite = bytes(model_content)
            from .pack import pack_tflite  # the compiler: only for .tflite input
            # strip=False: the model's own weights stay readable with get_tensor, as in TFLite
            packed = pack_tflite(bytes(model_content), preserve_all_tensors=experimental_preserve_all_tensors,
                                 features=self.features, threads=self.num_threads, strip=False)
            self._blob = _aligned_copy(packed)
        self._preserve_all = experimental_preserve_all_tensors
        self._pending: dict[int, tuple[int, ...]] = {}  # resize_tensor_input, applied by allocate_tensors
        self._load_blob()

    def _load_blob(self) -> None:
        self._model = ffi.new("pe_model *")
        self._blob_ptr = ffi.from_buffer("uint8_t[]", self._blob)
        st = lib.pe_model_init(self._model, self._blob_ptr, len(self._blob))
        if st != lib.PE_OK:
            raise BlobError(f"pyedge blob rejected: {status_text(st)} ({status_name(st)})", status_name(st))
        self._info = read_blob(self._blob)
        self._interp = None
        self._arena: np.ndarray | None = None
        self._names = self._info.meta.get("names", [])
        self._op_names = op_names()

    # -- setup --------------------------------------------------------------------------------
    def allocate_tensors(self) -> None:
        if self._pending:
            self._replan()
        if self._interp is not None:
            return  # as TFLite: nothing to re-plan, and variables keep their state
        n = lib.pe_model_arena_bytes(self._model)
        self._arena = _aligned_zeros(n)
        self._interp = ffi.new("pe_interp *")
        st = lib.pe_interp_init(self._interp, self._model, ffi.from_buffer("uint8_t[]", self._arena), n,
                                self.features)
        check_blob(st, "interpreter init")
        # each op's kernel variant, chosen once here rather than searched for on every invoke
        n_ops = int(self._info.header["n_ops"])
        self._variants = ffi.new("void *[]", max(1, n_ops))
        check_blob(lib.pe_interp_bind_variants(self._interp, ffi.cast("const void **", self._variants), n_ops),
                   "kernel variant choice")
        threads = min(self.num_threads, int(lib.pe_model_max_threads(self._model)))
        if threads > 1:
            self._pool = ffi.gc(lib.pe_pool_new(threads), lib.pe_pool_free)
            self._interp.parallel_for = lib.pe_pool_parallel_for
            self._interp.pool = self._pool
            self._interp.n_threads = lib.pe_pool_threads(self._pool)
        if self._profile:
            self._op_ticks = ffi.new("uint64_t[]", max(1, self._info.header["n_ops"]))
            self._interp.clock = lib.pe_clock_ns
            self._interp.on_op = lib.pe_op_ticks_add
            self._interp.hook_user = self._op_ticks

    def op_variants(self) -> list[str]:
        """The kernel variant each op of the blob runs on this interpreter's features."""
        self.allocate_tensors()
        return [ffi.string(lib.pe_op_variant(self._interp, i)).decode()
                for i in range(self._info.header["n_ops"])]

    def op_profile(self) -> list[dict[str, Any]]:
        """Per op of the last invoke (Interpreter(profile=True)): index, op, kernel, ns."""
        if not self._profile:
            raise RuntimeError("create the Interpreter with profile=True to time ops")
        kernels = self.op_variants()
        return [{"index": i, "op": self._op_names.get(op["code"], str(op["code"])), "kernel": kernels[i],
                 "ns": int(self._op_ticks[i])} for i, op in enumerate(self._info.ops)]

    @property
    def arena_size(self) -> int:
        """Bytes of RAM the model needs (persistent state + planned activations)."""
        return int(lib.pe_model_arena_bytes(self._model))

    def resize_tensor_input(self, input_index: int, tensor_size, strict: bool = False) -> None:
        """As TFLite: the new shape takes effect at the next allocate_tensors(), which re-plans
        the model (shapes propagated op by op, memory planned again, variables reset) or raises
        ResizeError naming the op that cannot take it. `strict`: only dimensions that the
        model's shape signature leaves unknown (-1) may change."""
        inputs = self._info.subgraphs[0]["inputs"]
        if input_index not in inputs:
            raise ValueError(f"tensor {input_index} is not an input of the model (inputs: {inputs})")
        shape = tuple(int(x) for x in np.asarray(tensor_size).reshape(-1))
        if any(d < 0 for d in shape):
            raise ValueError(f"cannot resize input {input_index} to {list(shape)}: negative dimension")
        current = tuple(self._info.tensors[input_index]["shape"])
        if strict:
            sig = self._detail(input_index)["shape_signature"].tolist()
            if len(sig) != len(shape) or any(s != -1 and s != d for s, d in zip(sig, shape)):
                raise ValueError(f"strict resize of input {input_index} to {list(shape)}: only dimensions "
                                 f"that are -1 in its shape signature {sig} may change")
        if shape == current:
            self._pending.pop(input_index, None)
        else:
            self._pending[input_index] = shape

    def _replan(self) -> None:
        """Pack the .tflite again with the pending input shapes."""
        pending, self._pending = self._pending, {}
        if self._tflite is None:
            raise ResizeError("a .peb blob is planned for fixed shapes: load the .tflite model to resize "
                              f"inputs {sorted(pending)}")
        shapes = {i: tuple(self._info.tensors[i]["shape"]) for i in self._info.subgraphs[0]["inputs"]}
        shapes.update(pending)
        import warnings

        from .pack import pack_graph
        from .resize import resize_inputs
        from .tflite_reader import read_tflite
        what = ", ".join(f"input {i} to {list(s)}" for i, s in pending.items())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # reported when the model was first packed
                graph = read_tflite(self._tflite)
                resize_inputs(graph, shapes)
                packed = pack_graph(graph, preserve_all_tensors=self._preserve_all, features=self.features,
                                    threads=self.num_threads, strip=False)
        except ResizeError as exc:
            raise ResizeError(f"cannot resize {what}: {exc}") from None
        except PyedgeError as exc:  # the lowering's checks: the model does not take these shapes
            ops = [ln.strip() for ln in str(exc).splitlines() if ln.startswith("  op ")]
            raise ResizeError(f"cannot resize {what}: " + ("; ".join(ops) or str(exc))) from None
        self._blob = _aligned_copy(packed)
        self._load_blob()
        self._tflite_graph = None
        self._interp, self._arena, self._pool = None, None, None

    # -- details -----------------------------------------------------------------------------
    def _detail(self, i: int) -> dict[str, Any]:
        t = self._info.tensors[i]
        meta = self._info.meta
        shape = np.array(self._pending.get(i, t["shape"]), np.int32)
        sig = meta.get("shape_signatures", {}).get(str(i))
        if "scales" in t:
            scales, zps = t["scales"], t["zero_points"]
        elif t["scale"] != 0.0:
            scales, zps = np.array([t["scale"]], np.float32), np.array([t["zero_point"]], np.int32)
        else:
            scales, zps = np.zeros(0, np.float32), np.zeros(0, np.int32)
        # TFLite's legacy (scale, zero_point) pair holds per-tensor quantization only
        legacy = (float(t["scale"]), int(t["zero_point"])) if len(scales) <= 1 else (0.0, 0)
        return {
            "name": self._names[i] if i < len(self._names) else "",
            "index": i,
            "shape": shape,
            "shape_signature": np.array(sig, np.int32) if sig is not None else shape.copy(),
            "dtype": TFLITE_DTYPES.get(t["type_code"]),
            "quantization": legacy,
            "quantization_parameters": {
                "scales": scales, "zero_points": zps,
                "quantized_dimension": int(meta.get("quantized_dimension", {}).get(str(i), t.get("axis", 0))),
            },
            "sparsity_parameters": {},
        }

    def get_input_details(self) -> list[dict[str, Any]]:
        return [self._detail(i) for i in self._info.subgraphs[0]["inputs"]]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [self._detail(i) for i in self._info.subgraphs[0]["outputs"]]

    def get_tensor_details(self) -> list[dict[str, Any]]:
        n = self._info.meta.get("n_model_tensors", [len(self._info.tensors)])[0]
        return [self._detail(i) for i in range(n)]

    def _get_ops_details(self) -> list[dict[str, Any]]:
        out = []
        src = self._info.meta.get("ops", [])
        for k, op in enumerate(self._info.ops):
            out.append({"index": k, "op_name": self._op_names.get(op["code"], str(op["code"])),
                        "source_op": src[k]["name"] if k < len(src) else None,
                        "inputs": np.array(op["inputs"], np.int32),
                        "outputs": np.array(op["outputs"], np.int32)})
        return out

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        return {s["key"]: {"inputs": sorted(s["inputs"]), "outputs": sorted(s["outputs"])}
                for s in self._info.meta.get("signatures", [])}

    def get_signature_runner(self, signature_key: str | None = None) -> Callable[..., dict[str, np.ndarray]]:
        sigs = {s["key"]: s for s in self._info.meta.get("signatures", [])}
        if not sigs:
            raise ValueError("this model has no signatures")
        if signature_key is None:
            if len(sigs) != 1:
                raise ValueError(f"signature_key is required; model has {sorted(sigs)}")
            signature_key = next(iter(sigs))
        if signature_key not in sigs:
            raise ValueError(f"no signature {signature_key!r}; model has {sorted(sigs)}")
        sig = sigs[signature_key]
        if sig["subgraph"] != 0:
            raise ValueError(f"signature {signature_key!r} runs subgraph {sig['subgraph']}; "
                             "pyedge runs signatures of subgraph 0 only")
        return _SignatureRunner(self, sig)

    # -- data ---------------------------------------------------------------------------------
    def _view(self, i: int) -> np.ndarray:
        if not 0 <= i < len(self._info.tensors):
            raise ValueError(f"tensor index {i} out of range (0..{len(self._info.tensors) - 1})")
        t = self._info.tensors[i]
        dt = TFLITE_DTYPES.get(t["type_code"])
        if t["storage"] == STORE_NONE or dt is None:
            return self._unplanned(i, dt)
        if t["storage"] != STORE_CONST and self._interp is None:
            raise RuntimeError("call allocate_tensors() first")
        ptr = lib.pe_tensor_data(self._interp, i) if self._interp is not None else None
        if ptr is None or ptr == ffi.NULL:
            sec = self._info.sections[SEC_CONST][0]
            return np.frombuffer(self._blob, dt, int(np.prod(t["shape"], dtype=np.int64)),
                                 sec + t["offset"]).reshape(t["shape"])
        buf = ffi.buffer(ptr, t["bytes"])
        return np.frombuffer(buf, dt).reshape(t["shape"])

    def _unplanned(self, i: int, dt: Any) -> np.ndarray:
        """A tensor of the model that the blob holds no data for: a constant packing folded or
        dropped (read from the .tflite model), an empty one (as TFLite, an empty array), or an
        activation that packing removed (an error that says how to keep it)."""
        t = self._info.tensors[i]
        name = self._names[i] if i < len(self._names) else ""
        n_model = self._info.meta.get("n_model_tensors", [len(self._info.tensors)])[0]
        if i < n_model and self._tflite is not None:
            if self._tflite_graph is None:
                from .tflite_reader import read_tflite  # the compiler's reader: only for .tflite input
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # already reported when the model was packed
                    self._tflite_graph = read_tflite(self._tflite)
            src = self._tflite_graph.subgraphs[0].tensors[i]
            if src.data is not None:
                out = src.data.view()
                out.flags.writeable = False
                return out
        if dt is not None and t["bytes"] == 0 and int(np.prod(t["shape"], dtype=np.int64)) == 0:
            return np.zeros((0,), dt)
        if i < n_model and self._tflite is None:
            raise ValueError(f"tensor {i} ({name!r}) is not in the packed blob (a constant folded or "
                             "dropped at pack time, or an activation packing removed): load the .tflite "
                             "model to read it")
        raise ValueError(f"tensor {i} ({name!r}) has no data in pyedge's plan (packing removed it: unused, "
                         "or an activation folded into the op that reads it; "
                         "experimental_preserve_all_tensors=True keeps every activation)")

    def set_tensor(self, tensor_index: int, value: Any) -> None:
        t = self._info.tensors[tensor_index] if 0 <= tensor_index < len(self._info.tensors) else None
        if t is None:
            raise ValueError(f"tensor index {tensor_index} out of range")
        value = np.asarray(value)
        want = np.dtype(TFLITE_DTYPES.get(t["type_code"]))
        name = self._names[tensor_index] if tensor_index < len(self._names) else ""
        if value.dtype != want:
            raise ValueError(
                f"Cannot set tensor: Got value of type {_tname(value.dtype)} but expected type "
                f"{TFLITE_TYPE_NAMES[t['type_code']]} for input {tensor_index}, name: {name} ")
        if tuple(value.shape) != tuple(t["shape"]):
            raise ValueError(f"Cannot set tensor: Dimension mismatch. Got {list(value.shape)} but expected "
                             f"{list(t['shape'])} for input {tensor_index}.")
        if t["storage"] == STORE_CONST:
            raise ValueError(f"tensor {tensor_index} ({name!r}) is a constant and cannot be set")
        self._view(tensor_index)[...] = value

    def get_tensor(self, tensor_index: int, subgraph_index: int = 0) -> np.ndarray:
        return self._view(tensor_index).copy()

    def tensor(self, tensor_index: int) -> Callable[[], np.ndarray]:
        return lambda: self._view(tensor_index)

    def invoke(self) -> None:
        if self._interp is None:
            raise RuntimeError("call allocate_tensors() before invoke()")
        if self._profile:
            ffi.memmove(self._op_ticks, bytes(8 * len(self._op_ticks)), 8 * len(self._op_ticks))
        st = lib.pe_invoke(self._interp)
        if st != lib.PE_OK:
            k = int(self._interp.err_op)
            desc = ""
            if 0 <= k < len(self._info.ops):
                src = self._info.meta.get("ops", [])
                code = self._info.ops[k]["code"]
                where = f" (from {src[k]['name']} operator {src[k]['index']} in subgraph {src[k]['subgraph']})" \
                    if k < len(src) else ""
                desc = f" in op {k} {self._op_names.get(code, code)}{where}"
            raise InvokeError(f"invoke failed{desc}: {status_text(st)} ({status_name(st)})",
                              status_name(st), k)

    def reset_all_variables(self) -> None:
        if self._interp is not None:
            lib.pe_reset_state(self._interp)


def _tname(dt: np.dtype) -> str:
    for code, npdt in TFLITE_DTYPES.items():
        if npdt is not None and np.dtype(npdt) == dt:
            return TFLITE_TYPE_NAMES[code]
    return str(dt).upper()


class _SignatureRunner:
    def __init__(self, interp: Interpreter, sig: dict[str, Any]):
        self._it = interp
        self._sig = sig

    def get_input_details(self) -> dict[str, dict[str, Any]]:
        return {k: self._it._detail(i) for k, i in self._sig["inputs"].items()}

    def get_output_details(self) -> dict[str, dict[str, Any]]:
        return {k: self._it._detail(i) for k, i in self._sig["outputs"].items()}

    def __call__(self, **inputs: Any) -> dict[str, np.ndarray]:
        if self._it._interp is None:
            self._it.allocate_tensors()
        missing = set(self._sig["inputs"]) - set(inputs)
        if missing:
            raise ValueError(f"missing signature inputs: {sorted(missing)}")
        for k, v in inputs.items():
            if k not in self._sig["inputs"]:
                raise ValueError(f"unknown signature input {k!r}; expected {sorted(self._sig['inputs'])}")
            self._it.set_tensor(self._sig["inputs"][k], v)
        self._it.invoke()
        return {k: self._it.get_tensor(i) for k, i in self._sig["outputs"].items()}
