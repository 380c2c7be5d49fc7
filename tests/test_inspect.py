"""`pyedge inspect`, board files and `pack --target`."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import pyedge
from pyedge import blob as blob_mod
from models import MODELS, model_path
from pyedge.blob import read_blob
from pyedge.boards import ISAS, BoardError, list_boards, load_board, resolve_target
from pyedge.cli import main
from pyedge.inspector import format_report, inspect_model, kernel_name
from tflite_builder import ModelBuilder, single_op_model

ROOT = Path(__file__).resolve().parent.parent
REAL = sorted(p.stem for p in MODELS.glob("*.tflite") if "audio_preprocessor" not in p.stem)  # custom ops
MOBILENET = "tflm_mobilenet_v2_quantized_1x3x224x224"
MIB = 1 << 20


@pytest.fixture(scope="module")
def packed() -> dict[str, bytes]:
    """Each real model packed once (packing runs the simplifier, as `pyedge pack` does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # person_detect's quantized_dimension quirk
        return {name: pyedge.pack_tflite(model_path(name).read_bytes()) for name in REAL}


def _strip(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("model", "source")}


# ---- totals against the blob header and the Interpreter -------------------------------------------

@pytest.mark.parametrize("name", REAL)
def test_real_model_totals(name: str, packed: dict[str, bytes], tmp_path: Path) -> None:
    blob = packed[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = inspect_model(model_path(name))
    info = read_blob(blob)
    hdr, tot = info.header, r["totals"]
    assert r["source"] == "tflite" and r["blob"]["layouts"] == ["generic"]
    assert tot["blob_bytes"] == hdr["total_size"] == len(blob)
    assert tot["activation_bytes"] == hdr["arena_size"] and tot["state_bytes"] == hdr["state_size"]
    assert tot["arena_bytes"] == pyedge.Interpreter(model_content=blob).arena_size
    assert tot["ops"] == hdr["n_ops"] == len(r["ops"]) and tot["tensors"] == hdr["n_tensors"]
    assert sum(tot["sections"].values()) <= tot["blob_bytes"]
    # peak: at most the planned arena, at least what any single op touches at once
    state = tot["arena_bytes"] - tot["activation_bytes"]
    assert tot["peak_bytes"] <= tot["arena_bytes"]
    for op in r["ops"]:
        ranges = sorted((t["offset"], t["offset"] + t["bytes"]) for t in op["inputs"] + op["outputs"]
                        if t is not None and t["storage"] == "arena")
        ranges += [(op["scratch"]["offset"], op["scratch"]["offset"] + op["scratch"]["bytes"])] if op["scratch"] else []
        covered = len(set().union(*[range(a, b) for a, b in ranges])) if ranges else 0
        assert tot["peak_bytes"] >= state + covered, f"op {op['index']}"
    # a .peb written from it inspects identically
    peb = tmp_path / "m.peb"
    peb.write_bytes(blob)
    r_peb = inspect_model(peb)
    assert r_peb["source"] == "peb"
    assert _strip(r_peb) == _strip(r)
    assert json.loads(json.dumps(r)) == r  # plain JSON types only


def test_mobilenet_v2_macs_and_weights(packed: dict[str, bytes]) -> None:
    """MobileNetV2 (1.0, 224) is about 300 M multiply-adds and 3.5 M int8 weights (published)."""
    r = inspect_model(packed[MOBILENET])
    assert 290e6 < r["totals"]["macs"] < 310e6
    assert 3.3e6 < r["totals"]["weight_bytes"] < 3.8e6  # plus int32 biases
    first_conv = next(op for op in r["ops"] if op["pe_op"] == "CONV_2D")
    # 224x224x3 padded to 226, 3x3 stride 2 -> 112x112x32
    assert first_conv["macs"] == 112 * 112 * 32 * 3 * 3 * 3


def test_person_detect_known_ops(packed: dict[str, bytes]) -> None:
    ops = inspect_model(packed["tflm_person_detect"])["ops"]
    assert (ops[0]["tflite_op"], ops[0]["pe_op"], ops[0]["kernel"]) == \
        ("DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "pe_depthwise_conv_2d__scalar")
    assert ops[0]["macs"] == 48 * 48 * 8 * 3 * 3  # 96x96x1, depth multiplier 8, stride 2
    assert ops[2]["pe_op"] == "CONV_2D" and ops[2]["macs"] == 48 * 48 * 16 * 8  # 1x1 conv 8 -> 16
    assert ops[-1]["pe_op"] == "SOFTMAX" and ops[-1]["macs"] == 0 and ops[-1]["work"] == "elements"
    assert ops[-1]["elements"] == 2


# ---- MACs of hand-built ops -------------------------------------------------------------------------

def _conv(op: str, in_shape, w_shape, out_shape, options: dict, qdim: int = 0) -> bytes:
    rng = np.random.default_rng(0)
    out_c = w_shape[qdim]
    w = rng.integers(-127, 128, size=w_shape, dtype=np.int8)
    scales = [0.01 + 0.001 * i for i in range(out_c)]
    ins = [dict(shape=in_shape, dtype="int8", scale=0.05, zero_point=-1),
           dict(shape=w_shape, dtype="int8", data=w, scale=scales, zero_point=0, quantized_dimension=qdim),
           dict(shape=[out_c], dtype="int32", data=np.zeros(out_c, np.int32), scale=[0.05 * s for s in scales],
                zero_point=0)]
    name = "Conv2DOptions" if op == "CONV_2D" else "DepthwiseConv2DOptions"
    return single_op_model(op, ins, [dict(shape=out_shape, dtype="int8", scale=0.5, zero_point=2)], (name, options))


VALID = 1


@pytest.mark.parametrize("model, macs", [
    # 9x9x3, 4 filters 3x3, stride 2, VALID -> 4x4x4
    (lambda: _conv("CONV_2D", [1, 9, 9, 3], [4, 3, 3, 3], [1, 4, 4, 4],
                   {"Padding": VALID, "StrideH": 2, "StrideW": 2}), 4 * 4 * 4 * 3 * 3 * 3),
    # grouped: 4 input channels in 2 groups of 2, 6 filters
    (lambda: _conv("CONV_2D", [1, 6, 6, 4], [6, 3, 3, 2], [1, 4, 4, 6],
                   {"Padding": VALID, "StrideH": 1, "StrideW": 1}), 4 * 4 * 6 * 3 * 3 * 2),
    # depthwise, multiplier 2: 3 -> 6 channels, 3x3, 9x9 VALID -> 7x7
    (lambda: _conv("DEPTHWISE_CONV_2D", [1, 9, 9, 3], [1, 3, 3, 6], [1, 7, 7, 6],
                   {"Padding": VALID, "StrideH": 1, "StrideW": 1, "DepthMultiplier": 2}, qdim=3), 7 * 7 * 6 * 9),
], ids=["conv", "grouped_conv", "depthwise"])
def test_conv_macs(model, macs: int) -> None:
    r = inspect_model(model())
    assert r["ops"][0]["macs"] == macs == r["totals"]["macs"]
    assert r["ops"][0]["weight_bytes"] == r["ops"][0]["inputs"][1]["bytes"] + r["ops"][0]["inputs"][2]["bytes"]
    assert r["ops"][0]["derived_const_bytes"] > 0  # per-channel multipliers and shifts


def test_fc_and_batch_matmul_macs() -> None:
    w = np.ones((10, 16), np.int8)
    fc = single_op_model("FULLY_CONNECTED",
                         [dict(shape=[3, 16], dtype="int8", scale=0.1, zero_point=0),
                          dict(shape=[10, 16], dtype="int8", data=w, scale=0.02, zero_point=0)],
                         [dict(shape=[3, 10], dtype="int8", scale=0.3, zero_point=0)],
                         ("FullyConnectedOptions", {}))
    assert inspect_model(fc)["ops"][0]["macs"] == 3 * 10 * 16
    for adj_x, lhs in ((False, [2, 3, 5]), (True, [2, 5, 3])):
        bmm = single_op_model("BATCH_MATMUL",
                              [dict(shape=lhs, dtype="int8", scale=0.1, zero_point=0),
                               dict(shape=[2, 5, 4], dtype="int8", scale=0.1, zero_point=0)],
                              [dict(shape=[2, 3, 4], dtype="int8", scale=0.4, zero_point=0)],
                              ("BatchMatMulOptions", {"AdjX": adj_x}))
        assert inspect_model(bmm)["ops"][0]["macs"] == 2 * 3 * 4 * 5


def test_lstm_and_svdf_macs(packed: dict[str, bytes]) -> None:
    ops = inspect_model(packed["tflm_dtln_noise_suppression"])["ops"]
    assert ops[0]["pe_op"] == "UNIDIRECTIONAL_SEQUENCE_LSTM"
    n_in, n_cell = ops[0]["inputs"][0]["shape"][-1], ops[0]["outputs"][0]["shape"][-1]
    assert ops[0]["macs"] == 4 * n_cell * (n_in + n_cell)  # 4 gates, input + recurrent weights
    svdf = next(op for op in inspect_model(packed["tflm_keyword_scrambled"])["ops"] if op["pe_op"] == "SVDF")
    batch = svdf["inputs"][0]["shape"][0]
    assert svdf["macs"] == batch * (svdf["inputs"][1]["bytes"] + svdf["inputs"][2]["bytes"] // 2)


def test_kernel_names_exist_in_the_core() -> None:
    """The kernel column names C functions that exist: pe_<lname>__scalar for each ops.def row."""
    rows = re.findall(r"^PE_OP\(\d+, (\w+), (\w+), \w+, \w+\)", (ROOT / "native/ops.def").read_text(), re.M)
    sources = "".join(p.read_text() for p in (ROOT / "native/kernels").glob("*.c"))
    assert rows
    for name, lname in rows:
        assert kernel_name(name) == f"pe_{lname}__scalar"
        assert re.search(rf"\b{kernel_name(name)}\s*\(const pe_op_ctx", sources), kernel_name(name)


def test_simplifications_show_in_the_report() -> None:
    mb = ModelBuilder("dead op")
    x = mb.add_tensor([4], "int32", name="x")
    y, dead = mb.add_tensor([4], "int32", name="y"), mb.add_tensor([4], "int32", name="dead")
    mb.add_operator("ADD", [x, x], [dead], ("AddOptions", {}))
    mb.add_operator("MUL", [x, x], [y], ("MulOptions", {}))
    mb.set_io([x], [y])
    r = inspect_model(mb.build())
    assert r["simplified"]["dead_ops"] == 1 and [o["tflite_op"] for o in r["ops"]] == ["MUL"]
    assert r["ops"][0]["tflite_index"] == 1
    assert "1 dead op(s) removed" in format_report(r)


# ---- boards ---------------------------------------------------------------------------------------------

def test_fits_mps2_an386(packed: dict[str, bytes]) -> None:
    """4 MiB of code memory and 4 MiB of RAM; 64 KiB / 16 KiB reserved for firmware code and stack."""
    r = inspect_model(packed["tflm_person_detect"], board="mps2-an386")
    b = r["board"]
    assert b["fits"] is True and b["ram"]["fits"] and b["flash"]["fits"]
    assert b["ram"]["margin_bytes"] == 4 * MIB - 16384 - r["totals"]["arena_bytes"]
    assert b["cannot_run"] == [] and b["warnings"] == []
    # MobileNetV2: the verdict follows the real numbers (a ~3.8 MiB blob, a ~2.5 MiB arena)
    blob = packed[MOBILENET]
    m = inspect_model(blob, board="mps2-an386")
    arena = pyedge.Interpreter(model_content=blob).arena_size
    assert m["board"]["flash"]["margin_bytes"] == 4 * MIB - 65536 - len(blob)
    assert m["board"]["ram"]["margin_bytes"] == 4 * MIB - 16384 - arena
    assert m["board"]["fits"] == (len(blob) + 65536 <= 4 * MIB and arena + 16384 <= 4 * MIB)
    text = format_report(m)
    assert re.search(r"flash +4,194,304 bytes: blob [\d,]+ \+ reserved 65,536 -> (fits|DOES NOT FIT)", text)


@pytest.mark.parametrize("board", ["stm32f746-disco", "nrf52840-dk"])
def test_mobilenet_does_not_fit_small_mcus(board: str, packed: dict[str, bytes]) -> None:
    m = inspect_model(packed[MOBILENET], board=board)["board"]
    assert m["fits"] is False and not m["ram"]["fits"] and not m["flash"]["fits"]
    assert m["flash"]["margin_bytes"] < -2 * MIB
    p = inspect_model(packed["tflm_person_detect"], board=board)["board"]
    assert p["fits"] is True
    if board == "stm32f746-disco":
        assert m["fits_regions"] == {"arena": ["sdram"], "blob": ["qspi", "sdram"]}


def test_boards_without_limits(packed: dict[str, bytes]) -> None:
    rpi = inspect_model(packed["tflm_micro_speech_quantized"], board="rpi4")["board"]
    assert rpi["flash"] is None and rpi["ram"]["capacity"] == 1 << 30 and rpi["fits"] is True
    host = inspect_model(packed["tflm_micro_speech_quantized"], board="x86-64-avx2")
    assert host["board"]["fits"] is None
    assert "no memory limits to check" in format_report(host)


def test_float_ops_warn_on_boards_without_fpu() -> None:
    m = single_op_model("DEQUANTIZE", [dict(shape=[2, 3], dtype="int8", scale=0.1, zero_point=1)],
                        [dict(shape=[2, 3], dtype="float32")])
    w = inspect_model(m, board="mps2-an385")["board"]["warnings"]
    assert [(x["op"], x["tflite_op"]) for x in w] == [(0, "DEQUANTIZE")] and "FPU" in w[0]["reason"]
    assert inspect_model(m, board="mps2-an386")["board"]["warnings"] == []  # Cortex-M4F
    assert inspect_model(model_path("tflm_micro_speech_quantized"), board="mps2-an385")["board"]["warnings"] == []


def test_board_files() -> None:
    names = list_boards()
    for required in ("rpi4", "rpi5", "rpi-zero2w", "mps2-an386", "mps3-an547", "stm32f746-disco",
                     "nrf52840-dk", "x86-64-avx2"):
        assert required in names
    for n in names:
        b = load_board(n)
        assert b.name == n and b.isa in ISAS and b.description and b.triplet and b.cflags
        d = b.to_dict()
        assert json.loads(json.dumps(d)) == d
        for m in b.memory:
            assert m.kind in ("ram", "flash") and m.size > 0
    an386 = load_board("mps2-an386")
    assert (an386.cpu, an386.fpu, an386.ram_bytes, an386.flash_bytes) == ("cortex-m4", "sp", 4 * MIB, 4 * MIB)
    assert an386.connect["machine"] == "mps2-an386" and an386.connect["uart_base"] == 0x40004000
    assert {m.name: m.origin for m in an386.memory}["ssram23"] == 0x20000000
    an547 = load_board("mps3-an547")
    assert {m.name: m.size for m in an547.memory}["itcm"] == {m.name: m.size for m in an547.memory}["dtcm"] == 512 * 1024
    assert load_board("rpi5").features.count("dotprod") == 1 and "dotprod" not in load_board("rpi4").features


@pytest.mark.parametrize("text, match", [
    ('name = "bad"\ndescription = \n', "not valid TOML"),
    ('name = "bad"\n', "missing required key"),
    ('name = "bad"\ndescription="d"\nkind="mcu"\nisa="sse"\ncpu="c"\nfpu="sp"\n[toolchain]\ntriplet="t"\n', "isa 'sse'"),
    ('name = "bad"\ndescription="d"\nkind="mcu"\nisa="scalar"\ncpu="c"\nfpu="sp"\nram_bytes=-4\n'
     '[toolchain]\ntriplet="t"\n', "ram_bytes must be a positive"),
    ('name = "bad"\ndescription="d"\nkind="mcu"\nisa="scalar"\ncpu="c"\nfpu="sp"\nram_byte=4\n'
     '[toolchain]\ntriplet="t"\n', "unknown key"),
    ('name = "other"\ndescription="d"\nkind="mcu"\nisa="scalar"\ncpu="c"\nfpu="sp"\n[toolchain]\ntriplet="t"\n',
     "differs from the file name"),
    ('name = "bad"\ndescription="d"\nkind="mcu"\nisa="scalar"\ncpu="c"\nfpu="sp"\n[toolchain]\ntriplet="t"\n'
     '[[memory]]\nname="r"\nkind="rom"\norigin=0\nsize=4\n', "kind 'rom'"),
])
def test_malformed_board_files(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(BoardError, match=match):
        load_board(f)


def test_boards_dir_override_and_unknown_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BoardError, match=r"unknown board 'nope'; boards: .*mps2-an386"):
        load_board("nope")
    (tmp_path / "tiny.toml").write_text('name = "tiny"\ndescription="d"\nkind="mcu"\nisa="scalar"\ncpu="c"\n'
                                        'fpu="none"\nram_bytes=1024\nflash_bytes=2048\n[toolchain]\ntriplet="t"\n')
    monkeypatch.setenv("PYEDGE_BOARDS_DIR", str(tmp_path))
    assert list_boards() == ["tiny"]
    r = inspect_model(model_path("tflm_micro_speech_quantized"), board="tiny")["board"]
    assert r["fits"] is False and r["ram"]["margin_bytes"] == 1024 - r["ram"]["need"]


def test_missing_toml_reader_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(BoardError, match="needs Python 3.11"):
        load_board("rpi4")


def _cross_compilers() -> list[tuple[str, str]]:
    out = []
    for n in list_boards():
        b = load_board(n)
        cc = f"{b.triplet}-gcc"
        if b.triplet == "x86_64-linux-gnu" and shutil.which(cc) is None and shutil.which("gcc") and \
                subprocess.run(["gcc", "-dumpmachine"], capture_output=True, text=True).stdout.startswith("x86_64"):
            cc = "gcc"
        if shutil.which(cc):
            out.append((n, cc))
    return out


@pytest.mark.parametrize("board, cc", _cross_compilers() or [pytest.param("none", "none", marks=pytest.mark.skip(
    reason="no cross compiler for any board installed"))])
def test_board_toolchain_flags_compile_the_core(board: str, cc: str, tmp_path: Path) -> None:
    """The board's toolchain flags are real: they compile the runtime and a kernel file."""
    b = load_board(board)
    for src in ("native/src/runtime.c", "native/kernels/elementwise_scalar.c"):
        subprocess.run([cc, *b.cflags, "-std=c99", "-c", f"-I{ROOT}/native/include", f"-I{ROOT}/native/src",
                        f"-I{ROOT}/native/kernels", str(ROOT / src), "-o", str(tmp_path / "x.o")], check=True)


# ---- the CLI ----------------------------------------------------------------------------------------------

def test_cli_inspect_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(model_path("tflm_micro_speech_quantized"))
    assert main(["inspect", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == inspect_model(path) | {"model": path}
    assert main(["inspect", path, "--board", "mps2-an386"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ +1 +1 DEPTHWISE_CONV_2D +pe_depthwise_conv_2d__scalar +int8\[1,49,40,1\] -> "
                     r"int8\[1,25,20,8\] +320,000", out, re.M)
    assert "board mps2-an386" in out and "-> fits" in out and "peak memory" in out


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(model_path("tflm_micro_speech_quantized"))
    assert main(["inspect", path, "--board", "nope"]) == 2
    assert "unknown board 'nope'" in capsys.readouterr().err
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    assert main(["inspect", str(junk)]) == 2
    assert "not a TFLite model" in capsys.readouterr().err
    blob = bytearray(pyedge.pack_tflite(model_path("tflm_micro_speech_quantized").read_bytes()))
    blob[-1] ^= 0xFF
    bad = tmp_path / "bad.peb"
    bad.write_bytes(bytes(blob))
    assert main(["inspect", str(bad)]) == 2
    assert "checksum" in capsys.readouterr().err
    with pytest.raises(pyedge.BlobError):
        inspect_model(bytes(blob))


def test_pack_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = str(model_path("tflm_micro_speech_quantized"))
    out = tmp_path / "m.peb"
    assert main(["pack", src, "-o", str(out), "--target", "rpi4"]) == 0
    blob = out.read_bytes()
    info = read_blob(blob)
    assert info.meta["target"] == {"name": "rpi4", "kind": "board", "isa": "neon", "cpu": "cortex-a72"}
    assert info.header["target_features"] == pyedge._native.lib.PE_FEAT_NEON
    # the Pi's NEON kernels read packed layouts: its FC and one-channel depthwise conv get them,
    # packed here on x86 or not
    assert {o["layout"] for o in info.ops} == {0, blob_mod.LAYOUT_QS8_GEMM_N16K4, blob_mod.LAYOUT_QS8_DWDM_PAIRS}
    assert inspect_model(out)["target"]["name"] == "rpi4"
    x = [np.arange(1960, dtype=np.int8).reshape(1, 1960)]
    plain = pyedge.pack_tflite(model_path("tflm_micro_speech_quantized").read_bytes())
    it_t, it_p = pyedge.Interpreter(model_path=str(out)), pyedge.Interpreter(model_content=plain)
    for it in (it_t, it_p):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x[0])
        it.invoke()
    assert np.array_equal(it_t.get_tensor(it_t.get_output_details()[0]["index"]),
                          it_p.get_tensor(it_p.get_output_details()[0]["index"]))
    assert resolve_target("neon") == {"name": "neon", "kind": "isa", "isa": "neon"}
    capsys.readouterr()
    assert main(["pack", src, "-o", str(tmp_path / "n.peb"), "--target", "pentium"]) == 2
    err = capsys.readouterr().err
    assert "unknown target 'pentium'" in err and "mps2-an386" in err and "helium" in err
    assert not (tmp_path / "n.peb").exists()
    assert main(["pack", str(out), "-o", str(tmp_path / "again.peb"), "--target", "rpi5"]) == 2
    assert "a .peb keeps the target" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pack", "--help"])
    assert "packed weight layout" in " ".join(capsys.readouterr().out.split())


def test_module_name_does_not_shadow_stdlib_inspect() -> None:
    """`python pyedge/_build.py` puts pyedge/ on sys.path; `import inspect` must still be the stdlib's."""
    code = ("import sys; sys.path.insert(0, 'pyedge'); import dataclasses, inspect; "
            "assert callable(inspect.signature), inspect.__file__; print(inspect.__file__)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not r.stdout.strip().startswith(str(ROOT))


def test_storage_names_follow_the_blob_constants() -> None:
    from pyedge import blob, inspector as pe_inspect
    assert pe_inspect.STORAGE_NAMES == {blob.STORE_NONE: "none", blob.STORE_CONST: "const",
                                        blob.STORE_ARENA: "arena", blob.STORE_STATE: "state"}


def test_subgraphs_and_call_once() -> None:
    """Ops of a CALL_ONCE init subgraph are listed with their subgraph and source index."""
    from test_simplify import variable_model
    r = inspect_model(variable_model())
    assert [(o["subgraph"], o["tflite_index"], o["pe_op"]) for o in r["ops"]] == [
        (0, 0, "CALL_ONCE"), (0, 2, "READ_VARIABLE"), (0, 4, "ADD"), (0, 5, "ASSIGN_VARIABLE"),
        (1, 1, "ASSIGN_VARIABLE")]
    assert r["ops"][3]["outputs"][0]["storage"] == "state"
    t = r["totals"]
    assert t["subgraphs"] == 2 and t["state_bytes"] > 0 and t["peak_bytes"] <= t["arena_bytes"]
    assert re.search(r"^ +4 +1\.1 ASSIGN_VARIABLE", format_report(r), re.M)


def test_pack_leaves_out_weights_no_kernel_reads(tmp_path: Path) -> None:
    """`pyedge pack` writes a device blob: a model's weights, once repacked into a target's layout,
    are not stored twice (--keep-constants keeps them for get_tensor); outputs are identical."""
    src = str(model_path("tflm_person_detect"))
    small, full = tmp_path / "s.peb", tmp_path / "f.peb"
    assert main(["pack", src, "-o", str(small), "--target", "rpi4"]) == 0
    assert main(["pack", src, "-o", str(full), "--target", "rpi4", "--keep-constants"]) == 0
    assert inspect_model(small)["totals"]["unreferenced_const_bytes"] == 0
    assert inspect_model(full)["totals"]["unreferenced_const_bytes"] > 150_000
    assert small.stat().st_size < full.stat().st_size - 150_000
    x = np.random.default_rng(1).integers(-128, 128, (1, 96, 96, 1), dtype=np.int8)
    outs = []
    for p in (small, full):
        it = pyedge.Interpreter(model_path=str(p))
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
        w = next(t for t in it.get_tensor_details() if t["name"] == "MobilenetV1/Conv2d_0/weights/read")
        if p == small:
            with pytest.raises(ValueError, match="not in the packed blob"):
                it.get_tensor(w["index"])
        else:
            assert it.get_tensor(w["index"]).shape == (1, 3, 3, 8)
    assert np.array_equal(outs[0], outs[1])
