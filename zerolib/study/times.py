"""What a profile's published runs cost: each notebook's status, minutes and peak memory.

    python -m zerolib.study times --profile mnist-cpu            # outputs/mnist-cpu/*/run.json
    python -m zerolib.study times --profile mnist --dry-run --dry-rows 200

The README quotes these figures for each profile; they come from the run records, which name
the commit and the machine they were measured on.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["run_times", "times_text"]


def run_times(folder: Path) -> list[dict]:
    """One row per notebook run under ``folder`` (its ``*/run.json``): notebook, status,
    seconds, peak_rss_mb, commit, cpu."""
    rows = []
    for path in sorted(Path(folder).glob("*/run.json")):
        rec = json.loads(path.read_text())
        rows.append({"notebook": rec.get("notebook", path.parent.name), "status": rec.get("status", "?"),
                     "seconds": float(rec.get("seconds") or 0.0), "peak_rss_mb": rec.get("peak_rss_mb"),
                     "commit": (rec.get("git") or {}).get("commit", "?")[:7],
                     "cpu": f"{(rec.get('device') or {}).get('cpu_model', '?')} x "
                            f"{(rec.get('device') or {}).get('torch_threads', '?')} threads"})
    return rows


def times_text(folder: Path) -> str:
    """The rows of :func:`run_times` as a plain table, with the serial total and the largest peak."""
    rows = run_times(folder)
    if not rows:
        return f"no run records under {folder}"
    lines = [f"{'notebook':<20} {'status':<7} {'minutes':>8} {'peak MB':>8}  commit   machine"]
    for r in rows:
        peak = f"{r['peak_rss_mb']:.0f}" if isinstance(r["peak_rss_mb"], (int, float)) else "?"
        lines.append(f"{r['notebook']:<20} {r['status']:<7} {r['seconds'] / 60:8.1f} {peak:>8}  {r['commit']:<8} "
                     f"{r['cpu']}")
    peaks = [r["peak_rss_mb"] for r in rows if isinstance(r["peak_rss_mb"], (int, float))]
    commits = sorted({r["commit"] for r in rows})
    lines.append(f"{'total (serial)':<20} {'':<7} {sum(r['seconds'] for r in rows) / 60:8.1f} "
                 f"{(max(peaks) if peaks else float('nan')):8.0f}  {', '.join(commits)}")
    return "\n".join(lines)
