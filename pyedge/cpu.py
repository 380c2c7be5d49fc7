"""What the C core detected on this CPU and what it will use."""
from __future__ import annotations

import os
from typing import Any

from ._native import ffi, lib

# ISA tiers (values of PYEDGE_ISA / Interpreter(isa=...)), lowest first, with the feature each
# needs; a tier allows its own feature and those below it (pe_features_for_tier, native/src/cpu.c)
TIERS = {"scalar": 0, "avx2": lib.PE_FEAT_AVX2, "avxvnni": lib.PE_FEAT_AVXVNNI, "avx512": lib.PE_FEAT_AVX512,
         "avx512vnni": lib.PE_FEAT_AVX512VNNI, "neon": lib.PE_FEAT_NEON, "dotprod": lib.PE_FEAT_DOTPROD,
         "i8mm": lib.PE_FEAT_I8MM, "dsp": lib.PE_FEAT_DSP, "mve": lib.PE_FEAT_MVE}


def _names(mask: int) -> list[str]:
    out, bit = [], 1
    while bit <= 0x80000000:
        if mask & bit:
            p = lib.pe_feature_name(bit)
            out.append(ffi.string(p).decode() if p != ffi.NULL else f"bit{bit.bit_length() - 1}")
        bit <<= 1
    return out


def tiers_available() -> list[str]:
    """The ISA tiers this CPU has (uncapped), lowest first."""
    have = int(lib.pe_cpu_features())
    return [t for t, bit in TIERS.items() if (have & bit) == bit]


def cpu_features() -> dict[str, Any]:
    """{"detected": features of this CPU, "used": after PYEDGE_ISA, "cap": PYEDGE_ISA or None,
    "tiers": tiers this CPU runs}."""
    return {"detected": _names(int(lib.pe_cpu_features())), "used": _names(int(lib.pe_detect_features())),
            "cap": os.environ.get("PYEDGE_ISA") or os.environ.get("PYEDGE_MAX_ISA") or None,
            "tiers": tiers_available()}
