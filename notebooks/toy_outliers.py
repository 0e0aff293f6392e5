# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Toy 2D examples: why 01-loss and convex boundaries differ (paper A, Fig. 2)
#
# Paper A argues that adversarial examples transfer poorly between 01-loss models
# and convex-loss models because the two losses put their boundaries in different
# places, and gives two pictures (Fig. 2), not proofs:
#
# - **(a) an outlier tilts the hinge line.** A misclassified outlier far on the
#   wrong side has a large hinge loss, so the hinge (SVM) line tilts toward it and
#   misclassifies two points; the 01 loss ignores distances and keeps the line
#   that misclassifies only the outlier. Different orientations mean different
#   adversarial directions (for a linear model, ±w).
# - **(b) logistic hidden nodes move near their corner.** In a network with two
#   hidden nodes u, v, a point walking toward the corner where u and v cross has
#   logistic outputs that slide to (1/2, 1/2), so it crosses the linear boundary in
#   the hidden space without crossing u or v. With sign (01) activations its hidden
#   coordinates change only when it crosses u or v in the input space.
#
# Here we rebuild both pictures with the **exact** 01-loss line (enumeration of
# all lines through pairs of points, `zerolib.models.exact.min01_line`), a large-C linear
# SVM for the hinge line, and measure how far apart the two lines' normals are.
# All logic lives in `zerolib.experiments.toy_outliers`; this notebook only composes and shows it.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed: int = 0                    # every random choice flows from this seed
n_per_class: int = 20            # points per class in the toy set
n_outliers: int = 1              # misclassified outliers of class 1 placed in class 0's side
output_dir: str = "../outputs/dev/toy_outliers"  # where tables and figures go (the study runner sets it)
interactive: bool = True         # show the ipywidgets demos (harmless in headless runs)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from zerolib.experiments import toy_outliers as toy
from zerolib._io import ResultDir

out = ResultDir(output_dir)
print("hinge line: sklearn SVC(kernel='linear'), C =", toy.HINGE_C)

# %% [markdown]
# ## (a) One outlier, two boundaries
#
# Two clusters (class 0 left, class 1 right) split by a narrow vertical gap, and
# an outlier of class 1 deep in class 0's side (the star). Blue: the exact 01-loss
# line; red: the hinge-loss line. The arrows point along +w, toward class 1: a
# linear model's adversarial direction.

# %%
data = toy.outlier_set(n_per_class=n_per_class, n_outliers=n_outliers, seed=seed)
fit = toy.fit_both(data)
lines = {"01 loss (exact)": (fit["exact"].w, fit["exact"].b), "hinge (SVM)": fit["hinge"]}
errors = {"01 loss (exact)": fit["errors_01"], "hinge (SVM)": fit["errors_hinge"]}

fig, ax = plt.subplots(figsize=(6, 6))
toy.plot_boundaries(ax, data.X, data.y, lines, data.is_outlier, errors)
ax.set_title(f"01 loss vs hinge: normals {fit['angle']:.1f}° apart")
_ = out.figure(fig, "fig2a_boundaries")

# %%
table_a = pd.DataFrame([
    {"model": name, "training_errors": errors[name], "w1": w[0] / np.linalg.norm(w),
     "w2": w[1] / np.linalg.norm(w), "b": b / np.linalg.norm(w)}
    for name, (w, b) in lines.items()
])
table_a["angle_between_normals_deg"] = fit["angle"]
out.table(table_a, "fig2a_errors")
table_a

# %% [markdown]
# The 01 line misclassifies only the outlier (its error count is the exact
# minimum); the hinge line tilts toward the outlier and pays for it with extra
# errors near the gap (with the default seed: two errors against one, as in the
# paper's picture). The two normals, hence the two
# models' adversarial directions, are far apart.
#
# ### How far the outlier is decides how much the hinge line tilts
#
# We move the outlier along the up-left diagonal and measure each line's tilt
# against its own line on the clean set (no outlier; there the large-C hinge line
# is the max-margin line, the same as the 01 line we report).

# %%
distances = np.arange(2.0, 25.0, 2.0)
sweep = toy.distance_sweep(distances, n_per_class=n_per_class, n_outliers=n_outliers, seed=seed)
out.table(sweep, "fig2a_distance_sweep")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
toy.plot_distance_sweep(sweep, axes)
_ = out.figure(fig, "fig2a_distance_sweep")
sweep.round(2)

# %% [markdown]
# The 01 line does not move at all (tilt 0 at every distance, one error: the
# outlier), because the 01 loss counts the outlier as one mistake wherever it is.
# The hinge line's tilt grows with the outlier's distance, and past some distance
# it gives up several correctly classified points to reduce the outlier's hinge
# loss. The paper's point holds in this toy: on data with misclassified outliers
# the two losses give differently oriented boundaries.
#
# ## (b) Two hidden nodes: logistic vs sign activation
#
# Left: the input space with hidden nodes u and v (black lines) crossing at the
# corner (×); shaded is where the logistic network (hidden boundary
# $h_u + h_v = 1.5$) says class 1. Middle and right: the hidden space under
# logistic and under sign activation. Background points are coloured by the sign
# network's class. The big circle is the point after 80 % of its walk toward the
# corner: red = still class 1, blue = class 0.

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
toy.plot_hidden_space(axes, fraction=0.8, seed=seed)
_ = out.figure(fig, "fig2b_hidden_space")

# %%
corner = toy.corner_table(n_steps=11)
out.table(corner, "fig2b_corner_path")
fine = toy.corner_table(n_steps=1001)
flip = fine[fine.logistic_class == 0].iloc[0]
print(f"logistic network flips to class 0 at {flip.fraction:.1%} of the walk, "
      f"h = ({flip.logistic_h_u:.3f}, {flip.logistic_h_v:.3f}); "
      f"sign network's class before the corner: {sorted(set(fine.sign_class.iloc[:-1]))}")
corner.round(3)

# %% [markdown]
# Along the walk the logistic coordinates slide from (0.95, 0.95) to
# (0.5, 0.5) and cross the hidden boundary part of the way (printed above), while the
# point is still strictly inside the wedge where u and v are both on: the logistic
# network's decision flips without the point crossing u or v. The sign
# coordinates stay at (1, 1) the whole way; they change only at the corner itself,
# where the point reaches u and v (the rule is 1 where z > 0). This is the paper's
# claim: with 01 (sign) activations a point can become adversarial only by
# crossing a boundary in the input space.
#
# ## Interactive versions
#
# Move the outlier (or add more) and watch both lines; move the point toward the
# corner and watch both hidden spaces. The controls recompute on release.

# %%
from zerolib.experiments.widgets import CornerDemo, OutlierDemo

if interactive:
    outlier_demo = OutlierDemo(seed=seed, n_per_class=n_per_class)
    display(outlier_demo.widget)

# %%
if interactive:
    corner_demo = CornerDemo()
    display(corner_demo.widget)

# %%
print("results in", out.path, ":", out.files())
