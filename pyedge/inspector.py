"""`pyedge inspect`: what a packed model costs, op by op, and whether it fits a board.

Everything is read from the blob (the C core validates it first), so a .tflite (packed in
memory) and the .peb written from it inspect identically. `inspect_model` returns a plain,
JSON-serialisable dict; `format_report` renders it as the table the CLI prints.

Kernels: pyedge's C core has only scalar kernels today. Every op runs its portable C99 reference
kernel `pe_<op>__scalar` whatever the ISA (the core's kernel table has no SIMD variants and
exports no per-op kernel query), so the kernel column is derived from the op table.
"""
from __future__ import annotations

import os
from collections import Counter
from typing import Any

from . import _native
from .blob import (INT4_LAYOUTS, OP, SEC_OPS, SEC_PARAMS, SECTION_NAMES, STORE_ARENA, STORE_CONST, STORE_STATE, align,
                   is_blob, read_blob)
from .boards import ISAS, Board, load_board
from .cpu import cpu_features
from .layouts import feature_names, layout_name
from .graph import TFLITE_TYPE_NAMES

STORAGE_NAMES = {0: "none", 1: "const", 2: "arena", 3: "state"}  # blob.STORE_*
KERNEL_NOTE = ("each op runs the first variant of native/kernels.def whose features this CPU has and whose "
               "weight layout the op carries; the others run their portable C99 reference kernel "
               "pe_<op>__scalar")


def kernel_name(pe_op: str) -> str:
    """C symbol of the kernel that runs `pe_op` (native/ops.def: pe_<lname>__scalar)."""
    return f"pe_{pe_op.lower()}__scalar"


def _load(model: str | os.PathLike | bytes | bytearray | memoryview) -> tuple[bytes, str, str | None]:
    """(blob bytes, "peb" or "tflite", path) for a path or the bytes of a .tflite / .peb."""
    path = None
    if isinstance(model, (bytes, bytearray, memoryview)):
        raw = bytes(model)
    else:
        path = os.fspath(model)
        with open(path, "rb") as f:
            raw = f.read()
    if is_blob(raw):
        return raw, "peb", path
    from .pack import pack_tflite
    return pack_tflite(raw), "tflite", path


def _params(blob: bytes, info: Any, k: int, ctype: str) -> Any:
    """Op k's params struct, decoded through the C declaration."""
    rec = OP.unpack_from(blob, info.sections[SEC_OPS][0] + k * OP.size)
    start = info.sections[SEC_PARAMS][0] + rec[5]
    p = _native.ffi.new(f"{ctype} *")
    _native.ffi.memmove(p, blob[start:start + rec[6]], min(rec[6], _native.ffi.sizeof(ctype)))
    return p


def _size(shape: Any) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _macs(pe_op: str, ins: list[dict | None], outs: list[dict], blob: bytes, info: Any, k: int) -> int:
    """Multiply-accumulates of the MAC-bound ops (0 for the others)."""
    def shape(t: dict | None) -> list[int]:
        return t["shape"] if t is not None else []

    out = _size(shape(outs[0])) if outs else 0
    if pe_op in ("CONV_2D", "DEPTHWISE_CONV_2D") and info.ops[k].get("layout"):  # packed: one group
        p = _params(blob, info, k, "pe_conv_params")
        return out * p.kernel_h * p.kernel_w * shape(ins[0])[-1]
    if pe_op == "FULLY_CONNECTED" and info.ops[k].get("layout"):
        return out * _params(blob, info, k, "pe_fc_params").depth
    if pe_op == "CONV_2D":          # filter [OC, KH, KW, IC/groups]
        w = shape(ins[1])
        return out * (_size(w) // max(w[0], 1))
    if pe_op == "DEPTHWISE_CONV_2D":  # filter [1, KH, KW, OC]
        w = shape(ins[1])
        return out * (_size(w) // max(w[-1], 1))
    if pe_op == "FULLY_CONNECTED":  # weights [units, depth]
        return out * shape(ins[1])[1]
    if pe_op == "BATCH_MATMUL":     # out [..., M, N], contraction over lhs's K
        lhs = shape(ins[0])
        adj_x = _params(blob, info, k, "pe_batch_matmul_params").adj_x
        return out * (lhs[-2] if adj_x else lhs[-1])
    if pe_op == "SVDF":             # per batch: feature matmul + time filter
        batch = shape(ins[0])[0]
        return batch * (_size(shape(ins[1])) + _size(shape(ins[2])))
    if pe_op == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        # per time step and batch: input and recurrent weights (1..8), peepholes (9..11), projection (16)
        steps = out // max(shape(outs[0])[-1], 1)
        return steps * sum(_size(shape(ins[i])) for i in [*range(1, 12), 16] if i < len(ins) and ins[i] is not None)
    return 0


def _timeline(info: Any, blob: bytes, pe_names: list[str]) -> list[int]:
    """Op indices in execution order: subgraph 0, a called subgraph right after its call op
    (CALL_ONCE), then subgraphs nothing calls (as the packer plans them)."""
    order: list[int] = []
    seen: set[int] = set()

    def visit(s: int) -> None:
        if s in seen or s >= len(info.subgraphs):
            return
        seen.add(s)
        sg = info.subgraphs[s]
        for k in range(sg["first_op"], sg["first_op"] + sg["n_ops"]):
            order.append(k)
            if pe_names[k] == "CALL_ONCE":
                visit(_params(blob, info, k, "pe_call_once_params").subgraph)

    for s in range(len(info.subgraphs)):
        visit(s)
    return order


def _union(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, -1
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _peak(info: Any, order: list[int]) -> tuple[int, int]:
    """(most activation-region bytes in use at one op, that op): the union of the arena ranges of
    the tensors live at each step (first..last use; subgraph 0's inputs and outputs for the whole
    run) plus the op's scratch. Overlapping (in-place, aliased) buffers count once."""
    steps = max(len(order), 1)
    live: dict[int, list[int]] = {}
    for step, k in enumerate(order):
        op = info.ops[k]
        for i in op["inputs"] + op["outputs"]:
            if i >= 0 and info.tensors[i]["storage"] == STORE_ARENA:
                live.setdefault(i, []).append(step)
    sg0 = info.subgraphs[0]
    for i in sg0["inputs"] + sg0["outputs"]:
        if info.tensors[i]["storage"] == STORE_ARENA:
            live.setdefault(i, []).extend([0, steps - 1])
    for i, t in enumerate(info.tensors):  # arena tensors no op reads (preserve_all_tensors)
        if t["storage"] == STORE_ARENA and i not in live:
            live[i] = [0, steps - 1]
    spans = [(min(s), max(s), info.tensors[i]["offset"], info.tensors[i]["offset"] + info.tensors[i]["bytes"])
             for i, s in live.items()]
    best, best_op = 0, (order[0] if order else -1)
    for step, k in enumerate(order or [-1]):
        ranges = [(a, b) for first, last, a, b in spans if first <= step <= last]
        if k >= 0 and info.ops[k]["scratch_size"]:
            s = info.ops[k]["scratch"]
            ranges.append((s, s + info.ops[k]["scratch_size"]))
        used = _union(ranges)
        if used > best:
            best, best_op = used, k
    return best, best_op


def _board_report(board: Board, totals: dict[str, Any], ops: list[dict[str, Any]],
                  target: dict[str, Any] | None) -> dict[str, Any]:
    def fit(capacity: int | None, reserved: int, need: int) -> dict[str, Any] | None:
        if capacity is None:
            return None
        margin = capacity - reserved - need
        return {"capacity": capacity, "reserved": reserved, "need": need, "fits": margin >= 0,
                "margin_bytes": margin, "margin_pct": round(100.0 * margin / capacity, 2)}

    ram = fit(board.ram_bytes, board.reserved_ram_bytes, totals["arena_bytes"])
    flash = fit(board.flash_bytes, board.reserved_flash_bytes, totals["blob_bytes"])
    checks = [c["fits"] for c in (ram, flash) if c is not None]
    warnings = []
    if board.fpu == "none":
        for op in ops:
            tensors = [t for t in op["inputs"] + op["outputs"] if t is not None]
            if any(t["dtype"] == "float32" for t in tensors):
                warnings.append({"op": op["index"], "tflite_op": op["tflite_op"], "pe_op": op["pe_op"],
                                 "reason": "float32 data on a board without an FPU: the kernel's float "
                                           "arithmetic runs in software emulation (slow, more code)"})
    notes = []
    from .layouts import features_for_tier, variants
    try:
        simd = [v.name for v in variants() if v.features and (v.features & ~features_for_tier(board.isa)) == 0]
    except ValueError:
        simd = []
    if board.isa != "scalar" and not simd:
        notes.append(f"pyedge has no {board.isa} kernels yet: the scalar kernels run ({ISAS[board.isa]} unused)")
    if target is not None and target.get("name") != board.name and target.get("isa") != board.isa:
        notes.append(f"blob packed with --target {target['name']}; every packed weight layout has a scalar "
                     f"kernel, so it runs on {board.name} unchanged")
    return {
        "name": board.name, "description": board.description, "kind": board.kind, "cpu": board.cpu,
        "isa": board.isa, "fpu": board.fpu, "ram": ram, "flash": flash,
        "fits": all(checks) if checks else None,
        "fits_regions": {
            "arena": [m.name for m in board.memory if m.kind == "ram" and m.size >= totals["arena_bytes"]],
            "blob": [m.name for m in board.memory if m.size >= totals["blob_bytes"]],
        },
        "kernels": simd or "scalar",
        "cannot_run": [],
        "cannot_run_note": "none: every op has a portable C99 kernel for its weight layout",
        "warnings": warnings,
        "notes": notes,
    }


def inspect_model(model: str | os.PathLike | bytes, board: str | Board | None = None) -> dict[str, Any]:
    """Per-op costs and memory totals of a .tflite or .peb (path or bytes), and with `board` (a
    name from boards/, a .toml path or a Board) whether it fits. Raises ModelError,
    UnsupportedOpError (a .tflite pyedge cannot pack), BlobError (a blob the core rejects),
    BoardError (an unknown or malformed board), OSError."""
    from .interpreter import Interpreter

    brd = load_board(board) if isinstance(board, (str, os.PathLike)) else board
    blob, source, path = _load(model)
    interp = Interpreter(model_content=blob)  # the C core validates the blob before anything is read
    info = read_blob(blob)
    meta = info.meta
    names: list[str] = meta.get("names", [])
    src_ops: list[dict[str, Any]] = meta.get("ops", [])
    n_model = sum(meta.get("n_model_tensors", [len(info.tensors)]))
    op_names = _native.op_names()
    pe_names = [op_names.get(op["code"], f"op {op['code']}") for op in info.ops]
    op_sg = {k: s for s, sg in enumerate(info.subgraphs) for k in range(sg["first_op"], sg["first_op"] + sg["n_ops"])}

    def tensor(i: int) -> dict[str, Any] | None:
        if i < 0:
            return None
        t = info.tensors[i]
        return {"index": i, "name": names[i] if i < len(names) else "",
                "dtype": TFLITE_TYPE_NAMES.get(t["type_code"], str(t["type_code"])).lower(),
                "shape": list(t["shape"]), "bytes": t["bytes"], "storage": STORAGE_NAMES[t["storage"]],
                "offset": t["offset"] if t["storage"] in (STORE_CONST, STORE_ARENA, STORE_STATE) else None}

    variants = interp.op_variants()
    ops = []
    weights: dict[int, int] = {}
    derived: dict[int, int] = {}
    referenced: set[int] = set()
    for k, op in enumerate(info.ops):
        ins = [tensor(i) for i in op["inputs"]]
        outs = [tensor(i) for i in op["outputs"]]
        referenced.update(i for i in op["inputs"] + op["outputs"] if i >= 0)
        const_in = [t for t in ins if t is not None and t["storage"] == "const"]
        w = {t["index"]: t["bytes"] for t in const_in if t["index"] < n_model}
        d = {t["index"]: t["bytes"] for t in const_in if t["index"] >= n_model}
        weights.update(w)
        derived.update(d)
        macs = _macs(pe_names[k], ins, outs, blob, info, k)
        src = src_ops[k] if k < len(src_ops) else {}
        ops.append({
            "index": k, "subgraph": op_sg.get(k, 0), "pe_op": pe_names[k], "tflite_op": src.get("name"),
            "tflite_index": op["src_index"], "version": op["version"],
            "kernel": kernel_name(pe_names[k]) if variants[k] == "scalar" else variants[k],
            "kernel_isa": variants[k].rsplit("__", 1)[-1] if "__" in variants[k] else "scalar",
            "layout": layout_name(op.get("layout", 0)),
            "weight_type": "int4" if op.get("layout", 0) in INT4_LAYOUTS else None,
            "inputs": ins, "outputs": outs,
            "macs": macs, "elements": sum(_size(t["shape"]) for t in outs if t is not None),
            "work": "macs" if macs else "elements",
            "weight_bytes": sum(w.values()), "derived_const_bytes": sum(d.values()),
            "scratch": {"offset": op["scratch"], "bytes": op["scratch_size"]} if op["scratch_size"] else None,
        })
    for sg in info.subgraphs:
        referenced.update(sg["inputs"] + sg["outputs"])
    order = _timeline(info, blob, pe_names)
    peak_act, peak_op = _peak(info, order)
    hdr = info.header
    state_bytes = align(hdr["state_size"])
    totals = {
        "ops": len(ops), "subgraphs": len(info.subgraphs), "tensors": len(info.tensors),
        "macs": sum(o["macs"] for o in ops), "elements": sum(o["elements"] for o in ops),
        "weight_bytes": sum(weights.values()), "derived_const_bytes": sum(derived.values()),
        "int4_ops": sum(1 for o in ops if o["weight_type"] == "int4"),
        "int4_layout_bytes": sum(o["inputs"][1]["bytes"] for o in ops if o["weight_type"] == "int4"),
        "unreferenced_const_bytes": sum(t["bytes"] for i, t in enumerate(info.tensors)
                                        if t["storage"] == STORE_CONST and i not in referenced),
        "blob_bytes": hdr["total_size"],
        "sections": {SECTION_NAMES[s]: size for s, (_, size) in enumerate(info.sections)},
        "state_bytes": hdr["state_size"], "activation_bytes": hdr["arena_size"],
        "arena_bytes": interp.arena_size,
        "peak_activation_bytes": peak_act, "peak_bytes": state_bytes + peak_act, "peak_op": peak_op,
    }
    target = meta.get("target")
    return {
        "model": path, "source": source,
        "blob": {"version": f"{hdr['version_major']}.{hdr['version_minor']}",
                 "target_features": feature_names(hdr["target_features"]),
                 "layouts": sorted({layout_name(o.get("layout", 0)) for o in info.ops}),
                 "threads": max(1, hdr.get("threads", 1)),
                 "checksum": f"0x{hdr['checksum']:08x}"},
        "target": target,
        "simplified": meta.get("simplified"),
        "kernels": {"cpu": cpu_features(), "variants": dict(Counter(variants)), "note": KERNEL_NOTE},
        "ops": ops,
        "totals": totals,
        "board": _board_report(brd, totals, ops, target) if brd is not None else None,
    }


# ---- text ---------------------------------------------------------------------------------------

def _n(x: int) -> str:
    return f"{x:,}"


def _t(t: dict[str, Any]) -> str:
    return f"{t['dtype']}[{','.join(str(d) for d in t['shape'])}]"


def _where(t: dict[str, Any]) -> str:
    if t["storage"] == "arena":
        return f"@{t['offset']}+{t['bytes']}"
    return f"{t['storage']}@{t['offset']}+{t['bytes']}" if t["offset"] is not None else t["storage"]


def _fit_line(what: str, f: dict[str, Any] | None, need_name: str) -> str:
    if f is None:
        return f"  {what:6s} not checked (the board file gives no size: {'OS-managed RAM' if what == 'RAM' else 'the blob is a file'})"
    head = f"  {what:6s} {_n(f['capacity'])} bytes: {need_name} {_n(f['need'])} + reserved {_n(f['reserved'])} -> "
    if f["fits"]:
        return head + f"fits, margin {_n(f['margin_bytes'])} bytes ({f['margin_pct']:.1f}% of {what})"
    return head + f"DOES NOT FIT, short by {_n(-f['margin_bytes'])} bytes"


def _src(subgraph: int, index: int) -> str:
    """A TFLite operator index as the op table's `src` column shows it."""
    return f"{subgraph}.{index}" if subgraph else str(index)


def format_report(r: dict[str, Any]) -> str:
    """The readable table `pyedge inspect` prints."""
    tot = r["totals"]
    lines = []
    src = f"{r['model']} " if r["model"] else ""
    target = r["target"]["name"] if r["target"] else "none recorded"
    lines.append(f"model: {src}({'packed from .tflite' if r['source'] == 'tflite' else 'pyedge blob'}); "
                 f"blob format {r['blob']['version']}, weight layouts: {', '.join(r['blob']['layouts'])}, "
                 f"target: {target}")
    cpu = r["kernels"]["cpu"]
    lines.append(f"cpu features: {' '.join(cpu['detected']) or 'none'}; in use: {' '.join(cpu['used']) or 'none (scalar)'}"
                 + (f" (PYEDGE_ISA={cpu['cap']})" if cpu["cap"] else ""))
    lines.append(f"kernels: {r['kernels']['note']}")
    s = r["simplified"]
    if s is not None:
        lines.append(f"simplified at pack time: {s['dead_ops']} dead op(s) removed, {s['folded_ops']} constant "
                     f"op(s) folded, {s.get('fused_pads', 0)} PAD(s) folded into the padding of the "
                     f"convolution reading them, {s.get('fused_activations', 0)} activation(s) fused into "
                     f"the op computing their input, {s['dropped_constants']} unused constant(s) dropped "
                     f"({_n(s['dropped_constant_bytes'])} bytes)")
        fused = [r for r in s.get("removed_ops", []) if r.get("action") == "fused"]
        if fused:
            shown = ", ".join(f"{r['op']} {_src(r['subgraph'], r['index'])} -> {r['into_op']} "
                              f"{_src(r['subgraph'], r['into'])}" for r in fused[:6])
            more = f", and {len(fused) - 6} more" if len(fused) > 6 else ""
            lines.append(f"  fused (TFLite op index -> the op it became part of): {shown}{more}")
    lines.append("")
    head = (f"{'op':>4} {'src':>5} {'TFLite op':<28} {'kernel':<40} {'inputs -> outputs':<44} "
            f"{'MACs':>13} {'weights':>9} {'output arena @offset+bytes':<28} scratch")
    lines.append(head)
    for op in r["ops"]:
        act_in = [_t(t) for t in op["inputs"] if t is not None and t["storage"] != "const"]
        outs = [t for t in op["outputs"] if t is not None]
        io = f"{', '.join(act_in) or '-'} -> {', '.join(_t(t) for t in outs)}"
        work = _n(op["macs"]) if op["macs"] else f"({_n(op['elements'])} el)"
        w = _n(op["weight_bytes"] + op["derived_const_bytes"]) if op["weight_bytes"] + op["derived_const_bytes"] else "-"
        sc = f"@{op['scratch']['offset']}+{op['scratch']['bytes']}" if op["scratch"] else "-"
        src_op = _src(op["subgraph"], op["tflite_index"])
        name = str(op["tflite_op"] or "?") + (" (int4 w)" if op.get("weight_type") == "int4" else "")
        lines.append(f"{op['index']:>4} {src_op:>5} {name:<28} {op['kernel']:<40} {io:<44} "
                     f"{work:>13} {w:>9} {', '.join(_where(t) for t in outs):<28} {sc}")
    lines.append("  MACs: multiply-accumulates of conv/depthwise/FC/batch-matmul/SVDF/LSTM; "
                 "'(N el)' for other ops: output elements")
    lines.append("")
    sec = tot["sections"]
    lines.append("totals:")
    lines.append(f"  ops               {tot['ops']} in {tot['subgraphs']} subgraph(s), {tot['tensors']} tensors")
    lines.append(f"  MACs              {_n(tot['macs'])}")
    lines.append(f"  weights           {_n(tot['weight_bytes'])} bytes from the model + {_n(tot['derived_const_bytes'])} "
                 f"bytes the packer derives (requantization multipliers, lookup tables, folded biases)"
                 + (f"; {_n(tot['unreferenced_const_bytes'])} bytes of constants no kernel reads"
                    if tot["unreferenced_const_bytes"] else ""))
    if tot.get("int4_ops"):
        lines.append(f"  int4 weights      {tot['int4_ops']} op(s) with int4 weights, {_n(tot['int4_layout_bytes'])} bytes "
                     f"of packed layouts (two weights a byte, with the layouts' per-channel terms)")
    lines.append(f"  flash (blob)      {_n(tot['blob_bytes'])} bytes (const {_n(sec['const'])}, quant {_n(sec['quant'])}, "
                 f"records {_n(sec['tensors'] + sec['ops'] + sec['subgraphs'] + sec['indices'] + sec['params'])}, "
                 f"meta {_n(sec['meta'])}: names, ignored by the core)")
    lines.append(f"  arena (RAM)       {_n(tot['arena_bytes'])} bytes = state {_n(tot['state_bytes'])} "
                 f"(aligned to 16) + activations {_n(tot['activation_bytes'])}")
    lines.append(f"  peak memory       {_n(tot['peak_bytes'])} bytes in use at once (at op {tot['peak_op']}): state + "
                 f"live activations and scratch")
    b = r["board"]
    if b is not None:
        lines.append("")
        verdict = {True: "fits", False: "DOES NOT FIT", None: "no memory limits to check"}[b["fits"]]
        lines.append(f"board {b['name']}: {b['description']} -> {verdict}")
        lines.append(_fit_line("RAM", b["ram"], "arena"))
        lines.append(_fit_line("flash", b["flash"], "blob"))
        if b["fits"] is False:
            alt = b["fits_regions"]
            if alt["arena"] or alt["blob"]:
                lines.append(f"  regions large enough: arena in {', '.join(alt['arena']) or 'none'}; "
                             f"blob in {', '.join(alt['blob']) or 'none'} (with a linker script placing them there)")
        lines.append(f"  ops it cannot run: {b['cannot_run_note']}")
        for n in b["notes"]:
            lines.append(f"  note: {n}")
        for w in b["warnings"]:
            lines.append(f"  warning: op {w['op']} ({w['tflite_op']}): {w['reason']}")
    return "\n".join(lines)
