"""`pyedge pack --format c`: the generated C header/source, a C-only round trip through
native/tests/pe_run_model.c (no Python in the loop), and the Cortex-M4 cross compile."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import pyedge
from models import MODELS
from oracle import random_inputs
from pyedge import cformat
from pyedge.blob import CHECKSUM_OFFSET, STORE_STATE, read_blob
from pyedge.cli import main as cli_main
from pyedge.errors import BlobError
from pyedge._manifest import SCALAR_ONLY, core_sources, include_dirs

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
RUNNER = NATIVE / "tests" / "pe_run_model.c"
INCLUDES = [f"-I{d}" for d in include_dirs()] + [SCALAR_ONLY]
HOST_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic"]
# every real model pyedge runs (the audio preprocessor's custom ops are refused, see test_errors)
ALL_MODELS = sorted(p.stem for p in MODELS.glob("*.tflite") if p.stem != "tflm_audio_preprocessor_int8")
MICRO = "tflm_micro_speech_quantized"

_blobs: dict[str, bytes] = {}


def blob_of(name: str) -> bytes:
    """The packed blob of a real model."""
    if name not in _blobs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # person_detect's quantized_dimension warning
            _blobs[name] = pyedge.pack_tflite((MODELS / f"{name}.tflite").read_bytes())
    return _blobs[name]


def micro_path() -> Path:
    return MODELS / f"{MICRO}.tflite"


def host_cc() -> str:
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        pytest.skip("no host C compiler (cc/gcc) to build the C round-trip program")
    return cc


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, **kw)


@pytest.fixture(scope="session")
def core_objects(tmp_path_factory) -> list[Path]:
    """The whole C core compiled once with the host compiler (-std=c99 -pedantic)."""
    cc = host_cc()
    out = tmp_path_factory.mktemp("core")
    srcs = core_sources()
    objs = [out / f"{s.parent.name}_{s.stem}.o" for s in srcs]

    def build(so):
        return run([cc, *HOST_FLAGS, *INCLUDES, "-c", so[0], "-o", so[1]], text=True)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(build, zip(srcs, objs)))
    failed = [r.stderr for r in results if r.returncode != 0]
    assert not failed, "the C core does not compile:\n" + "\n".join(failed)
    noisy = [r.stderr for r in results if r.stderr.strip()]
    if noisy:  # not ours to fix here: surfaced in the test summary for the kernels' owners
        warnings.warn("host cc warnings in native/ (-Wall -Wextra -pedantic -std=c99):\n" + "\n".join(noisy))
    return objs


def build_runner(core: list[Path], workdir: Path, header: Path, prefix: str,
                 extra_sources: tuple[Path, ...] = (), std: str = "c99") -> Path:
    """pe_run_model for one generated header; our code must compile without a warning."""
    exe = workdir / f"pe_run_model_{header.stem}"
    flags = [f for f in HOST_FLAGS if not f.startswith("-std")] + [f"-std={std}"]
    r = run([host_cc(), *flags, "-Werror", *INCLUDES, f"-I{header.parent}",
             f'-DPE_MODEL_HEADER="{header.name}"', f"-DPE_MODEL_PREFIX={prefix}", RUNNER,
             *extra_sources, *core, "-lm", "-o", exe], text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    return exe


def parse_defines(header: str) -> dict[str, str]:
    return dict(re.findall(r"^#define (\w+) (.*?)(?: /\*.*\*/)?$", header, re.M))


def array_bytes(text: str, symbol: str) -> bytes:
    m = re.search(rf"{symbol}\[\w+\](?: PE_UNUSED)? = \{{\n(.*?)\n\}};", text, re.S)
    assert m, f"no initializer for {symbol}"
    return bytes(int(x) for x in m.group(1).replace("\n", "").split(",") if x.strip())


def c_int(v: str) -> int:
    return int(v.strip("()").rstrip("u"), 0)


# -- the generated text -------------------------------------------------------------------------
def test_header_describes_the_blob():
    blob = blob_of(MICRO)
    h, c = cformat.blob_to_c(blob, "kws", source="micro_speech.tflite")
    assert c == ""
    assert array_bytes(h, "kws_blob") == blob
    d = parse_defines(h)
    it = pyedge.Interpreter(model_content=blob)
    assert c_int(d["KWS_ARENA_BYTES"]) == it.arena_size
    assert c_int(d["KWS_BLOB_SIZE"]) == len(blob) and d["KWS_BLOB"] == "kws_blob"
    assert c_int(d["KWS_BLOB_CRC32"]) == int.from_bytes(blob[CHECKSUM_OFFSET:CHECKSUM_OFFSET + 4], "little")
    assert c_int(d["KWS_STATE_BYTES"]) + c_int(d["KWS_ACTIVATION_BYTES"]) == it.arena_size
    for kind, details in (("INPUT", it.get_input_details()), ("OUTPUT", it.get_output_details())):
        assert c_int(d[f"KWS_NUM_{kind}S"]) == len(details)
        for n, det in enumerate(details):
            q = f"KWS_{kind}{n}"
            assert c_int(d[f"{q}_INDEX"]) == det["index"]
            assert c_int(d[f"{q}_BYTES"]) == int(np.prod(det["shape"])) * np.dtype(det["dtype"]).itemsize
            assert d[f"{q}_CTYPE"] == {np.int8: "int8_t", np.int16: "int16_t", np.int32: "int32_t"}[det["dtype"]]
            assert d[f"{q}_DIMS"] == "{" + ", ".join(str(x) for x in det["shape"]) + "}"
            scale, zp = det["quantization"]
            assert np.float32(d[f"{q}_SCALE"].rstrip("f")) == np.float32(scale)
            assert c_int(d[f"{q}_ZERO_POINT"]) == zp
            assert d[f"{q}_NAME"] == f'"{det["name"]}"'
        assert d[f"KWS_{kind}_INDEX_LIST"] == "{" + ", ".join(str(x["index"]) for x in details) + "}"
    assert "PYEDGE_KWS_LINKAGE const uint8_t kws_blob[KWS_BLOB_SIZE] PE_UNUSED = {" in h
    assert "#define PYEDGE_KWS_LINKAGE static" in h


def test_source_and_header_pair():
    blob = blob_of(MICRO)
    h, c = cformat.blob_to_c(blob, "kws", header_name="kws_data.h")
    assert '#include "kws_data.h"' in c
    assert "PE_ALIGNAS16 extern const uint8_t kws_blob[KWS_BLOB_SIZE];" in h and "extern const uint32_t kws_blob_size;" in h
    assert "= {" not in h
    assert array_bytes(c, "kws_blob") == blob
    assert "PE_ALIGNAS16 const uint8_t kws_blob[" in c


@pytest.mark.parametrize("name", ["", "9lives", "my-model", "my model", "_model", "x" * 41, "caf\u00e9",
                                  "model_", "a__b", "pe", "PE_net"])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="--name"):
        cformat.blob_to_c(blob_of(MICRO), name)


def test_bad_blobs_are_refused():
    blob = blob_of(MICRO)
    with pytest.raises(BlobError, match="not a pyedge blob"):
        cformat.blob_to_c((MODELS / f"{MICRO}.tflite").read_bytes())
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x40
    with pytest.raises(BlobError, match="PE_ERR_CHECKSUM") as e:
        cformat.blob_to_c(bytes(flipped))
    assert e.value.status == "PE_ERR_CHECKSUM"
    with pytest.raises(BlobError, match="PE_ERR_TRUNCATED"):
        cformat.blob_to_c(blob[:-16])
    for bad in ("kws.c", "", "a\"b.h", "../x.h", "x\\y.h"):
        with pytest.raises(ValueError, match="header name"):
            cformat.blob_to_c(blob, header_name=bad)
    with pytest.raises(ValueError, match=r"\.h or \.c"):
        cformat.write_c(blob, "/tmp/model.txt")


def test_c_literals_read_back_exactly(tmp_path):
    """Tensor names become C string literals and scales float literals: a C program prints them
    back, byte for byte and bit for bit."""
    names = ['plain', 'quo"te', 'back\\slash', 'tri??=graph', 'caf\u00e9 \u4e2d', 'tab\tnl\n', '0\x01' + '7' * 3]
    scales = [0.00390625, 0.1017156839, 1.0, 3e-10, 12345.678, 1e-45]
    prog = ["#include <stdio.h>", "#include <string.h>", "int main(void) {"]
    for s in names:
        lit = cformat._c_string(s)
        prog.append(f"  fwrite({lit}, 1, sizeof({lit}) - 1, stdout); putchar(0);")
    for x in scales:
        prog.append(f'  {{ float f = {cformat._c_float(x)}; unsigned char b[4]; memcpy(b, &f, 4); '
                    f'fwrite(b, 1, 4, stdout); }}')
    prog += ["  return 0;", "}"]
    src = tmp_path / "lit.c"
    src.write_text("\n".join(prog) + "\n")
    exe = tmp_path / "lit"
    r = run([host_cc(), "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", src, "-o", exe], text=True)
    assert r.returncode == 0, r.stderr
    out = run([exe]).stdout
    text, floats = out[:-4 * len(scales)], out[-4 * len(scales):]
    assert text.split(b"\0")[:-1] == [s.encode() for s in names]
    assert np.frombuffer(floats, "<f4").tolist() == np.array(scales, np.float32).tolist()
    assert cformat._comment("a */ b /* c ??/ \u00e9") == "a * / b / * c ? ?/ ?"
    with pytest.raises(BlobError, match="not finite"):
        cformat._c_float(float("nan"))


@pytest.mark.parametrize("std", ["c99", "c11", "gnu11", "c++11"])
def test_generated_code_compiles_warning_free(tmp_path, std):
    """Both forms, and two models in one program, with -Wall -Wextra -pedantic -Werror; the blob
    is declared 16-byte aligned (checked with __alignof__ at compile time)."""
    cc = host_cc()
    if std.startswith("c++"):
        cc = shutil.which("c++") or shutil.which("g++") or pytest.skip("no host C++ compiler")
    ms, lstm = blob_of(MICRO), blob_of("tflm_trained_lstm_int8")
    (tmp_path / "kws.h").write_text(cformat.blob_to_c(ms, "kws")[0])
    paths = cformat.write_c(lstm, tmp_path / "lstm_data.c", "lstm")
    assert [p.name for p in paths] == ["lstm_data.c", "lstm_data.h"]
    ext = ".cc" if std.startswith("c++") else ".c"
    user = tmp_path / f"user{ext}"
    check = "typedef char align_check_{0}[__alignof__({0}_blob) >= 16 ? 1 : -1];"
    user.write_text("\n".join([
        '#include "kws.h"', '#include "lstm_data.h"', '#include "kws.h" /* guarded */',
        "#ifdef __GNUC__", "__extension__ " + check.format("kws"), "__extension__ " + check.format("lstm"), "#endif",
        "PE_ALIGNAS16 static uint8_t arena[KWS_ARENA_BYTES > LSTM_ARENA_BYTES ? KWS_ARENA_BYTES : LSTM_ARENA_BYTES];",
        "int main(void) {",
        "  static const int32_t dims[] = KWS_INPUT0_DIMS;",
        "  static const uint32_t bytes[] = LSTM_OUTPUT_BYTES_LIST;",
        "  KWS_OUTPUT0_CTYPE out = (KWS_OUTPUT0_CTYPE)KWS_OUTPUT0_ZERO_POINT;",
        "  float scale = KWS_INPUT0_SCALE;",
        "  arena[0] = (uint8_t)(kws_blob[0] + lstm_blob[0]);",
        "  return (int)(dims[0] + bytes[0] + kws_blob_size + lstm_blob_size + (uint32_t)out + (scale > 0) + arena[0]);",
        "}", ""]))
    std_flag = f"-std={std}"
    objs = []
    for src in ([user, tmp_path / "lstm_data.c"] if not std.startswith("c++") else [user]):
        o = tmp_path / (src.stem + ".o")
        r = run([cc, std_flag, "-O1", "-Wall", "-Wextra", "-pedantic", "-Werror", f"-I{tmp_path}", "-c", src,
                 "-o", o], text=True)
        assert r.returncode == 0 and not r.stderr.strip(), f"{src.name} ({std}):\n{r.stderr}"
        objs.append(o)
    if std.startswith("c++"):  # the .c is C: compile it as C and link it with the C++ user
        o = tmp_path / "lstm_data.o"
        r = run([host_cc(), "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-c",
                 tmp_path / "lstm_data.c", "-o", o], text=True)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr
        objs.append(o)
    r = run([cc, *objs, "-o", tmp_path / "user"], text=True)
    assert r.returncode == 0, r.stderr


ARM_CPU = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
# (compiler, -std): the host's C and C++ compilers and the Cortex-M cross compilers
HEADER_BUILDS = [("gcc", "c99"), ("gcc", "c11"), ("g++", "c++11"),
                 ("arm-none-eabi-gcc", "c99"), ("arm-none-eabi-gcc", "c11"), ("arm-none-eabi-g++", "c++11")]
_USE = """\
#include <stdint.h>
{defines}#include "kws.h"
const uint8_t *{fn}(uint32_t *size);
const uint8_t *{fn}(uint32_t *size) {{
  *size = kws_blob_size;
  return ((uintptr_t)kws_blob % 16 == 0 && kws_blob[0] == 'P' && kws_blob[3] == '1') ? kws_blob : 0;
}}
"""
_MAIN = """\
#include <stdint.h>
{defines}#include "kws.h"
const uint8_t *use_a(uint32_t *size);
const uint8_t *use_b(uint32_t *size);
int main(void) {{
  uint32_t sa = 0, sb = 0;
  const uint8_t *a = use_a(&sa), *b = use_b(&sb);
  if (!a || !b || sa != KWS_BLOB_SIZE || sb != KWS_BLOB_SIZE) return 1;
  return {same} ? 0 : 2;
}}
"""


def _header_compiler(cc: str) -> list[str]:
    path = shutil.which(cc)
    if cc.startswith("arm-none-eabi"):
        if path is None:
            pytest.skip(f"{cc} not installed (tools/test.sh installs gcc-arm-none-eabi): Cortex-M build not checked")
        return [path, *ARM_CPU]
    if path is None:
        pytest.skip(f"{cc} not installed")
    return [path]


@pytest.mark.parametrize("cc,std", HEADER_BUILDS, ids=[f"{c}-{s}" for c, s in HEADER_BUILDS])
def test_header_warning_free_unused_once_twice(tmp_path, cc, std):
    """The self-contained header under -Wall -Wextra -pedantic -Werror: included and unused,
    used in one file, used from two files with a static copy each, and used from two files
    sharing one external definition (KWS_BLOB_EXTERN everywhere, KWS_BLOB_DEFINE in one file).
    Every program links; on the host it runs and checks the data (and, shared, that both files
    see the one copy)."""
    cmd = _header_compiler(cc)
    cxx = std.startswith("c++")
    ext = ".cc" if cxx else ".c"
    (tmp_path / "kws.h").write_text(cformat.blob_to_c(blob_of(MICRO), "kws")[0])
    # =2: also for variables defined in headers, which plain -Wall forgives only outside the main file
    flags = [f"-std={std}", "-O1", "-Wall", "-Wextra", "-pedantic", "-Werror", "-Wunused-const-variable=2",
             f"-I{tmp_path}"]
    link = ["--specs=nosys.specs"] if cc.startswith("arm-none-eabi") else []
    shared = "#define KWS_BLOB_EXTERN\n"
    cases = {
        "unused": {"main": '#include "kws.h"\n#include "kws.h"\nint main(void) { return KWS_BLOB_SIZE > 0 ? 0 : 1; }\n',
                   "header": (tmp_path / "kws.h").read_text()},  # the header as a file of its own
        "once": {"main": _USE.format(defines="", fn="use_a") + "int main(void) {\n  uint32_t n = 0;\n"
                 "  return use_a(&n) && n == KWS_BLOB_SIZE ? 0 : 1;\n}\n"},
        "twice_static": {"a": _USE.format(defines="", fn="use_a"), "b": _USE.format(defines="", fn="use_b"),
                         "main": _MAIN.format(defines="", same="a[0] == b[0]")},
        "twice_shared": {"a": _USE.format(defines=shared + "#define KWS_BLOB_DEFINE\n", fn="use_a"),
                         "b": _USE.format(defines=shared, fn="use_b"),
                         "main": _MAIN.format(defines=shared, same="a == b && a == kws_blob")},
    }
    for case, files in cases.items():
        objs = []
        for stem, text in files.items():
            src = tmp_path / f"{case}_{stem}{ext}"
            src.write_text(text)
            obj = src.with_suffix(".o")
            r = run([*cmd, *flags, "-c", src, "-o", obj], text=True)
            assert r.returncode == 0 and not r.stderr.strip(), f"{case}: {src.name} ({cc} -std={std}):\n{r.stderr}"
            objs.append(obj)
        exe = tmp_path / case
        # these objects need no C++ library: link with the C driver (no libstdc++ for Cortex-M here)
        ld = [_header_compiler("arm-none-eabi-gcc")[0]] if cc == "arm-none-eabi-g++" else cmd[:1]
        r = run([*ld, *cmd[1:], *objs, *link, "-o", exe], text=True)
        assert r.returncode == 0, f"{case}: link ({cc} -std={std}):\n{r.stderr}"
        if not cc.startswith("arm-none-eabi"):
            assert run([exe]).returncode == 0, f"{case}: the program saw wrong blob data"


# -- the C-only round trip ----------------------------------------------------------------------
def _input_sets(it: pyedge.Interpreter, count: int, seed: int) -> list[list[np.ndarray]]:
    sets = random_inputs(it, np.random.default_rng(seed), count)  # full-range ints, normal floats
    return [sets] if count == 1 else sets


def _python_outputs(model_path: Path, sets: list[list[np.ndarray]], extra: tuple[int, ...] = ()) -> bytes:
    """Raw bytes of every output, then of each `extra` tensor, after every invoke: the order
    pe_run_model writes them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = pyedge.Interpreter(model_path=str(model_path))
    it.allocate_tensors()
    out = bytearray()
    for one in sets:
        for d, x in zip(it.get_input_details(), one):
            it.set_tensor(d["index"], x)
        it.invoke()
        for d in it.get_output_details():
            out += it.get_tensor(d["index"]).tobytes()
        for i in extra:
            out += it.get_tensor(i).tobytes()
    return bytes(out)


@pytest.mark.filterwarnings("ignore:.*quantized_dimension")
@pytest.mark.parametrize("name", ALL_MODELS)
def test_round_trip_tflite_peb_and_c_program(name, tmp_path, core_objects):
    """.tflite -> Interpreter, .peb on disk -> Interpreter, generated header -> C program
    (no Python): identical output bytes for every invoke, and identical persistent state
    (variable tensors) after every invoke."""
    blob = blob_of(name)
    tflite = MODELS / f"{name}.tflite"
    peb = tmp_path / f"{name}.peb"
    assert cli_main(["pack", str(tflite), "-o", str(peb)]) == 0
    assert peb.read_bytes() == blob
    header = tmp_path / "net_data.h"
    assert cli_main(["pack", str(tflite), "--format", "c", "--name", "net", "-o", str(header)]) == 0
    exe = build_runner(core_objects, tmp_path, header, "NET")

    it = pyedge.Interpreter(model_content=blob)
    invokes = 2 if "mobilenet" in name else 3
    sets = _input_sets(it, invokes, seed=len(name))
    inp = tmp_path / "in.bin"
    inp.write_bytes(b"".join(x.tobytes() for one in sets for x in one))
    recs = read_blob(blob).tensors
    state = tuple(i for i, t in enumerate(recs) if t["storage"] == STORE_STATE and t["bytes"])
    out = tmp_path / "out.bin"
    r = run([exe, "-n", invokes, "-i", inp, "-o", out, *[a for i in state for a in ("-t", i)]], text=True)
    assert r.returncode == 0, r.stderr
    got_c = out.read_bytes()
    got_tflite = _python_outputs(tflite, sets, state)
    got_peb = _python_outputs(peb, sets, state)
    per = sum(d["shape"].prod() * np.dtype(d["dtype"]).itemsize for d in it.get_output_details())
    per += sum(recs[i]["bytes"] for i in state)
    assert len(got_c) == invokes * per
    assert got_tflite == got_peb, f"{name}: .tflite and .peb differ"
    assert got_c == got_tflite, f"{name}: the C program's outputs differ from the Interpreter's"


def test_c_program_stdin_stdout_and_pair_form(tmp_path, core_objects):
    """One input set reused for N invokes through stdin/stdout; the .c + .h form links."""
    blob = blob_of(MICRO)
    paths = cformat.write_c(blob, tmp_path / "kws_data.c", "kws")
    exe = build_runner(core_objects, tmp_path, paths[1], "KWS", extra_sources=(paths[0],), std="c11")
    it = pyedge.Interpreter(model_content=blob)
    one = _input_sets(it, 1, seed=7)
    r = run([exe, "-n", 4, "-v"], input=b"".join(x.tobytes() for x in one[0]))
    assert r.returncode == 0, r.stderr
    assert f"arena {it.arena_size} bytes, 1 input(s), 1 output(s), 4 invoke(s)".encode() in r.stderr
    assert r.stdout == _python_outputs(micro_path(), one * 4)


def test_c_program_failures_name_the_status(tmp_path, core_objects):
    blob = blob_of(MICRO)
    h, _ = cformat.blob_to_c(blob, "kws")
    good = tmp_path / "good.h"
    good.write_text(h)
    exe = build_runner(core_objects, tmp_path, good, "KWS")
    # wrong input size, missing file, bad argument: exit 2 with a message
    r = run([exe, "-n", 2], input=b"\0" * 100, text=False)
    assert r.returncode == 2 and b"holds 100 bytes" in r.stderr and b"1960 bytes a set" in r.stderr
    r = run([exe, "-i", tmp_path / "missing.bin"], text=True)
    assert r.returncode == 2 and "cannot open" in r.stderr
    r = run([exe, "-n", "0"], text=True)
    assert r.returncode == 2 and "-n needs a count" in r.stderr
    r = run([exe, "-t", "100000", "-i", "/dev/null"], text=True)
    assert r.returncode == 2 and "no such tensor" in r.stderr
    # a corrupted array (one byte of the const section changed): the core refuses it, by name
    values = array_bytes(h, "kws_blob")
    bad = bytearray(values)
    bad[-100] ^= 0x01
    lines = "\n".join("  " + ",".join(str(b) for b in bad[i:i + 24]) + "," for i in range(0, len(bad), 24))
    corrupt = tmp_path / "corrupt.h"
    corrupt.write_text(re.sub(r"(kws_blob\[\w+\] PE_UNUSED = \{\n).*?(\n\};)", lambda m: m.group(1) + lines + m.group(2),
                              h, flags=re.S))
    assert array_bytes(corrupt.read_text(), "kws_blob") == bytes(bad)
    exe = build_runner(core_objects, tmp_path, corrupt, "KWS")
    r = run([exe, "-i", "/dev/null"], text=True)
    assert r.returncode == 1 and "PE_ERR_CHECKSUM" in r.stderr, r.stderr
    # #defines that do not describe the blob are caught before anything runs
    lying = tmp_path / "lying.h"
    lying.write_text(re.sub(r"#define KWS_ARENA_BYTES \d+u", "#define KWS_ARENA_BYTES 64u", h))
    exe = build_runner(core_objects, tmp_path, lying, "KWS")
    r = run([exe, "-i", "/dev/null"], text=True)
    assert r.returncode == 1 and "do not match" in r.stderr, r.stderr


# -- the command line ---------------------------------------------------------------------------
def test_cli_pack_c(tmp_path, capsys):
    tflite = str(micro_path())
    blob = blob_of(MICRO)
    assert cli_main(["pack", tflite, "--format", "c", "-o", str(tmp_path / "a.h")]) == 0
    assert array_bytes((tmp_path / "a.h").read_text(), "model_blob") == blob
    arena = pyedge.Interpreter(model_content=blob).arena_size
    assert f"MODEL_ARENA_BYTES: {arena} bytes (RAM)" in capsys.readouterr().out
    # the suffix picks the format when --format is absent
    assert cli_main(["pack", tflite, "-o", str(tmp_path / "b.c"), "--name", "kws"]) == 0
    assert (tmp_path / "b.h").exists() and '#include "b.h"' in (tmp_path / "b.c").read_text()
    assert array_bytes((tmp_path / "b.c").read_text(), "kws_blob") == blob
    # a .peb re-emits as the same array
    (tmp_path / "m.peb").write_bytes(blob)
    assert cli_main(["pack", str(tmp_path / "m.peb"), "-o", str(tmp_path / "c.h")]) == 0
    assert array_bytes((tmp_path / "c.h").read_text(), "model_blob") == blob
    capsys.readouterr()
    for argv, msg in [
        (["--format", "c", "-o", str(tmp_path / "x.peb")], "writes a .h"),
        (["--format", "peb", "-o", str(tmp_path / "x.h")], "use --format c"),
        (["--format", "c", "--name", "9x", "-o", str(tmp_path / "x.h")], "not a C identifier"),
        (["--format", "c", "--name", "pe_net", "-o", str(tmp_path / "x.h")], "reserved for the pyedge core"),
    ]:
        assert cli_main(["pack", tflite, *argv]) == 2
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "x.h").exists() and not (tmp_path / "x.peb").exists()
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 64)
    assert cli_main(["pack", str(bad), "--format", "c", "-o", str(tmp_path / "y.h")]) == 2
    assert "error" in capsys.readouterr().err


# -- Cortex-M4 ----------------------------------------------------------------------------------
def _firmware_tool():
    spec = importlib.util.spec_from_file_location("firmware_size", ROOT / "tools" / "firmware_size.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.filterwarnings("ignore:.*quantized_dimension")
def test_cortex_m4_cross_compile_and_size(tmp_path):
    """The whole core plus the generated headers compile warning-free with arm-none-eabi-gcc
    (-mcpu=cortex-m4 ... -O2 -Wall -Wextra -std=c99) and link into a bare-metal image whose
    flash holds the blob and whose RAM holds the arena."""
    fw = _firmware_tool()
    try:
        fw.find_toolchain()
    except fw.ToolchainMissing as exc:
        pytest.skip(f"Cortex-M cross compile not checked: {exc}")
    models = [micro_path(), MODELS / "tflm_person_detect.tflite"]
    for m in models:
        blob_of(m.stem)
    try:
        r = fw.measure(models, "O2", workdir=tmp_path)
    except fw.CompileWarnings as exc:
        pytest.fail(f"arm-none-eabi-gcc is not warning-free:\n{exc}")
    print("\n" + fw.format_table(r))
    assert r["core"]["text"] > 10_000 and r["core"]["data"] == 0 and r["core"]["bss"] == 0
    for m in r["models"]:
        assert m["elf_rodata"] >= m["blob_bytes"] and m["elf_bss"] >= m["arena_bytes"]
        assert m["elf_text"] >= r["core"]["text"] // 2  # the op table keeps every kernel


def test_firmware_tool_without_compiler(capsys):
    fw = _firmware_tool()
    assert fw.main(["--cc", "no-such-arm-none-eabi-gcc"]) == 3
    assert "apt-get install" in capsys.readouterr().err
