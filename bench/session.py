"""What the plugin costs a session whose tests use no LLM fixture, and its import time.

    python bench/session.py                # 1,000 plain tests, 9 runs each way
    python bench/session.py --tests 5000 --runs 5

Runs the same generated suite with the plugin (as installed) and with ``-p no:llmops``, alternating
so machine load hits both alike, and prints the median wall time of each, the overhead in percent,
and the median time to import ``pytest_llmops.plugin`` once pytest is imported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT_PROBE = (
    "import time, pytest; t = time.perf_counter(); import pytest_llmops.plugin; "
    "print(time.perf_counter() - t)"
)


def write_suite(folder: Path, tests: int) -> None:
    per_file = 100
    for f in range(max(1, tests // per_file)):
        body = "\n".join(f"def test_{i}():\n    assert {i} + 1 > {i}\n" for i in range(per_file))
        (folder / f"test_plain_{f}.py").write_text(body)
    (folder / "pytest.ini").write_text("[pytest]\n")


def run(folder: Path, *extra: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *extra],
        cwd=folder, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"suite failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_suite(folder, args.tests)
        run(folder)  # warm the file system cache and .pyc files
        run(folder, "-p", "no:llmops")
        with_plugin, without = [], []
        for _ in range(args.runs):
            with_plugin.append(run(folder))
            without.append(run(folder, "-p", "no:llmops"))
    a, b = statistics.median(with_plugin), statistics.median(without)
    imports = [
        float(subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True).stdout)
        for _ in range(args.runs)
    ]
    print(f"{args.tests} plain tests, {args.runs} runs each, medians:")
    print(f"  with pytest-llmops     {a:.3f} s")
    print(f"  without (-p no:llmops) {b:.3f} s")
    print(f"  overhead               {(a - b) * 1000:+.0f} ms ({(a / b - 1) * 100:+.1f}%)")
    print(f"  import pytest_llmops.plugin after pytest: {statistics.median(imports) * 1000:.1f} ms (median)")


if __name__ == "__main__":
    main()
