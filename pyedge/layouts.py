"""Packed weight layouts: which ops get one for a target, and the packing (done in C).

The C core's variant table (native/kernels.def) says which kernels read which layout on which
CPU features; this module only asks it. An op gets a packed layout when the target has a SIMD
variant for it; the layout's scalar twin still runs it on any other CPU. The packing itself is
the C function beside the kernels that read it (pe_qs8_gemm_pack), called through cffi.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _native
from .blob import (INT4_LAYOUTS, LAYOUT_GENERIC, LAYOUT_NAMES, LAYOUT_QS4_DW, LAYOUT_QS4_GEMM_N16K8,
                   LAYOUT_QS8_DWDM_PAIRS, LAYOUT_QS8_GEMM_N16K4)
from .errors import ModelError

ffi, lib = _native.ffi, _native.lib
INT8, INT32, UINT8, INT4, INT16, INT64 = 9, 2, 3, 17, 7, 4


@dataclass(frozen=True)
class Variant:
    name: str
    op: str
    features: int
    layout: int


def variants() -> list[Variant]:
    """The C core's variant table, best first per op."""
    names = _native.op_names()
    out = []
    op, feat, lay = ffi.new("uint32_t *"), ffi.new("uint32_t *"), ffi.new("uint32_t *")
    for i in range(lib.pe_variant_count()):
        name = ffi.string(lib.pe_variant_info(i, op, feat, lay)).decode()
        out.append(Variant(name, names.get(op[0], str(op[0])), int(feat[0]), int(lay[0])))
    return out


def catalog() -> list[Variant]:
    """The variant table's rows of every architecture, this build's or not (the kernels of
    another target: what `pack --target` chooses layouts from)."""
    names = _native.op_names()
    out = []
    op, feat, lay = ffi.new("uint32_t *"), ffi.new("uint32_t *"), ffi.new("uint32_t *")
    for i in range(lib.pe_variant_catalog_count()):
        name = ffi.string(lib.pe_variant_catalog_info(i, op, feat, lay)).decode()
        out.append(Variant(name, names.get(op[0], str(op[0])), int(feat[0]), int(lay[0])))
    return out


def feature_names(mask: int) -> list[str]:
    out = []
    bit = 1
    while bit <= 0xFFFFFFFF:
        if mask & bit:
            p = lib.pe_feature_name(bit)
            out.append(ffi.string(p).decode() if p != ffi.NULL else f"bit{bit.bit_length() - 1}")
        bit <<= 1
    return out


def features_for_tier(tier: str) -> int:
    """The PE_FEAT_* mask a tier name ("avx2", "neon", ...) allows; ValueError if unknown."""
    mask = int(lib.pe_features_for_tier(tier.encode()))
    if mask == 0xFFFFFFFF and tier != "all":
        raise ValueError(f"unknown ISA tier {tier!r}")
    return mask


def simd_layout_for(op: str, features: int) -> int:
    """The packed layout the best SIMD variant of `op` reads on a CPU with `features` (of any
    architecture: the catalog, not only this build's kernels), or generic (0)."""
    for v in catalog():
        if (v.op == op and v.features and (v.features & ~features) == 0 and v.layout != LAYOUT_GENERIC
                and v.layout not in INT4_LAYOUTS):
            return v.layout
    return LAYOUT_GENERIC


def layout_name(layout: int) -> str:
    return LAYOUT_NAMES.get(layout, f"layout {layout}")


def pack_qs8_gemm(w2d: np.ndarray, bias: np.ndarray | None, mult: np.ndarray, shift: np.ndarray,
                  input_offset: int) -> np.ndarray:
    """W [oc, k] int8 -> the PE_LAYOUT_QS8_GEMM_N16K4 bytes (native/kernels/qs8_gemm.h)."""
    w2d = np.ascontiguousarray(w2d, np.int8)
    oc, k = w2d.shape
    out = np.zeros(int(lib.pe_qs8_gemm_packed_bytes(oc, k)), np.int8)
    b = np.ascontiguousarray(bias, np.int32) if bias is not None else None
    m = np.ascontiguousarray(mult, np.int32)
    s = np.ascontiguousarray(shift, np.int32)
    lib.pe_qs8_gemm_pack(oc, k, ffi.from_buffer("int8_t[]", w2d),
                         ffi.from_buffer("int32_t[]", b) if b is not None else ffi.NULL,
                         ffi.from_buffer("int32_t[]", m), ffi.from_buffer("int32_t[]", s), input_offset,
                         ffi.from_buffer("int8_t[]", out, require_writable=True))
    return out


def pack_qs8_dwdm(w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Depthwise filter [1, kh, kw, m] int8 of one input channel -> the PE_LAYOUT_QS8_DWDM_PAIRS
    words (native/kernels/qs8_dwconv_dm.h)."""
    w = np.ascontiguousarray(w, np.int8)
    _, kh, kw, m = w.shape
    out = np.zeros(int(lib.pe_qs8_dwdm_packed_bytes(m, kh, kw)) // 4, np.int32)
    b = np.ascontiguousarray(bias, np.int32) if bias is not None else None
    lib.pe_qs8_dwdm_pack(m, kh, kw, ffi.from_buffer("int8_t[]", w),
                         ffi.from_buffer("int32_t[]", b) if b is not None else ffi.NULL,
                         ffi.from_buffer("int32_t[]", out, require_writable=True))
    return out


def _params(lw, ctype: str):
    p = ffi.new(f"{ctype} *")
    ffi.memmove(p, lw.params, len(lw.params))
    return p


def apply_layouts(packer, features: int, threads: int = 1, everywhere: bool = False) -> dict[str, int]:
    """Give every op that a SIMD variant on `features` can run a packed layout (every op a packed
    layout can take, with `everywhere`: its scalar twin runs where no SIMD variant does);
    returns {layout name: op count}."""
    counts: dict[str, int] = {}
    cache: dict[tuple, object] = {}
    for ops in packer.ops:
        for p in ops:
            lw = p.lowered
            if lw.op not in ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D") or lw.layout != LAYOUT_GENERIC:
                continue
            want = simd_layout_for(lw.op, features)
            if not everywhere and want == LAYOUT_GENERIC:
                continue
            x, w, b, mt, st = lw.inputs[:5]
            if x is None or w is None or w.data is None:
                continue
            if w.type_code == INT4:
                continue  # apply_int4_layouts
            if x.type_code == INT16:
                if _apply_gemm16(packer, lw, features, threads, everywhere, cache):
                    name = layout_name(lw.layout)
                    counts[name] = counts.get(name, 0) + 1
                continue
            u8 = x.type_code == UINT8 and w.type_code == UINT8
            if not u8 and (x.type_code != INT8 or w.type_code != INT8):
                continue
            if b is not None and (b.data is None or b.type_code != INT32):
                continue
            if mt is None or st is None or mt.data is None or st.data is None:
                continue
            # (uint8 takes the GEMM layout, whose kernels run it exactly: gemm_drivers.c)
            if (lw.op == "DEPTHWISE_CONV_2D" and want == LAYOUT_QS8_DWDM_PAIRS and not u8 and len(w.shape) == 4
                    and len(x.shape) == 4 and x.shape[3] == 1 and w.shape[0] == 1):
                # one input channel: output pixels in the vector lanes (qs8_dwconv_dm.h)
                params = _params(lw, "pe_conv_params")
                key = ("dwdm", id(w), id(b))
                if key not in cache:
                    cache[key] = packer.new_const(pack_qs8_dwdm(np.asarray(w.data), None if b is None
                                                                else np.asarray(b.data)),
                                                  f"{w.name}/{layout_name(LAYOUT_QS8_DWDM_PAIRS)}")
                out_w = int(lw.outputs[0].shape[2])
                lw.inputs = [x, cache[key], None, mt, st]
                lw.layout = LAYOUT_QS8_DWDM_PAIRS
                lw.scratch = max(lw.scratch, int(lib.pe_qs8_dwdm_scratch_bytes(
                    out_w, int(w.shape[1]), int(w.shape[2]), int(params.stride_w), int(params.dilation_w),
                    max(1, threads))))
                name = layout_name(lw.layout)
                counts[name] = counts.get(name, 0) + 1
                continue
            if lw.op == "CONV_2D":
                params = _params(lw, "pe_conv_params")
                if len(w.shape) != 4 or w.shape[3] != x.shape[3]:
                    continue  # grouped convolution: the generic kernel
                k = int(w.shape[1] * w.shape[2] * w.shape[3])
                w2d = np.asarray(w.data).reshape(w.shape[0], k)
            elif lw.op == "DEPTHWISE_CONV_2D":
                # one input channel: a conv with depth_multiplier outputs (filter [1, kh, kw, oc])
                params = _params(lw, "pe_conv_params")
                if len(w.shape) != 4 or len(x.shape) != 4 or x.shape[3] != 1 or w.shape[0] != 1:
                    continue
                k = int(w.shape[1] * w.shape[2])
                w2d = np.ascontiguousarray(np.asarray(w.data).reshape(k, w.shape[3]).T)
            else:
                params = _params(lw, "pe_fc_params")
                if params.filter_offset != 0 and not u8:
                    continue
                w2d = np.asarray(w.data)
                k = int(w2d.shape[1])
            key = (id(w), id(b), id(mt), id(st), int(params.input_offset))
            if key not in cache:
                bias = None if b is None else np.asarray(b.data)
                input_offset = int(params.input_offset)
                zw = 0
                if u8:
                    # uint8 on the int8 kernels (the identity is in native/kernels/gemm_drivers.c):
                    # weights v - 128, input offset 128 - zx, and the constant -(128 - zw) * K * zx
                    # in the bias, all mod 2^32
                    zw = -int(params.filter_offset) if lw.op == "FULLY_CONNECTED" else int(w.zero_point)
                    zx = -input_offset
                    w2d = (np.asarray(w2d, np.int16) - 128).astype(np.int8)
                    base = np.zeros(w2d.shape[0], np.int64) if bias is None else np.asarray(bias, np.int64)
                    bias = ((base - (128 - zw) * k * zx + 2**31) % 2**32 - 2**31).astype(np.int32)
                    input_offset = 128 - zx
                packed = pack_qs8_gemm(w2d, bias, np.asarray(mt.data), np.asarray(st.data), input_offset)
                t = packer.new_const(packed, f"{w.name}/{layout_name(LAYOUT_QS8_GEMM_N16K4)}")
                if u8 and lw.op != "FULLY_CONNECTED":
                    # the conv driver reads the filter zero point from the packed tensor
                    t.scales = np.array([1.0], np.float32)
                    t.zero_points = np.array([zw], np.int64)
                cache[key] = t
            lw.inputs = [x, cache[key], None, mt, st]
            lw.layout = LAYOUT_QS8_GEMM_N16K4
            # a panel of up to PE_GEMM_MR_MAX rows: a single-row FC needs one
            rows = int(np.prod(lw.outputs[0].shape[:-1], dtype=np.int64))
            lw.scratch = max(lw.scratch, int(lib.pe_gemm_scratch_bytes(k, rows, max(1, threads))))
            name = layout_name(lw.layout)
            counts[name] = counts.get(name, 0) + 1
    return counts


def _has_gemm16(op: str, features: int) -> bool:
    """A 16x8 GEMM SIMD variant of `op` (qs16_gemm.h) runs on `features`."""
    return any(v.op == op and v.name.startswith("gemm16_") and v.features and (v.features & ~features) == 0
               for v in catalog())


def _apply_gemm16(packer, lw, features: int, threads: int, everywhere: bool, cache: dict) -> bool:
    """16x8 CONV_2D (one group) and FULLY_CONNECTED: the int8 GEMM layout's weights, packed with
    no bias and input offset 128 (init terms 0, which the 16x8 kernels do not read); the op keeps
    its int64 (or int32) bias as input 2 (native/kernels/qs16_gemm.h). Returns True if packed."""
    if lw.op not in ("CONV_2D", "FULLY_CONNECTED") or not (everywhere or _has_gemm16(lw.op, features)):
        return False
    x, w, b, mt, st = lw.inputs[:5]
    if w.type_code != INT8 or lw.outputs[0].type_code != INT16:
        return False
    if b is not None and (b.data is None or b.type_code not in (INT64, INT32)):
        return False
    if mt is None or st is None or mt.data is None or st.data is None:
        return False
    if lw.op == "CONV_2D":
        if len(w.shape) != 4 or len(x.shape) != 4 or w.shape[3] != x.shape[3]:
            return False  # grouped convolution: the generic kernels
        k = int(w.shape[1] * w.shape[2] * w.shape[3])
        w2d = np.asarray(w.data).reshape(w.shape[0], k)
    else:
        params = _params(lw, "pe_fc_params")
        if params.filter_offset != 0 or params.input_offset != 0 or len(w.shape) != 2:
            return False
        w2d = np.asarray(w.data)
        k = int(w2d.shape[1])
    key = ("gemm16", id(w), id(mt), id(st))
    if key not in cache:
        cache[key] = packer.new_const(pack_qs8_gemm(w2d, None, np.asarray(mt.data), np.asarray(st.data), 128),
                                      f"{w.name}/{layout_name(LAYOUT_QS8_GEMM_N16K4)}")
    lw.inputs = [x, cache[key], b, mt, st]
    lw.layout = LAYOUT_QS8_GEMM_N16K4
    rows = int(np.prod(lw.outputs[0].shape[:-1], dtype=np.int64))
    lw.scratch = max(lw.scratch, int(lib.pe_gemm16_scratch_bytes(k, rows, max(1, threads))))
    return True


def pack_qs4_gemm(w2d: np.ndarray, bias: np.ndarray | None, mult: np.ndarray, shift: np.ndarray,
                  input_offset: int) -> np.ndarray:
    """W [oc, k] of int4 values (int8 in [-8, 7]) -> the PE_LAYOUT_QS4_GEMM_N16K8 bytes
    (native/kernels/qs4_gemm.h)."""
    w2d = np.ascontiguousarray(w2d, np.int8)
    oc, k = w2d.shape
    out = np.zeros(int(lib.pe_qs4_gemm_packed_bytes(oc, k)), np.int8)
    b = np.ascontiguousarray(bias, np.int32) if bias is not None else None
    m = np.ascontiguousarray(mult, np.int32)
    s = np.ascontiguousarray(shift, np.int32)
    rc = lib.pe_qs4_gemm_pack(oc, k, ffi.from_buffer("int8_t[]", w2d),
                              ffi.from_buffer("int32_t[]", b) if b is not None else ffi.NULL,
                              ffi.from_buffer("int32_t[]", m), ffi.from_buffer("int32_t[]", s), input_offset,
                              ffi.from_buffer("int8_t[]", out, require_writable=True))
    if rc != 0:
        raise ValueError("int4 weights outside [-8, 7]")
    return out


def pack_qs4_dw(w: np.ndarray) -> np.ndarray:
    """Depthwise filter [1, kh, kw, oc] of int4 values -> the PE_LAYOUT_QS4_DW bytes (TFLite's own
    INT4 packing, native/kernels/qs4_dwconv.h)."""
    from .graph import pack_int4

    return np.frombuffer(pack_int4(np.asarray(w)), np.int8).copy()


def apply_int4_layouts(packer, threads: int = 1) -> dict[str, int]:
    """Give every op with INT4 weights its int4 layout (always: no other kernel reads them):
    CONV_2D, FULLY_CONNECTED and one-input-channel DEPTHWISE_CONV_2D the nibble GEMM layout, other
    DEPTHWISE_CONV_2D TFLite's nibble packing. Returns {layout name: op count}."""
    counts: dict[str, int] = {}
    cache: dict[tuple, object] = {}
    for ops in packer.ops:
        for p in ops:
            lw = p.lowered
            if lw.op not in ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D") or len(lw.inputs) < 5:
                continue
            x, w, b, mt, st = lw.inputs[:5]
            if w is None or w.type_code != INT4:
                continue
            where = f"operator {p.index} ({lw.op})" if hasattr(p, "index") else lw.op
            if w.data is None:
                raise ModelError(f"{where}: int4 weights must be constant")
            if x.type_code != INT8:
                raise ModelError(f"{where}: int4 weights with {x.type_name} activations (supported: INT8)")
            if lw.op == "DEPTHWISE_CONV_2D" and x.shape[3] != 1:
                key = ("dw4", id(w))
                if key not in cache:
                    cache[key] = packer.new_const(pack_qs4_dw(w.data), f"{w.name}/{layout_name(LAYOUT_QS4_DW)}")
                lw.inputs = [x, cache[key], b, mt, st]
                lw.layout = LAYOUT_QS4_DW
            else:
                if lw.op == "CONV_2D":
                    params = _params(lw, "pe_conv_params")
                    if w.shape[3] != x.shape[3]:
                        raise ModelError(f"{where}: grouped convolution with int4 weights is not supported")
                    k = int(w.shape[1] * w.shape[2] * w.shape[3])
                    w2d = np.asarray(w.data).reshape(w.shape[0], k)
                elif lw.op == "DEPTHWISE_CONV_2D":
                    params = _params(lw, "pe_conv_params")
                    k = int(w.shape[1] * w.shape[2])
                    w2d = np.ascontiguousarray(np.asarray(w.data).reshape(k, w.shape[3]).T)
                else:
                    params = _params(lw, "pe_fc_params")
                    if params.filter_offset != 0:
                        raise ModelError(f"{where}: int4 weights with a zero point are not supported")
                    w2d = np.asarray(w.data)
                    k = int(w2d.shape[1])
                key = ("gemm4", id(w), id(b), id(mt), id(st), int(params.input_offset))
                if key not in cache:
                    packed = pack_qs4_gemm(w2d, None if b is None else np.asarray(b.data), np.asarray(mt.data),
                                           np.asarray(st.data), int(params.input_offset))
                    cache[key] = packer.new_const(packed, f"{w.name}/{layout_name(LAYOUT_QS4_GEMM_N16K8)}")
                lw.inputs = [x, cache[key], None, mt, st]
                lw.layout = LAYOUT_QS4_GEMM_N16K8
                rows = int(np.prod(lw.outputs[0].shape[:-1], dtype=np.int64))
                lw.scratch = max(lw.scratch, int(lib.pe_gemm_scratch_bytes(k, rows, max(1, threads))))
            name = layout_name(lw.layout)
            counts[name] = counts.get(name, 0) + 1
    return counts
