"""The `pyedge quantize` and `pyedge compare` subcommands (thin shells over pyedge.quantize)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .observers import DEFAULT_METHOD, METHODS
from .quantizer import ACTIVATION_TYPES, IO_TYPES


def cmd_quantize(args: argparse.Namespace) -> int:
    from . import calibrate
    from ..tflite_writer import write_file_atomic

    if args.dynamic:
        return cmd_quantize_dynamic(args)
    if args.calibration is None:
        raise SystemExit("pyedge quantize: --calibration DATA is required (or --dynamic, which needs none)")
    if (args.mixed or args.int16_layers) and args.activations != "int8":
        raise SystemExit("pyedge quantize: --activations int16 is per model; --int16-layers and --mixed choose "
                         "per layer (leave --activations out)")
    if args.mixed and args.weights != "int8":
        raise SystemExit("pyedge quantize: --mixed auto chooses the weight types per layer (leave --weights out)")
    if args.mixed:
        return cmd_quantize_mixed(args)
    if args.budget or args.json or args.budget_output:
        raise SystemExit("pyedge quantize: --budget, --budget-output and --json go with --mixed auto")

    cal = calibrate(args.model, args.calibration, show_progress=not args.quiet)
    activations = args.activations
    if args.int16_layers:
        activations = {(int(k) if k.strip().lstrip("-").isdigit() else k.strip()): "int16"
                       for k in args.int16_layers.split(",") if k.strip()}
    out = cal.quantize(args.calibrate, args.io, activations, weights=args.weights)
    path = Path(args.output)
    write_file_atomic(path, out)
    before = Path(args.model).stat().st_size
    kind = f"int16 activations in layers {args.int16_layers}, int8 elsewhere" if args.int16_layers else \
        f"{args.activations} activations"
    print(f"wrote {path} ({len(out)} bytes; float model {before} bytes, {len(out) / before:.2f}x), "
          f"calibrated on {cal.samples} samples with {args.calibrate}, {kind}, {args.weights} weights, "
          f"io {args.io or ('per layer' if args.int16_layers else args.activations)}")
    try:
        from ..pack import pack_tflite

        pack_tflite(out)
    except Exception as exc:  # the model is valid TFLite either way; say what pyedge lacks
        print(f"pyedge cannot run it: {exc}")
    return 0


def cmd_quantize_mixed(args: argparse.Namespace) -> int:
    from .mixed import plan_mixed, plan_to_json
    from ..tflite_writer import write_file_atomic

    if args.mixed != "auto":
        raise SystemExit(f"pyedge quantize: --mixed takes 'auto', not {args.mixed!r}")
    if not args.budget:
        raise SystemExit("pyedge quantize: --mixed auto needs --budget flash=KB, latency=ms or sqnr=dB")
    if args.int16_layers:
        raise SystemExit("pyedge quantize: --mixed auto chooses the int16 layers itself; drop --int16-layers")
    plan = plan_mixed(args.model, args.calibration, args.budget, method=args.calibrate, io=args.io,
                      output=args.budget_output, show_progress=not args.quiet)
    write_file_atomic(args.output, plan.model)
    print(plan.format())
    print(f"wrote {args.output} ({len(plan.model)} bytes)")
    if args.json:
        write_file_atomic(args.json, plan_to_json(plan).encode())
        print(f"wrote {args.json}")
    return 0


def cmd_quantize_dynamic(args: argparse.Namespace) -> int:
    from .dynamic import quantize_dynamic
    from ..tflite_writer import write_file_atomic

    if (args.calibration is not None or args.io is not None or args.activations != "int8"
            or args.weights != "int8"):
        raise SystemExit("pyedge quantize: --dynamic takes no --calibration, --io, --activations or --weights "
                         "(its activations stay float)")
    out = quantize_dynamic(args.model, asymmetric_inputs=not args.symmetric_inputs)
    path = Path(args.output)
    write_file_atomic(path, out)
    before = Path(args.model).stat().st_size
    print(f"wrote {path} ({len(out)} bytes; float model {before} bytes, {len(out) / before:.2f}x), "
          f"dynamic range: int8 weights, float activations")
    try:
        from ..pack import pack_tflite

        pack_tflite(out)
    except Exception as exc:
        print(f"pyedge cannot run it: {exc}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .data import load_labels
    from .report import compare, format_report, to_html, to_json
    from ..tflite_writer import write_file_atomic

    labels = load_labels(args.labels) if args.labels else None
    r = compare(args.float_model, args.quant_model, args.data, labels=labels, show_progress=not args.quiet)
    print(format_report(r))
    if args.json:
        write_file_atomic(args.json, to_json(r).encode())
        print(f"wrote {args.json}")
    if args.html:
        title = f"{Path(args.quant_model).name} vs {Path(args.float_model).name}"
        write_file_atomic(args.html, to_html(r, title).encode())
        print(f"wrote {args.html}")
    return 0


def add_commands(sub) -> None:
    q = sub.add_parser("quantize", help="quantize a float .tflite into a fully integer .tflite, calibrated "
                                        "on representative inputs")
    q.add_argument("model", help="the float .tflite model")
    q.add_argument("--calibration", metavar="DATA",
                   help=".npy (one input) or .npz (arrays named after the inputs, or in input order) of "
                        "representative inputs, [N, ...] each, or a folder of such files")
    q.add_argument("-o", "--output", required=True, help="the quantized .tflite to write")
    q.add_argument("--calibrate", choices=METHODS, default=DEFAULT_METHOD,
                   help=f"how each activation's range is chosen (default {DEFAULT_METHOD}, measured best on "
                        f"the test models: docs/quantize.md)")
    q.add_argument("--activations", choices=ACTIVATION_TYPES, default="int8",
                   help="int8 (default), or int16: TFLite's 16x8 (int16 symmetric activations, int8 weights, "
                        "int64 biases)")
    q.add_argument("--weights", choices=("int8", "int4"), default="int8",
                   help="int8 (default), or int4: TFLite's INT4 (two per byte) and one scale per output "
                        "channel for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, GPTQ rounding (docs/quantize.md)")
    q.add_argument("--int16-layers", metavar="I,J,...",
                   help="int16 (16x8) activations for these layers only (operator indices of the float model, as "
                        "pyedge compare lists them, or output tensor names), int8 elsewhere; types are converted "
                        "in integer where they meet")
    q.add_argument("--mixed", metavar="auto",
                   help="choose per layer between int8 and int16 activations and between int4 and int8 weights "
                        "from measured sensitivity to meet --budget")
    q.add_argument("--budget", metavar="KEY=VALUE",
                   help="with --mixed auto: sqnr=dB (least latency reaching that output SQNR), flash=KB (best "
                        "SQNR within that blob size) or latency=ms (best SQNR within that time on this host)")
    q.add_argument("--budget-output", metavar="NAME",
                   help="with --mixed auto: the model output (name or index) whose SQNR counts (default: the "
                        "worst output)")
    q.add_argument("--json", metavar="F", help="with --mixed auto: write the chosen plan as JSON")
    q.add_argument("--io", choices=IO_TYPES,
                   help="type of the model's inputs and outputs: the activations' (default), uint8 (int8 models), "
                        "or float (QUANTIZE/DEQUANTIZE at the edges)")
    q.add_argument("--dynamic", action="store_true",
                   help="dynamic range instead: int8 weights for FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D, "
                        "float activations quantized by the kernels at run time; no calibration data")
    q.add_argument("--symmetric-inputs", action="store_true",
                   help="with --dynamic: FULLY_CONNECTED quantizes its input rows symmetrically (default: "
                        "asymmetric_quantize_inputs, as TensorFlow's converter writes)")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    q.set_defaults(fn=cmd_quantize)
    c = sub.add_parser("compare", help="per-layer SQNR and cosine similarity, output SQNR, top-1 agreement, "
                                       "accuracy and size of a quantized model against its float model")
    c.add_argument("float_model")
    c.add_argument("quant_model")
    c.add_argument("--data", required=True, help="inputs as for quantize --calibration (use held-out data)")
    c.add_argument("--labels", help=".npy of integer labels, one per sample: accuracy of both models")
    c.add_argument("--json", metavar="F", help="write the report as JSON")
    c.add_argument("--html", metavar="F", help="write a self-contained HTML report with a per-layer SQNR plot")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    c.set_defaults(fn=cmd_compare)
