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
from IPython.display import Markdown, display

from zerolib import ResultDir
from zerolib.experiments import toy_outliers as toy

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
_ = out.figure(fig, toy.BOUNDARIES)

# %%
table_a = toy.errors_table(fit)
out.table(table_a, toy.ERRORS)
display(table_a)
display(Markdown("\n".join(f"- {line}" for line in toy.boundary_reading(table_a, n_outliers))))

# %% [markdown]
# ### How the hinge line moves as the outlier moves away
#
# We move the outlier along the up-left diagonal and measure each line's tilt
# against the same model's line on the clean set (no outlier), and the angle between
# the two lines' normals at each distance.

# %%
distances = np.arange(2.0, 25.0, 2.0)
sweep = toy.distance_sweep(distances, n_per_class=n_per_class, n_outliers=n_outliers, seed=seed)
out.table(sweep, toy.SWEEP)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
toy.plot_distance_sweep(sweep, axes)
_ = out.figure(fig, toy.SWEEP)
display(sweep.round(2))
display(Markdown("\n".join(f"- {line}" for line in toy.sweep_reading(sweep))))

# %% [markdown]
# Why they differ: the 01 loss counts a misclassified outlier as one mistake wherever
# it is, while its hinge loss grows with its distance from the line, so only the hinge
# line can gain by giving up correctly classified points to move toward it.
#
# ## (b) Two hidden nodes: logistic vs sign activation
#
# Left: the input space with hidden nodes u and v (black lines) crossing at the
# corner (×); shaded is where the logistic network (hidden boundary
# $h_u + h_v = 1.5$) says class 1. Middle and right: the hidden space under
# logistic and under sign activation. Background points are coloured by the sign
# network's class. The big circle is the walking point, `fraction` of the way to the
# corner: red = class 1 there, blue = class 0.

# %%
fraction = 0.8
fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
toy.plot_hidden_space(axes, fraction=fraction, seed=seed)
axes[0].set_title(f"input space: the point {fraction:.0%} of the way to the corner")
_ = out.figure(fig, toy.HIDDEN_SPACE)

# %%
corner = toy.corner_table(n_steps=11)
out.table(corner, toy.CORNER)
fine = toy.corner_table(n_steps=toy.FINE_STEPS)
out.table(fine, toy.CORNER_FINE)
display(corner.round(3))
display(Markdown("\n".join(f"- {line}" for line in toy.corner_reading(fine))))

# %% [markdown]
# The sign rule is 1 where z > 0, so a sign coordinate changes only where the point
# reaches its node's line. The paper's claim is that with 01 (sign) activations a point
# can become adversarial only by crossing a boundary in the input space; the reading
# above says whether this walk bears it out, and the logistic network's flip shows the
# alternative.
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
