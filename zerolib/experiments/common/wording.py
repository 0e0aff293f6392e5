"""Words chosen by comparing numbers, for the experiments' computed readings.

A reading must not say "higher", "fewer" or "the same" unless the numbers beside it say so;
these helpers pick the word from the numbers (compared at the precision they are printed
with), so a sentence cannot contradict its data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .model_suite import make_estimator

__all__ = ["compared", "iterations", "trend", "moved", "mean_sd", "direction"]

ZERO_ONE_MODELS = ("SCD01", "MLP01")  # paper A's models trained by SCD iterations


def compared(a: float, b: float, of: str = "", digits: int = 1, higher: str = "higher", lower: str = "lower",
             unit: str = "points", than: str = "than") -> str:
    """How ``a`` stands to ``b`` (called ``of``): "3.2 points higher than the paper's", "0.4
    points lower", or "equal to the paper's" when the two agree at ``digits`` decimals (the
    precision the reading prints, so the difference is that of the printed numbers). ``than``
    joins the word to ``of`` ("" for "below", "above")."""
    diff = round(round(float(a), digits) - round(float(b), digits), digits)
    if diff == 0:
        words = ["equal", "to" if of else "", of]
    else:
        words = [f"{abs(diff):.{digits}f}", unit, higher if diff > 0 else lower, than if of else "", of]
    return " ".join(w for w in words if w)


def _n_iter(name: str, settings: Mapping) -> int:
    """The SCD iterations model ``name`` trains for under ``settings`` (its estimator's default
    where the settings leave it out)."""
    return int(make_estimator(name, settings, 0, 1, "cpu").n_iter)


def iterations(settings: Mapping, paper_n_iter: int, models=ZERO_ONE_MODELS) -> str:
    """How many SCD iterations the 01-loss models of ``settings`` train for, beside the paper's:
    "SCD01 and MLP01 trained for 100 iterations, 900 fewer than the paper's 1000"."""
    counts = {m: _n_iter(m, settings) for m in models}
    if len(set(counts.values())) == 1:
        n = next(iter(counts.values()))
        told = f"{' and '.join(models)} trained for {n} iterations"
    else:
        n = None
        told = "; ".join(f"{m} trained for {k} iterations" for m, k in counts.items())
    if n is None:
        return f"{told} (paper: {paper_n_iter} each)"
    if n == paper_n_iter:
        return f"{told}, as many as the paper's {paper_n_iter}"
    paper_s = f"the paper's {paper_n_iter}"
    return f"{told}, {compared(n, paper_n_iter, paper_s, 0, 'more', 'fewer', unit='')}"


def trend(first: float, last: float, digits: int = 1) -> str:
    """"rises", "falls" or "stays": the sign of ``last - first`` at the ``digits`` a reading
    prints, so the word can never contradict the two numbers printed beside it."""
    a, b = round(float(first), digits), round(float(last), digits)
    return "rises" if b > a else "falls" if b < a else "stays"


def moved(first: float, last: float, first_round: int, last_round: int) -> str:
    """How a curve moved between two rounds, in words with its numbers, e.g. "falls from 100.0
    at round 0 to 69.0 at round 20" (or "stays at 99.9 from round 1 to round 20")."""
    word = trend(first, last)
    if word == "stays":
        return f"stays at {last:.1f} from round {first_round} to round {last_round}"
    return f"{word} from {first:.1f} at round {first_round} to {last:.1f} at round {last_round}"


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample sd (ddof=1; 0 for one value, as the claims' verdicts take it)."""
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def direction(mean: float, sd: float, up: str, down: str, neither: str) -> str:
    """``up`` when mean - sd > 0, ``down`` when mean + sd < 0, else ``neither``: a direction
    word for a difference, never claimed when its one-sd band straddles zero."""
    sd = 0.0 if sd is None or np.isnan(sd) else float(sd)
    return up if mean - sd > 0 else down if mean + sd < 0 else neither
