"""An ONNX equivalent of an int8 TFLite model, for `pyedge bench --onnx auto`: the same graph,
weights and quantization in ONNX's QDQ form (QuantizeLinear / DequantizeLinear around float
Conv, Gemm, Add, AveragePool, GlobalAveragePool, Softmax: what ONNX Runtime's quantization tool
writes, and what its graph optimizer fuses into its int8 kernels), NCHW inside, the TFLite
model's NHWC int8 tensors at the edges.

This is a speed anchor, not an oracle: ONNX Runtime requantizes in floating point, so its
outputs may differ from TFLite's reference kernels by an LSB (the bench reports the largest
difference). Ops outside the set below raise ValueError naming the op.

    python -m pyedge.bench_onnx MODEL.tflite OUT.onnx
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .tflite_reader import read_tflite

INT8, INT32 = 9, 2
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
SAME = 0


class _Converter:
    def __init__(self, raw: bytes):
        import onnx
        from onnx import helper

        self.onnx, self.helper = onnx, helper
        self.g = read_tflite(raw)
        self.sg = self.g.subgraphs[0]
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.names: dict[int, str] = {}   # tflite tensor -> onnx name
        self.nchw: dict[int, bool] = {}   # the onnx tensor is the NCHW transpose of the NHWC one
        self.n = 0

    # -------------------------------------------------------------- helpers
    def uid(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, arr: np.ndarray, base: str) -> str:
        name = self.uid(base)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op: str, inputs: list[str], base: str, domain: str = "", **attrs: Any) -> str:
        out = self.uid(base)
        self.nodes.append(self.helper.make_node(op, inputs, [out], domain=domain or None, **attrs))
        return out

    def t(self, i: int):
        return self.sg.tensors[i]

    def q(self, i: int, signed: bool = False) -> tuple[str, str]:
        """Scale and zero point of activation i: as uint8 (the int8 value + 128, exactly; ONNX
        Runtime's fast int8 kernels take uint8 activations), or as the model's int8."""
        t = self.t(i)
        scale = float(t.scales[0]) if len(t.scales) else 1.0
        zp = int(t.zero_points[0]) if len(t.zero_points) else 0
        z = np.int8(zp) if signed else np.uint8(zp + 128)
        return self.const(np.float32(scale), "scale"), self.const(z, "zp")

    def dq(self, name: str, i: int) -> str:
        s, z = self.q(i)
        return self.node("DequantizeLinear", [name, s, z], "dq")

    def quant(self, name: str, i: int) -> str:
        s, z = self.q(i)
        return self.node("QuantizeLinear", [name, s, z], "q")

    def act(self, name: str, act: int, out_i: int) -> str:
        """The fused activation as TFLite applies it: a clamp of the int8 output to the quantized
        bounds (after QuantizeLinear, so that ONNX Runtime still fuses the op before it into its
        int8 kernel); nothing where the int8 range is the bound."""
        t = self.t(out_i)
        scale, zp = float(t.scales[0]), int(t.zero_points[0])
        if act == ACT_NONE:
            return name
        bounds = {ACT_RELU: (0.0, None), ACT_RELU6: (0.0, 6.0), ACT_RELU_N1_TO_1: (-1.0, 1.0)}
        if act not in bounds:
            raise ValueError(f"fused activation {act} not supported")
        lo, hi = bounds[act]
        q_lo = max(-128, zp + int(round(lo / scale)))
        q_hi = 127 if hi is None else min(127, zp + int(round(hi / scale)))
        if (q_lo, q_hi) == (-128, 127):
            return name
        return self.node("Clip", [name, self.const(np.uint8(q_lo + 128), "lo"), self.const(np.uint8(q_hi + 128), "hi")],
                         "clip")

    def weights(self, arr: np.ndarray, scales: np.ndarray, axis: int) -> str:
        return self.node("DequantizeLinear", [self.const(arr.astype(np.int8), "w"), self.const(scales, "ws"),
                                              self.const(np.zeros(len(scales), np.int8), "wz")], "dqw", axis=axis)

    def bias(self, arr: np.ndarray, scales: np.ndarray) -> str:
        return self.node("DequantizeLinear", [self.const(arr.astype(np.int32), "b"), self.const(scales, "bs"),
                                              self.const(np.zeros(len(scales), np.int32), "bz")], "dqb", axis=0)

    def value(self, i: int, nchw: bool) -> str:
        """The ONNX name of TFLite tensor i in the wanted layout (4-D tensors)."""
        t = self.t(i)
        if i not in self.names:
            if t.data is None:
                raise ValueError(f"tensor {t.name!r} has no producer")
            self.names[i] = self.const(np.asarray(t.data), "const")
            self.nchw[i] = False
        have = self.nchw[i]
        if len(t.shape) != 4 or have == nchw:
            return self.names[i]
        perm = [0, 3, 1, 2] if nchw else [0, 2, 3, 1]
        return self.node("Transpose", [self.names[i]], "tr", perm=perm)

    def put(self, i: int, name: str, nchw: bool) -> None:
        self.names[i], self.nchw[i] = name, nchw

    # -------------------------------------------------------------- ops
    def conv(self, op, depthwise: bool) -> None:
        o = op.options
        x, w = op.inputs[0], op.inputs[1]
        b = op.inputs[2] if len(op.inputs) > 2 and op.inputs[2] >= 0 else -1
        xt, wt, yt = self.t(x), self.t(w), self.t(op.outputs[0])
        wd = np.asarray(wt.data)
        if depthwise:
            weights = np.transpose(wd, (3, 0, 1, 2))   # [1, kh, kw, oc] -> [oc, 1, kh, kw]
            group = xt.shape[3]
        else:
            weights = np.transpose(wd, (0, 3, 1, 2))   # [oc, kh, kw, ic] -> [oc, ic, kh, kw]
            group = xt.shape[3] // wd.shape[3]
        oc, kh, kw = weights.shape[0], weights.shape[2], weights.shape[3]
        sh, sw = o.get("StrideH", 1), o.get("StrideW", 1)
        dh, dw = o.get("DilationHFactor", 1), o.get("DilationWFactor", 1)
        pads = [0, 0, 0, 0]
        if o.get("Padding", SAME) == SAME:
            for d, (n_in, k, s, dil) in enumerate([(xt.shape[1], kh, sh, dh), (xt.shape[2], kw, sw, dw)]):
                n_out = -(-n_in // s)
                total = max((n_out - 1) * s + (k - 1) * dil + 1 - n_in, 0)
                pads[d], pads[d + 2] = total // 2, total - total // 2
        ws = np.asarray(wt.scales, np.float32)
        w_scale = ws if len(ws) == oc else np.full(oc, ws[0], np.float32)
        bias = np.asarray(self.t(b).data, np.int32) if b >= 0 else np.zeros(oc, np.int32)
        x_scale = float(xt.scales[0])
        y = self.node("Conv", [self.dq(self.value(x, True), x), self.weights(weights, w_scale, 0),
                               self.bias(bias, (w_scale * x_scale).astype(np.float32))], "conv",
                      strides=[sh, sw], dilations=[dh, dw], pads=pads, group=group, kernel_shape=[kh, kw])
        y = self.act(self.quant(y, op.outputs[0]), o.get("FusedActivationFunction", 0), op.outputs[0])
        self.put(op.outputs[0], y, True)
        del yt

    def fully_connected(self, op) -> None:
        x, w = op.inputs[0], op.inputs[1]
        b = op.inputs[2] if len(op.inputs) > 2 and op.inputs[2] >= 0 else -1
        wt, yt = self.t(w), self.t(op.outputs[0])
        wd = np.asarray(wt.data)
        units, depth = wd.shape
        a = self.node("Reshape", [self.value(x, False), self.const(np.array([-1, depth], np.int64), "shape")], "rs")
        ws = np.asarray(wt.scales, np.float32)
        w_scale = ws if len(ws) == units else np.full(units, ws[0], np.float32)
        bias = np.asarray(self.t(b).data, np.int32) if b >= 0 else np.zeros(units, np.int32)
        x_scale = float(self.t(x).scales[0])
        if np.all(w_scale == w_scale[0]):  # per tensor: the form ONNX Runtime fuses into its int8 GEMM
            wq = self.node("DequantizeLinear", [self.const(np.ascontiguousarray(wd.T).astype(np.int8), "w"),
                                                self.const(np.float32(w_scale[0]), "ws"),
                                                self.const(np.int8(0), "wz")], "dqw")
        else:
            wq = self.weights(np.ascontiguousarray(wd.T), w_scale, 1)
        y = self.node("MatMul", [self.dq(a, x), wq], "fc")
        y = self.node("Add", [y, self.bias(bias, (w_scale * x_scale).astype(np.float32))], "fcb")
        y = self.act(self.quant(y, op.outputs[0]), op.options.get("FusedActivationFunction", 0), op.outputs[0])
        if len(yt.shape) != 2:
            y = self.node("Reshape", [y, self.const(np.array(yt.shape, np.int64), "shape")], "rs")
        self.put(op.outputs[0], y, False)

    def add(self, op) -> None:
        a, b = op.inputs
        nchw = self.nchw.get(a, False) and self.nchw.get(b, False)
        y = self.node("Add", [self.dq(self.value(a, nchw), a), self.dq(self.value(b, nchw), b)], "add")
        y = self.act(self.quant(y, op.outputs[0]), op.options.get("FusedActivationFunction", 0), op.outputs[0])
        self.put(op.outputs[0], y, nchw)

    def average_pool(self, op) -> None:
        o = op.options
        x = op.inputs[0]
        xt = self.t(x)
        kh, kw, sh, sw = o["FilterHeight"], o["FilterWidth"], o["StrideH"], o["StrideW"]
        pads = [0, 0, 0, 0]
        if o.get("Padding", SAME) == SAME:
            for d, (n_in, k, s) in enumerate([(xt.shape[1], kh, sh), (xt.shape[2], kw, sw)]):
                n_out = -(-n_in // s)
                total = max((n_out - 1) * s + k - n_in, 0)
                pads[d], pads[d + 2] = total // 2, total - total // 2
        y = self.node("AveragePool", [self.dq(self.value(x, True), x)], "pool",
                      kernel_shape=[kh, kw], strides=[sh, sw], pads=pads, count_include_pad=0)
        y = self.act(self.quant(y, op.outputs[0]), o.get("FusedActivationFunction", 0), op.outputs[0])
        self.put(op.outputs[0], y, True)

    def mean(self, op) -> None:
        x, axes = op.inputs
        ax = sorted(int(a) % 4 for a in np.asarray(self.t(axes).data).ravel())
        if ax != [1, 2]:
            raise ValueError(f"MEAN over axes {ax} (only the spatial mean is converted)")
        y = self.quant(self.node("GlobalAveragePool", [self.dq(self.value(x, True), x)], "mean"), op.outputs[0])
        yt = self.t(op.outputs[0])
        if len(yt.shape) == 4:
            self.put(op.outputs[0], y, True)
        else:  # [N, C, 1, 1] -> the kept dims: the same order
            self.put(op.outputs[0], self.node("Reshape", [y, self.const(np.array(yt.shape, np.int64), "shape")],
                                              "rs"), False)

    def pad(self, op) -> None:
        x, p = op.inputs[:2]
        pads = np.asarray(self.t(p).data, np.int64).reshape(-1, 2)
        nchw = self.nchw.get(x, False) and len(self.t(x).shape) == 4
        if nchw:
            pads = pads[[0, 3, 1, 2]]
        zp = int(self.t(x).zero_points[0]) if len(self.t(x).zero_points) else 0
        y = self.node("Pad", [self.value(x, nchw), self.const(np.concatenate([pads[:, 0], pads[:, 1]]), "pads"),
                              self.const(np.uint8(zp + 128), "padv")], "pad", mode="constant")
        self.put(op.outputs[0], y, nchw)

    def reshape(self, op) -> None:
        yt = self.t(op.outputs[0])
        y = self.node("Reshape", [self.value(op.inputs[0], False),
                                  self.const(np.array(yt.shape, np.int64), "shape")], "rs")
        self.put(op.outputs[0], y, False)

    def transpose(self, op) -> None:
        perm = [int(v) for v in np.asarray(self.t(op.inputs[1]).data).ravel()]
        self.put(op.outputs[0], self.node("Transpose", [self.value(op.inputs[0], False)], "tr", perm=perm), False)

    def softmax(self, op) -> None:
        x = op.inputs[0]
        f = self.dq(self.value(x, False), x)
        beta = float(op.options.get("Beta", 1.0))
        if beta != 1.0:
            f = self.node("Mul", [f, self.const(np.float32(beta), "beta")], "beta")
        s = self.node("Softmax", [f], "softmax", axis=-1)
        self.put(op.outputs[0], self.quant(s, op.outputs[0]), False)

    # -------------------------------------------------------------- model
    def convert(self):
        helper, onnx = self.helper, self.onnx
        inputs = []
        for i in self.sg.inputs:
            t = self.t(i)
            if t.type_code != INT8:
                raise ValueError(f"input {t.name!r} is not int8")
            name = f"input_{i}"
            inputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.INT8, list(t.shape)))
            s8, z8 = self.q(i, signed=True)
            self.put(i, self.quant(self.node("DequantizeLinear", [name, s8, z8], "dq"), i), False)
        table = {"CONV_2D": lambda op: self.conv(op, False), "DEPTHWISE_CONV_2D": lambda op: self.conv(op, True),
                 "FULLY_CONNECTED": self.fully_connected, "ADD": self.add, "AVERAGE_POOL_2D": self.average_pool,
                 "MEAN": self.mean, "PAD": self.pad, "RESHAPE": self.reshape, "TRANSPOSE": self.transpose,
                 "SOFTMAX": self.softmax}
        shape_math = {"SHAPE", "STRIDED_SLICE", "PACK", "GATHER", "CONCATENATION"}
        for op in self.sg.operators:
            if op.opcode in shape_math and all(self.t(o).type_code == INT32 for o in op.outputs):
                continue  # a new shape computed from static shapes: RESHAPE takes its output's shape
            if op.opcode not in table:
                raise ValueError(f"{op.opcode} has no ONNX equivalent in pyedge.bench_onnx")
            table[op.opcode](op)
        outputs = []
        for i in self.sg.outputs:
            t = self.t(i)
            name = f"output_{i}"
            s8, z8 = self.q(i, signed=True)
            self.nodes.append(helper.make_node("QuantizeLinear", [self.dq(self.value(i, False), i), s8, z8], [name]))
            outputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.INT8, list(t.shape)))
        graph = helper.make_graph(self.nodes, "pyedge_bench", inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                  producer_name="pyedge.bench_onnx")
        model.ir_version = 8
        return model


def tflite_to_onnx(raw: bytes) -> bytes:
    """The int8 .tflite `raw` as an equivalent ONNX model (serialized); ValueError if an op has no
    equivalent here."""
    return _Converter(raw).convert().SerializeToString()


class OrtRunner:
    """ONNX Runtime behind the interpreter calls the bench makes (set_tensor, invoke, get_tensor)."""

    def __init__(self, onnx_bytes: bytes, threads: int = 1):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
        self._in = self.sess.get_inputs()
        self._out = [o.name for o in self.sess.get_outputs()]
        self._feed: dict[str, np.ndarray] = {}
        self._result: list[np.ndarray] = []

    def allocate_tensors(self) -> None:
        pass

    def get_input_details(self) -> list[dict[str, Any]]:
        return [{"index": k, "name": i.name, "shape": np.array(i.shape), "dtype": np.int8}
                for k, i in enumerate(self._in)]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [{"index": k, "name": n} for k, n in enumerate(self._out)]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        self._feed[self._in[index].name] = np.ascontiguousarray(value, np.int8)

    def invoke(self) -> None:
        self._result = self.sess.run(self._out, self._feed)

    def get_tensor(self, index: int) -> np.ndarray:
        return self._result[index]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    with open(argv[0], "rb") as f:
        data = tflite_to_onnx(f.read())
    with open(argv[1], "wb") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
