"""Paper A's toy 2D examples (Fig. 2): data, geometry and plots.

Fig. 2a: a misclassified outlier tilts the hinge-loss line but not the 01-loss
line. ``outlier_set`` makes two rectangular clusters separated by a narrow
vertical gap and puts outlier(s) of class 1 deep in class 0's side;
``hinge_line`` fits a linear SVM and ``zerolib.models.exact.min01_line`` the exact
01-loss line.

Fig. 2b: two hidden nodes u, v (lines in the input space) feed a linear
boundary in their hidden space. A point in the wedge where both nodes are on
(class 1) walks toward the corner where u and v cross. With the logistic
activation its hidden coordinates slide to (1/2, 1/2) and cross the hidden
boundary ``h_u + h_v = 1.5``: the point becomes adversarial without crossing u
or v. With the sign activation (step to {0, 1}) its hidden coordinates stay at
(1, 1) until it crosses u or v in the input space.

Prediction rule everywhere: class 1 where ``w @ x + b > 0`` (also for the
hidden nodes' sign activation: 1 where ``z > 0``, else 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zerolib.models.exact import count_errors, min01_line

from .common.markdown import Section, figures, md_table

__all__ = [
    "NOTEBOOK", "BOUNDARIES", "ERRORS", "SWEEP", "HIDDEN_SPACE", "CORNER", "CORNER_FINE", "FINE_STEPS",
    "ToySet", "outlier_set", "hinge_line", "normal_angle", "fit_both", "errors_table", "distance_sweep",
    "HiddenNodes", "as_nodes", "CORNER_NODES", "CORNER_START", "HIDDEN_W", "HIDDEN_B",
    "hidden_coordinates", "hidden_side", "toward_corner", "corner_table",
    "boundary_reading", "sweep_reading", "corner_reading", "reading", "section",
    "plot_boundaries", "plot_distance_sweep", "plot_hidden_space",
]

NOTEBOOK = "toy_outliers"
# the files the notebook writes (a table and a figure may share a name)
BOUNDARIES, ERRORS, SWEEP = "fig2a_boundaries", "fig2a_errors", "fig2a_distance_sweep"
HIDDEN_SPACE, CORNER, CORNER_FINE = "fig2b_hidden_space", "fig2b_corner_path", "fig2b_corner_path_fine"
FINE_STEPS = 1001  # points on the walk to the corner in CORNER_FINE: where the logistic net flips, to 0.1 %

# The toy set's geometry: class 0 uniform in [-GAP - WIDTH, -GAP] x [-H/2, H/2],
# class 1 its mirror image; the outlier(s) of class 1 sit up and to the left.
GAP, WIDTH, HEIGHT = 0.1, 3.0, 4.0
DEFAULT_OUTLIER = (-10.0, 10.0)
OUTLIER_DIRECTION = np.array([-1.0, 1.0]) / np.sqrt(2.0)  # used by distance_sweep

# Linear SVM's C: large, so the fit is driven by the hinge losses and not by
# the regulariser (on the clean set it is then the hard-margin SVM).
HINGE_C = 100.0

COLORS = {"01 loss (exact)": "tab:blue", "hinge (SVM)": "tab:red"}


# --------------------------------------------------------------------------- Fig. 2a


@dataclass(frozen=True)
class ToySet:
    """A toy 2D set: points X (n, 2), labels y in {0, 1}, and which are outliers."""

    X: np.ndarray
    y: np.ndarray
    is_outlier: np.ndarray


def outlier_set(
    n_per_class: int = 20,
    n_outliers: int = 1,
    outlier_position: tuple[float, float] = DEFAULT_OUTLIER,
    seed: int = 0,
) -> ToySet:
    """Two clusters split by a narrow vertical gap plus misclassified outliers.

    Class 0 is uniform in a 3 x 4 box left of x = -0.1, class 1 in its mirror
    image right of x = 0.1; so the clean set is separable by x = 0. The first
    outlier (class 1) sits exactly at ``outlier_position`` (deep in class 0's
    side by default); further ones are scattered around it (sd 0.5). The
    clusters depend only on ``seed`` and ``n_per_class``, not on the outliers.
    """
    if n_per_class < 1 or n_outliers < 0:
        raise ValueError(f"need n_per_class >= 1 and n_outliers >= 0, got {n_per_class}, {n_outliers}")
    rng = np.random.default_rng(seed)
    half = HEIGHT / 2
    X0 = np.c_[rng.uniform(-GAP - WIDTH, -GAP, n_per_class), rng.uniform(-half, half, n_per_class)]
    X1 = np.c_[rng.uniform(GAP, GAP + WIDTH, n_per_class), rng.uniform(-half, half, n_per_class)]
    jitter = rng.normal(scale=0.5, size=(n_outliers, 2))
    jitter[:1] = 0.0
    out = np.asarray(outlier_position, dtype=float) + jitter
    X = np.vstack([X0, X1, out])
    y = np.r_[np.zeros(n_per_class), np.ones(n_per_class), np.ones(n_outliers)].astype(int)
    is_outlier = np.r_[np.zeros(2 * n_per_class, bool), np.ones(n_outliers, bool)]
    return ToySet(X=X, y=y, is_outlier=is_outlier)


def hinge_line(X, y, C: float = HINGE_C) -> tuple[np.ndarray, float]:
    """Linear SVM (hinge loss, libsvm, unpenalised intercept): (w, b), class 1 where w.x + b > 0."""
    from sklearn.svm import SVC

    svm = SVC(kernel="linear", C=C).fit(np.asarray(X, float), np.asarray(y))
    # sklearn's positive class is classes_[1] = 1, so decision > 0 means class 1
    return svm.coef_[0].astype(float).copy(), float(svm.intercept_[0])


def normal_angle(w1, w2) -> float:
    """Angle in degrees, in [0, 180], between two normal vectors.

    A linear model's adversarial directions are +-w, so this says how far apart
    two linear models' adversarial directions are.
    """
    w1, w2 = np.asarray(w1, float), np.asarray(w2, float)
    n1, n2 = np.linalg.norm(w1), np.linalg.norm(w2)
    if n1 == 0 or n2 == 0:
        raise ValueError("normal vectors must be non-zero")
    return float(np.degrees(np.arccos(np.clip(w1 @ w2 / (n1 * n2), -1.0, 1.0))))


def fit_both(data: ToySet, C: float = HINGE_C) -> dict:
    """The exact 01 line and the hinge line on a toy set, their errors and angle."""
    exact = min01_line(data.X, data.y)
    w_h, b_h = hinge_line(data.X, data.y, C=C)
    return {
        "exact": exact,
        "hinge": (w_h, b_h),
        "errors_01": exact.errors,
        "errors_hinge": count_errors(w_h, b_h, data.X, data.y),
        "angle": normal_angle(exact.w, w_h),
    }


def errors_table(fit: dict) -> pd.DataFrame:
    """Fig. 2a's two lines from :func:`fit_both`: training errors, the unit normal and offset of
    each, and the angle between their normals (the same on both rows)."""
    lines = {"01 loss (exact)": (fit["exact"].w, fit["exact"].b), "hinge (SVM)": fit["hinge"]}
    errors = {"01 loss (exact)": fit["errors_01"], "hinge (SVM)": fit["errors_hinge"]}
    table = pd.DataFrame([
        {"model": name, "training_errors": errors[name], "w1": w[0] / np.linalg.norm(w),
         "w2": w[1] / np.linalg.norm(w), "b": b / np.linalg.norm(w)}
        for name, (w, b) in lines.items()
    ])
    table["angle_between_normals_deg"] = fit["angle"]
    return table


def distance_sweep(
    distances, n_per_class: int = 20, n_outliers: int = 1, seed: int = 0, C: float = HINGE_C
) -> pd.DataFrame:
    """Move the outlier(s) along the up-left diagonal; both lines at each distance.

    Tilt angles are measured against the same model's line on the clean set
    (no outliers), where the hinge line and the 01 line coincide in direction.
    """
    clean = outlier_set(n_per_class, 0, seed=seed)
    w_h0, _ = hinge_line(clean.X, clean.y, C=C)
    w_e0 = min01_line(clean.X, clean.y).w
    rows = []
    for d in distances:
        pos = tuple(float(v) for v in d * OUTLIER_DIRECTION)
        r = fit_both(outlier_set(n_per_class, n_outliers, pos, seed), C=C)
        rows.append({
            "distance": float(d), "outlier_x": pos[0], "outlier_y": pos[1],
            "errors_01": r["errors_01"], "errors_hinge": r["errors_hinge"],
            "tilt_01_deg": normal_angle(w_e0, r["exact"].w),
            "tilt_hinge_deg": normal_angle(w_h0, r["hinge"][0]),
            "angle_between_deg": r["angle"],
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Fig. 2b


@dataclass(frozen=True)
class HiddenNodes:
    """Two hidden nodes: pre-activations z = W @ x + b, row 0 is u, row 1 is v."""

    W: np.ndarray  # (2, 2)
    b: np.ndarray  # (2,)

    @property
    def corner(self) -> np.ndarray:
        """The point where u and v cross (z_u = z_v = 0)."""
        return np.linalg.solve(self.W, -self.b)


# u: 2 (x1 - 0.4 x2) = 0, v: 2 (x2 - 0.4 x1) = 0, crossing at the origin; the wedge
# where both are on contains the diagonal x1 = x2 > 0.
CORNER_NODES = HiddenNodes(W=2.0 * np.array([[1.0, -0.4], [-0.4, 1.0]]), b=np.zeros(2))
CORNER_START = np.array([2.5, 2.5])  # z_u = z_v = 3: logistic outputs 0.95
# Hidden-space boundary: class 1 where h_u + h_v - 1.5 > 0 (both nodes on).
HIDDEN_W, HIDDEN_B = np.array([1.0, 1.0]), -1.5


def as_nodes(U) -> HiddenNodes:
    """A HiddenNodes from itself or from a pair (W (2, 2), b (2,))."""
    if isinstance(U, HiddenNodes):
        return U
    W, b = U
    return HiddenNodes(W=np.asarray(W, float), b=np.asarray(b, float))


def hidden_coordinates(points, U=CORNER_NODES, activation: str = "logistic") -> np.ndarray:
    """Map 2D points (m, 2) or (2,) to hidden coordinates (h_u, h_v).

    ``U`` is a ``HiddenNodes`` or a pair (W (2, 2), b (2,)). ``activation`` is
    'logistic' (1 / (1 + e^-z)) or 'sign' (1 where z > 0, else 0).
    """
    nodes = as_nodes(U)
    z = np.asarray(points, float) @ nodes.W.T + nodes.b
    if activation == "logistic":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + e^-z), without overflow
    if activation == "sign":
        return (z > 0).astype(float)
    raise ValueError(f"activation must be 'logistic' or 'sign', got {activation!r}")


def hidden_side(h, w=HIDDEN_W, b: float = HIDDEN_B) -> np.ndarray:
    """Class of hidden points under the hidden boundary: 1 where w @ h + b > 0."""
    return ((np.asarray(h, float) @ np.asarray(w, float) + b) > 0).astype(int)


def toward_corner(start, corner, n_steps: int) -> np.ndarray:
    """``n_steps`` points on the straight path from ``start`` to ``corner`` (both included)."""
    f = np.linspace(0.0, 1.0, n_steps)[:, None]
    return (1 - f) * np.asarray(start, float) + f * np.asarray(corner, float)


def corner_table(U=CORNER_NODES, start=CORNER_START, n_steps: int = 11) -> pd.DataFrame:
    """Input position, hidden coordinates and hidden-space class along the path."""
    nodes = as_nodes(U)
    pts = toward_corner(start, nodes.corner, n_steps)
    lo, sg = hidden_coordinates(pts, nodes, "logistic"), hidden_coordinates(pts, nodes, "sign")
    return pd.DataFrame({
        "fraction": np.linspace(0.0, 1.0, n_steps), "x1": pts[:, 0], "x2": pts[:, 1],
        "logistic_h_u": lo[:, 0], "logistic_h_v": lo[:, 1], "logistic_class": hidden_side(lo),
        "sign_h_u": sg[:, 0], "sign_h_v": sg[:, 1], "sign_class": hidden_side(sg),
    })


# --------------------------------------------------------------------------- plots


def _figure(ncols: int = 1, size=(5.0, 4.5)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1]))
    return fig, [fig.add_subplot(1, ncols, k + 1) for k in range(ncols)]


def _draw_line(ax, w, b, xlim, ylim, **kw):
    """Draw {x: w @ x + b = 0} clipped to the box."""
    w = np.asarray(w, float)
    if abs(w[1]) > abs(w[0]):
        xs = np.array(xlim)
        ax.plot(xs, -(w[0] * xs + b) / w[1], **kw)
    else:
        ys = np.array(ylim)
        ax.plot(-(w[1] * ys + b) / w[0], ys, **kw)


def plot_boundaries(ax, X, y, lines: dict, is_outlier=None, errors: dict | None = None):
    """Scatter a 2D set and draw named lines {name: (w, b)}; returns the figure.

    Misclassified points of each line are not marked individually; ``errors``
    ({name: int}) is added to the legend when given.
    """
    X, y = np.asarray(X, float), np.asarray(y)
    if ax is None:
        _, (ax,) = _figure()
    pad = 1.0
    xlim = (min(X[:, 0].min(), -4) - pad, max(X[:, 0].max(), 4) + pad)
    ylim = (min(X[:, 1].min(), -4) - pad, max(X[:, 1].max(), 4) + pad)
    out = np.zeros(len(X), bool) if is_outlier is None else np.asarray(is_outlier, bool)
    for cls, color, marker in ((0, "tab:cyan", "o"), (1, "tab:orange", "s")):
        m = (y == cls) & ~out
        ax.scatter(X[m, 0], X[m, 1], c=color, marker=marker, s=22, edgecolor="k", lw=0.4,
                   label=f"class {cls}")
    if out.any():
        ax.scatter(X[out, 0], X[out, 1], c="tab:orange", marker="*", s=180, edgecolor="k",
                   lw=0.6, label="outlier (class 1)")
    for k, (name, (w, b)) in enumerate(lines.items()):
        label = name if errors is None else f"{name}: {errors[name]} errors"
        color = COLORS.get(name, f"C{k + 2}")
        _draw_line(ax, w, b, xlim, ylim, color=color, lw=2, label=label)
        # a short arrow along +w marks the class-1 side (and the adversarial direction)
        w = np.asarray(w, float)
        p0 = -b * w / (w @ w)
        centre = np.clip(p0, [xlim[0] + 1, ylim[0] + 1], [xlim[1] - 1, ylim[1] - 1])
        foot = centre - (w @ centre + b) / (w @ w) * w
        ax.annotate("", foot + 1.2 * w / np.linalg.norm(w), foot,
                    arrowprops=dict(arrowstyle="->", color=color, lw=1.5))
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="lower left", fontsize=8)
    return ax.figure


def plot_distance_sweep(df: pd.DataFrame, axes=None):
    """Tilt angles and errors of both lines against the outlier's distance."""
    if axes is None:
        _, axes = _figure(2, size=(4.5, 3.5))
    a, e = axes
    a.plot(df.distance, df.tilt_hinge_deg, "o-", color=COLORS["hinge (SVM)"], label="hinge (SVM)")
    a.plot(df.distance, df.tilt_01_deg, "s--", color=COLORS["01 loss (exact)"], label="01 loss (exact)")
    a.set_xlabel("outlier distance from the gap's centre")
    a.set_ylabel("tilt vs the clean-set line (degrees)")
    a.legend(fontsize=8)
    e.plot(df.distance, df.errors_hinge, "o-", color=COLORS["hinge (SVM)"], label="hinge (SVM)")
    e.plot(df.distance, df.errors_01, "s--", color=COLORS["01 loss (exact)"], label="01 loss (exact)")
    e.set_xlabel("outlier distance from the gap's centre")
    e.set_ylabel("training errors")
    e.legend(fontsize=8)
    return a.figure


def plot_hidden_space(axes=None, U=CORNER_NODES, start=CORNER_START, fraction: float | None = None,
                      n_steps: int = 41, seed: int = 0):
    """Fig. 2b: input space (u, v, the path), hidden space under logistic and under sign.

    Background points (random, coloured by the sign network's class) show how
    the logistic map spreads them while the sign map collapses them onto the
    corners of the unit square. ``fraction`` (0..1) marks the walking point.
    """
    nodes = as_nodes(U)
    if axes is None:
        _, axes = _figure(3, size=(4.3, 4.3))
    ax_in, ax_lo, ax_sg = axes
    corner = nodes.corner
    path = toward_corner(start, corner, n_steps)
    bg = np.random.default_rng(seed).uniform(-4, 4, size=(80, 2))
    bg_cls = hidden_side(hidden_coordinates(bg, nodes, "sign"))

    # input space: logistic network's class-1 region (shaded), u, v, path
    g = np.linspace(-4, 4, 200)
    gx, gy = np.meshgrid(g, g)
    cls = hidden_side(hidden_coordinates(np.c_[gx.ravel(), gy.ravel()], nodes, "logistic"))
    ax_in.contourf(gx, gy, cls.reshape(gx.shape), levels=[0.5, 1.5], colors=["tab:red"], alpha=0.15)
    for k, name in enumerate("uv"):
        _draw_line(ax_in, nodes.W[k], nodes.b[k], (-4, 4), (-4, 4), color="k", lw=1.5)
        end = 3.6 * np.array([-nodes.W[k, 1], nodes.W[k, 0]]) / np.linalg.norm(nodes.W[k])
        ax_in.text(*(corner + end * (1 if k == 0 else -1)), name, fontsize=13)
    ax_in.scatter(bg[:, 0], bg[:, 1], c=np.where(bg_cls == 1, "tab:red", "tab:blue"), s=10, alpha=0.5)
    ax_in.plot(path[:, 0], path[:, 1], "-", color="0.3", lw=1)
    ax_in.plot(*corner, "kx", ms=9)
    ax_in.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
              title="input space")
    ax_in.text(-3.8, -3.8, "shaded: logistic net's class 1", fontsize=8)

    for ax, act in ((ax_lo, "logistic"), (ax_sg, "sign")):
        hb = hidden_coordinates(bg, nodes, act)
        jit = 0.02 * np.random.default_rng(seed + 1).normal(size=hb.shape) if act == "sign" else 0
        ax.scatter(*(hb + jit).T, c=np.where(bg_cls == 1, "tab:red", "tab:blue"), s=10, alpha=0.5)
        # the path up to (not including) the corner, which lies on u and v
        hp = hidden_coordinates(path[:-1], nodes, act)
        ax.plot(hp[:, 0], hp[:, 1], ".-", color="0.3", lw=1, ms=3, label="path to the corner")
        ax.plot([0.5, 1.0], [1.0, 0.5], "g-", lw=2, label="boundary $h_u+h_v=1.5$")
        ax.set(xlim=(-0.05, 1.05), ylim=(-0.05, 1.05), aspect="equal",
               xlabel="$h_u$", ylabel="$h_v$", title=f"hidden space, {act} activation")
        ax.legend(loc="lower left", fontsize=8)

    if fraction is not None:
        p = (1 - fraction) * np.asarray(start, float) + fraction * corner
        for ax, act in ((ax_in, None), (ax_lo, "logistic"), (ax_sg, "sign")):
            q = p if act is None else hidden_coordinates(p, nodes, act)
            side = hidden_side(hidden_coordinates(p, nodes, act or "logistic"))
            ax.plot(*q, "o", ms=12, mfc="tab:red" if side == 1 else "tab:blue", mec="k", mew=1.5)
    return ax_in.figure


# --------------------------------------------------------------------------- reading and report

PAPER_FIG2A_ERRORS = {"01 loss (exact)": 1, "hinge (SVM)": 2}
"""Training errors of the two lines in paper A's Fig. 2a picture (the outlier; the outlier and one more)."""
APART_DEG = 1.0
"""Normals at least this many degrees apart count as differently oriented boundaries."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def boundary_reading(errors: pd.DataFrame, n_outliers: int) -> list[str]:
    """Fig. 2a from :func:`errors_table`: each line's training errors beside the outliers and the
    paper's picture, and how far apart the two normals (the adversarial directions) are."""
    e = errors.set_index("model").training_errors.astype(int)
    e01, eh = int(e["01 loss (exact)"]), int(e["hinge (SVM)"])
    angle = float(errors.angle_between_normals_deg.iloc[0])
    worse = "more than" if eh > e01 else "as many as" if eh == e01 else "fewer than"
    paper = ("as in the paper's picture" if {"01 loss (exact)": e01, "hinge (SVM)": eh} == PAPER_FIG2A_ERRORS
             else "the paper's picture has " + " and ".join(f"{k} {v}" for k, v in PAPER_FIG2A_ERRORS.items()))
    apart = "differently oriented" if angle >= APART_DEG else "oriented alike"
    return [f"The exact 01 line makes {_plural(e01, 'training error')} (the minimum over all lines) with "
            f"{_plural(n_outliers, 'outlier')} in the set; the hinge line makes {_plural(eh, 'training error')}, "
            f"{worse} the 01 line ({paper}).",
            f"Their normals, hence the two models' adversarial directions (±w), are {angle:.1f}° apart: "
            f"{apart} boundaries (the threshold is {APART_DEG:g}°)."]


def _falls(distance: pd.Series, values: pd.Series) -> list[str]:
    """The stretches of the sweep where ``values`` fall at every step, as "a to b" distance ranges."""
    d, v = distance.to_numpy(), values.to_numpy()
    runs: list[list[float]] = []
    for i in range(len(v) - 1):
        if v[i + 1] < v[i]:
            if runs and runs[-1][1] == d[i]:
                runs[-1][1] = d[i + 1]
            else:
                runs.append([d[i], d[i + 1]])
    return [f"{a:g} to {b:g}" for a, b in runs]


def sweep_reading(sweep: pd.DataFrame) -> list[str]:
    """How each line moves as the outlier moves away (from :func:`distance_sweep`'s table):
    the 01 line's largest tilt and its errors, the hinge line's tilt and errors from the nearest
    distance to the farthest, where they fall back, and the angle between the two normals."""
    s = sweep.sort_values("distance")
    first, last = s.iloc[0], s.iloc[-1]
    lo01, hi01 = int(s.errors_01.min()), int(s.errors_01.max())
    errors01 = _plural(lo01, "training error") if lo01 == hi01 else f"{lo01} to {hi01} training errors"
    lines = [f"Over outlier distances {first.distance:g} to {last.distance:g}, the 01 line tilts at most "
             f"{s.tilt_01_deg.max():.1f}° from its clean-set line and makes {errors01}."]
    word = "rises" if last.tilt_hinge_deg > first.tilt_hinge_deg else "falls"
    back = _falls(s.distance, s.tilt_hinge_deg)
    lines.append(f"The hinge line's tilt {word} from {first.tilt_hinge_deg:.1f}° at distance {first.distance:g} to "
                 f"{last.tilt_hinge_deg:.1f}° at {last.distance:g}, "
                 + (f"not steadily: it falls from distance {' and from '.join(back)}." if back else "at every step."))
    more = s[s.errors_hinge > s.errors_01]
    lines.append(f"Its training errors go from {int(first.errors_hinge)} to {int(last.errors_hinge)} (most "
                 f"{int(s.errors_hinge.max())}); " + (f"it first makes more errors than the 01 line at distance "
                                                       f"{more.distance.iloc[0]:g}." if len(more) else
                                                       "it never makes more errors than the 01 line."))
    lo, hi = float(s.angle_between_deg.min()), float(s.angle_between_deg.max())
    holds = "holds" if lo >= APART_DEG else "does not hold at every distance"
    lines.append(f"The two normals are {lo:.1f}° to {hi:.1f}° apart over the sweep: the paper's point (the two "
                 f"losses orient their boundaries differently on data with a misclassified outlier) {holds} "
                 f"in this toy (threshold {APART_DEG:g}°).")
    return lines


def _pair(row: pd.Series, prefix: str) -> str:
    return f"({row[f'{prefix}_h_u']:.3f}, {row[f'{prefix}_h_v']:.3f})"


def corner_reading(corner: pd.DataFrame) -> list[str]:
    """Fig. 2b from :func:`corner_table` (any number of steps): where the logistic network flips
    class on the walk to the corner, whether the point is then still inside the wedge where both
    nodes are on, and what the sign coordinates do before and at the corner."""
    start, end, before = corner.iloc[0], corner.iloc[-1], corner.iloc[:-1]
    lines = [f"Along the walk the logistic coordinates go from {_pair(start, 'logistic')} to {_pair(end, 'logistic')} "
             f"at the corner."]
    flipped = corner.index[corner.logistic_class != start.logistic_class]
    if len(flipped):
        at = corner.index.get_loc(flipped[0])
        row, prev = corner.iloc[at], corner.iloc[max(at - 1, 0)]
        inside = bool(row.sign_h_u == 1 and row.sign_h_v == 1)
        lines.append(f"The logistic network's class turns from {int(start.logistic_class)} to "
                     f"{int(row.logistic_class)} between {prev.fraction:.1%} and {row.fraction:.1%} of the walk "
                     f"(h = {_pair(row, 'logistic')} there), "
                     + ("while the point is still strictly inside the wedge where u and v are both on: it flips "
                        "without crossing u or v." if inside else "once the point has reached u or v."))
    else:
        lines.append(f"The logistic network keeps class {int(start.logistic_class)} all the way to the corner.")
    signs = sorted({_pair(r, "sign") for _, r in before.iterrows()})
    classes = sorted(set(before.sign_class.astype(int)))
    lines.append(f"The sign coordinates are {' or '.join(signs)} at every point before the corner (class "
                 f"{' or '.join(str(c) for c in classes)}) and {_pair(end, 'sign')} at the corner itself, where the "
                 f"point reaches u and v (class {int(end.sign_class)}): "
                 + ("with sign activations the class changes only where the point crosses a node's line."
                    if len(signs) == 1 and len(classes) == 1 else
                    "the sign network's class changes before the corner."))
    return lines


def reading(errors: pd.DataFrame, sweep: pd.DataFrame, corner: pd.DataFrame, n_outliers: int) -> list[str]:
    """Fig. 2a, the distance sweep and Fig. 2b, each sentence computed from the tables."""
    return boundary_reading(errors, n_outliers) + sweep_reading(sweep) + corner_reading(corner)


def section(d: Path, dataset: str, params: dict) -> Section | None:
    """Paper A's Fig. 2 rebuilt: the two lines' errors and normals, the computed reading and the
    figures, from the files in ``d`` (the walk to the corner at the finest resolution saved)."""
    needed = [d / f"{name}.csv" for name in (ERRORS, SWEEP, CORNER)]
    if not all(f.is_file() for f in needed):
        return None
    errors, sweep = pd.read_csv(needed[0]), pd.read_csv(needed[1])
    fine = d / f"{CORNER_FINE}.csv"
    corner = pd.read_csv(fine if fine.is_file() else needed[2])
    columns = {"training errors": errors.training_errors.astype(int).astype(str).to_numpy()}
    columns.update({c: [f"{v:.3f}" for v in errors[k]] for c, k in (("w1", "w1"), ("w2", "w2"), ("b / ‖w‖", "b"))})
    shown = pd.DataFrame(columns, index=pd.Index(errors.model, name="line"))
    lines = ["#### Paper A, Fig. 2: toy 2D examples (exact 01-loss line vs hinge line; logistic vs sign hidden nodes)",
             "", md_table(shown), "", "Reading (computed from the tables):", ""]
    lines += [f"- {line}" for line in reading(errors, sweep, corner, int(params.get("n_outliers", 1)))]
    return Section(lines + ["", figures(d, [f"{n}.png" for n in (BOUNDARIES, SWEEP, HIDDEN_SPACE)]), ""], [])
