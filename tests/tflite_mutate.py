"""Seeded structural mutations of .tflite flatbuffers, and a worker that loads them.

The walker follows TFLite's schema (schema.fbs) from the root table and records every place a
damaged file can lie: table -> vtable soffsets, vtable sizes and field slots, uoffsets to
tables, vectors and strings, vector lengths, and the scalars that index other things (tensor
buffer, shape, type, operator opcode index and tensor lists, quantization arrays and axis,
Buffer offset/size). `mutant(raw, sites, seed, i)` derives mutant i from (seed, i) alone, so a
worker process regenerates it without the parent sending bytes.

    python tests/tflite_mutate.py MODEL.tflite SEED START COUNT

loads mutants START.. of MODEL one at a time (pack, allocate, invoke) and prints one JSON line
per mutant (a "start" line before each load, so the parent names the mutant that killed the
process by a signal).
"""
from __future__ import annotations

import json
import os
import signal
import struct
import sys
from dataclasses import dataclass

import numpy as np

# table -> {field slot: kind}; kinds: "t:<Table>" table, "vt:<Table>" vector of tables,
# "v<bytes>" vector of scalars, "s" string, "u" union table of unknown layout, "<n>" scalar width
SCHEMA: dict[str, dict[int, str]] = {
    "Model": {0: "4", 1: "vt:OperatorCode", 2: "vt:SubGraph", 3: "s", 4: "vt:Buffer", 5: "v4",
              6: "vt:Metadata", 7: "vt:SignatureDef"},
    "OperatorCode": {0: "1", 1: "s", 2: "4", 3: "4"},
    "SubGraph": {0: "vt:Tensor", 1: "v4", 2: "v4", 3: "vt:Operator", 4: "s"},
    "Tensor": {0: "v4", 1: "1", 2: "4", 3: "s", 4: "t:QuantizationParameters", 5: "1", 7: "v4", 8: "1"},
    "QuantizationParameters": {0: "v4", 1: "v4", 2: "v4", 3: "v8", 4: "1", 6: "4"},
    "Operator": {0: "4", 1: "v4", 2: "v4", 3: "1", 4: "u", 5: "v1", 6: "1", 7: "v1", 8: "v4", 9: "8", 10: "8"},
    "Buffer": {0: "v1", 1: "8", 2: "8"},
    "Metadata": {0: "s", 1: "4"},
    "SignatureDef": {0: "vt:TensorMap", 1: "vt:TensorMap", 2: "s", 4: "4"},
    "TensorMap": {0: "s", 1: "4"},
}


@dataclass(frozen=True)
class Site:
    kind: str   # soffset | vtsize | vtslot | uoffset | veclen | scalar | element
    pos: int
    width: int
    what: str   # e.g. "Tensor.buffer", for reports


def _u32(raw: bytes, pos: int) -> int:
    return struct.unpack_from("<I", raw, pos)[0]


def sites_of(raw: bytes) -> list[Site]:
    """Every mutable place the walker reaches in a valid model."""
    out: list[Site] = []
    seen: set[int] = set()

    def table(pos: int, name: str) -> None:
        if pos in seen or not 0 <= pos <= len(raw) - 4:
            return
        seen.add(pos)
        out.append(Site("soffset", pos, 4, f"{name} vtable offset"))
        vt = pos - struct.unpack_from("<i", raw, pos)[0]
        vt_size = struct.unpack_from("<H", raw, vt)[0]
        out.append(Site("vtsize", vt, 2, f"{name} vtable size"))
        out.append(Site("vtsize", vt + 2, 2, f"{name} object size"))
        fields = SCHEMA.get(name, {})
        for slot in range((vt_size - 4) // 2):
            entry = struct.unpack_from("<H", raw, vt + 4 + 2 * slot)[0]
            out.append(Site("vtslot", vt + 4 + 2 * slot, 2, f"{name} field {slot} slot"))
            if entry == 0:
                continue
            fpos = pos + entry
            kind = fields.get(slot)
            what = f"{name} field {slot}"
            if kind is None:
                out.append(Site("scalar", fpos, 4 if fpos + 4 <= len(raw) else 1, what))
            elif kind.isdigit():
                out.append(Site("scalar", fpos, int(kind), what))
            else:
                target = fpos + _u32(raw, fpos)
                out.append(Site("uoffset", fpos, 4, what))
                if kind == "u":
                    table(target, "options")
                elif kind.startswith("t:"):
                    table(target, kind[2:])
                else:
                    n = _u32(raw, target)
                    out.append(Site("veclen", target, 4, what + " length"))
                    if kind.startswith("vt:"):
                        for k in range(n):
                            e = target + 4 + 4 * k
                            out.append(Site("uoffset", e, 4, f"{what}[{k}]"))
                            table(e + _u32(raw, e), kind[3:])
                    elif kind.startswith("v") and kind != "v1":
                        w = int(kind[1:])
                        for k in range(min(n, 8)):
                            out.append(Site("element", target + 4 + w * k, w, f"{what}[{k}]"))

    table(_u32(raw, 0), "Model")
    return out


_WIDTH_FMT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


def _extreme(rng: np.random.Generator, old: int, width: int, size: int) -> int:
    top = (1 << (8 * width)) - 1
    choices = [0, 1, 2, 3, top, top >> 1, (top >> 1) + 1, old + 1, old - 1, old + 4, old - 4, old * 2,
               size, size - 1, int(rng.integers(0, min(top, 1 << 32), endpoint=True))]
    return int(choices[int(rng.integers(len(choices)))]) & top


def mutant(raw: bytes, sites: list[Site], seed: int, i: int) -> tuple[bytes, str]:
    """Mutant i of `raw` (deterministic in seed and i) and a description of the damage."""
    rng = np.random.default_rng([seed, i])
    kind = ["truncate", "bitflip", "site", "site", "site", "site", "two_sites"][int(rng.integers(7))]
    buf = bytearray(raw)
    if kind == "truncate":
        n = int(rng.integers(0, len(raw)))
        return bytes(buf[:n]), f"truncated to {n} bytes"
    if kind == "bitflip":
        span = min(len(raw), 4096) if rng.integers(2) else len(raw)  # the tables sit first
        flips = [int(p) for p in rng.integers(0, span, size=int(rng.integers(1, 5)))]
        for p in flips:
            buf[p] ^= 1 << int(rng.integers(8))
        return bytes(buf), f"bits flipped at {flips}"
    desc = []
    for _ in range(2 if kind == "two_sites" else 1):
        s = sites[int(rng.integers(len(sites)))]
        if s.pos + s.width > len(buf):
            continue
        fmt = _WIDTH_FMT[s.width]
        old = struct.unpack_from(fmt, buf, s.pos)[0]
        new = _extreme(rng, old, s.width, len(raw))
        struct.pack_into(fmt, buf, s.pos, new)
        desc.append(f"{s.what} ({s.kind} at {s.pos}) {old} -> {new}")
    return bytes(buf), "; ".join(desc)


def _load(data: bytes) -> str:
    import pyedge

    it = pyedge.Interpreter(model_content=data)
    if it.arena_size > 256 << 20:
        return "loaded (arena too large to allocate here)"
    it.allocate_tensors()
    for d in it.get_input_details():
        try:
            it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        except ValueError:  # the API refusing a call (an input the damage made constant), not the load
            pass
    it.invoke()
    return "ran"


def main(argv: list[str]) -> int:
    import faulthandler
    import warnings

    import pyedge

    faulthandler.enable()
    warnings.simplefilter("ignore")
    path, seed, start, count = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    raw = open(path, "rb").read()
    sites = sites_of(raw)
    abort_at = int(os.environ.get("PYEDGE_MUTATION_SELFTEST_SIGNAL", "-1"))  # the harness's own test
    for i in range(start, count):
        data, desc = mutant(raw, sites, seed, i)
        print(json.dumps({"start": i}), flush=True)
        if i == abort_at:
            os.kill(os.getpid(), signal.SIGSEGV)
        try:
            outcome, error = _load(data), ""
        except pyedge.PyedgeError as exc:
            outcome, error = type(exc).__name__, str(exc)
        except Exception as exc:  # what the test is looking for
            outcome, error = "internal:" + type(exc).__name__, str(exc)
        print(json.dumps({"i": i, "outcome": outcome, "error": error[:300], "mutation": desc}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
