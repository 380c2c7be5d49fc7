"""`pyedge boards`, `flash`, `run --board` and `profile`: thin shells over pyedge.host.tool."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ..errors import PyedgeError


def cmd_boards(args: argparse.Namespace) -> int:
    from .tool import attached_ports, attached_probes, boards_table

    rows = boards_table()
    ports = attached_ports()
    probes = attached_probes()
    if args.json:
        print(json.dumps({"boards": rows, "ports": ports, "probes": probes}, indent=1))
        return 0
    print(f"{'board':18} {'kind':6} {'isa':8} {'cpu':12} {'RAM':>12} {'flash':>12}  reached by")
    for r in rows:
        ram = f"{r['ram_bytes']:,}" if r["ram_bytes"] else "-"
        fl = f"{r['flash_bytes']:,}" if r["flash_bytes"] else "-"
        print(f"{r['name']:18} {r['kind']:6} {r['isa']:8} {r['cpu']:12} {ram:>12} {fl:>12}  {r['connect']}")
    print("attached serial ports:" + ("" if ports else " none"))
    for p in ports:
        which = ", ".join(p["boards"]) if p["boards"] else "no known board"
        print(f"  {p['port']}  {p['usb_id'] or '-'}  {p['description']}  ({which})")
    if not probes["available"]:
        print(f"debug probes: not listed: {probes['reason']}")
    else:
        print("debug probes (pyOCD):" + ("" if probes["probes"] else " none"))
        for pr in probes["probes"]:
            which = ", ".join(pr["boards"]) if pr["boards"] else "no known board"
            print(f"  {pr['unique_id']}  {pr['description']}  ({which})")
    return 0


def _progress(args: argparse.Namespace):
    from .tool import ProgressBar

    return None if getattr(args, "quiet", False) else ProgressBar("flash", sys.stderr)


def cmd_flash(args: argparse.Namespace) -> int:
    from .tool import check_fits, connect, flash, model_blob

    blob = model_blob(args.model, args.board)
    check_fits(blob, args.board)
    with connect(args.board, args.port) as dev:
        r = flash(dev, blob, _progress(args))
    resumed = f", resumed at {r['resumed_from']:,} B" if r["resumed_from"] else ""
    print(f"flashed {r['blob_bytes']:,} B (checksum {r['checksum']}) to {r['board']} on {r['port']} in "
          f"{r['seconds']:.2f} s ({r['bytes_per_s'] / 1e3:,.1f} kB/s{resumed}); loaded: {r['ops']} ops, arena "
          f"{r['arena_bytes']:,} B; blob memory left {r['blob_left_bytes']:,} B")
    if r["previous_dropped"]:
        print("note: the previously loaded model was dropped to make room")
    if r["previous_lost"]:
        print("note: the device reset while the link was down; its previous model was gone (it keeps models in "
              "RAM only) and the upload started again")
    return 0


def cmd_run_board(args: argparse.Namespace) -> int:
    from .tool import run_on_board

    r = run_on_board(args.model, args.board, args.port, args.input, args.seed, _progress(args))
    fl = r["flash"]
    if getattr(args, "json", False):
        from ..cli import _output_json
        doc = {"model": str(args.model), "board": args.board, "port": fl["port"], "device_board": fl["board"],
               "flash": {k: v for k, v in fl.items() if k not in ("port", "board")},
               "outputs": [_output_json(d, out) for d, out in r["outputs"]], "ticks": r["ticks"],
               "counter": r["counter"], "bit_exact": r["bit_exact"], "per_output": r["per_output"]}
        print(json.dumps(doc, indent=1))
        return 0 if r["bit_exact"] else 1
    print(f"model: {args.model} on {fl['board']} ({fl['port']})")
    print("inputs: " + ("from " + ", ".join(args.input) if args.input else f"random, seed {args.seed}"))
    with np.printoptions(threshold=64, edgeitems=8, linewidth=100):
        for (d, out), same in zip(r["outputs"], r["per_output"]):
            print(f"output {d['name']!r} index {d['index']} {out.dtype} {list(out.shape)}"
                  f" scale {d['quantization'][0]:.6g} zero_point {d['quantization'][1]}"
                  f" ({'equals the host' if same else 'DIFFERS from the host'})")
            print(out)
    unit = r["counter"]
    t = f"{r['ticks'] / 1e6:.3f} ms" if unit == "ns" else f"{r['ticks']:,} {unit}"
    print(f"invoke on the device: {t}")
    print("outputs: " + ("bit-exact with the host" if r["bit_exact"] else "MISMATCH with the host"))
    return 0 if r["bit_exact"] else 1


def cmd_profile(args: argparse.Namespace) -> int:
    from .tool import format_profile, profile_html, profile_model, write_json

    r = profile_model(args.model, args.board, args.port, args.runs, args.input, args.seed, _progress(args))
    if args.json == "-":  # the report as JSON on stdout instead of the table
        print(json.dumps(r, indent=1))
        if args.html:
            from pathlib import Path
            Path(args.html).write_text(profile_html(r))
        return 0 if r["bit_exact"] else 1
    print(format_profile(r))
    if args.json:
        write_json(r, args.json)
        print(f"wrote {args.json}")
    if args.html:
        from pathlib import Path
        Path(args.html).write_text(profile_html(r))
        print(f"wrote {args.html}")
    return 0 if r["bit_exact"] else 1


def cmd_build_firmware(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..boards import load_board
    from .agent_build import build_firmware, build_standalone, elf_sizes

    b = load_board(args.board)
    if args.model:
        elf = build_standalone(b, args.model, args.output, runs=args.runs)
        what = f"standalone firmware for {args.model} (only the kernels it uses)"
    else:
        elf = build_firmware(b, args.output, force=bool(args.output))
        what = "firmware agent"
    sz = elf_sizes(elf)
    try:
        shown = elf.relative_to(Path.cwd())
    except ValueError:
        shown = elf
    print(f"built the {what} for {b.name}: {shown}")
    print(f"  .text {sz['text']:,} B (code {sz['code']:,}, constants {sz['rodata']:,})  .data {sz['data']:,} B  "
          f".bss {sz['bss']:,} B")
    c = b.connect
    if c.get("method") == "qemu-system":
        run = (f"{c.get('qemu_system', 'qemu-system-arm')} -M {c['machine']} -cpu {c['qemu_cpu']} "
               f"{' '.join(map(str, c.get('qemu_args', [])))} ")
        if args.model:
            print(f"run it: {run}-serial stdio -kernel {shown}")
        else:
            print(f"run it: pyedge run --board {b.name} MODEL (pyedge starts QEMU with it)")
    elif b.flash.get("method") == "pyocd":
        print(f"flash it: pyocd flash --target {b.flash.get('pyocd_target', '?')} {shown}")
    return 0


def _device_args(p: argparse.ArgumentParser, board_required: bool = True) -> None:
    p.add_argument("--board", required=board_required,
                   help="a board from boards/ (`pyedge boards`); `host` runs the agent in-process")
    p.add_argument("--port", help="how to reach the device agent: any pyserial URL (/dev/ttyACM0, COM3, "
                                  "socket://host:port, rfc2217://host:port); default: from the board file")


def add_commands(sub) -> None:
    """Register boards, flash and profile on the CLI's subparsers."""
    b = sub.add_parser("boards", help="list the boards in boards/ and the serial ports attached")
    b.add_argument("--json", action="store_true", help="print boards and ports as JSON")
    b.set_defaults(fn=cmd_boards)
    f = sub.add_parser("flash", help="upload a model to a device running the pyedge agent (with a progress bar)")
    f.add_argument("model", help=".tflite (packed for the board) or .peb")
    _device_args(f)
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    f.set_defaults(fn=cmd_flash)
    p = sub.add_parser("profile", help="flash, run and time a model layer by layer on a device; check its "
                                       "outputs against the host's bit for bit")
    p.add_argument("model")
    _device_args(p)
    p.add_argument("--runs", type=int, default=10, help="timed invokes (default 10)")
    p.add_argument("--input", action="append", help=".npy file for each model input, in order")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (no --input)")
    p.add_argument("--json", metavar="F", help="write the report as JSON to F (`-`: print it instead of the table)")
    p.add_argument("--html", metavar="F", help="write a self-contained HTML report with a bar chart to F")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=cmd_profile)
    w = sub.add_parser("build-firmware", help="build the Cortex-M firmware agent for a board, or with MODEL a "
                                              "standalone firmware with the model and only its kernels linked in")
    w.add_argument("model", nargs="?", help=".tflite or .peb to link in (packed for the board)")
    w.add_argument("--board", required=True, help="a microcontroller board from boards/ (`pyedge boards`)")
    w.add_argument("-o", "--output", metavar="DIR", help="directory for the ELF (default build/firmware/<board>/...)")
    w.add_argument("--runs", type=int, default=1, help="with MODEL: invokes the firmware runs (default 1)")
    w.set_defaults(fn=cmd_build_firmware)


def add_run_args(r: argparse.ArgumentParser) -> None:
    """`run --board B [--port URL]`: run on a device instead of in-process."""
    _device_args(r, board_required=False)
    r.add_argument("-q", "--quiet", action="store_true", help="with --board: no progress bar")
