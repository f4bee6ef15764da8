"""The performance table of the README: bulk against a bare aiohttp loop, side by side.

    pip install -e '.[bench]'          # matplotlib, for benchmarks/pacing.png
    python benchmarks/run.py           # every scenario, 3 pairs each: about 20 minutes
    python benchmarks/run.py --only a,c --pairs 1

Each measurement gets a fresh emulator in a process of its own; bulk runs as the real
command line (``python -m bulk create``), the bare loop as a script of its own, one after
the other, alternating; (s) sets bulk against itself with every fsync a no-op, and (f)
a re-run of rows that all exist against a ``--dry-run``. The figures are medians, and
ratios of runs made side by side: these machines are shared and noisy, so absolute
speeds mean little. The table goes to
stdout, the raw runs to ``benchmarks/results.json`` and the pacing of (d) to
``benchmarks/pacing.png``; a partial run (``--only``, ``--pairs``) writes ``last-*`` files
beside them instead, so that a quick look never replaces the README's figures.
Progress goes to stderr. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import KEY, Measure, bare, bulk_create, emulator, measure, record, write_manifest

HERE = Path(__file__).parent
# key: (figure, before this work, goal), in the order of the README's table.
FIGURES = {
    "a_rps": ("(a) 20,000 rows, --concurrency 64: requests/s bulk / bare", "0.53", ">= 0.9"),
    "a_cpu": ("(a) CPU seconds, bulk process / bare loop", "2.3", "<= 1.5"),
    "b_rps": ("(b) latency 50 ms, --concurrency 64: bulk / bare", "0.94", ">= 0.97"),
    "c": ("(c) --rate 200: mean rate / busiest 1 s", "168 / 174", ">= 196 / <= 205"),
    "c_server": ("(c) the same, busiest 1 s by the server's clock", "", "(its stalls too)"),
    "d1": ("(d) 100/s, burst 10: time / 30 s; 429s / POSTs", "1.25; 0.4%", "<= 1.1; <= 2%"),
    "d2": ("(d) 30/s, burst 5, HTTP date, 150 rows: time / 5 s", "4.6", "<= 1.5"),
    "d1_bare": ("(d) the bare loop at 100/s: time / 30 s; 429s / POSTs", "", "(for comparison)"),
    "d2_bare": ("(d) the bare loop at 30/s: time / 5 s", "", "(for comparison)"),
    "e1": ("(e) 1,000,000 rows --dry-run: time / peak RSS", "154 s / 4.7 GiB", "<= 30 s / 512 MiB"),
    "e2": ("(e) live 100,000 vs 10,000 rows: peak RSS", "3.5", "<= 1.2"),
    "s": ("(a) with fsync / without: requests/s; CPU s", "", ">= 0.9; -"),
    "f": ("(f) nightly re-run, 50,000 rows all there: time / --dry-run", "1.96", "<= 1.5"),
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def steady_rps(times: list[float]) -> float:
    """Requests/s between the 10th and the 90th percentile of arrivals: no start-up, no tail."""
    times = sorted(times)
    lo, hi = len(times) // 10, len(times) * 9 // 10
    return (hi - lo) / (times[hi] - times[lo])


def busiest_second(times: list[float]) -> int:
    times, best, first = sorted(times), 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def checked(run: Measure, seen: dict, rows: int) -> None:
    created = seen["statuses"].get("201", 0)
    if run.returncode != 0 or seen["duplicates"] or created != rows:
        raise SystemExit(
            f"benchmark run went wrong: exit {run.returncode}, {created} of {rows} created, "
            f"{seen['duplicates']} names created twice"
        )


def one_run(
    who: str, flags: tuple[str, ...], manifest: Path, concurrency: int, rows: int
) -> tuple[Measure, dict]:
    """One run of bulk or of the bare loop on a fresh emulator; what the emulator saw."""
    with emulator(*flags) as url:
        if who == "bulk":
            run = bulk_create(url, manifest, "--concurrency", str(concurrency))
        else:
            run = bare(url, manifest, concurrency)
        seen = record(url)
    checked(run, seen, rows)
    return run, seen


def side_by_side(rows: int, concurrency: int, flags: tuple[str, ...], work: Path, pairs: int):
    """Pairs of (bulk, bare) runs, alternating which goes first; per-pair ratios."""
    manifest = write_manifest(work / f"m{rows}.csv", rows)
    ratios: dict[str, list[float]] = {"rps": [], "cpu": []}
    for pair in range(pairs):
        got = {}
        for who in ("bulk", "bare") if pair % 2 == 0 else ("bare", "bulk"):
            run, seen = one_run(who, flags, manifest, concurrency, rows)
            got[who] = (steady_rps(seen["post_times"]), run.cpu)
            say(
                f"  pair {pair + 1}/{pairs} {who}: {got[who][0]:.0f} requests/s, "
                f"{run.cpu:.1f} s CPU"
            )
        ratios["rps"].append(got["bulk"][0] / got["bare"][0])
        ratios["cpu"].append(got["bulk"][1] / got["bare"][1])
    return ratios


def scenario_a(work: Path, pairs: int) -> dict:
    ratios = side_by_side(20_000, 64, (), work, pairs)
    return {
        "a_rps": f"{statistics.median(ratios['rps']):.2f}",
        "a_cpu": f"{statistics.median(ratios['cpu']):.2f}",
        "runs": ratios,
    }


def scenario_b(work: Path, pairs: int) -> dict:
    ratios = side_by_side(5_000, 64, ("--latency", "0.05"), work, pairs)
    return {"b_rps": f"{statistics.median(ratios['rps']):.2f}", "runs": ratios}


def limited(
    rows: int,
    flags: tuple[str, ...],
    concurrency: int,
    work: Path,
    pairs: int,
    label: str,
    *,
    bare_runs: int | None = None,
) -> dict[str, list[dict]]:
    """Pairs of runs against a server that limits: how long, how many 429s, when sent.
    ``bare_runs`` bounds the bare loop's runs where each takes minutes."""
    manifest = write_manifest(work / f"m{rows}.csv", rows)
    runs: dict[str, list[dict]] = {"bulk": [], "bare": []}
    for pair in range(pairs):
        for who in ("bulk", "bare") if pair % 2 == 0 else ("bare", "bulk"):
            if who == "bare" and bare_runs is not None and pair >= bare_runs:
                continue
            run, seen = one_run(who, flags, manifest, concurrency, rows)
            runs[who].append(summary(run, seen))
            got = runs[who][-1]
            own = f" (bulk counted {run.report['throttled']})" if run.report else ""
            say(
                f"  {label} pair {pair + 1}/{pairs} {who}: {got['span']:.1f} s, "
                f"{got['throttled']} 429s of {got['posts']}{own}"
            )
    return runs


def summary(run: Measure, seen: dict) -> dict:
    answers = seen["post_answers"]
    return {
        "span": max(t for t, s in answers if s == 201) - min(seen["post_times"]),
        "throttled": sum(1 for _, s in answers if s == 429),
        "posts": seen["posts"],
        "sent": run.sent,
        "times": seen["post_times"],
        "answers": answers,
    }


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["span"])[len(runs) // 2]


def scenario_c(work: Path, pairs: int) -> dict:
    """The pacer's promise is kept where it acts, at the client (the journal's send times);
    the server's own clock also shows its stalls, so its busiest second is shown beside."""
    manifest = write_manifest(work / "m3000.csv", 3000)
    runs = []
    for i in range(pairs):
        say(f"  c run {i + 1}/{pairs}: 3,000 rows at --rate 200, about 15 s ...")
        with emulator() as url:
            run = bulk_create(url, manifest, "--rate", "200", "--concurrency", "16")
            seen = record(url)
        checked(run, seen, 3000)
        runs.append(summary(run, seen))
        say(f"  c run {i + 1}/{pairs}: {runs[-1]['span']:.1f} s at --rate 200")
    means = [(len(r["sent"]) - 1) / (max(r["sent"]) - min(r["sent"])) for r in runs]
    busiest = [busiest_second(r["sent"]) for r in runs]
    at_server = [busiest_second(r["times"]) for r in runs]
    return {
        "c": f"{statistics.median(means):.0f} / {max(busiest)}",
        "c_server": f"{max(at_server)}",
        "runs": [
            {"mean": m, "busiest": b, "busiest_at_server": s}
            for m, b, s in zip(means, busiest, at_server, strict=True)
        ],
    }


def scenario_d(work: Path, pairs: int) -> dict:
    limit = ("--rate-limit", "100", "--burst", "10", "--retry-after", "seconds")
    # The bare loop's workers all sleep out the same whole second, then all retry at once:
    # five minutes a run, so it runs once.
    d1 = limited(3_000, limit, 32, work, pairs, "d 100/s", bare_runs=1)
    limit = ("--rate-limit", "30", "--burst", "5", "--retry-after", "date")
    d2 = limited(150, limit, 16, work, pairs, "d 30/s")
    found: dict = {"plot": median_run(d1["bulk"])}
    for who, key in (("bulk", ""), ("bare", "_bare")):
        middle = median_run(d1[who])
        share = statistics.median(r["throttled"] / r["posts"] for r in d1[who])
        found["d1" + key] = f"{middle['span'] / 30:.2f}; {share:.1%}"
        found["d2" + key] = f"{median_run(d2[who])['span'] / 5:.2f}"
    keep = ("span", "throttled", "posts")
    found["runs"] = {
        name: {who: [{k: r[k] for k in keep} for r in runs[who]] for who in runs}
        for name, runs in (("d1", d1), ("d2", d2))
    }
    return found


def scenario_e(work: Path, pairs: int) -> dict:
    big = write_manifest(work / "m1000000.csv", 1_000_000)
    dry = []
    for i in range(pairs):
        out = work / "dry.csv"
        out.unlink(missing_ok=True)
        run = measure(
            [sys.executable, "-m", "bulk", "create", str(big), "--dry-run", "-q", "-o", str(out)]
        )
        dry.append((run.wall, run.rss_mib))
        say(f"  e dry run {i + 1}/{pairs}: {run.wall:.1f} s, {run.rss_mib:.0f} MiB")
    rss: dict[int, list[float]] = {}
    for rows in (10_000, 100_000):
        manifest = write_manifest(work / f"m{rows}.csv", rows)
        for i in range(pairs):
            with emulator() as url:
                run = bulk_create(url, manifest, "--concurrency", "64")
                checked(run, record(url), rows)
            rss.setdefault(rows, []).append(run.rss_mib)
            say(f"  e live {rows} rows {i + 1}/{pairs}: {run.rss_mib:.0f} MiB")
    small, large = statistics.median(rss[10_000]), statistics.median(rss[100_000])
    wall, peak = statistics.median(w for w, _ in dry), max(r for _, r in dry)
    return {
        "e1": f"{wall:.1f} s / {peak:.0f} MiB",
        "e2": f"{large:.0f} / {small:.0f} MiB = {large / small:.2f}",
        "runs": {"dry": dry, "live": rss},
    }


def scenario_f(work: Path, pairs: int, rows: int = 50_000) -> dict:
    """A nightly job: the same manifest again, every app already there (no POST), side
    by side with a --dry-run of it, alternating which goes first."""
    manifest = write_manifest(work / f"m{rows}.csv", rows)
    out, dry = work / "nightly.results.csv", work / "nightly.dry-run.csv"
    env = {"RUNGEN_API_KEY": KEY}
    command = [sys.executable, "-m", "bulk", "create", str(manifest), "-q"]
    ratios, runs = [], []
    with emulator() as url:
        env["RUNGEN_BASE_URL"] = url
        first = measure([*command, "-o", str(out), "--concurrency", "64"], env=env)
        checked(first, record(url), rows)
        for pair in range(pairs):
            took = {}
            for who in ("rerun", "dry") if pair % 2 == 0 else ("dry", "rerun"):
                flags = ["-o", str(out)] if who == "rerun" else ["-o", str(dry), "--dry-run"]
                dry.unlink(missing_ok=True)
                run = measure([*command, *flags], env=env)
                if run.returncode != 0:
                    raise SystemExit(f"benchmark run went wrong: {who} exit {run.returncode}")
                took[who] = run.wall
            if record(url)["posts"] != rows:
                raise SystemExit("benchmark run went wrong: the re-run sent a POST")
            ratios.append(took["rerun"] / took["dry"])
            runs.append(took)
            say(f"  f pair {pair + 1}/{pairs}: {took['rerun']:.1f} s / {took['dry']:.1f} s")
    rerun, dry_run = (statistics.median(t[k] for t in runs) for k in ("rerun", "dry"))
    ratio = statistics.median(ratios)
    return {"f": f"{ratio:.2f} ({rerun:.1f} s / {dry_run:.1f} s)", "runs": runs}


def scenario_s(work: Path, pairs: int, rows: int = 20_000) -> dict:
    """What durability costs: (a) with each intent fsynced before its POST (group commit),
    and the same bulk with every fsync a no-op, alternating which goes first."""
    manifest = write_manifest(work / f"m{rows}.csv", rows)
    rps, cpu = [], []
    for pair in range(pairs):
        got = {}
        for synced in (True, False) if pair % 2 == 0 else (False, True):
            with emulator() as url:
                run = bulk_create(url, manifest, "--concurrency", "64", fsync=synced)
                seen = record(url)
            checked(run, seen, rows)
            got[synced] = (steady_rps(seen["post_times"]), run.cpu)
            say(f"  s pair {pair + 1}/{pairs} fsync={synced}: {got[synced][0]:.0f} requests/s")
        rps.append(got[True][0] / got[False][0])
        cpu.append(got[True][1] / got[False][1])
    return {
        "s": f"{statistics.median(rps):.2f}; {statistics.median(cpu):.2f}",
        "runs": {"rps": rps, "cpu": cpu},
    }


SCENARIOS: dict[str, Callable[[Path, int], dict]] = {
    "a": scenario_a,
    "b": scenario_b,
    "c": scenario_c,
    "d": scenario_d,
    "e": scenario_e,
    "f": scenario_f,
    "s": scenario_s,
}


def plot(run: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("no matplotlib: pip install -e '.[bench]' to draw the pacing plot")
        return
    step = 0.5
    end = max(run["times"]) + step
    bins = [i * step for i in range(int(end / step) + 1)]
    admitted = [t for t, s in run["answers"] if s == 201]
    throttled = [t for t, s in run["answers"] if s == 429]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.hist(admitted, bins=bins, weights=[1 / step] * len(admitted), label="created /s")
    ax.hist(throttled, bins=bins, weights=[1 / step] * len(throttled), label="429 /s", color="red")
    times = sorted(run["times"])
    for a, b in itertools.pairwise(times):
        if b - a > 0.3:  # nothing sent for a while: a Retry-After pause
            ax.axvspan(a, b, color="grey", alpha=0.3)
    ax.axhline(100, linestyle="--", color="black", linewidth=1, label="server limit")
    ax.set_xlabel("seconds since the first POST")
    ax.set_ylabel("requests per second")
    ax.set_title("(d) server limited to 100/s, burst 10: grey spans are pauses")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    say(f"pacing plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--only", default="a,b,c,d,e,f,s", help="scenarios, e.g. a,c (default all)")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--json", help="raw runs (default: benchmarks/results.json)")
    parser.add_argument("--plot", help="pacing plot of (d) (default: benchmarks/pacing.png)")
    args = parser.parse_args()
    # Only a whole run replaces the figures behind the README; a quick look goes beside.
    whole = set(args.only.replace(" ", "").split(",")) == set(SCENARIOS) and args.pairs == 3
    prefix = "" if whole else "last-"
    args.json = args.json or str(HERE / f"{prefix}results.json")
    args.plot = args.plot or str(HERE / f"{prefix}pacing.png")
    found: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bulk-bench-") as tmp:
        for name in args.only.split(","):
            say(f"({name}) ...")
            found[name] = SCENARIOS[name.strip()](Path(tmp), args.pairs)
    if "d" in found:
        plot(found["d"].pop("plot"), Path(args.plot))  # type: ignore[union-attr]
    table = [
        (label, before, next((str(f[key]) for f in found.values() if key in f), "-"), goal)
        for key, (label, before, goal) in FIGURES.items()
    ]
    width = max(len(row[0]) for row in table)
    print(f"{'figure':<{width}}  {'before':>16}  {'today':>18}  goal")
    for label, before, today, goal in table:
        print(f"{label:<{width}}  {before:>16}  {today:>18}  {goal}")
    machine = f"{platform.machine()}, {platform.python_version()}, {_cores()} cores"
    print(f"\nmachine: {machine}; {args.pairs} pair(s), medians")
    Path(args.json).write_text(
        json.dumps({"machine": machine, "table": table, "raw": found}, indent=1, default=str)
    )


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
