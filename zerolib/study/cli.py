"""The command line of the study: `python -m zerolib.study run | list | report`.

It sits above the runner, the Dask runner and the report, so none of them imports another
through it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .runner import Profile, StudyError, list_notebooks, list_profiles, run_study, set_kernel_threads


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m zerolib.study",
                                     description="Run the study: every notebook on one parameter profile.")
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="project folder holding notebooks/ and params/ (default: current folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the notebooks for a profile")
    run.add_argument("--profile", default="quick", help="params/<PROFILE>.yaml (default: quick); a name, not a path")
    run.add_argument("--profile-file", type=Path, help="a profile YAML file outside params/ (its stem names the "
                     "outputs folder)")
    run.add_argument("--notebooks", nargs="+", help="only these notebooks (names without .ipynb)")
    run.add_argument("--force", action="store_true", help="rerun even notebooks whose outputs are complete")
    run.add_argument("--output-root", type=Path, help="where outputs/<profile>/ goes (default: ROOT/outputs)")
    run.add_argument("--dry-run", action="store_true", help="every iteration and epoch count cut to one, "
                     "the data and the networks as the profile says (outputs/<PROFILE>-dry/)")
    run.add_argument("--dry-rows", type=int, metavar="N", help="with --dry-run: every row count (training "
                     "subsamples, attacked rows) capped at N too, the form CI runs (outputs/<PROFILE>-dry-rowsN/)")
    run.add_argument("--dry-attack-rows", type=int, metavar="N", help="with --dry-run: the rows paper B's grids "
                     "and the audit attack capped at N, all else whole: the full-size dry run (outputs/<PROFILE>-dry-attackN/)")
    run.add_argument("--seeds", type=int, nargs="+", help="consecutive seeds replacing every notebook's seed and n_seeds")
    run.add_argument("--threads", type=int, help="torch threads of every notebook kernel (default: serial, torch's "
                     "default; parallel, each host's cores over its task slots); the numbers depend on it")
    fan = run.add_mutually_exclusive_group()
    fan.add_argument("--workers", type=int, help="run as Dask tasks on a LocalCluster of N worker processes")
    fan.add_argument("--scheduler", help="run as Dask tasks on the running scheduler at ADDRESS (tcp://host:8786)")
    fan.add_argument("--cluster", choices=["slurm", "pbs", "sge", "lsf"],
                     help="run as Dask tasks on a dask-jobqueue cluster built from the profile's cluster: section")
    sub.add_parser("list", help="list profiles and notebooks")
    tim = sub.add_parser("times", help="each notebook's status, minutes and peak memory in a profile's run records")
    tim.add_argument("--profile", default="quick", help="the profile whose outputs/<PROFILE>/ to read")
    tim.add_argument("--dry-run", action="store_true", help="read the profile's dry run (outputs/<PROFILE>-dry/)")
    tim.add_argument("--dry-rows", type=int, metavar="N", help="with --dry-run: outputs/<PROFILE>-dry-rowsN/")
    tim.add_argument("--dry-attack-rows", type=int, metavar="N", help="with --dry-run: outputs/<PROFILE>-dry-attackN/")
    tim.add_argument("--output-root", type=Path, help="the outputs folder (default: ROOT/outputs)")
    rep = sub.add_parser("report", help="write OUTPUT_ROOT/REPORT.md: every profile's tables beside the papers'")
    rep.add_argument("--output-root", type=Path, help="the outputs folder (default: ROOT/outputs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = args.root.resolve()

    if args.command == "report":
        from .report import write_report

        path = write_report(args.output_root or root / "outputs")
        print(f"wrote {path}")
        return 0
    if args.command == "times":
        from .times import run_times, times_text

        for flag, n in (("--dry-rows", args.dry_rows), ("--dry-attack-rows", args.dry_attack_rows)):
            if n is not None and (not args.dry_run or n < 1):
                print(f"error: {flag} needs --dry-run and N >= 1", file=sys.stderr)
                return 2
        from .dry_run import dry_name

        name = dry_name(args.profile, args.dry_rows, args.dry_attack_rows) if args.dry_run else args.profile
        folder = (args.output_root or root / "outputs") / name
        print(times_text(folder))
        return 0 if run_times(folder) else 1
    if args.command == "list":
        print("profiles: ", " ".join(list_profiles(root / "params")))
        print("notebooks:", " ".join(list_notebooks(root / "notebooks")))
        return 0
    try:
        profile = (Profile.from_file(args.profile_file) if args.profile_file
                   else Profile.load(root / "params", args.profile))
        if args.seeds:
            profile = profile.with_seeds(args.seeds)
        for flag, n in (("--dry-rows", args.dry_rows), ("--dry-attack-rows", args.dry_attack_rows)):
            if n is not None and not args.dry_run:
                raise StudyError(f"{flag} needs --dry-run")
        if args.dry_run:
            from .dry_run import dry_profile

            try:
                profile = dry_profile(profile, root / "notebooks", rows=args.dry_rows,
                                      attack_rows=args.dry_attack_rows)
            except ValueError as exc:
                raise StudyError(str(exc)) from exc
        if args.workers is not None or args.scheduler or args.cluster:
            from .cluster import run_parallel

            outcomes = run_parallel(profile, root, args.notebooks, args.force, args.output_root,
                                    workers=args.workers, scheduler=args.scheduler, cluster=args.cluster,
                                    threads=args.threads)
        else:
            if args.threads is not None:
                set_kernel_threads(args.threads)
            outcomes = run_study(profile, root, args.notebooks, args.force, args.output_root)
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = [o for o in outcomes if o.status == "failed"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "skipped", "failed")}
    print(f"study {profile.name}: {counts['ok']} ran, {counts['skipped']} skipped, {counts['failed']} failed")
    for o in failed:
        print(f"FAILED notebook {o.notebook}: {o.error}", file=sys.stderr)
    return 1 if failed else 0


