#!/usr/bin/env python3
"""Firmware-side size of pyedge on a Cortex-M4: cross-compiles the whole C core and a model
header written by `pyedge pack --format c` with arm-none-eabi-gcc, links a minimal bare-metal
program (native/tests/pe_fw_main.c: one pe_model_init + pe_invoke) and reports, from
arm-none-eabi-size, the core's code/const bytes and the linked firmware's flash and RAM, and the
firmware's .text once more linked with only the model's ops (`pyedge pack --op-list`: ops.c
compiled with -DPE_OP_LIST).

    .venv/bin/python tools/firmware_size.py [MODEL.tflite ...] [--opt O2|Os] [--json] [--no-float]

--no-float builds the integer-only core (PE_NO_FLOAT_KERNELS: no hybrid or float32 kernels).

Any compiler warning fails the run (exit 1): the core and the generated header must compile
warning-free with the flags below. Exit 3 if the cross compiler (or newlib) is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pyedge"))
import _manifest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
DEFAULT_MODELS = [ROOT / "tests/models/tflm_micro_speech_quantized.tflite",
                  ROOT / "tests/models/tflm_person_detect.tflite"]
CPU = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
WARN = ["-Wall", "-Wextra", "-std=c99"]
SECTIONS = ["-ffunction-sections", "-fdata-sections"]
INCLUDES = [f"-I{NATIVE / d}" for d in ("include", "src", "kernels")]
INSTALL_HINT = ("apt-get install -y --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi "
                "(tools/test.sh does this)")


class ToolchainMissing(RuntimeError):
    """arm-none-eabi-gcc or its C library is not installed."""


class CompileWarnings(RuntimeError):
    """The compiler printed warnings (or errors) for pyedge sources."""


def cflags(opt: str = "O2") -> list[str]:
    """The cross-compile flags (the issue's, with the optimisation level `opt`)."""
    return CPU + [f"-{opt}"] + WARN + SECTIONS


def find_toolchain(cc: str = "arm-none-eabi-gcc") -> tuple[str, str]:
    """(gcc, size) paths; raises ToolchainMissing naming what to install."""
    gcc = shutil.which(cc)
    size = shutil.which(cc[:-3] + "size") if cc.endswith("gcc") else None
    if gcc is None or size is None:
        raise ToolchainMissing(f"{cc} (and its -size) not found: {INSTALL_HINT}")
    probe = subprocess.run([gcc, *CPU, "-E", "-x", "c", "-"], input="#include <string.h>\n",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise ToolchainMissing(f"{cc} has no C library headers (<string.h>): {INSTALL_HINT}")
    return gcc, size


def _compile(gcc: str, src: Path, obj: Path, flags: list[str]) -> str:
    r = subprocess.run([gcc, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
    if r.returncode != 0:
        raise CompileWarnings(f"{src}: compile failed:\n{r.stderr}")
    return r.stderr


def core_sources() -> list[Path]:
    return _manifest.core_sources()


def section_sizes(size_tool: str, path: Path) -> dict[str, int]:
    """Section name -> bytes, from `size -A`."""
    r = subprocess.run([size_tool, "-A", str(path)], capture_output=True, text=True, check=True)
    out: dict[str, int] = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            out[parts[0]] = out.get(parts[0], 0) + int(parts[1])
    return out


def _group(sections: dict[str, int]) -> dict[str, int]:
    """Sum -ffunction-sections/-fdata-sections pieces into text/rodata/data/bss."""
    g = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for name, n in sections.items():
        for key in g:
            if name == f".{key}" or name.startswith(f".{key}."):
                g[key] += n
    return g


def measure(models: list[Path], opt: str = "O2", cc: str = "arm-none-eabi-gcc",
            workdir: Path | None = None, no_float: bool = False) -> dict:
    """Cross-compile the core and each model; return sizes and any compiler warnings (raises
    CompileWarnings if there are any). `no_float`: the integer-only core (PE_NO_FLOAT_KERNELS)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from pyedge.blob import is_blob
    from pyedge.cformat import model_info, write_c, write_op_list
    from pyedge.pack import pack_tflite

    gcc, size_tool = find_toolchain(cc)
    flags = cflags(opt) + INCLUDES + (["-DPE_NO_FLOAT_KERNELS"] if no_float else [])
    tmp = Path(workdir or tempfile.mkdtemp(prefix="pe_fw_"))
    tmp.mkdir(parents=True, exist_ok=True)
    srcs = core_sources()
    objs = [tmp / f"core_{s.parent.name}_{s.stem}.o" for s in srcs]
    warnings: list[str] = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for err in pool.map(lambda so: _compile(gcc, so[0], so[1], flags), zip(srcs, objs)):
            if err.strip():
                warnings.append(err)
    core = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for o in objs:
        for k, v in _group(section_sizes(size_tool, o)).items():
            core[k] += v
    result = {"compiler": subprocess.run([gcc, "--version"], capture_output=True, text=True).stdout.splitlines()[0],
              "flags": " ".join(cflags(opt) + (["-DPE_NO_FLOAT_KERNELS"] if no_float else [])), "core": core,
              "models": []}
    for i, model in enumerate(models):
        raw = Path(model).read_bytes()
        blob = raw if is_blob(raw) else pack_tflite(raw)
        info = model_info(blob)
        header = tmp / f"model{i}_data.h"
        write_c(blob, header, "model", source=Path(model).name)
        main_obj = tmp / f"model{i}_main.o"
        err = _compile(gcc, NATIVE / "tests" / "pe_fw_main.c", main_obj,
                       flags + [f"-I{tmp}", f'-DPE_MODEL_HEADER="{header.name}"', "-DPE_MODEL_PREFIX=MODEL"])
        if err.strip():
            warnings.append(err)
        elf = tmp / f"model{i}.elf"
        link = [gcc, *CPU, f"-{opt}", "-nostartfiles", "-Wl,--gc-sections", "-Wl,-e,Reset_Handler",
                "--specs=nano.specs", "--specs=nosys.specs", str(main_obj), *map(str, objs), "-lm",
                "-o", str(elf)]
        r = subprocess.run(link, capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            warnings.append(f"link {Path(model).name}:\n{r.stderr}")
            if r.returncode != 0:
                raise CompileWarnings("\n".join(warnings))
        fw = _group(section_sizes(size_tool, elf))
        # again with only the model's ops in the op and variant tables
        ops_h = write_op_list(blob, tmp / f"model{i}_ops.h", source=Path(model).name)
        ops_obj = tmp / f"model{i}_ops.o"
        err = _compile(gcc, NATIVE / "src" / "ops.c", ops_obj, flags + [f'-DPE_OP_LIST="{ops_h}"'])
        if err.strip():
            warnings.append(err)
        own = [str(ops_obj) if o.name == "core_src_ops.o" else str(o) for o in objs]
        elf_own = tmp / f"model{i}_own_ops.elf"
        link_own = link[:link.index(str(main_obj)) + 1] + own + ["-lm", "-o", str(elf_own)]
        r = subprocess.run(link_own, capture_output=True, text=True)
        if r.returncode != 0:
            raise CompileWarnings(f"link {Path(model).name} with its own ops:\n{r.stderr}")
        fw_own = _group(section_sizes(size_tool, elf_own))
        result["models"].append({
            "model": Path(model).name, "blob_bytes": info.blob_size, "arena_bytes": info.arena_bytes,
            "flash_bytes": fw["text"] + fw["rodata"] + fw["data"], "ram_bytes": fw["data"] + fw["bss"],
            **{f"elf_{k}": v for k, v in fw.items()}, "elf_text_own_ops": fw_own["text"],
        })
    result["warnings"] = warnings
    if warnings:
        raise CompileWarnings("\n".join(warnings))
    return result


def format_table(r: dict) -> str:
    c = r["core"]
    lines = [f"{r['compiler']}", f"flags: {r['flags']}",
             f"pyedge core (all of native/src and native/kernels, objects): .text {c['text']} B, "
             f".rodata {c['rodata']} B, .data {c['data']} B, .bss {c['bss']} B",
             "",
             f"{'model':44s} {'blob':>9s} {'arena':>9s} {'.text':>8s} {'.rodata':>9s} {'.data':>6s} "
             f"{'.bss':>9s} {'flash':>9s} {'RAM':>9s} {'.text own ops':>14s}"]
    for m in r["models"]:
        lines.append(f"{m['model']:44s} {m['blob_bytes']:9d} {m['arena_bytes']:9d} {m['elf_text']:8d} "
                     f"{m['elf_rodata']:9d} {m['elf_data']:6d} {m['elf_bss']:9d} {m['flash_bytes']:9d} "
                     f"{m['ram_bytes']:9d} {m['elf_text_own_ops']:14d}")
    lines.append("(linked firmware, no startup code or vector table: flash = .text+.rodata+.data, "
                 "RAM = .data+.bss; add stack; .text own ops: linked with only the model's ops, pyedge pack --op-list)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", type=Path, help="default: micro_speech and person_detect")
    p.add_argument("--opt", default="O2", choices=["O0", "O1", "O2", "O3", "Os", "Oz"])
    p.add_argument("--cc", default="arm-none-eabi-gcc")
    p.add_argument("--json", action="store_true")
    p.add_argument("--keep", type=Path, help="build in this directory and keep it")
    p.add_argument("--no-float", action="store_true",
                   help="the integer-only core: PE_NO_FLOAT_KERNELS leaves the hybrid and float32 kernels out")
    args = p.parse_args(argv)
    try:
        r = measure(args.models or DEFAULT_MODELS, args.opt, args.cc, args.keep, no_float=args.no_float)
    except ToolchainMissing as exc:
        print(f"firmware_size: {exc}", file=sys.stderr)
        return 3
    except CompileWarnings as exc:
        print(f"firmware_size: the cross compile is not warning-free:\n{exc}", file=sys.stderr)
        return 1
    print(json.dumps(r, indent=1) if args.json else format_table(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
