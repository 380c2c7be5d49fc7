"""Writes the README's op table from the lowering registry (pyedge/lower) and native/ops.def.

    python tools/gen_op_table.py          # rewrite the table in README.md
    python tools/gen_op_table.py --check  # exit 1 if README.md is out of date
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyedge.lower import supported_ops  # noqa: E402

BEGIN, END = "<!-- op-table:begin -->", "<!-- op-table:end -->"


def table() -> str:
    rows = ["| TFLite op | versions | types |", "|---|---|---|"]
    for name, s in supported_ops().items():
        rows.append(f"| {name} | 1-{s.max_version} | {s.types} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main() -> int:
    path = ROOT / "README.md"
    text = path.read_text()
    new = render(text)
    if "--check" in sys.argv:
        if new != text:
            print("README.md op table is out of date: run python tools/gen_op_table.py")
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
