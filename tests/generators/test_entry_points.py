"""The registered names are read without importing any generator, so `benchbox train --help` lists them at once."""

import subprocess
import sys
from pathlib import Path

from benchbox.generators import entry_points, registry

ROOT = Path(__file__).resolve().parents[2]


def test_names_are_the_registrys():
    assert entry_points.names() == registry.names() and {"sashimi", "wavenet", "diffwave", "specdiff", "wavegan"} <= set(entry_points.names())


def test_reading_the_names_imports_no_torch():
    code = "import sys; from benchbox.generators.entry_points import names; assert names(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, timeout=60)
    assert out.stdout.strip() == "False"
