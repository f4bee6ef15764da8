"""How fast the command line starts: ``python -m bulk --version`` and every ``--help``,
side by side with ``python -c "import pandas"``, alternating, medians of each.

    python benchmarks/startup.py             # 15 rounds
    python benchmarks/startup.py --rounds 5

The goal: each at most half of ``import pandas``. Not part of the test suite (the suite
checks instead that these commands load no pandas, aiohttp or pyarrow).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "import pandas": ["-c", "import pandas"],
    "import bulk": ["-c", "import bulk"],
    "--version": ["-m", "bulk", "--version"],
    "--help": ["-m", "bulk", "--help"],
    **{f"{c} --help": ["-m", "bulk", c, "--help"] for c in ("create", "plan", "apply")},
    **{f"{c} --help": ["-m", "bulk", c, "--help"] for c in ("delete", "serve")},
    **{f"{c} --help": ["-m", "bulk", c, "--help"] for c in ("status", "export", "wait")},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):  # one of each per round, so that a busy moment hits them all
        for name, args in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, *args], check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    pandas = statistics.median(times["import pandas"])
    print(f"{'command':<20} {'median s':>9} {'/ import pandas':>16}")
    for name, spent in times.items():
        median = statistics.median(spent)
        print(f"{name:<20} {median:>9.3f} {median / pandas:>16.2f}")


if __name__ == "__main__":
    main()
