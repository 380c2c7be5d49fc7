"""The docs match the code."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_op_table_is_current():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_op_table.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_commands_exist():
    text = (ROOT / "README.md").read_text()
    assert "./tools/setup.sh" in text and "./tools/test.sh" in text
    assert "tools/test.sh" in (ROOT / ".ci" / "run").read_text()
