"""The blob format: Python records agree with the C structs; the core rejects bad blobs cleanly."""
from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import pyedge
from pyedge import blob
from pyedge._native import ffi, lib
from tflite_builder import ModelBuilder

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("ctype", sorted(blob.RECORDS))
def test_record_layout_matches_c(ctype):
    fields = blob.RECORDS[ctype]
    offset = 0
    for name, code in fields:
        assert ffi.offsetof(ctype, name) == offset, f"{ctype}.{name}"
        offset += struct.calcsize("<" + code)
    assert ffi.sizeof(ctype) == offset == struct.calcsize("<" + "".join(c for _, c in fields))


def _ops_def_rows():
    text = (ROOT / "native" / "ops.def").read_text()
    return re.findall(r"^PE_OP\((\d+),\s*(\w+),\s*(\w+),\s*(\w+),\s*\w+\)", text, re.M)


def test_op_table_matches_ops_def():
    rows = _ops_def_rows()
    assert rows
    codes = [int(r[0]) for r in rows]
    assert len(set(codes)) == len(codes), "op codes must be unique"
    for code, name, _, params_t in rows:
        assert ffi.string(lib.pe_op_name(int(code))).decode() == name
        assert lib.pe_op_params_size(int(code)) == ffi.sizeof(params_t)


@pytest.mark.parametrize("row", _ops_def_rows(), ids=lambda r: r[1])
def test_params_structs_are_all_int32(row):
    """Params are filled on the host and read on any target: only int32 fields keep one layout."""
    t = ffi.typeof(row[3])
    for name, f in t.fields:
        ft = f.type
        if ft.kind == "array":
            ft = ft.item
        assert ft.cname == "int32_t", f"{row[3]}.{name} is {f.type.cname}"


def _chain_model(n_ops: int = 4) -> bytes:
    """int8 RESHAPE chain: several ops, arena reuse, constant shape tensors."""
    mb = ModelBuilder()
    shapes = [(1, 4, 6), (4, 6), (2, 12), (24,), (1, 24)][: n_ops + 1]
    ts = [mb.add_tensor(s, "int8", scale=0.25, zero_point=-3) for s in shapes]
    for a, b_, s in zip(ts, ts[1:], shapes[1:]):
        shape_t = mb.add_tensor([len(s)], "int32", data=np.array(s, np.int32))
        mb.add_operator("RESHAPE", [a, shape_t], [b_], ("ReshapeOptions", {"NewShape": list(s)}))
    mb.set_io([ts[0]], [ts[-1]])
    return mb.build()


def _run(content: bytes, x: np.ndarray) -> np.ndarray:
    it = pyedge.Interpreter(model_content=content)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.fixture(scope="module")
def chain():
    model = _chain_model()
    packed = pyedge.pack_tflite(model, strip=False)  # the shape constants stay: a blob with a const section
    x = np.arange(24, dtype=np.int8).reshape(1, 4, 6)
    return model, packed, x


def test_blob_header_fields(chain):
    _, packed, _ = chain
    h = blob.HEADER.unpack_from(packed)
    assert packed[:4] == b"PEB1"
    assert h[1] == blob.VERSION_MAJOR and h[3] == blob.HEADER.size and h[4] == len(packed)
    assert h[8] == blob.ALIGN and len(packed) % blob.ALIGN == 0
    info = blob.read_blob(packed)
    for off, size in info.sections:
        assert off % 4 == 0 and off + size <= len(packed)
    assert info.sections[blob.SEC_CONST][0] % blob.ALIGN == 0
    zeroed = bytearray(packed)
    struct.pack_into("<I", zeroed, blob.CHECKSUM_OFFSET, 0)
    assert zlib.crc32(bytes(zeroed)) == h[5]


def test_blob_round_trip_from_bytes_and_file(chain, tmp_path):
    model, packed, x = chain
    want = x.reshape(1, 24)
    assert np.array_equal(_run(model, x), want)
    assert np.array_equal(_run(packed, x), want)
    p = tmp_path / "m.peb"
    p.write_bytes(packed)
    it = pyedge.Interpreter(model_path=str(p))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    assert np.array_equal(it.get_tensor(it.get_output_details()[0]["index"]), want)
    ref = pyedge.Interpreter(model_content=model)
    assert [d["name"] for d in it.get_input_details()] == [d["name"] for d in ref.get_input_details()]


def test_arena_is_reused(chain):
    """A chain of RESHAPEs (24 bytes each, 32 aligned) runs in place: input, intermediates and
    output share one buffer instead of five."""
    _, packed, _ = chain
    info = blob.read_blob(packed)
    assert info.header["arena_size"] == 32
    offsets = {t["offset"] for t in info.tensors if t["storage"] == blob.STORE_ARENA}
    assert offsets == {0}


def test_truncated_blobs_are_rejected(chain):
    _, packed, _ = chain
    for n in sorted({0, 1, 4, 16, 64, 127, 128, 129, len(packed) // 2, len(packed) - 16, len(packed) - 1}):
        with pytest.raises(pyedge.PyedgeError) as e:
            pyedge.Interpreter(model_content=packed[:n])
        if n >= 4:  # still starts with the blob magic
            assert isinstance(e.value, pyedge.BlobError) and e.value.status == "PE_ERR_TRUNCATED"


def test_bit_flips_fail_the_checksum(chain):
    _, packed, _ = chain
    rng = np.random.default_rng(0)
    for pos in rng.choice(np.arange(20, len(packed)), size=200, replace=False):
        bad = bytearray(packed)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(pyedge.BlobError) as e:
            pyedge.Interpreter(model_content=bytes(bad))
        assert e.value.status == "PE_ERR_CHECKSUM"


def _offsets(fields: list[tuple[str, str]]) -> dict[str, int]:
    out, off = {}, 0
    for name, code in fields:
        out[name] = off
        off += struct.calcsize("<" + code)
    return out


def _reseal(b: bytearray) -> bytes:
    struct.pack_into("<I", b, blob.CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", b, blob.CHECKSUM_OFFSET, zlib.crc32(bytes(b)) & 0xFFFFFFFF)
    return bytes(b)


def test_tampered_fields_with_valid_checksum_are_rejected(chain):
    """Fields changed by hand (checksum recomputed): the core's validation must catch them."""
    _, packed, x = chain
    info = blob.read_blob(packed)
    t_off = info.sections[blob.SEC_TENSORS][0]
    o_off = info.sections[blob.SEC_OPS][0]
    n_t = info.header["n_tensors"]
    h, t, o = _offsets(blob.HEADER_FIELDS), _offsets(blob.TENSOR_FIELDS), _offsets(blob.OP_FIELDS)
    cases = {
        "version": (h["version_major"], "<H", 99, "PE_ERR_VERSION"),
        "op layout": (o_off + o["layout"], "<I", 7, "PE_ERR_LAYOUT"),
        "op reserved": (o_off + o["reserved"], "<I", 1, "PE_ERR_CORRUPT"),
        "threads": (h["threads"], "<I", 1000, "PE_ERR_CORRUPT"),
        "alignment": (h["alignment"], "<I", 8, "PE_ERR_CORRUPT"),
        "header size": (h["header_size"], "<I", 64, "PE_ERR_CORRUPT"),
        "n_tensors": (h["n_tensors"], "<I", n_t + 1, "PE_ERR_CORRUPT"),
        "section past end": (h["sections"] + 8 * blob.SEC_CONST, "<I", len(packed), "PE_ERR_CORRUPT"),
        "tensor dtype": (t_off + t["dtype"], "<B", 42, "PE_ERR_CORRUPT"),
        "tensor rank": (t_off + t["rank"], "<B", 7, "PE_ERR_CORRUPT"),
        "tensor storage": (t_off + t["storage"], "<B", 9, "PE_ERR_CORRUPT"),
        "tensor dim": (t_off + t["dims"] + 4, "<i", 1 << 20, "PE_ERR_CORRUPT"),
        "negative dim": (t_off + t["dims"], "<i", -1, "PE_ERR_CORRUPT"),
        "arena offset": (t_off + t["offset"], "<I", 1 << 30, "PE_ERR_CORRUPT"),
        "op code": (o_off + o["op"], "<H", 127, "PE_ERR_UNSUPPORTED_OP"),
        "op params size": (o_off + o["params_size"], "<I", 8, "PE_ERR_BAD_PARAMS"),
        "op params past end": (o_off + o["params"], "<I", 1 << 30, "PE_ERR_CORRUPT"),
        "op io index": (o_off + o["io"], "<I", 1 << 28, "PE_ERR_CORRUPT"),
        "op scratch": (o_off + o["scratch"], "<I", 1 << 30, "PE_ERR_CORRUPT"),
    }
    for what, (off, fmt, value, status) in cases.items():
        bad = bytearray(packed)
        struct.pack_into(fmt, bad, off, value)
        with pytest.raises(pyedge.BlobError) as e:
            pyedge.Interpreter(model_content=_reseal(bad))
        assert e.value.status == status, what


def test_random_field_tampering_never_crashes(chain):
    """Hundreds of random word overwrites in the record sections: each blob is rejected with a
    status, or is still consistent and runs."""
    _, packed, x = chain
    info = blob.read_blob(packed)
    lo = blob.HEADER.size
    hi = info.sections[blob.SEC_PARAMS][0] + info.sections[blob.SEC_PARAMS][1]
    rng = np.random.default_rng(1)
    rejected = 0
    for _ in range(400):
        bad = bytearray(packed)
        pos = int(rng.integers(lo, hi - 4)) & ~3
        struct.pack_into("<I", bad, pos, int(rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, rng.integers(0, 1 << 32)])))
        try:
            it = pyedge.Interpreter(model_content=_reseal(bad))
        except pyedge.BlobError:
            rejected += 1
            continue
        try:
            it.allocate_tensors()
            it.invoke()
        except (pyedge.PyedgeError, ValueError, RuntimeError):
            pass
    assert rejected > 100


def test_non_blob_bytes_take_the_tflite_path():
    with pytest.raises(pyedge.ModelError):
        pyedge.Interpreter(model_content=b"\x00" * 64)


def test_peb_file_runs_in_place_without_copying(chain, tmp_path):
    """A .peb on disk is memory-mapped and the core reads weights straight from the mapping."""
    import mmap

    _, packed, x = chain
    p = tmp_path / "m.peb"
    p.write_bytes(packed)
    it = pyedge.Interpreter(model_path=str(p))
    assert isinstance(it._mmap, mmap.mmap)
    assert it._blob.base is not None and not it._blob.flags.owndata  # a view of the mapping
    const = [i for i, t in enumerate(blob.read_blob(packed).tensors) if t["storage"] == blob.STORE_CONST]
    it.allocate_tensors()
    ptr = int(ffi.cast("uintptr_t", lib.pe_tensor_data(it._interp, const[0])))
    start = it._blob.ctypes.data
    assert start <= ptr < start + len(packed)


def test_variant_catalog_holds_every_architecture():
    """The catalog (native/src/variant_catalog.c) has every row of kernels.def whatever this build
    compiled: each PE_*_KERNELS switch kernels.def tests is forced on there, and this build's rows
    are a subset of it."""
    from pyedge.layouts import catalog, variants

    root = Path(__file__).resolve().parent.parent
    switches = set(re.findall(r"^#if\s+(PE_\w+_KERNELS)\b", (root / "native" / "kernels.def").read_text(), re.M))
    forced = set(re.findall(r"^#define\s+(PE_\w+_KERNELS)\s+1\b", (root / "native" / "src" / "variant_catalog.c")
                            .read_text(), re.M))
    assert switches and switches <= forced, sorted(switches - forced)
    rows = {(v.op, v.name, v.features, v.layout) for v in catalog()}
    assert {(v.op, v.name, v.features, v.layout) for v in variants()} <= rows
    names = {v.name for v in catalog()}
    assert {"gemm_4x16c4__neondot", "gemm_8x16c4__avx512vnni", "gemm_1x16c4__scalar"} <= names


@pytest.mark.parametrize("target, want", [
    ("rpi4", {"qs8_gemm_n16k4", "qs8_dwdm_pairs"}), ("rpi5", {"qs8_gemm_n16k4", "qs8_dwdm_pairs"}),
    ("neon", {"qs8_gemm_n16k4", "qs8_dwdm_pairs"}), ("mps2-an386", {"qs8_gemm_n16k4"}),
    ("avx2", {"qs8_gemm_n16k4", "qs8_dwdm_pairs"}), ("scalar", set()),
])
def test_pack_for_another_architecture_uses_its_layouts(target, want):
    """`pack --target rpi4` on any machine gives the ops the layouts the Pi's NEON kernels read
    (not only those of the packing machine's kernels), and the blob runs here, bit-exact."""
    from models import model_path
    from pyedge.inspector import inspect_model

    raw = model_path("tflm_person_detect").read_bytes()
    packed = pyedge.pack_tflite(raw, target=target)
    layouts = {o["layout"] for o in inspect_model(packed)["ops"]} - {"generic"}
    assert layouts == want, layouts
    x = np.random.default_rng(0).integers(-128, 128, (1, 96, 96, 1), dtype=np.int8)
    outs = []
    for content in (packed, raw):
        it = pyedge.Interpreter(model_content=content)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    assert np.array_equal(outs[0], outs[1])
