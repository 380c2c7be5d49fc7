#!/usr/bin/env python3
"""Instructions per inference of real models on QEMU's Cortex-M boards, next to TFLite Micro's.

For each model (person detection, micro_speech) and board (mps2-an386: Cortex-M4F, mps3-an547:
Cortex-M55) it packs the model for the board (`pyedge pack --target BOARD --format c`), links
the bare-metal runner (native/tests/pe_mcu_run_model.c on boards/platform/) and runs it under
  qemu-system-arm -M BOARD -icount shift=0,align=off,sleep=off
where SysTick then counts instructions (one per ns of virtual time; 40 a tick on MPS2, 31.25 on
AN547). These are instruction counts, not cycles, and they repeat exactly. The outputs are
checked against the host's bit for bit (exit 1 if they differ). Per op through the core's timing
hook; the whole inference without it. Code size: `.text` of the core (runtime + kernels) the
link kept, at -Os, from the linker map.

    python3 tools/mcu_icount.py [--write docs/mcu-instruction-counts.md] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "boards" / "platform"))
import build as mcu  # noqa: E402
import runner  # noqa: E402

MODELS = {"person detection 96x96": "tflm_person_detect", "micro_speech": "tflm_micro_speech_quantized"}
BOARDS = {"mps2-an386": "Cortex-M4F", "mps3-an547": "Cortex-M55"}
# TFLM built bare metal on the same QEMU boards (issue 8): (reference kernels, CMSIS-NN), M instructions
TFLM = {("tflm_person_detect", "mps2-an386"): (95.66, 22.93), ("tflm_person_detect", "mps3-an547"): (91.48, 6.38),
        ("tflm_micro_speech_quantized", "mps2-an386"): (9.31, 1.50),
        ("tflm_micro_speech_quantized", "mps3-an547"): (9.83, 0.837)}
TFLM_ARENA = {"tflm_person_detect": 82292, "tflm_micro_speech_quantized": 6788}
TFLM_TEXT = "39-46 KB"
TARGET = {("tflm_person_detect", "mps2-an386"): 18.3, ("tflm_person_detect", "mps3-an547"): 6.4,
          ("tflm_micro_speech_quantized", "mps2-an386"): 1.2, ("tflm_micro_speech_quantized", "mps3-an547"): 0.84}


def host_outputs(blob: bytes, seed: int = 7) -> tuple[bytes, bytes]:
    import numpy as np

    import pyedge
    it = pyedge.Interpreter(model_content=blob)
    it.allocate_tensors()
    rng = np.random.default_rng(seed)
    ins = bytearray()
    for d in it.get_input_details():
        info = np.iinfo(d["dtype"])
        x = rng.integers(info.min, info.max, size=tuple(d["shape"]), endpoint=True).astype(d["dtype"])
        it.set_tensor(d["index"], x)
        ins += x.tobytes()
    it.invoke()
    return bytes(ins), b"".join(it.get_tensor(d["index"]).tobytes() for d in it.get_output_details())


# how the model is packed and run: "scalar" TFLite's layouts, every op on the scalar reference
# kernels (the firmware's SIMD switched off); "simd" every conv/FC (and 1-channel depthwise) in
# the packed GEMM layout, run by the board's microkernels (M4: DSP; M55: Helium)
PATHS = {"scalar": "generic", "simd": "packed"}
FEATURES_OFF = {"scalar": runner.SCALAR_ONLY, "simd": 0}


def measure(model: str, board: str, link_used_only: bool = False, path: str = "scalar") -> dict:
    import pyedge
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # person_detect's quantized_dimension warning
        blob = pyedge.pack_tflite((ROOT / "tests" / "models" / f"{model}.tflite").read_bytes(), target=board,
                                  layouts=PATHS[path])
    ins, want = host_outputs(blob)
    from pyedge.inspector import inspect_model
    macs = [int(op["macs"] or 0) for op in inspect_model(blob)["ops"]]
    row: dict = {"model": model, "board": board, "path": path, "blob_bytes": len(blob)}
    for opt in ("O2", "Os"):
        elf, warns = runner.firmware(board, blob, model, opt, **runner.link_options(blob, link_used_only))
        if warns:
            raise SystemExit(f"{model} on {board} -{opt}: compiler warnings:\n" + "\n".join(warns))
        res = runner.run(board, elf, ins, features_off=FEATURES_OFF[path])
        if res.outputs[0] != want:
            raise SystemExit(f"{model} on {board} -{opt}: outputs {res.outputs[0].hex()} differ from the host's {want.hex()}")
        sizes = mcu.text_by_origin(elf.with_suffix(".map"))
        row[opt] = {"instructions": res.instructions(res.invoke_ticks[0]), "arena_bytes": res.arena_bytes,
                    "core_text": sizes["core"]["text"], "core_rodata": sizes["core"]["rodata"],
                    "libc_text": sizes["libc"]["text"], "platform_text": sizes["platform"]["text"] + sizes["program"]["text"]}
        if opt == "O2":
            by_kind: dict = defaultdict(float)
            macs_kind: dict = defaultdict(int)
            for i, (op, var, t) in enumerate(res.ops):
                by_kind[f"{op} ({var})"] += res.instructions(t)
                macs_kind[f"{op} ({var})"] += macs[i] if i < len(macs) else 0
            row["ops"] = sorted(by_kind.items(), key=lambda kv: -kv[1])
            row["op_macs"] = dict(macs_kind)
            row["layers"] = sorted(((f"{i} {op} ({var})", res.instructions(t)) for i, (op, var, t) in enumerate(res.ops)),
                                   key=lambda kv: -kv[1])[:5]
            row["per_layer"] = [(i, op, var, res.instructions(t), macs[i] if i < len(macs) else 0)
                                for i, (op, var, t) in enumerate(res.ops)]
    return row


def markdown(rows: list[dict], rows_used: list[dict] | None = None, rows_dsp: list[dict] | None = None) -> str:
    out = ["# Cortex-M instruction counts", "",
           "Written by `tools/mcu_icount.py` (do not edit by hand). Bare metal on QEMU 7.2's `mps2-an386`",
           "(Cortex-M4F) and `mps3-an547` (Cortex-M55), `-icount shift=0,align=off,sleep=off`, SysTick as",
           "the clock: **instruction counts, not cycles** (QEMU runs one instruction per ns of virtual time",
           "and models no pipeline or memory timing); they repeat exactly run after run. One inference on",
           "random inputs, outputs bit-identical to the host's. Firmware built by",
           "`boards/platform/build.py` with GCC " + _gcc_version() + ". TFLite Micro's numbers are from the same",
           "boards and QEMU (issue 8). Two pyedge paths: **scalar**, TFLite's weight layouts and the",
           "scalar reference kernels only (`pyedge pack --target BOARD --layouts generic`, the firmware's",
           "SIMD switched off through the runner's `features_off`; GCC auto-vectorizes some scalar loops",
           "with MVE on the M55); **simd**, every conv and FC (and depthwise of one input channel) in the",
           "packed GEMM layout (`--layouts packed`), run on the M4 by `gemm_8x16c4__dsp` (SMLAD on int16",
           "pairs, `native/kernels/qs8_gemm_dsp.c`) and on the M55 by `gemm_4x16c4__mve` (Helium",
           "VMLADAVA, `native/kernels/qs8_gemm_mve.c`); depthwise with one channel per group by",
           "`dw_row__dsp` on the M4 (SMLABB/SMLATT, `native/kernels/qs8_dwconv_dsp.c`) and `dw_row__mve`",
           "on the M55 (VMULLB/VMULLT on int16, `native/kernels/qs8_dwconv_mve.c`); depthwise of one input",
           "channel on the M55 by `dwdm_row__mve` (its own layout, VMLA by scalar, ",
           "`native/kernels/qs8_dwconv_dm_mve.c`), on the M4 as a GEMM.", "",
           "## Instructions per inference", "",
           "| model | board | pyedge scalar -O2 | pyedge scalar -Os | pyedge simd -O2 | TFLM reference kernels | "
           "TFLM + CMSIS-NN | target |",
           "|---|---|---|---|---|---|---|---|"]
    for k, r in enumerate(rows):
        ref, cmsis = TFLM[r["model"], r["board"]]
        dsp = f"**{rows_dsp[k]['O2']['instructions'] / 1e6:.2f} M**" if rows_dsp else "-"
        out.append(f"| {_name(r['model'])} | {r['board']} ({BOARDS[r['board']]}) | {r['O2']['instructions'] / 1e6:.2f} M | "
                   f"{r['Os']['instructions'] / 1e6:.2f} M | {dsp} | {ref} M | {cmsis} M | "
                   f"<= {TARGET[r['model'], r['board']]} M |")
    out += ["", "## Memory", "",
            "Arena: the one buffer of activations and scratch the model needs (pyedge's planner; TFLM's",
            "arena as its own tools report it). `.text`: code of the pyedge core (runtime + kernels) the",
            "link kept at -Os, from the linker map; the C library (printf for the UART lines, memcpy,",
            "libgcc's division) and the platform are counted apart. TFLM's runtime + kernels: "
            f"{TFLM_TEXT}. \"The model's ops only\": the core's op and variant tables keep only the",
            "ops and weight layouts the model uses (`pyedge pack --op-list model_ops.h`, then",
            "`native/src/ops.c` compiled with `-DPE_OP_LIST='\"model_ops.h\"'`), so `--gc-sections` drops",
            "every other kernel; a blob needing more is refused at `pe_model_init`.", "",
            "| model | board | arena | TFLM arena | blob | core .text -Os, all ops | core .rodata | libc .text |"
            + (" core .text -Os, the model's ops only |" if rows_used else ""),
            "|---|---|---|---|---|---|---|---|" + ("---|" if rows_used else "")]
    for k, r in enumerate(rows):
        line = (f"| {_name(r['model'])} | {r['board']} | {r['Os']['arena_bytes']:,} B | {TFLM_ARENA[r['model']]:,} B | "
                f"{r['blob_bytes']:,} B | {r['Os']['core_text']:,} B | {r['Os']['core_rodata']:,} B | "
                f"{r['Os']['libc_text']:,} B |")
        if rows_used:
            line += f" {rows_used[k]['Os']['core_text']:,} B |"
        out.append(line)
    if rows_dsp:
        out += ["", "The simd path (packed GEMM layout; the firmware linked with the model's ops only, which",
                "does not change a count):", "",
                "| model | board | arena | blob | core .text -Os, the model's ops only |", "|---|---|---|---|---|"]
        for r in rows_dsp:
            out.append(f"| {_name(r['model'])} | {r['board']} | {r['Os']['arena_bytes']:,} B | {r['blob_bytes']:,} B | "
                       f"{r['Os']['core_text']:,} B |")
    out += ["", "## Where the instructions go (-O2, per op through the core's timing hook)", ""]
    for r in rows + (rows_dsp or []):
        total = r["O2"]["instructions"]
        out += [f"### {_name(r['model'])} on {r['board']}, {r['path']}: {total / 1e6:.2f} M", "",
                "| op (variant) | instructions | share | MACs | instructions per MAC |", "|---|---|---|---|---|"]
        for name, n in r["ops"][:6]:
            m = r.get("op_macs", {}).get(name, 0)
            per = f"{n / m:.2f}" if m else "-"
            out.append(f"| {name} | {n / 1e6:.3f} M | {100 * n / total:.1f}% | {m / 1e6:.3f} M | {per} |")
        out += ["", "Heaviest layers: " + ", ".join(f"{n} {v / 1e6:.2f} M" for n, v in r["layers"]), ""]
    simd = [r for r in (rows_dsp or []) if r["model"] == "tflm_person_detect"]
    if simd:
        out += ["## Person detection per layer, simd path (-O2)", "",
                "Instructions of each layer through the core's timing hook (its own reads add a little), the",
                "layer's MACs and instructions per MAC. The ideal of the inner-loop instruction: SMLAD does 2",
                "MACs (0.5 instructions per MAC), Helium's VMLADAVA.S8 16 (0.06 per MAC).", "",
                "| layer | op | shape | " + " | ".join(f"{r['board']} instructions | per MAC" for r in simd) + " |",
                "|---|---|---|" + "---|---|" * len(simd)]
        shapes = _shapes("tflm_person_detect")
        for k, (i, op, var, _, m) in enumerate(simd[0]["per_layer"]):
            cells = []
            for r in simd:
                n = r["per_layer"][k][3]
                cells += [f"{n / 1e6:.3f} M ({r['per_layer'][k][2]})", f"{n / m:.2f}" if m else "-"]
            out.append(f"| {i} | {op} | {shapes[i] if i < len(shapes) else ''} | " + " | ".join(cells) + " |")
        out += [""] + WHERE
    out += ["## Reproduce", "", "```", "python3 tools/mcu_icount.py --write docs/mcu-instruction-counts.md", "```", "",
            END_MARK, ""]
    return "\n".join(out)


# the end of what the tool writes: --write keeps whatever follows this line in the file
END_MARK = "<!-- end of the part tools/mcu_icount.py writes -->"

WHERE = [
    "### Where the instructions go",
    "",
    "- **1x1 convolutions (CONV_2D, `gemm_8x16c4__dsp` on the M4)**: tiles of 2 rows x 2 channels",
    "  keep 4 accumulators in registers; a row pair's panel is widened to int16 pairs once per call",
    "  (UXTB16) and shared by all 8 channel pairs of the block, so a k-group (4 k) of a tile is 3 LDRD",
    "  + 4 SXTB16 + 8 SMLAD: 15 instructions for 16 MACs, two k-groups a pass with 2 for the loop,",
    "  about 1.0 instruction per MAC (ideal 0.5: the SXTB16 of the weights and the loads cost the",
    "  rest; a bigger tile runs out of the M4's 13 free registers). Layers with k = 8 or 16 (the",
    "  first 1x1 convs) pay per output for the requantization (one SMLAL onto a per-channel 64-bit",
    "  constant, ASR/ADDS/ADC, the clamp: about 10 instructions), the per-pair set-up and the",
    "  driver's panel fill, which is why they run at 3-5.5 instructions per MAC and the k = 128-256",
    "  layers at 1.4.",
    "- **1x1 convolutions on the M55 (`gemm_4x16c4__mve`)**: 4 rows x 1 channel; per 16 k a byte",
    "  gather of the channel's weights, 4 row loads, 4 VMLADAVA and 1 VADDVA (the weight sum that",
    "  turns the int8 rows' sums into the uint8 panel's) and the loop's LE: 12 instructions for 64",
    "  MACs (0.19 per MAC against the ideal 0.06), in inline assembly because GCC's choice of",
    "  VMLADAVA's even accumulator registers cost a copy a step. The panel rows are flipped to int8",
    "  once per call; a channel's 4 sums stay in registers to its store (k <= 256), its 4 rows are",
    "  requantized as one vector (a branch on the scalar shift instead of vector masks) and stored",
    "  with an unpredicated byte scatter (rows past the tile's last repeat it). What is left is per",
    "  channel, about 35 instructions for 4 outputs: small k (8, 16: the first 1x1 convs at 2.4 and",
    "  1.2 instructions per MAC) pays mostly for that, the k = 128-256 layers run at 0.33.",
    "- **3x3 depthwise (`dw_row__dsp`)**: 4 channels a 32-bit word, a tap is 1 load, 2 SXTB16 and",
    "  4 SMLABB/SMLATT (1 MAC each: a depthwise tap has no pair to add inside a channel) plus the",
    "  weight words from the stack, about 2.5 instructions per MAC in the tap loop; the input offset",
    "  times the weight sum, the weights' int16 split and the channels' requantization constants",
    "  are prepared once per output row; inside pixels read the input in place, border pixels a",
    "  padded 3x3 strip: 6-9 instructions per MAC in all, the 6x6 layers (128 channels, 6 pixels a",
    "  row) paying most for that per-row preparation.",
    "- **3x3 depthwise on the M55 (`dw_row__mve`)**: 8 channels as int16 lanes (even and odd",
    "  channels' int32 sums apart), two pixels a pass in inline assembly: per tap one weight load",
    "  shared by the two pixels, 2 widening input loads, 4 VMULLB/VMULLT and 4 adds, 99 instructions",
    "  for 144 MACs (0.69 per MAC), every address an immediate offset because the output row's three",
    "  input rows are first copied (per 8 channels, column after column, padded with -input_offset)",
    "  into a stack strip; the weights and the channels' constants (bias + input offset x weight sum,",
    "  multipliers, shifts split left / right) are prepared once per row. The requantization of a",
    "  pixel's 8 channels is about 20 instructions (the two halves narrowed into one int16 vector,",
    "  clamped there and stored with one narrowing store, no scatter). Of its 1.34 M the pixel loop",
    "  is about 0.90 M, the strip copies 0.29 M and the per-row preparation 0.15 M: 1.4-1.8",
    "  instructions per MAC on the wide layers, 1.9 on the 6x6 ones, 2.6-2.8 on the 3x3 ones (rows",
    "  of 3 pixels pay the preparation). It was 2.55 M (3.2 per MAC) when GCC kept the constants in",
    "  the 8 Q registers and spilled the accumulators in the tap loop.",
    "- **The first layer (DEPTHWISE_CONV_2D of one input channel, multiplier 8)**: on the M4 a GEMM",
    "  with k = 9 over an im2col panel (3-byte filter rows, copied by a byte loop); on the M55",
    "  `dwdm_row__mve`: the window's rows widened once per output row to int16 with the input",
    "  offset (zeros in the padding), 4 output pixels of a channel in the int32 lanes, per tap one",
    "  gather of the 4 pixels (stride 2) shared by 4 channels, each a VMLA by its scalar weight",
    "  (LDRSH from the layout's pairs): about 2.4 instructions per MAC with the requantization, 0.39 M",
    "  against 0.99 M as a GEMM. micro_speech's 10x8 first layer runs the same kernel at 1.15.",
    "",
    "### micro_speech's arena",
    "",
    "With packed layouts the arena was 37,984 B against 5,984 B with TFLite's: the GEMM layout's",
    "scratch (the activation panel) was planned for 8 rows (PE_GEMM_MR_MAX, the tallest microkernel",
    "tile) whatever the op, and the FULLY_CONNECTED of micro_speech has one row of k = 4,000: 32,000 B",
    "of scratch for 4,000 B of use. `pe_gemm_scratch_bytes(k, rows, threads)` now plans",
    "min(rows, 8) rows per thread (the packer passes the op's rows, the conv and FC checks verify",
    "it at load), so the arena is 9,984 B on the M4 (`pyedge inspect` shows the op's scratch): the",
    "4,000 B panel, the 4,000 B depthwise output and the 1,960 B input. TFLite Micro's 6,788 B needs",
    "no panel copy for its FC. On the M55 the one-channel depthwise layout's scratch (its int16 rows)",
    "makes it 11,216 B.",
    "",
]


def _shapes(model: str) -> list[str]:
    import warnings as _w

    import pyedge
    from pyedge.inspector import inspect_model
    with _w.catch_warnings():
        _w.simplefilter("ignore")
        blob = pyedge.pack_tflite((ROOT / "tests" / "models" / f"{model}.tflite").read_bytes())
    out = []
    for op in inspect_model(blob)["ops"]:
        ins = [t for t in op["inputs"] if t]
        o = op["outputs"][0] if op["outputs"] else None
        if ins and o:
            out.append(f"{'x'.join(map(str, ins[0]['shape'][1:]))} -> {'x'.join(map(str, o['shape'][1:]))}")
        else:
            out.append("")
    return out


def _name(model: str) -> str:
    return next(k for k, v in MODELS.items() if v == model)


def _gcc_version() -> str:
    import subprocess
    return subprocess.run([mcu.CC, "-dumpversion"], capture_output=True, text=True).stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", type=Path, help="write the Markdown tables to this file")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    reason = mcu.missing()
    if reason:
        print(f"mcu_icount: {reason}", file=sys.stderr)
        return 3
    rows = [measure(m, b) for m in MODELS.values() for b in BOARDS]
    rows_used = [measure(m, b, link_used_only=True) for m in MODELS.values() for b in BOARDS] \
        if runner.HAVE_OP_LIST else None
    rows_dsp = [measure(m, b, link_used_only=True, path="simd") for m in MODELS.values() for b in BOARDS]
    if args.json:
        print(json.dumps({"all_ops": rows, "used_ops": rows_used, "simd": rows_dsp}, indent=1))
    else:
        for r in rows:
            print(f"{r['model']:30s} {r['board']:11s} {r['O2']['instructions'] / 1e6:8.2f} M instructions (-O2) "
                  f"{r['Os']['instructions'] / 1e6:8.2f} M (-Os)  arena {r['Os']['arena_bytes']} B  "
                  f"core .text -Os {r['Os']['core_text']} B")
        for r in rows_dsp:
            print(f"{r['model']:30s} {r['board']:11s} {r['O2']['instructions'] / 1e6:8.2f} M instructions (-O2, simd)")
    if args.write:
        text = markdown(rows, rows_used, rows_dsp)
        if args.write.exists():  # keep what follows the generated part (other sections of the file)
            old = args.write.read_text()
            if END_MARK in old:
                text += old.split(END_MARK, 1)[1].lstrip("\n")
        args.write.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
