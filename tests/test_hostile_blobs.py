"""Hostile blobs built from real models: truncated, bit-flipped and field-tampered.

Every damaged blob must end in one of three ways, never a crash: pyedge.BlobError naming a
core status (PE_ERR_*), or it loads and runs (twice, on random inputs) to completion, or an
invoke fails with pyedge.InvokeError naming a status. Where the core's validation order fixes
the outcome (a truncated blob, a flipped bit without a new checksum, an op code no core has,
a record field outside its range) the test asserts the exact status.

Tampered blobs get their checksum recomputed, so they reach the field checks behind it. The
cases are drawn from a seeded generator: the same blobs every run. Run this file under
ASan+UBSan with tools/asan_tests.sh.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import struct
import sys
import tempfile
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pytest

import pyedge
from pyedge import blob
from models import model_path

# The models every run covers; mobilenet is big (4 MB, 0.3 s an invoke), so it gets fewer cases.
MODELS = ["tflm_micro_speech_quantized", "tflm_person_detect", "tflm_keyword_scrambled",
          "tflm_trained_lstm_int8", "tflm_dtln_noise_suppression"]
BIG_MODELS = ["tflm_mobilenet_v2_quantized_1x3x224x224"]
MAX_ARENA = 64 << 20  # bigger (tampered) plans are checked for loading, not run
I32_EDGES = [0, 1, -1, 2, 7, 15, 16, 31, 32, 33, 63, 64, -31, -32, -33, 255, 256, 1 << 16, 1 << 30,
             0x7FFFFFFF, -0x80000000, -0x7FFFFFFF]
U32_EDGES = [0, 1, 2, 3, 4, 16, 0xFF, 0xFFFF, 1 << 20, 1 << 31, 0x7FFFFFFF, 0xFFFFFFF0, 0xFFFFFFFE, 0xFFFFFFFF]
ALLOWED_ERRORS = (pyedge.BlobError, pyedge.InvokeError)


# ---- blob anatomy ------------------------------------------------------------------------------

def _offsets(fields: list[tuple[str, str]]) -> dict[str, tuple[int, str]]:
    """field -> (byte offset, struct code) of a record."""
    out, off = {}, 0
    for name, code in fields:
        out[name] = (off, code)
        off += struct.calcsize("<" + code)
    return out


HDR = _offsets(blob.HEADER_FIELDS)
TEN = _offsets(blob.TENSOR_FIELDS)
OPR = _offsets(blob.OP_FIELDS)
SUB = _offsets(blob.SUBGRAPH_FIELDS)


@dataclass
class Anatomy:
    """Where things are in one packed blob."""

    data: bytes
    info: blob.BlobInfo

    def section(self, sec: int) -> tuple[int, int]:
        return self.info.sections[sec]

    def tensor_at(self, i: int) -> int:
        return self.section(blob.SEC_TENSORS)[0] + i * blob.TENSOR.size

    def op_at(self, i: int) -> int:
        return self.section(blob.SEC_OPS)[0] + i * blob.OP.size

    def subgraph_at(self, i: int) -> int:
        return self.section(blob.SEC_SUBGRAPHS)[0] + i * blob.SUBGRAPH.size

    @property
    def n_tensors(self) -> int:
        return self.info.header["n_tensors"]

    @property
    def n_ops(self) -> int:
        return self.info.header["n_ops"]

    def op_params(self, i: int) -> tuple[int, int]:
        """(absolute offset, size) of op i's params struct."""
        rec = blob.OP.unpack_from(self.data, self.op_at(i))
        return self.section(blob.SEC_PARAMS)[0] + rec[5], rec[6]

    def records_end(self) -> int:
        """End of the last section the core reads (constant data and meta included)."""
        return max(off + size for off, size in self.info.sections)


def reseal(b: bytes | bytearray) -> bytes:
    """Recompute the header checksum (CRC-32 of total_size bytes with the field zeroed)."""
    out = bytearray(b)
    (total,) = struct.unpack_from("<I", out, HDR["total_size"][0])
    total = min(total, len(out))
    struct.pack_into("<I", out, blob.CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", out, blob.CHECKSUM_OFFSET, zlib.crc32(bytes(out[:total])) & 0xFFFFFFFF)
    return bytes(out)


def put(b: bytes | bytearray, offset: int, code: str, value: int) -> bytearray:
    """Copy of `b` with one little-endian integer field set (wrapped to the field's width)."""
    out = bytearray(b)
    bits = 8 * struct.calcsize(code)
    value &= (1 << bits) - 1
    if code.islower() and value >= 1 << (bits - 1):
        value -= 1 << bits
    struct.pack_into("<" + code, out, offset, value)
    return out


def range_ok(offset: int, size: int, limit: int) -> bool:
    """The core's range_ok(): [offset, offset + size) lies within [0, limit)."""
    return offset <= limit and size <= limit - offset


# ---- running one blob --------------------------------------------------------------------------

def _random_input(rng: np.random.Generator, detail: dict) -> np.ndarray | None:
    dt = detail["dtype"]
    if dt is None:
        return None
    dt = np.dtype(dt)
    shape = tuple(int(s) for s in detail["shape"])
    n = int(np.prod(shape, dtype=np.int64))
    if dt == np.bool_:
        return (rng.integers(0, 2, n) > 0).reshape(shape)
    if dt.kind == "f":
        return rng.standard_normal(n).astype(dt).reshape(shape)
    return np.frombuffer(rng.bytes(n * dt.itemsize), dt).reshape(shape).copy()


_FILES = itertools.count()


def outcome(data: bytes, rng: np.random.Generator, invokes: int = 2, directory: str | None = None) -> str:
    """Load and run a blob the way a user would: written to a .peb file and memory-mapped
    read-only by pyedge.Interpreter(model_path=...), so a kernel writing into the blob faults.
    Returns 'rejected:PE_ERR_*', 'ran', 'invoke:PE_ERR_*' or 'loaded (arena too big to run)'.
    Any other exception propagates."""
    with tempfile.TemporaryDirectory() if directory is None else contextlib.nullcontext(directory) as d:
        path = os.path.join(d, f"case{next(_FILES)}.peb")  # a fresh name: never rewrite a mapped file
        with open(path, "wb") as f:
            f.write(data)
        try:
            return _outcome(path, data, rng, invokes)
        finally:
            os.unlink(path)


def _outcome(path: str, data: bytes, rng: np.random.Generator, invokes: int) -> str:
    if data[:4] != blob.MAGIC_BYTES:
        # without the magic, pyedge reads the bytes as a .tflite model: a ModelError says so;
        # the core itself must answer PE_ERR_BAD_MAGIC
        with pytest.raises(pyedge.ModelError):
            pyedge.Interpreter(model_path=path)
        return "rejected:" + core_status(data)
    try:
        it = pyedge.Interpreter(model_path=path)
    except pyedge.BlobError as e:
        assert e.status.startswith("PE_ERR_") and e.status in str(e), f"unclear BlobError: {e!r}"
        return "rejected:" + e.status
    if it.arena_size > MAX_ARENA:
        return "loaded (arena too big to run)"
    it.allocate_tensors()
    for d in it.get_input_details():
        x = _random_input(rng, d)
        if x is None:
            continue
        try:
            it.set_tensor(d["index"], x)
        except ValueError as e:  # tampered into a constant or a tensor without data: said clearly
            assert "constant" in str(e) or "no data" in str(e), f"unclear set_tensor error: {e!r}"
    for _ in range(invokes):
        try:
            it.invoke()
        except pyedge.InvokeError as e:
            assert e.status.startswith("PE_ERR_") and e.status in str(e), f"unclear InvokeError: {e!r}"
            return "invoke:" + e.status
    for d in it.get_output_details():
        if d["dtype"] is not None:
            try:
                it.get_tensor(d["index"])
            except ValueError as e:
                assert "no data" in str(e), f"unclear get_tensor error: {e!r}"
    return "ran"


def core_status(data: bytes) -> str:
    """pe_model_init's status name for a blob, called directly (16-byte aligned copy)."""
    from pyedge._native import ffi, lib, status_name
    from pyedge.interpreter import _aligned_copy

    buf = _aligned_copy(data)
    m = ffi.new("pe_model *")
    return status_name(lib.pe_model_init(m, ffi.from_buffer("uint8_t[]", buf), len(buf)))


Case = tuple[str, bytes, "set[str] | None"]  # description, blob, expected outcomes (None: any clean one)


def run_cases(cases: Iterator[Case], seed: int, invokes: int = 2) -> Counter:
    """Run every case; fail listing each blob that crashed Python-side, raised something unclear,
    or ended differently from what its case expects."""
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    bad: list[str] = []
    n = 0
    trace = bool(os.environ.get("PYEDGE_HOSTILE_TRACE"))  # name each case first: finds a crashing one
    tmp = tempfile.TemporaryDirectory()
    for what, data, expect in cases:
        n += 1
        if trace:
            print(f"hostile case: {what}", file=sys.stderr, flush=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = outcome(data, rng, invokes, tmp.name)
        except Exception as e:  # noqa: BLE001 - every failure is collected and reported
            bad.append(f"{what}: {type(e).__name__}: {e}")
            continue
        counts[got] += 1
        if expect is not None and got not in expect:
            bad.append(f"{what}: got {got}, expected one of {sorted(expect)}")
    tmp.cleanup()
    assert not bad, f"{len(bad)} of {n} hostile blobs misbehaved:\n" + "\n".join(bad[:25])
    counts["_total"] = n
    return counts


# ---- fixtures ----------------------------------------------------------------------------------

_PACKED: dict[str, Anatomy] = {}


def anatomy(name: str) -> Anatomy:
    """The packed blob of model `name`; `name@packed` has every conv/FC in the packed GEMM layout."""
    if name not in _PACKED:
        base, _, layouts = name.partition("@")
        path = model_path(base)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                data = pyedge.pack_tflite(path.read_bytes(), layouts=layouts or "generic")
            except pyedge.UnsupportedOpError as e:  # an op still being written by someone else
                pytest.skip(f"{name} does not pack yet: {str(e).splitlines()[0]}")
        _PACKED[name] = Anatomy(data, blob.read_blob(data))
    return _PACKED[name]


def _seed(name: str, family: str) -> int:
    return zlib.crc32(f"{name}/{family}".encode())


REJECT = lambda *s: {f"rejected:{x}" for x in s}  # noqa: E731


# ---- truncation --------------------------------------------------------------------------------

def truncation_cases(a: Anatomy, rng: np.random.Generator, n_random: int) -> Iterator[Case]:
    size = len(a.data)
    cuts = {4, 5, 16, 20, 64, 127, 128, 129, size - 16, size - 1}
    for off, length in a.info.sections:
        cuts |= {off - 1, off, off + 1, off + length - 1, off + length}
    cuts |= {int(x) for x in rng.integers(4, size, n_random)}
    for n in sorted(c for c in cuts if 4 <= c < size):
        # the header still says the full size: always PE_ERR_TRUNCATED
        yield f"cut to {n} bytes", a.data[:n], REJECT("PE_ERR_TRUNCATED")
    # consistent truncation: total_size and checksum match the shorter blob
    for n in sorted(c for c in cuts if blob.HEADER.size <= c < size):
        d = reseal(put(a.data[:n], HDR["total_size"][0], "I", n))
        yield (f"cut to {n} bytes, header resealed", d,
               REJECT("PE_ERR_CORRUPT") if n < a.records_end() else None)


@pytest.mark.parametrize("name", MODELS + BIG_MODELS)
def test_truncated_blobs(name: str) -> None:
    a = anatomy(name)
    rng = np.random.default_rng(_seed(name, "cut"))
    counts = run_cases(truncation_cases(a, rng, 60 if name in MODELS else 20), _seed(name, "run"))
    assert counts["_total"] >= 100
    assert counts["rejected:PE_ERR_TRUNCATED"] >= 50 and counts["rejected:PE_ERR_CORRUPT"] >= 30


# ---- bit flips without a new checksum: the CRC catches every one -------------------------------

def _expected_for_raw_damage(a: Anatomy, bad: bytes, lo: int, hi: int) -> set[str]:
    """The status the core's check order gives a blob damaged in bytes [lo, hi) without resealing."""
    if lo < 4 and bad[:4] != a.data[:4]:  # magic first
        return REJECT("PE_ERR_BAD_MAGIC")
    v_off = HDR["version_major"][0]
    if lo < v_off + 2 and hi > v_off and bad[v_off:v_off + 2] != a.data[v_off:v_off + 2]:
        return REJECT("PE_ERR_VERSION")
    t_off = HDR["total_size"][0]
    if lo < t_off + 4 and hi > t_off:
        (total,) = struct.unpack_from("<I", bad, t_off)
        if total > len(bad):
            return REJECT("PE_ERR_TRUNCATED")
        if total < blob.HEADER.size:
            return REJECT("PE_ERR_CORRUPT")
    return REJECT("PE_ERR_CHECKSUM")


def raw_damage_cases(a: Anatomy, rng: np.random.Generator, n: int) -> Iterator[Case]:
    size = len(a.data)
    # the header's bytes one by one, then flips spread over the whole blob
    positions = list(range(0, blob.HEADER.size)) + [int(p) for p in rng.integers(0, size, n)]
    for pos in positions:
        bit = int(rng.integers(0, 8))
        bad = bytearray(a.data)
        bad[pos] ^= 1 << bit
        yield f"bit {bit} of byte {pos} flipped", bytes(bad), _expected_for_raw_damage(a, bad, pos, pos + 1)
    # bursts of up to 32 bits: CRC-32 detects every one
    for _ in range(n // 4):
        pos = int(rng.integers(blob.HEADER.size, size - 4))
        k = int(rng.integers(1, 5))
        bad = bytearray(a.data)
        for j in range(k):
            bad[pos + j] ^= int(rng.integers(1, 256))
        yield f"{k}-byte burst at {pos}", bytes(bad), REJECT("PE_ERR_CHECKSUM")


@pytest.mark.parametrize("name", MODELS + BIG_MODELS)
def test_bit_flips_without_new_checksum(name: str) -> None:
    a = anatomy(name)
    rng = np.random.default_rng(_seed(name, "flip"))
    counts = run_cases(raw_damage_cases(a, rng, 200 if name in MODELS else 30), _seed(name, "run"))
    assert counts["_total"] >= 150
    assert counts["rejected:PE_ERR_CHECKSUM"] >= 120


# ---- bit flips with the checksum recomputed ----------------------------------------------------

def resealed_flip_cases(a: Anatomy, rng: np.random.Generator, n: int) -> Iterator[Case]:
    """Flips aimed at what the core validates (header and record sections, 3 in 4), and anywhere."""
    struct_secs = [a.section(s) for s in (blob.SEC_TENSORS, blob.SEC_OPS, blob.SEC_SUBGRAPHS,
                                          blob.SEC_INDICES, blob.SEC_PARAMS, blob.SEC_QUANT)]
    spans = [(0, blob.HEADER.size)] + [(o, o + s) for o, s in struct_secs if s > 0]
    weights = np.array([hi - lo for lo, hi in spans], float)
    for k in range(n):
        bad = bytearray(a.data)
        flips = int(rng.integers(1, 4))
        where = []
        for _ in range(flips):
            if k % 4 == 3:
                pos = int(rng.integers(blob.HEADER.size, len(bad)))
            else:
                lo, hi = spans[int(rng.choice(len(spans), p=weights / weights.sum()))]
                pos = int(rng.integers(lo, hi))
            if blob.CHECKSUM_OFFSET <= pos < blob.CHECKSUM_OFFSET + 4:
                pos += 4  # the checksum is recomputed anyway
            bit = int(rng.integers(0, 8))
            bad[pos] ^= 1 << bit
            where.append(f"{pos}.{bit}")
        yield f"resealed flips at {','.join(where)}", reseal(bad), None


@pytest.mark.parametrize("name", MODELS)
def test_bit_flips_with_new_checksum(name: str) -> None:
    a = anatomy(name)
    rng = np.random.default_rng(_seed(name, "reflip"))
    counts = run_cases(resealed_flip_cases(a, rng, 250), _seed(name, "run"))
    rejected = sum(v for k, v in counts.items() if k.startswith("rejected:"))
    # many flips land in fields the core does not interpret (scales, src_index, high params bits)
    assert counts["_total"] == 250 and rejected >= 25, counts


# ---- field tampering (checksum recomputed) -----------------------------------------------------

def header_cases(a: Anatomy) -> Iterator[Case]:
    h = a.info.header
    d = a.data
    size = len(d)

    def case(field: str, value: int, expect: set[str] | None, code: str | None = None, extra: int = 0) -> Case:
        off, c = HDR[field]
        return f"header.{field}{'+' + str(extra) if extra else ''} = {value:#x}", \
            reseal(put(d, off + extra, code or c[-1], value)), expect

    yield case("magic", 0x31424551, REJECT("PE_ERR_BAD_MAGIC"))
    for v in {0, blob.VERSION_MAJOR - 1, blob.VERSION_MAJOR + 1, 0xFFFF} - {blob.VERSION_MAJOR}:
        yield case("version_major", v, REJECT("PE_ERR_VERSION"))
    for v in (1, 0xFFFF):
        yield case("version_minor", v, {"ran"})  # compatible additions: ignored
    for v in (0, 64, 127, 129, 0xFFFFFFFF):
        yield case("header_size", v, REJECT("PE_ERR_CORRUPT"))
    yield case("total_size", size + 16, REJECT("PE_ERR_TRUNCATED"))
    yield case("total_size", 0xFFFFFFFF, REJECT("PE_ERR_TRUNCATED"))
    yield case("total_size", 64, REJECT("PE_ERR_CORRUPT"))
    yield case("total_size", 128, REJECT("PE_ERR_CORRUPT"))
    yield case("total_size", a.records_end() - 4, REJECT("PE_ERR_CORRUPT"))
    for v in (1, 8, 32, 0xFFFFFFFF):
        yield case("alignment", v, REJECT("PE_ERR_CORRUPT"))
    for v in (1, 2, 0xFFFFFFFF):
        yield case("target_features", v, {"ran"})  # informational: which target the packer chose for
    for v in (257, 0xFFFFFFFF):
        yield case("threads", v, REJECT("PE_ERR_CORRUPT"))
    yield case("threads", 0, {"ran"})
    for v in (1, 0xFFFFFFFF):
        yield case("flags", v, {"ran"})  # reserved: ignored by this core
    for v in (h["arena_size"] + 1, h["arena_size"] + 8, 0xFFFFFFFF):
        yield case("arena_size", v, REJECT("PE_ERR_CORRUPT"))  # not a multiple of 16
    state16 = blob.align(h["state_size"])
    yield case("arena_size", 0xFFFFFFF0, REJECT("PE_ERR_CORRUPT") if state16 > 0xF else None)  # state + arena > 4 GiB
    yield case("arena_size", 0, REJECT("PE_ERR_CORRUPT") if h["arena_size"] else None)
    yield case("arena_size", h["arena_size"] + 16, None)  # more room than planned is fine
    yield case("arena_size", 0x7FFFFFF0, None)
    for v in (0xFFFFFFFF, 0xFFFFFFF0, 0xFFFFFFF1):
        yield case("state_size", v, REJECT("PE_ERR_CORRUPT"))
    in_state = any(t["storage"] == blob.STORE_STATE and (t["bytes"] or t["offset"]) for t in a.info.tensors)
    yield case("state_size", 0, REJECT("PE_ERR_CORRUPT") if in_state else None)
    yield case("state_size", h["state_size"] + 1, None)
    for field, n in (("n_tensors", h["n_tensors"]), ("n_ops", h["n_ops"]), ("n_subgraphs", h["n_subgraphs"])):
        for v in {n + 1, n - 1, 0, 0xFFFFFFFF, 0x08000000, 0x05555556} - {n}:
            yield case(field, v, REJECT("PE_ERR_CORRUPT"))
    for k in range(2):
        yield case("reserved", 0xDEADBEEF, {"ran"}, "I", 4 * k)
    for sec in range(blob.N_SECTIONS):
        off, length = a.section(sec)
        base = 8 * sec
        name = blob.SECTION_NAMES[sec]
        yield case("sections", size, REJECT("PE_ERR_CORRUPT") if length else None, "I", base)
        yield case("sections", off + 2, REJECT("PE_ERR_CORRUPT"), "I", base)  # misaligned
        yield case("sections", 0xFFFFFFFC, REJECT("PE_ERR_CORRUPT"), "I", base)
        yield case("sections", size - off + 4, REJECT("PE_ERR_CORRUPT"), "I", base + 4)
        yield case("sections", 0xFFFFFFFF, REJECT("PE_ERR_CORRUPT"), "I", base + 4)
        if name in ("tensors", "ops", "subgraphs") and length:
            yield case("sections", length - 4, REJECT("PE_ERR_CORRUPT"), "I", base + 4)
        if name == "indices" and length:
            yield case("sections", length - 2, REJECT("PE_ERR_CORRUPT"), "I", base + 4)
        if name == "const" and length:
            yield case("sections", off + 4, REJECT("PE_ERR_CORRUPT"), "I", base)  # not 16-aligned
        if name == "meta":
            yield case("sections", 0, {"ran"}, "I", base + 4)  # the core ignores meta


def tensor_cases(a: Anatomy, rng: np.random.Generator, n: int) -> Iterator[Case]:
    d = a.data
    region = {blob.STORE_CONST: a.section(blob.SEC_CONST)[1], blob.STORE_ARENA: a.info.header["arena_size"],
              blob.STORE_STATE: a.info.header["state_size"]}
    for k in range(n):
        i = int(rng.integers(0, a.n_tensors))
        t = a.info.tensors[i]
        base = a.tensor_at(i)
        what = f"tensor {i} "
        pick = k % 12
        if pick == 0:
            v = int(rng.choice([1, 5, 8, 10, 11, 12, 14, 15, 16, 17, 42, 255]))
            yield what + f"dtype = {v}", reseal(put(d, base + TEN["dtype"][0], "B", v)), REJECT("PE_ERR_CORRUPT")
        elif pick == 1:
            v = int(rng.choice([7, 8, 64, 255]))
            yield what + f"rank = {v}", reseal(put(d, base + TEN["rank"][0], "B", v)), REJECT("PE_ERR_CORRUPT")
        elif pick == 2 and len(t["shape"]):
            j = int(rng.integers(0, len(t["shape"])))
            v = int(rng.choice([-1, -2, -0x80000000]))
            yield (what + f"dims[{j}] = {v}", reseal(put(d, base + TEN["dims"][0] + 4 * j, "i", v)),
                   REJECT("PE_ERR_CORRUPT"))
        elif pick == 3:
            v = (t["bytes"] + int(rng.choice([1, -1, 16, 1 << 31]))) & 0xFFFFFFFF
            yield what + f"bytes = {v}", reseal(put(d, base + TEN["bytes"][0], "I", v)), REJECT("PE_ERR_CORRUPT")
        elif pick == 4:
            v = int(rng.choice([4, 5, 128, 255]))
            yield what + f"storage = {v}", reseal(put(d, base + TEN["storage"][0], "B", v)), REJECT("PE_ERR_CORRUPT")
        elif pick == 5 and t["storage"] in region and t["bytes"] > 0:
            size = region[t["storage"]]
            v = int(rng.choice([size, size + 16, 0xFFFFFFF0, (size - t["bytes"] + 16) & ~15]))
            yield what + f"offset = {v:#x}", reseal(put(d, base + TEN["offset"][0], "I", v)), REJECT("PE_ERR_CORRUPT")
        elif pick == 6 and t["storage"] in region:
            v = t["offset"] + int(rng.choice([1, 4, 8]))
            yield what + f"offset = {v:#x} (misaligned)", reseal(put(d, base + TEN["offset"][0], "I", v)), \
                REJECT("PE_ERR_CORRUPT")
        elif pick == 7:
            qsize = a.section(blob.SEC_QUANT)[1]
            v = int(rng.choice([1, 2, qsize, qsize + 4, 0xFFFFFFF0, 0x7FFFFFFC]))
            expect = REJECT("PE_ERR_CORRUPT") if v % 4 or v + 8 > qsize else None
            yield what + f"quant = {v:#x}", reseal(put(d, base + TEN["quant"][0], "I", v)), expect
        elif pick == 8 and len(t["shape"]):
            # consistent reshape: a dim changed and bytes recomputed, so only the ops' checks can tell
            j = int(rng.integers(0, len(t["shape"])))
            v = int(rng.choice([0, 1, 2, t["shape"][j] + 1, t["shape"][j] * 2, 3]))
            shape = list(t["shape"])
            shape[j] = v
            nbytes = int(np.prod(shape, dtype=np.int64)) * blob.ELEMENT_SIZE[t["type_code"]]
            bad = put(d, base + TEN["dims"][0] + 4 * j, "i", v)
            bad = put(bad, base + TEN["bytes"][0], "I", nbytes & 0xFFFFFFFF)
            yield what + f"dims[{j}] = {v}, bytes = {nbytes}", reseal(bad), None
        elif pick == 9:
            # another valid dtype with consistent bytes: the ops' checks must refuse what they can't run
            v = int(rng.choice([0, 2, 3, 4, 6, 7, 9]))
            nbytes = int(np.prod(t["shape"], dtype=np.int64)) * blob.ELEMENT_SIZE[v]
            bad = put(d, base + TEN["dtype"][0], "B", v)
            bad = put(bad, base + TEN["bytes"][0], "I", nbytes & 0xFFFFFFFF)
            yield what + f"dtype = {v}, bytes = {nbytes}", reseal(bad), None
        elif pick == 10:
            field = str(rng.choice(["zero_point", "scale", "flags"]))
            off, code = TEN[field]
            if field == "scale":
                v = float(rng.choice([0.0, -1.0, 1e-30, 1e30, float("inf"), float("nan")]))
                bad = bytearray(d)
                struct.pack_into("<f", bad, base + off, v)
            else:
                v = int(rng.choice(I32_EDGES if field == "zero_point" else [1, 2, 0xFF]))
                bad = put(d, base + off, code, v)
            yield what + f"{field} = {v}", reseal(bad), None
        else:
            # storage class swapped: const <-> arena <-> state <-> none
            v = int(rng.choice([blob.STORE_NONE, blob.STORE_CONST, blob.STORE_ARENA, blob.STORE_STATE]))
            yield what + f"storage = {v}", reseal(put(d, base + TEN["storage"][0], "B", v)), None


def op_cases(a: Anatomy, rng: np.random.Generator, n: int) -> Iterator[Case]:
    d = a.data
    valid_codes = sorted(pyedge._native.op_names())
    unknown = [c for c in (0, 5, 15, 22, 31, 40, 70, 71, 101, 126, 127, 128, 255, 0x7FFF, 0xFFFF)
               if c not in valid_codes]
    n_idx = a.section(blob.SEC_INDICES)[1] // 4
    psize = a.section(blob.SEC_PARAMS)[1]
    arena = a.info.header["arena_size"]
    for k in range(n):
        i = int(rng.integers(0, a.n_ops))
        base = a.op_at(i)
        op = a.info.ops[i]
        what = f"op {i} "
        pick = k % 10
        if pick == 0:
            v = int(rng.choice(unknown))
            yield what + f"code = {v}", reseal(put(d, base, "H", v)), REJECT("PE_ERR_UNSUPPORTED_OP")
        elif pick == 1:
            v = int(rng.choice(valid_codes))  # another op's kernel on this op's tensors and params
            yield what + f"code = {v}", reseal(put(d, base, "H", v)), None
        elif pick == 2:
            field = str(rng.choice(["n_inputs", "n_outputs"]))
            cur = len(op["inputs"] if field == "n_inputs" else op["outputs"])
            v = int(rng.choice([0, max(cur - 1, 0), cur + 1, 0xFFFF]))
            yield what + f"{field} = {v}", reseal(put(d, base + OPR[field][0], "H", v)), \
                REJECT("PE_ERR_CORRUPT") if v == 0xFFFF else None
        elif pick == 3:
            v = int(rng.choice([n_idx, n_idx - 1, 0x7FFFFFFF, 0xFFFFFFFF]))
            count = len(op["inputs"]) + len(op["outputs"])
            yield what + f"io = {v}", reseal(put(d, base + OPR["io"][0], "I", v)), \
                None if range_ok(v, count, n_idx) else REJECT("PE_ERR_CORRUPT")
        elif pick == 4:
            off = blob.OP.unpack_from(d, base)[5]
            v = int(rng.choice([off + 1, off + 2, psize, 0xFFFFFFFC]))
            yield what + f"params = {v:#x}", reseal(put(d, base + OPR["params"][0], "I", v)), \
                REJECT("PE_ERR_CORRUPT") if v % 4 or v >= psize else None
        elif pick == 5:
            v = int(rng.choice([op["params_size"] + 4, max(op["params_size"] - 4, 0), 0xFFFFFFFC]))
            yield what + f"params_size = {v}", reseal(put(d, base + OPR["params_size"][0], "I", v)), \
                REJECT("PE_ERR_CORRUPT", "PE_ERR_BAD_PARAMS")
        elif pick == 6:
            v = int(rng.choice([arena + 16, 0xFFFFFFF0]))
            yield what + f"scratch = {v:#x}", reseal(put(d, base + OPR["scratch"][0], "I", v)), \
                REJECT("PE_ERR_CORRUPT") if op["scratch_size"] or v > arena else None
        elif pick == 7:
            v = int(rng.choice([arena + 16, 0xFFFFFFF0, 0]))
            yield what + f"scratch_size = {v:#x}", reseal(put(d, base + OPR["scratch_size"][0], "I", v)), \
                REJECT("PE_ERR_CORRUPT") if v > arena else None
        elif pick == 8 and k % 20 == 8:
            # a layout this op has no kernel for, or the packed GEMM layout on weights not packed so
            v = int(rng.choice([1, 2, 0x7FFF, 0xFFFFFFFF]))
            yield what + f"layout = {v}", reseal(put(d, base + OPR["layout"][0], "I", v)), \
                REJECT("PE_ERR_LAYOUT", "PE_ERR_SHAPE", "PE_ERR_BAD_PARAMS") if v != op["layout"] else None
            yield what + "reserved = 1", reseal(put(d, base + OPR["reserved"][0], "I", 1)), REJECT("PE_ERR_CORRUPT")
        elif pick == 8:
            v = int(rng.choice([0, 0xFFFF, 0xFFFFFFFF]))
            field = "version" if v == 0xFFFF else "src_index"
            yield what + f"{field} = {v}", reseal(put(d, base + OPR[field][0], OPR[field][1], v)), {"ran"}
        else:
            # one of the op's index entries pointed elsewhere: absent, out of range, or another tensor
            io = blob.OP.unpack_from(d, base)[4]
            n_io = len(op["inputs"]) + len(op["outputs"])
            if n_io == 0:
                continue
            j = int(rng.integers(0, n_io))
            v = int(rng.choice([-1, -2, a.n_tensors, 0x7FFFFFFF, int(rng.integers(0, a.n_tensors))]))
            off = a.section(blob.SEC_INDICES)[0] + 4 * (io + j)
            expect = REJECT("PE_ERR_CORRUPT") if v < -1 or v >= a.n_tensors else None
            yield what + f"io[{j}] = {v}", reseal(put(d, off, "i", v)), expect


def subgraph_cases(a: Anatomy, rng: np.random.Generator) -> Iterator[Case]:
    """Every field of every subgraph record: out of range (rejected), or in range (anything clean)."""
    d = a.data
    n_idx = a.section(blob.SEC_INDICES)[1] // 4
    names = [f for f, _ in blob.SUBGRAPH_FIELDS]
    for i in range(a.info.header["n_subgraphs"]):
        base = a.subgraph_at(i)
        rec = dict(zip(names, blob.SUBGRAPH.unpack_from(d, base)))
        for field, values in (
            ("first_op", [a.n_ops + 1, 0xFFFFFFFF, a.n_ops - rec["n_ops"] + 1, rec["first_op"] + 1, 0]),
            ("n_ops", [a.n_ops + 1, 0xFFFFFFFF, 0, max(rec["n_ops"] - 1, 0)]),
            ("inputs", [n_idx, 0xFFFFFFFF, int(rng.integers(0, n_idx))]),
            ("n_inputs", [n_idx + 1, 0x7FFFFFFF, 0, rec["n_inputs"] + 1]),
            ("outputs", [n_idx, 0xFFFFFFFF, int(rng.integers(0, n_idx))]),
            ("n_outputs", [n_idx + 1, 0xFFFFFFFF, 0, rec["n_outputs"] + 1]),
        ):
            for v in values:
                r = dict(rec, **{field: v})
                ok = (range_ok(r["first_op"], r["n_ops"], a.n_ops) and range_ok(r["inputs"], r["n_inputs"], n_idx)
                      and range_ok(r["outputs"], r["n_outputs"], n_idx))
                yield (f"subgraph {i} {field} = {v:#x}", reseal(put(d, base + SUB[field][0], "I", v)),
                       None if ok else REJECT("PE_ERR_CORRUPT"))
        yield (f"subgraph {i} reserved = 0xdeadbeef", reseal(put(d, base + SUB["reserved"][0], "I", 0xDEADBEEF)),
               {"ran"})


def params_cases(a: Anatomy, rng: np.random.Generator, n: int) -> Iterator[Case]:
    """Int32 params words set to edge values: shifts, multipliers, zero points, sizes, axes."""
    d = a.data
    for _ in range(n):
        i = int(rng.integers(0, a.n_ops))
        off, size = a.op_params(i)
        if size == 0:
            continue
        w = int(rng.integers(0, size // 4))
        (cur,) = struct.unpack_from("<i", d, off + 4 * w)
        v = int(rng.choice(I32_EDGES + [cur + 1, cur - 1, -cur if cur != -0x80000000 else 0, cur * 2, cur >> 1]))
        v = (v + (1 << 31)) % (1 << 32) - (1 << 31)
        yield f"op {i} params word {w}: {cur} -> {v}", reseal(put(d, off + 4 * w, "i", v)), None


def quant_and_const_cases(a: Anatomy, rng: np.random.Generator, n: int) -> Iterator[Case]:
    """Per-channel records' count/axis, and constant data (shape tensors, weights, biases, LUTs)."""
    d = a.data
    qoff, qsize = a.section(blob.SEC_QUANT)
    per_channel = [t for t in a.info.tensors if t["quant"] != blob.NONE]
    for k in range(n // 2):
        if not per_channel:
            break
        t = per_channel[k % len(per_channel)]
        base = qoff + t["quant"]
        if k % 2 == 0:
            v = int(rng.choice([-1, 0x7FFFFFFF, qsize, len(t["scales"]) + 1, 0]))
            expect = REJECT("PE_ERR_CORRUPT") if v < 0 or v > (qsize - t["quant"] - 8) // 8 else None
            yield f"quant@{t['quant']} count = {v}", reseal(put(d, base, "i", v)), expect
        else:
            v = int(rng.choice([-1, 5, 6, 7, 0x7FFFFFFF, -0x80000000, 1, 2, 3]))
            yield f"quant@{t['quant']} axis = {v}", reseal(put(d, base + 4, "i", v)), None
    coff, csize = a.section(blob.SEC_CONST)
    consts = [t for t in a.info.tensors if t["storage"] == blob.STORE_CONST and t["bytes"]]
    # small constants first: shapes, axes, paddings, permutations, biases
    consts.sort(key=lambda t: t["bytes"])
    for k in range(n - n // 2):
        t = consts[k % min(len(consts), 24)] if consts else None
        if t is None:
            break
        esize = max(blob.ELEMENT_SIZE[t["type_code"]], 1)
        pos = coff + t["offset"] + esize * int(rng.integers(0, t["bytes"] // esize))
        bad = bytearray(d)
        if esize == 4:
            struct.pack_into("<i", bad, pos, int(rng.choice(I32_EDGES)))
        elif esize == 8:
            struct.pack_into("<q", bad, pos, int(rng.choice([1 << 62, -(1 << 62), (1 << 47), -(1 << 47) - 1, 1 << 32])))
        else:
            for j in range(esize):
                bad[pos + j] = int(rng.integers(0, 256))
        yield f"const tensor @{t['offset']} element at {pos - coff - t['offset']} changed", reseal(bad), None


PACKED_MODELS = [f"{m}@packed" for m in ("tflm_person_detect", "tflm_micro_speech_quantized")]


@pytest.mark.parametrize("name", MODELS + PACKED_MODELS)
def test_tampered_records(name: str) -> None:
    """Header, tensor, op and subgraph record fields set to edge values, checksum recomputed."""
    a = anatomy(name)
    rng = np.random.default_rng(_seed(name, "records"))

    def cases() -> Iterator[Case]:
        yield from header_cases(a)
        yield from tensor_cases(a, rng, 150)
        yield from op_cases(a, rng, 100)
        yield from subgraph_cases(a, rng)

    counts = run_cases(cases(), _seed(name, "run"))
    assert counts["_total"] >= 250, counts
    assert counts["rejected:PE_ERR_CORRUPT"] >= 100, counts


@pytest.mark.parametrize("name", MODELS + PACKED_MODELS)
def test_tampered_params_quant_and_constants(name: str) -> None:
    """Op params words, per-channel records and constant data set to edge values, checksum
    recomputed: the kernels' check functions must refuse what their kernels cannot run."""
    a = anatomy(name)
    rng = np.random.default_rng(_seed(name, "params"))

    def cases() -> Iterator[Case]:
        yield from params_cases(a, rng, 150)
        yield from quant_and_const_cases(a, rng, 100)

    counts = run_cases(cases(), _seed(name, "run"))
    assert counts["_total"] >= 150, counts


@pytest.mark.parametrize("name", BIG_MODELS)
def test_tampered_big_model(name: str) -> None:
    """Fewer cases on the big model (each invoke costs ~0.3 s), one invoke each."""
    a = anatomy(name)
    rng = np.random.default_rng(_seed(name, "big"))

    def cases() -> Iterator[Case]:
        yield from header_cases(a)
        yield from tensor_cases(a, rng, 24)
        yield from op_cases(a, rng, 20)
        yield from params_cases(a, rng, 8)

    counts = run_cases(cases(), _seed(name, "run"), invokes=1)
    assert counts["_total"] >= 100, counts


def test_reseal_and_outcome_agree_with_pristine_blob() -> None:
    """The harness itself: an untouched blob resealed runs; one changed byte without a reseal is
    caught by the checksum (so the cases above really reach the checks behind it)."""
    a = anatomy("tflm_micro_speech_quantized")
    rng = np.random.default_rng(0)
    assert reseal(a.data) == a.data
    assert outcome(a.data, rng) == "ran"
    bad = bytearray(a.data)
    meta_off, meta_size = a.section(blob.SEC_META)
    assert meta_size > 0
    bad[meta_off] ^= 1  # the core ignores the meta section
    assert outcome(bytes(bad), rng) == "rejected:PE_ERR_CHECKSUM"
    assert outcome(reseal(bad), rng) == "ran"
    op0 = a.op_at(0)
    bad = put(a.data, op0 + OPR["op"][0], "H", 127)  # no core has op 127
    assert outcome(bytes(bad), rng) == "rejected:PE_ERR_CHECKSUM"
    assert outcome(reseal(bad), rng) == "rejected:PE_ERR_UNSUPPORTED_OP"
