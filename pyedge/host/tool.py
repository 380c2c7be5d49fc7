"""flash, run and profile a model on a board: the Python API behind `pyedge boards|flash|run|profile`.

    from pyedge.host.tool import profile_model
    report = profile_model("model.tflite", board="host", runs=10)            # in-process agent
    report = profile_model("model.peb", board="rpi4", port="socket://pi.local:5757")
"""
from __future__ import annotations

import json
import os
import struct
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, TextIO

import numpy as np

from ..blob import is_blob
from ..boards import Board, list_boards, load_board
from ..errors import PyedgeError
from .device import Device, UploadResult
from .protocol import LinkError, LinkTimeout
from .transports import LoopbackTransport, SerialTransport


# ---- boards and ports ----------------------------------------------------------------------------

def attached_ports() -> list[dict[str, Any]]:
    """Serial ports pyserial sees, each with the boards whose USB ids it matches."""
    from serial.tools import list_ports

    by_id: dict[tuple[int, int], list[str]] = {}
    for n in list_boards():
        c = load_board(n).connect
        for pid in c.get("usb_pids", []):
            if "usb_vid" in c:
                by_id.setdefault((int(c["usb_vid"]), int(pid)), []).append(n)
    out = []
    for p in sorted(list_ports.comports(), key=lambda p: p.device):
        ids = (p.vid, p.pid) if p.vid is not None else None
        out.append({"port": p.device, "description": p.description,
                    "usb_id": f"{p.vid:04x}:{p.pid:04x}" if ids else None,
                    "boards": by_id.get(ids, []) if ids else []})
    return out


def attached_probes() -> dict[str, Any]:
    """Debug probes pyOCD sees (CMSIS-DAP, ST-Link, J-Link), each with the boards whose
    `probe_board_ids` (DAPLink board id: the first 4 characters of the probe's unique id) it
    matches. pyOCD is an optional extra: without it, `available` is False and `reason` says
    how to install it."""
    try:
        from pyocd.probe.aggregator import DebugProbeAggregator
    except ImportError:
        return {"available": False, "reason": "pyOCD is not installed (pip install pyedge[boards])", "probes": []}
    by_id: dict[str, list[str]] = {}
    for n in list_boards():
        for bid in load_board(n).connect.get("probe_board_ids", []):
            by_id.setdefault(str(bid).upper(), []).append(n)
    probes = []
    try:
        found = DebugProbeAggregator.get_all_connected_probes()
    except Exception as exc:  # a USB back end that fails (no libusb, permissions): say so, do not stop
        return {"available": False, "reason": f"pyOCD could not list probes: {exc}", "probes": []}
    for pr in found:
        uid = str(getattr(pr, "unique_id", "") or "")
        probes.append({"unique_id": uid, "description": str(getattr(pr, "description", "")),
                       "vendor": str(getattr(pr, "vendor_name", "")), "product": str(getattr(pr, "product_name", "")),
                       "boards": by_id.get(uid[:4].upper(), [])})
    return {"available": True, "reason": "", "probes": probes}


def boards_table() -> list[dict[str, Any]]:
    """Every board file: name, kind, ISA, how it is reached, RAM and flash."""
    rows = []
    for n in list_boards():
        b = load_board(n)
        c = b.connect
        how = c.get("method", "")
        if c.get("url"):
            how += f" ({c['url']})"
        elif "usb_vid" in c:
            how += " (usb " + ", ".join(f"{c['usb_vid']:04x}:{p:04x}" for p in c.get("usb_pids", [])) + ")"
        elif c.get("machine"):
            how += f" (-M {c['machine']})"
            if c.get("method") == "qemu-system":
                from .qemu import firmware_problem
                how += ", started by pyedge" + ("; cannot build its firmware here" if firmware_problem(b) else "")
        elif c.get("qemu_cpu"):
            how += f" ({c.get('qemu', 'qemu')} -cpu {c['qemu_cpu']}, started by pyedge)"
        rows.append({"name": b.name, "kind": b.kind, "isa": b.isa, "cpu": b.cpu, "connect": how,
                     "ram_bytes": b.ram_bytes, "flash_bytes": b.flash_bytes, "description": b.description})
    return rows


def _board(board: str | Board) -> Board:
    return board if isinstance(board, Board) else load_board(board)


def connect(board: str | Board, port: str | None = None, timeout: float = 1.0, retries: int = 4) -> Device:
    """A Device for a board: `port` (any pyserial URL) if given, else the board file's way in:
    the in-process loopback (board kind host), its `url`, or a serial port with its USB ids."""
    b = _board(board)
    c = b.connect
    rate = float(c["link_bytes_per_s"]) if "link_bytes_per_s" in c else None
    if port is None:
        if c.get("method") == "loopback":
            t = LoopbackTransport(board=b.name, blob_bytes=int(c.get("blob_bytes", 64 << 20)),
                                  arena_bytes=int(c.get("arena_bytes", 64 << 20)),
                                  max_payload=int(c.get("max_payload", 16384)))
            return Device(t, timeout=timeout, retries=retries)
        if c.get("method") in ("qemu-user", "qemu-system"):
            return Device(emulated_transport(b), timeout=timeout, retries=retries, link_bytes_per_s=rate)
        found = [p["port"] for p in attached_ports() if b.name in p["boards"]] if "usb_vid" in c else []
        if len(found) == 1:
            port = found[0]
        elif len(found) > 1:
            raise PyedgeError(f"several {b.name} boards attached ({', '.join(found)}): choose one with --port")
        elif c.get("method") == "qemu":
            alt = f"qemu-{b.name}"
            start = (f"to have pyedge start QEMU, use board {alt}" if alt in list_boards()
                     else "pyedge does not start QEMU for it")
            raise PyedgeError(f"board {b.name} describes the machine QEMU emulates; {start} (or start the agent "
                              "firmware yourself and pass --port socket://127.0.0.1:PORT)")
        elif c.get("url"):
            port = str(c["url"])
        else:
            from .qemu import firmware_problem

            why = firmware_problem(b)
            tool = b.flash.get("method", "?")
            raise PyedgeError(f"no {b.name} board found (method {c.get('method', '?')!r}, flashed with {tool}): "
                              "pass --port with its serial port or socket:// URL"
                              + (f"; note: {why}" if why else ""))
    return Device(SerialTransport(port, baudrate=int(c.get("baud", 115200))), timeout=timeout, retries=retries,
                  link_bytes_per_s=rate)


def emulated_transport(board: str | Board) -> SerialTransport:
    """Start the board's emulator with the agent in it and open its socket:// URL; closing the
    transport stops the emulator."""
    from .qemu import QemuSystemAgent, QemuUserAgent

    b = _board(board)
    c = b.connect
    q = QemuSystemAgent(b) if c.get("method") == "qemu-system" else QemuUserAgent(b)
    name = f"{q.argv[0]} -cpu {c['qemu_cpu']} at {q.url} (pid {q.pid})"
    try:
        # QEMU's -serial tcp server accepts once it is up: the transport retries the connect
        return SerialTransport(q.url, name=name, owned=[q], connect_timeout=10.0)
    except BaseException:
        q.close()
        raise


# ---- model bytes and host reference ----------------------------------------------------------------

def model_blob(model: str | os.PathLike | bytes, board: str | Board | None = None) -> bytes:
    """The blob to flash: a .peb as it is, a .tflite packed for the board's kernels."""
    raw = bytes(model) if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()
    if is_blob(raw):
        return raw
    from ..pack import pack_tflite

    b = _board(board) if board is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inspect/pack already report model warnings
        if b is None or b.kind == "host":  # this CPU's layouts, as pyedge.Interpreter packs
            from .._native import lib
            return pack_tflite(raw, features=int(lib.pe_detect_features()))
        # the host build's variant table has no Arm rows, so "auto" would leave the Arm Linux
        # agent its generic layouts; "packed" gives it the layouts its NEON/dot/i8mm kernels read
        return pack_tflite(raw, target=b.name, layouts="packed" if b.kind == "linux" else "auto")


def check_fits(blob: bytes, board: str | Board) -> None:
    """Refuse a blob larger than the board file's blob memory ([connect] blob_bytes) before any
    emulator starts or any byte is sent; the device checks again against what it reports."""
    b = _board(board)
    cap = b.connect.get("blob_bytes")
    if cap is not None and len(blob) > int(cap):
        raise PyedgeError(f"blob of {len(blob):,} bytes does not fit the device's {int(cap):,} bytes of blob memory "
                          f"(board {b.name}: blob_bytes in {b.path}); nothing was sent")


def _inputs(blob: bytes, files: list[str] | None, seed: int) -> tuple[list[np.ndarray], list[dict]]:
    from ..cli import load_inputs
    from ..interpreter import Interpreter

    it = Interpreter(model_content=blob)
    details = it.get_input_details()
    xs = load_inputs(details, files, seed)
    for d, x in zip(details, xs):
        if x.dtype != np.dtype(d["dtype"]) or tuple(x.shape) != tuple(d["shape"]):
            raise PyedgeError(f"input {d['index']} ({d['name']!r}) must be {np.dtype(d['dtype'])} "
                              f"{list(d['shape'])}, the .npy holds {x.dtype} {list(x.shape)}")
    return xs, details


def host_outputs(blob: bytes, xs: list[np.ndarray]) -> list[tuple[dict, np.ndarray]]:
    """What pyedge's in-process interpreter gives for these inputs (one invoke on fresh state)."""
    from ..interpreter import Interpreter

    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), xs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [(d, it.get_tensor(d["index"])) for d in it.get_output_details()]


# ---- progress -----------------------------------------------------------------------------------

class ProgressBar:
    """`flash [#####.....] 120,000/304,336 B 39% 1.2 MB/s 0.2 s left` on a stream (stderr)."""

    def __init__(self, label: str = "flash", stream: TextIO | None = None, width: int = 30):
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.t0 = time.monotonic()
        self.start: int | None = None
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.start is None:
            self.start, self.t0 = done, now
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        dt = max(now - self.t0, 1e-9)
        rate = (done - self.start) / dt
        left = (total - done) / rate if rate > 0 else float("inf")
        fill = int(self.width * done / max(total, 1))
        eta = f"{left:.1f} s left" if left != float("inf") else "-- s left"
        self.stream.write(f"\r{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {done:,}/{total:,} B "
                          f"{100 * done / max(total, 1):3.0f}% {_rate(rate)} {eta}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _rate(bps: float) -> str:
    return f"{bps / 1e6:.2f} MB/s" if bps >= 1e5 else f"{bps / 1e3:.1f} kB/s"


# ---- flash, run, profile -----------------------------------------------------------------------

def flash(dev: Device, blob: bytes, progress: Callable[[int, int], None] | None = None,
          reconnects: int = 2) -> dict[str, Any]:
    """Upload and load a blob; returns what happened (bytes, rate, resumed offset, the model).
    When the link closes mid-upload (a reset connection, a re-plugged USB port) the port is
    opened again, up to `reconnects` times, and the upload resumes where the device stopped; a
    link that goes silent ends in LinkTimeout naming the port."""
    info = dev.hello()
    had_model, lost = info.model_loaded, False
    done = 0
    while True:
        try:
            up: UploadResult = dev.upload(blob, progress)
            break
        except LinkError as exc:
            reopen = getattr(dev.transport, "reopen", None)
            if isinstance(exc, LinkTimeout) or reopen is None or done >= reconnects:
                raise
            done += 1
            reopen()
            info = dev.hello()
            lost = lost or (had_model and not info.model_loaded)  # the device reset while the link was down
    m = dev.load()
    (checksum,) = struct.unpack_from("<I", blob, 16)
    if m.checksum != checksum or m.blob_bytes != len(blob):
        raise PyedgeError(f"{dev.port}: device loaded blob 0x{m.checksum:08x} ({m.blob_bytes} bytes), "
                          f"not the one sent (0x{checksum:08x}, {len(blob)} bytes)")
    return {"port": dev.port, "board": info.board, "protocol": info.version_str, "blob_bytes": len(blob),
            "checksum": f"0x{checksum:08x}", "resumed_from": up.resumed_from, "seconds": up.seconds,
            "bytes_per_s": up.rate, "retransmits": up.retransmits, "reconnects": done,
            "previous_kept": up.previous_kept, "previous_dropped": up.previous_dropped, "previous_lost": lost,
            "arena_bytes": m.arena_bytes, "ops": m.n_ops,
            "blob_left_bytes": info.blob_cap - len(blob), "arena_cap": info.arena_cap}


def _device_outputs(dev: Device, xs: list[np.ndarray], ref: list[tuple[dict, np.ndarray]],
                    runs: int = 1) -> tuple[list[np.ndarray], int]:
    for k, x in enumerate(xs):
        dev.set_input(k, np.ascontiguousarray(x).tobytes())
    _, ticks = dev.invoke(runs)
    outs = []
    for k, (d, r) in enumerate(ref):
        raw = dev.get_output(k, r.nbytes)
        outs.append(np.frombuffer(raw, r.dtype).reshape(r.shape).copy())
    return outs, ticks


def run_on_board(model: str | os.PathLike | bytes, board: str | Board, port: str | None = None,
                 inputs: list[str] | None = None, seed: int = 0,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Flash, run once on the device and compare every output with the host's, bit for bit."""
    b = _board(board)
    blob = model_blob(model, b)
    xs, _ = _inputs(blob, inputs, seed)
    ref = host_outputs(blob, xs)
    check_fits(blob, b)
    with connect(b, port) as dev:
        fl = flash(dev, blob, progress)
        outs, ticks = _device_outputs(dev, xs, ref)
        info = dev.info
    same = [bool(np.array_equal(o, r)) for o, (_, r) in zip(outs, ref)]
    return {"flash": fl, "outputs": [(d, o) for (d, _), o in zip(ref, outs)], "host_outputs": ref,
            "bit_exact": all(same), "per_output": same, "ticks": ticks, "counter": info.counter,
            "clock_hz": info.clock_hz}


def profile_model(model: str | os.PathLike | bytes, board: str | Board, port: str | None = None,
                  runs: int = 10, inputs: list[str] | None = None, seed: int = 0,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Flash, check the outputs against the host's, then time `runs` invokes op by op. Returns
    the per-layer table (op, shapes, MACs, kernel, counts, time, MACs per count, share) and the
    totals (latency, arena high-water, blob size, RAM and flash left)."""
    from ..inspector import inspect_model, kernel_name

    if runs < 1:
        raise PyedgeError(f"--runs must be at least 1, not {runs}")
    b = _board(board)
    blob = model_blob(model, b)
    xs, _ = _inputs(blob, inputs, seed)
    ref = host_outputs(blob, xs)
    layers = inspect_model(blob)["ops"]
    check_fits(blob, b)
    with connect(b, port) as dev:
        fl = flash(dev, blob, progress)
        outs, _ = _device_outputs(dev, xs, ref, 1)
        _, ticks = dev.invoke(runs)
        counts = dev.profile()
        st = dev.stats()
        info = dev.info
    same = [bool(np.array_equal(o, r)) for o, (_, r) in zip(outs, ref)]
    unit = info.counter
    per_run = [c.ticks / runs for c in counts]
    total = sum(per_run) or 1.0
    ns_per_tick = 1e9 / info.clock_hz if info.clock_hz else None
    rows = []
    for c, lay, t in zip(counts, layers, per_run):
        shapes_in = [x["shape"] for x in lay["inputs"] if x is not None and x["storage"] != "const"]
        shapes_out = [x["shape"] for x in lay["outputs"] if x is not None]
        rows.append({"index": c.index, "op": lay["pe_op"], "tflite_op": lay["tflite_op"],
                     "inputs": shapes_in, "outputs": shapes_out, "macs": lay["macs"],
                     "kernel": kernel_name(lay["pe_op"]) if c.variant == "scalar" else c.variant,
                     "counts": t, "ns": t * ns_per_tick if ns_per_tick else None,
                     "macs_per_count": lay["macs"] / t if t else 0.0, "share": t / total})
    latency_ns = ticks / runs * ns_per_tick if ns_per_tick else None
    return {
        "model": str(model) if not isinstance(model, (bytes, bytearray)) else "<bytes>",
        "board": b.name, "port": fl["port"], "device_board": info.board, "protocol": info.version_str,
        "counter": unit, "counter_note": str(b.connect.get("counter_note", "")), "clock_hz": info.clock_hz,
        "runs": runs, "layers": rows,
        "totals": {"counts_per_run": ticks / runs, "op_counts_per_run": sum(per_run), "latency_ns": latency_ns,
                   "macs": sum(r["macs"] for r in rows),
                   "arena_bytes": st.arena_bytes, "arena_high_water_bytes": st.arena_high_water,
                   "blob_bytes": st.blob_bytes, "ram_left_bytes": st.arena_cap - st.arena_used,
                   "flash_left_bytes": st.blob_cap - st.blob_bytes},
        "flash": {k: fl[k] for k in ("seconds", "bytes_per_s", "resumed_from", "retransmits", "reconnects")},
        "bit_exact": all(same), "per_output": same,
    }


# ---- reports -------------------------------------------------------------------------------------

def _shape(shapes: list[list[int]]) -> str:
    return ",".join("[" + ",".join(map(str, s)) + "]" for s in shapes)


def _time(ns: float | None) -> str:
    if ns is None:
        return "-"
    return f"{ns / 1e6:.3f} ms" if ns >= 1e5 else f"{ns / 1e3:.1f} us"


def format_profile(r: dict[str, Any]) -> str:
    unit = r["counter"]
    lines = [f"model {r['model']} on {r['board']} ({r['port']}, agent board {r['device_board']!r}, "
             f"protocol {r['protocol']}); {r['runs']} runs; counts are {unit}"
             + (f" at {r['clock_hz']:,} Hz" if r["clock_hz"] else "")
             + (f" ({r['counter_note']})" if r.get("counter_note") else ""),
             f"{'#':>3} {'op':22} {'input -> output':40} {'MACs':>12} {'kernel':26} {unit + '/run':>14} "
             f"{'time':>10} {'MACs/' + unit[:5]:>11} {'share':>6}"]
    for x in r["layers"]:
        io = f"{_shape(x['inputs'])} -> {_shape(x['outputs'])}"
        lines.append(f"{x['index']:>3} {x['op'][:22]:22} {io[:40]:40} {x['macs']:>12,} {x['kernel'][:26]:26} "
                     f"{x['counts']:>14,.0f} {_time(x['ns']):>10} {x['macs_per_count']:>11.2f} "
                     f"{100 * x['share']:>5.1f}%")
    t = r["totals"]
    lines += [f"latency: {_time(t['latency_ns'])} per run ({t['counts_per_run']:,.0f} {unit}; ops "
              f"{t['op_counts_per_run']:,.0f}); {t['macs']:,} MACs",
              f"arena: {t['arena_bytes']:,} B planned, high-water {t['arena_high_water_bytes']:,} B; "
              f"RAM left {t['ram_left_bytes']:,} B",
              f"blob: {t['blob_bytes']:,} B; flash left {t['flash_left_bytes']:,} B; flashed at "
              f"{_rate(r['flash']['bytes_per_s'])}",
              "outputs: " + ("bit-exact with the host" if r["bit_exact"] else
                             f"MISMATCH with the host (per output: {r['per_output']})")]
    return "\n".join(lines)


def write_json(r: dict[str, Any], path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(r, indent=1) + "\n")


def _esc(s: Any) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def profile_html(r: dict[str, Any]) -> str:
    """A self-contained HTML report: totals, an inline SVG bar chart of each layer's share, and
    the per-layer table."""
    layers = r["layers"]
    unit = r["counter"]
    bar_h, label_w, chart_w = 16, 260, 520
    peak = max((x["counts"] for x in layers), default=1) or 1
    bars = []
    for k, x in enumerate(layers):
        y = k * (bar_h + 4)
        w = max(1.0, chart_w * x["counts"] / peak)
        bars.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{x["index"]} {_esc(x["op"])}'
                    f'</text><rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}">'
                    f'<title>{_esc(x["kernel"])}: {x["counts"]:,.0f} {unit}</title></rect>'
                    f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}">{100 * x["share"]:.1f}%</text>')
    height = len(layers) * (bar_h + 4) + 4
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + chart_w + 70}" height="{height}" '
           f'role="img" aria-label="{unit} per layer">{"".join(bars)}</svg>')
    t = r["totals"]
    rows = "".join(
        f"<tr><td>{x['index']}</td><td>{_esc(x['op'])}</td><td>{_esc(_shape(x['inputs']))} &rarr; "
        f"{_esc(_shape(x['outputs']))}</td><td>{x['macs']:,}</td><td>{_esc(x['kernel'])}</td>"
        f"<td>{x['counts']:,.0f}</td><td>{_time(x['ns'])}</td><td>{x['macs_per_count']:.2f}</td>"
        f"<td>{100 * x['share']:.1f}%</td></tr>" for x in layers)
    verdict = "bit-exact with the host" if r["bit_exact"] else "MISMATCH with the host"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pyedge profile: {_esc(r['model'])} on {_esc(r['board'])}</title>
<style>body{{font:14px sans-serif;margin:2em}} table{{border-collapse:collapse}} td,th{{padding:2px 8px;
border-bottom:1px solid #ddd;text-align:right}} td:nth-child(2),td:nth-child(3),td:nth-child(5){{text-align:left}}
svg text{{font:12px sans-serif}} .bar{{fill:#3a7bd5}} .bad{{color:#b00}}</style></head><body>
<h1>pyedge profile</h1>
<p>model <code>{_esc(r['model'])}</code> on board <b>{_esc(r['board'])}</b> ({_esc(r['port'])}),
{r['runs']} runs, counts are <b>{_esc(unit)}</b>{' (' + _esc(r['counter_note']) + ')' if r.get('counter_note') else ''}.</p>
<ul id="totals"><li>latency: {_time(t['latency_ns'])} per run ({t['counts_per_run']:,.0f} {_esc(unit)})</li>
<li>MACs: {t['macs']:,}</li>
<li>arena: {t['arena_bytes']:,} B planned, high-water {t['arena_high_water_bytes']:,} B, RAM left {t['ram_left_bytes']:,} B</li>
<li>blob: {t['blob_bytes']:,} B, flash left {t['flash_left_bytes']:,} B</li>
<li id="check" class="{'' if r['bit_exact'] else 'bad'}">outputs: {verdict}</li></ul>
<h2>{_esc(unit)} per layer</h2>
{svg}
<h2>Layers</h2>
<table id="layers"><tr><th>#</th><th>op</th><th>input &rarr; output</th><th>MACs</th><th>kernel</th>
<th>{_esc(unit)}/run</th><th>time</th><th>MACs/{_esc(unit)}</th><th>share</th></tr>
{rows}</table></body></html>
"""
