"""Cortex-M bare metal under qemu-system-arm: the platform of boards/platform/ (vector table,
reset, UART, SysTick clock, semihosting exit, fault handler), the C kernel test, and real models
through a bare-metal model runner, on

  qemu-system-arm -M mps2-an386 -cpu cortex-m4    (Cortex-M4F, DSP)
  qemu-system-arm -M mps3-an547 -cpu cortex-m55   (Cortex-M55, DSP + Helium)

Programs are built once per test run with boards/platform/build.py under build/mcu-<board>-O2/
(objects are reused while no source or header changed). The runner's outputs must equal the
host's for the same blob and inputs, bit for bit. tools/test.sh installs the compiler and QEMU;
without them these tests skip, saying why.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "boards" / "platform"))
import build as mcu  # noqa: E402

BOARDS = {"mps2-an386": {"dsp"}, "mps3-an547": {"dsp", "mve"}}
GEMM = {"mps2-an386": "gemm_8x16c4__dsp", "mps3-an547": "gemm_4x16c4__mve"}  # the packed layout's kernel
DW = {"mps2-an386": "dw_row__dsp", "mps3-an547": "dw_row__mve"}  # depthwise, one channel per group
DWDM = {"mps3-an547": "dwdm_row__mve"}  # depthwise of one input channel (the M4 runs it as a GEMM)
# the C kernel test: its main and every kernel family's suite (native/tests/kt_*.c)
KT_SOURCES = [ROOT / "native" / "tests" / "test_kernels.c", *sorted((ROOT / "native" / "tests").glob("kt_*.c"))]
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", re.M)

_built: dict[tuple, Path] = {}


def need_toolchain() -> None:
    reason = mcu.missing()
    if reason:
        pytest.skip(f"Cortex-M bare-metal test skipped: {reason}")


def firmware(board: str, name: str, sources: list[Path], defines: tuple[str, ...] = (), **kw) -> Path:
    """Build (once per run) and return build/mcu-<board>-O2/<name>.elf; no compiler warnings."""
    need_toolchain()
    key = (board, name, defines, repr(kw))
    if key not in _built:
        elf = mcu.out_dir(board, "O2") / f"{name}.elf"
        _, warns = mcu.build(board, sources, elf, "O2", list(defines), **kw)
        assert not warns, "bare-metal build warnings:\n" + "\n".join(warns)
        _built[key] = elf
    return _built[key]


def run(board: str, elf: Path, icount: bool = False, loads=None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(mcu.qemu_command(board, elf, icount=icount, loads=loads), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def features_line(text: str) -> set[str]:
    m = re.search(r"^features:(.*)$", text, re.M)
    assert m, text
    return set() if "none" in m.group(1) else set(m.group(1).split())


SELFTEST = [ROOT / "native" / "tests" / "pe_mcu_selftest.c"]


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_platform_boots_and_counts_deterministically(board):
    """Reset handler, UART, features fixed at compile time, the CYCCNT fallback (QEMU's DWT
    counter is frozen, so the clock is SysTick), and under -icount shift=0 a loop takes the same
    ticks run after run, twice the ticks for twice the loop."""
    elf = firmware(board, "selftest", SELFTEST)
    outs = []
    for _ in range(2):
        r = run(board, elf, icount=True, timeout=60)
        assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        outs.append(r.stdout)
    text = outs[0]
    assert f"board: {board}" in text
    assert features_line(text) == BOARDS[board]
    hz = mcu.BOARDS[board].systick_hz
    assert f"clock: systick {hz} Hz" in text, text
    assert "monotonic: yes" in text
    t1, t2 = (int(x) for x in re.findall(r"^spin \d+: (\d+) ticks", text, re.M))
    assert outs[0] == outs[1], "instruction counts differ between two runs:\n" + outs[0] + outs[1]
    assert t1 > 0 and abs(t2 - 2 * t1) <= 2, (t1, t2)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_platform_clock_across_systick_wraps(board):
    """With a 4096-tick SysTick reload the loops span many wrap interrupts: the clock stays
    monotonic and counts the same ticks as with the full 24-bit reload."""
    full = run(board, firmware(board, "selftest", SELFTEST), icount=True, timeout=60)
    elf = firmware(board, "selftest-wrap", SELFTEST, platform_defines=["-DPE_PLAT_SYSTICK_RELOAD=0xFFFu"])
    r = run(board, elf, icount=True, timeout=60)
    assert r.returncode == 0 and full.returncode == 0, r.stdout + full.stdout
    assert "monotonic: yes" in r.stdout
    spins = lambda text: [int(x) for x in re.findall(r"^spin \d+: (\d+) ticks", text, re.M)]  # noqa: E731
    got, want = spins(r.stdout), spins(full.stdout)
    assert len(got) == 2 and got[1] > 4 * 4096, got  # several wraps inside the measured loop
    # the wrap interrupts' own instructions add a few ticks each
    for g, w in zip(got, want):
        assert w <= g <= w + w // 4096 * 4 + 4, (got, want)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_platform_exit_code_passes_through(board):
    elf = firmware(board, "selftest-exit201", SELFTEST, ("-DPE_SELFTEST_EXIT=201",))
    r = run(board, elf, timeout=60)
    assert r.returncode == 201, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_platform_fault_reports_and_exits_nonzero(board):
    elf = firmware(board, "selftest-fault", SELFTEST, ("-DPE_SELFTEST_FAULT=1",))
    r = run(board, elf, timeout=60)
    assert r.returncode == 254, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    m = re.search(r"pe_platform: fault: exception (0x[0-9a-f]+) pc (0x[0-9a-f]+)", r.stdout)
    assert m, r.stdout
    # the stacked PC is the udf instruction inside main
    nm = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    start, size = next((int(a, 16), int(s, 16)) for a, s, _, n in (ln.split() for ln in nm.splitlines()
                       if len(ln.split()) == 4) if n == "main")
    assert start <= int(m.group(2), 16) < start + size, (m.group(0), hex(start), size)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_kernels_bare_metal(board):
    """The C kernel test (every microkernel against its scalar twin and the op's arithmetic)."""
    elf = firmware(board, "kernels", KT_SOURCES)
    r = run(board, elf)
    out = r.stdout
    assert r.returncode == 0, f"pe_test_kernels on {board}: exit {r.returncode}\n{out[-3000:]}\n{r.stderr[-2000:]}"
    assert features_line(out) == BOARDS[board]
    m = SUMMARY.search(out)
    assert m, f"no summary line\n{out[-2000:]}"
    passed, failed, _ = map(int, m.groups())
    assert failed == 0 and passed > 0, m.group(0)


# ---- real models through the bare-metal runner (native/tests/pe_mcu_run_model.c) ----
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import pyedge  # noqa: E402
from models import model_path  # noqa: E402

sys.path.insert(0, str(ROOT / "boards" / "platform"))
import runner  # noqa: E402

MODELS = ["tflm_micro_speech_quantized", "tflm_person_detect"]
SETS = 2  # input sets, one per invoke
_host: dict[tuple, tuple] = {}


def host_run(name: str, board: str, layouts: str) -> tuple[bytes, bytes, list[bytes]]:
    """(blob packed for the board, SETS random input sets, the host's outputs per invoke)."""
    key = (name, board, layouts)
    if key not in _host:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # person_detect's quantized_dimension warning
            blob = pyedge.pack_tflite(model_path(name).read_bytes(), target=board, layouts=layouts)
        it = pyedge.Interpreter(model_content=blob)
        it.allocate_tensors()
        rng = np.random.default_rng(11)
        ins, outs = bytearray(), []
        for _ in range(SETS):
            for d in it.get_input_details():
                info = np.iinfo(d["dtype"])
                x = rng.integers(info.min, info.max, size=tuple(d["shape"]), endpoint=True).astype(d["dtype"])
                it.set_tensor(d["index"], x)
                ins += x.tobytes()
            it.invoke()
            outs.append(b"".join(it.get_tensor(d["index"]).tobytes() for d in it.get_output_details()))
        _host[key] = (blob, bytes(ins), outs)
    return _host[key]


_fw: dict[tuple, Path] = {}


def model_firmware(name: str, board: str, layouts: str) -> Path:
    need_toolchain()
    if (name, board, layouts) not in _fw:
        blob, _, _ = host_run(name, board, layouts)
        elf, warns = runner.firmware(board, blob, name)
        assert not warns, "bare-metal build warnings:\n" + "\n".join(warns)
        _fw[name, board, layouts] = elf
    return _fw[name, board, layouts]


# "auto": what `pyedge pack --target BOARD` writes (TFLite's layouts where the board has no SIMD
# kernel for the op); "packed": every conv/FC in the packed GEMM layout, on its scalar twin
@pytest.mark.parametrize("layouts", ["auto", "packed"])
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_models_bit_identical_bare_metal(board, name, layouts):
    elf = model_firmware(name, board, layouts)
    blob, ins, want = host_run(name, board, layouts)
    res = runner.run(board, elf, ins, invokes=SETS)
    assert len(res.outputs) == SETS, res.stdout[-2000:]
    for k, (got, exp) in enumerate(zip(res.outputs, want)):
        assert got == exp, f"{name} on {board}, invoke {k}: outputs {got.hex()} != host {exp.hex()}"
    host = pyedge.Interpreter(model_content=blob)
    host.allocate_tensors()
    assert res.blob_bytes == len(blob)
    assert res.clock == "systick" and res.clock_hz == mcu.BOARDS[board].systick_hz
    # per-op counts through the core's timing hook: one per op, every one counted, and together
    # about the whole invoke (the hook's own clock reads add a little)
    assert len(res.ops) == len(host.op_variants()), res.stdout[-2000:]
    assert all(t > 0 for _, _, t in res.ops), res.ops
    # the packed GEMM layout runs the board's microkernel (Helium on the M55, SMLAD on the M4),
    # never its scalar twin, and depthwise of one channel per group the board's row kernel
    assert res.features == BOARDS[board]
    variants = {v for _, v, _ in res.ops}
    gemm = {v for v in variants if v.startswith("gemm_")}
    assert gemm <= {GEMM[board]} and (layouts == "auto" or gemm), gemm
    if name == "tflm_person_detect":
        assert DW[board] in variants, variants
    if board in DWDM:  # both models start with a depthwise convolution of one input channel
        assert DWDM[board] in variants, variants
    # the same firmware with its DSP kernels switched off: the scalar kernels, the same bytes
    scalar = runner.run(board, elf, ins, invokes=SETS, features_off=runner.SCALAR_ONLY)
    assert scalar.features == set() and scalar.outputs == want
    assert {v for _, v, _ in scalar.ops} <= {"scalar", "gemm_1x16c4__scalar", "dwdm_row__scalar"}, scalar.ops
    total, ops = res.invoke_ticks[0], sum(t for _, _, t in res.ops)
    assert total > 0 and abs(ops - total) <= 0.02 * total + 4 * len(res.ops), (ops, total)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_model_instruction_counts_repeat(board):
    """Under -icount shift=0 two runs of the same model count the same instructions."""
    name = "tflm_micro_speech_quantized"
    elf = model_firmware(name, board, "auto")
    _, ins, _ = host_run(name, board, "auto")
    a, b = (runner.run(board, elf, ins, invokes=SETS) for _ in range(2))
    assert a.invoke_ticks == b.invoke_ticks and a.ops == b.ops


def test_model_runner_without_inputs_says_so():
    name, board = "tflm_micro_speech_quantized", "mps2-an386"
    elf = model_firmware(name, board, "auto")
    r = run(board, elf, timeout=60)
    assert r.returncode == 2, r.stdout
    assert "no input block" in r.stdout and "-device loader" in r.stdout


def test_mcu_icount_tool(tmp_path):
    """tools/mcu_icount.py measures both models on both boards (exit 1 if a board's outputs
    differ from the host's) and writes the table docs/mcu-instruction-counts.md holds; linked
    with only its own ops, person detection's core (runtime + kernels) is under 20 KB of .text
    at -Os on the Cortex-M4, in TFLite's layouts and in the packed GEMM layout."""
    need_toolchain()
    import json
    out = tmp_path / "counts.md"
    r = subprocess.run([sys.executable, ROOT / "tools" / "mcu_icount.py", "--write", out, "--json"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    for every, used in zip(res["all_ops"], res["used_ops"]):
        assert used["Os"]["core_text"] < every["Os"]["core_text"], (every, used)
        assert used["O2"]["instructions"] > 0
        if (used["model"], used["board"]) == ("tflm_person_detect", "mps2-an386"):
            assert used["Os"]["core_text"] < 20_000, used
    for simd in res["simd"]:  # the packed GEMM layout with the DSP kernels: under 20 KB too
        if (simd["model"], simd["board"]) == ("tflm_person_detect", "mps2-an386"):
            assert simd["Os"]["core_text"] < 20 * 1024, simd
    text = out.read_text()
    for model in ("person detection 96x96", "micro_speech"):
        for board in BOARDS:
            assert re.search(rf"^\| {model} \| {board} \(Cortex-M\w+\) \| [\d.]+ M \| [\d.]+ M \|", text, re.M), text
    doc = (ROOT / "docs" / "mcu-instruction-counts.md").read_text()
    assert doc.splitlines()[:12] == text.splitlines()[:12]


def test_op_list_header_names_the_models_ops(tmp_path):
    """pyedge pack --op-list writes the ops and layouts the model uses (no toolchain needed)."""
    from pyedge.cformat import op_list
    blob, _, _ = host_run("tflm_micro_speech_quantized", "mps2-an386", "generic")
    assert op_list(blob) == [("DEPTHWISE_CONV_2D", 0), ("FULLY_CONNECTED", 0), ("RESHAPE", 0), ("SOFTMAX", 0)]
    blob, _, _ = host_run("tflm_micro_speech_quantized", "mps2-an386", "packed")
    assert ("FULLY_CONNECTED", 1) in op_list(blob)
    out = tmp_path / "ops.h"
    r = subprocess.run([sys.executable, "-m", "pyedge", "pack", model_path("tflm_micro_speech_quantized"),
                        "--target", "mps2-an386", "-o", tmp_path / "m.h", "--op-list", out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "#define PE_USE_OP_SOFTMAX PE_PROBE" in text and "PE_USE_OP_CONV_2D " not in text
    # --target mps2-an386: the M4's DSP GEMM reads the packed layout, so FC gets it
    assert "#define PE_USE_LAYOUT_FULLY_CONNECTED_1u PE_PROBE" in text and "FULLY_CONNECTED_0u" not in text


@pytest.mark.parametrize("layouts", ["auto", "packed"])
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_models_linked_with_only_their_ops(board, name, layouts):
    """Firmware whose core keeps only the model's ops and layouts (the packer's op list) runs
    it bit-identically to the host, on the same variants as the full core."""
    need_toolchain()
    blob, ins, want = host_run(name, board, layouts)
    elf, warns = runner.firmware(board, blob, name, op_list_of=blob)
    assert not warns, "\n".join(warns)
    res = runner.run(board, elf, ins, invokes=SETS)
    assert res.outputs == want, f"{name} on {board}: {[o.hex() for o in res.outputs]} != {[o.hex() for o in want]}"
    full = runner.run(board, model_firmware(name, board, layouts), ins, invokes=SETS)
    assert [(op, v) for op, v, _ in res.ops] == [(op, v) for op, v, _ in full.ops]


def test_firmware_without_an_op_refuses_the_model():
    """A core linked for micro_speech's ops refuses person detection at pe_model_init, by name."""
    need_toolchain()
    board = "mps2-an386"
    blob, ins, _ = host_run("tflm_person_detect", board, "auto")
    other, _, _ = host_run("tflm_micro_speech_quantized", board, "auto")
    elf, warns = runner.firmware(board, blob, "tflm_person_detect", op_list_of=other)
    assert not warns, "\n".join(warns)
    with pytest.raises(RuntimeError, match=r"exit 1[\s\S]*model refused: op not supported by this core"):
        runner.run(board, elf, ins, invokes=SETS)


def test_firmware_without_a_generic_layout_refuses_the_model():
    """A core linked for person detection with every convolution packed has no generic
    CONV_2D (its scalar eval is not linked): the same model in TFLite's layouts is refused at
    pe_model_init, naming the layout, instead of running an eval that is not there."""
    need_toolchain()
    board = "mps2-an386"
    packed, _, _ = host_run("tflm_person_detect", board, "packed")
    blob, ins, _ = host_run("tflm_person_detect", board, "generic")
    elf, warns = runner.firmware(board, blob, "tflm_person_detect", op_list_of=packed)
    assert not warns, "\n".join(warns)
    with pytest.raises(RuntimeError, match=r"exit 1[\s\S]*model refused: blob packed for another target layout"):
        runner.run(board, elf, ins, invokes=SETS)
