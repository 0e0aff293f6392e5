"""The parallel runner against the serial one: a profile run both ways from empty model
caches, wall times, their ratio, and whether the two REPORT.md files agree.

    .venv/bin/python benchmarks/parallel_study.py                       # quick, seeds 0 1 2, 2 workers
    .venv/bin/python benchmarks/parallel_study.py --threads 1    # both runs with 1 thread per kernel
    .venv/bin/python benchmarks/parallel_study.py --workers 4 --seeds 0 1 2 3
    .venv/bin/python benchmarks/parallel_study.py --estimate mnist-cpu --gpus 1 2 4 8

Each run is a fresh subprocess of `python -m zerolib.study run` into its own output root
and model cache (under --workdir), so neither reuses what the other trained. The
reports are compared line by line, leaving out Table II, which holds measured seconds.

--estimate PROFILE reads the run records of outputs/PROFILE/ (the measured serial seconds
of each notebook), splits each notebook that declares run_seeds into n_seeds seed tasks of equal share and a
notebook task of --assemble times its serial time on top (measured on quick), and prints
the makespan of that task graph on k workers (longest-task-first list schedule). Absolute
times carry over only to machines as fast per worker as the one the records came from.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} cores, {platform.platform()}, python {platform.python_version()}, "
            f"torch {torch.__version__}, load {os.getloadavg()[0]:.2f}")


def run(profile: str, seeds: list[int], out: Path, models: Path, workers: int | None, threads: int | None) -> float:
    cmd = [sys.executable, "-m", "zerolib.study", "--root", str(ROOT), "run", "--profile", profile,
           "--output-root", str(out), "--seeds", *map(str, seeds)]
    if threads:
        cmd += ["--threads", str(threads)]
    if workers:
        cmd += ["--workers", str(workers)]
    env = dict(os.environ, ZEROLIB_MODELS=str(models))
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    subprocess.run([sys.executable, "-m", "zerolib.study", "--root", str(ROOT), "report", "--output-root", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return seconds


def report_lines(path: Path) -> list[str]:
    """The report without Table II (measured seconds) and the runs' durations."""
    keep, skipping = [], False
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            skipping = "Table II" in line
        if not skipping and not re.search(r"\| [\d.]+ min \|", line):   # a run's duration
            keep.append(line)
    return keep


def compare(a: Path, b: Path) -> tuple[int, int, list[tuple[str, str]]]:
    la, lb = report_lines(a), report_lines(b)
    numbers = sum(len(re.findall(r"\d+\.\d+", line)) for line in la)
    diffs = [(x, y) for x, y in zip(la, lb) if x != y]
    if len(la) != len(lb):
        diffs.append((f"{len(la)} lines", f"{len(lb)} lines"))
    return numbers, len(la), diffs


def notebook_seconds(out: Path, profile: str) -> dict[str, float]:
    return {json.loads(p.read_text())["notebook"]: float(json.loads(p.read_text())["seconds"])
            for p in sorted((out / profile).glob("*/run.json"))}


def shares(work: Path, profile: str) -> None:
    """Per notebook: the serial run's seconds, and the parallel notebook task's (the part that
    follows the seed tasks: what it could not read from the cache) as a share of it."""
    serial = notebook_seconds(work / "serial" / "outputs", profile)
    parallel = notebook_seconds(work / "parallel" / "outputs", profile)
    print(f"{'notebook':<18} {'serial s':>9} {'notebook task s':>16} {'share':>6}")
    for nb, t in serial.items():
        p = parallel.get(nb, float("nan"))
        print(f"{nb:<18} {t:>9.1f} {p:>16.1f} {p / t:>6.2f}")
    total_s, total_p = sum(serial.values()), sum(parallel.get(nb, 0.0) for nb in serial)
    print(f"{'all':<18} {total_s:>9.1f} {total_p:>16.1f} {total_p / total_s:>6.2f}")


def makespan(durations: dict[str, tuple[list[float], float]], k: int) -> float:
    """The finish time of a list schedule on k workers: all seed tasks (longest first),
    then each notebook task once its seed tasks are done."""
    import heapq

    free = [0.0] * k
    heapq.heapify(free)
    seed_done: dict[str, float] = {}
    seed_tasks = sorted(((t, nb) for nb, (seeds, _) in durations.items() for t in seeds), reverse=True)
    for t, nb in seed_tasks:
        start = heapq.heappop(free)
        heapq.heappush(free, start + t)
        seed_done[nb] = max(seed_done.get(nb, 0.0), start + t)
    finish = 0.0
    for nb, (_, t) in sorted(durations.items(), key=lambda kv: seed_done.get(kv[0], 0.0)):
        start = max(heapq.heappop(free), seed_done.get(nb, 0.0))
        heapq.heappush(free, start + t)
        finish = max(finish, start + t)
    return max(finish, max(free))


def estimate(profile: str, gpus: list[int], assemble: float, overrides: dict[str, float]) -> None:
    records = [json.loads(p.read_text()) for p in sorted((ROOT / "outputs" / profile).glob("*/run.json"))]
    if not records:
        sys.exit(f"no run records under outputs/{profile}/")
    from zerolib.study.runner import declared_parameters

    durations = {}
    for r in records:
        seeded = "run_seeds" in declared_parameters(ROOT / "notebooks" / f"{r['notebook']}.ipynb")
        n = int(r["parameters"].get("n_seeds", 1)) if seeded else 1
        total = float(overrides.get(r["notebook"], r["seconds"]))
        if n > 1:  # the seeds share the serial time; the notebook task comes on top
            durations[r["notebook"]] = ([total / n] * n, total * assemble)
        else:
            durations[r["notebook"]] = ([], total)
    serial = sum(float(overrides.get(r["notebook"], r["seconds"])) for r in records)
    print(f"estimate for {profile}: serial {serial / 60:.1f} min measured ({len(records)} notebooks, their run.json)")
    for k in gpus:
        span = makespan(durations, k)
        print(f"  {k:>2} workers: {span / 60:.1f} min  (x{serial / span:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch threads per kernel in both runs (default: each runner's own)")
    parser.add_argument("--workdir", type=Path, help="where the two runs go (default: a temporary folder)")
    parser.add_argument("--analyse", action="store_true", help="only compare the runs already in --workdir")
    parser.add_argument("--estimate", help="only estimate PROFILE's wall time on k workers from its run records")
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", nargs="*", default=[], metavar="NOTEBOOK=S",
                        help="a notebook's serial seconds where its record holds a rerun from the cache")
    parser.add_argument("--assemble", type=float, default=0.3,
                        help="share of a notebook's serial time its notebook task takes (measured on quick)")
    args = parser.parse_args()
    print(machine())
    if args.estimate:
        overrides = {k: float(v) for k, v in (item.split("=", 1) for item in args.seconds)}
        estimate(args.estimate, args.gpus, args.assemble, overrides)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="zerolib-parallel-"))
    if args.analyse:
        analyse(work, args.profile)
        return
    times = {}
    for label, workers in (("serial", None), (f"--workers {args.workers}", args.workers)):
        tag = "serial" if workers is None else "parallel"
        times[label] = run(args.profile, args.seeds, work / tag / "outputs", work / tag / "models", workers,
                           args.threads)
        print(f"{label:>12}: {times[label]:.1f} s  (profile {args.profile}, seeds {args.seeds}, empty model cache, "
              f"threads per kernel {args.threads or 'default'})", flush=True)
    serial, parallel = times["serial"], times[f"--workers {args.workers}"]
    print(f"ratio serial / parallel: {serial / parallel:.2f}")
    analyse(work, args.profile)
    print(f"runs kept in {work}")


def analyse(work: Path, profile: str) -> None:
    numbers, lines, diffs = compare(work / "serial" / "outputs" / "REPORT.md",
                                    work / "parallel" / "outputs" / "REPORT.md")
    print(f"REPORT.md: {lines} lines, {numbers} decimal numbers outside Table II; {len(diffs)} lines differ")
    for x, y in diffs[:20]:
        print(f"  serial:   {x}\n  parallel: {y}")
    shares(work, profile)


if __name__ == "__main__":
    main()
