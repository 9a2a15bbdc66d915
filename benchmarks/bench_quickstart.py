"""Time the README's main job: wall clock and peak RSS of `benchbox run protocols/quickstart.toml`.

Runs the protocol in a fresh output folder with a cold embedding cache (a temporary
BENCHBOX_CACHE), so the figure is what a new user sees, and writes JSON:

    .venv/bin/python benchmarks/bench_quickstart.py [--out bench-quickstart.json]

Budget (issue 7): <= 10 minutes and <= 4 GiB peak on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 600
BUDGET_RSS_GIB = 4.0
KIB_PER_GIB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, BENCHBOX_CACHE=str(Path(tmp) / "cache"))
        cmd = [str(Path(sys.executable).with_name("benchbox")), "run", str(ROOT / "protocols" / "quickstart.toml"),
               "--out", str(Path(tmp) / "quickstart"), "--quiet"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=ROOT)
        wall = time.perf_counter() - start
        stages = json.loads((Path(tmp) / "quickstart" / "stages.json").read_text()) if proc.returncode == 0 else {}
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / KIB_PER_GIB
    result = {
        "command": " ".join(cmd[1:3]),
        "returncode": proc.returncode,
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(peak_gib, 2),
        "within_budget": proc.returncode == 0 and wall <= BUDGET_SECONDS and peak_gib <= BUDGET_RSS_GIB,
        "stage_seconds": {k: v["seconds"] for k, v in stages.items()},
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
