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
# # White-box transfer between 01-loss and convex models (paper A, Table III)
#
# Paper A's central finding: adversarial examples made on one convex model fool other
# convex models, but far less the models trained on the 01 loss. For classes 0 vs 1 we
# train a single run of each of the four models, attack each with paper A's white-box
# attack for it, and score every model on every source's adversaries:
#
# - SVM and SCD01 (linear): `x' = clip(x - eps * sign(w) * (2y - 1), 0, 1)`;
# - MLP: FGSM on its logistic loss;
# - MLP01: for each hidden node in a random order, push `x` across that node's
#   hyperplane by `eps * sign(w_k)`; keep the first push that flips the output (else a
#   random node's).
#
# The eps: MNIST 0.3 and CIFAR10 0.0625 as in the paper. Paper A ran no Fashion-MNIST;
# there we take 0.1, the budget usual for it in the robustness literature (its classes
# differ in texture and outline, so MNIST's 0.3 wipes out most garments for every model
# and separates nothing); `zerolib.papers.numbers.EPS_CHOICE` records the reason. The eps sweep
# below shows every cell at other budgets too.
#
# A row is a source, a column a target; the diagonal is the white-box attack, the rest
# is transfer. Lower accuracy means a more effective attack. Every cell is the mean ±
# standard deviation over `n_seeds` independent seeds. The code is `zerolib.experiments.common.transfer`;
# the tables, claims and reading are `zerolib.experiments.whitebox_transfer`'s.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed: int = 0                    # base seed: run i has random_state seed + i
n_seeds: int = 3                 # independent seeds behind every number
dataset: str = "digits"          # digits, mnist, fashion_mnist or cifar10 (from ZEROLIB_DATA)
classes: list = [0, 1]           # the two classes (paper: 0 vs 1)
n_train: int = 0                 # stratified training subsample (0: all rows)
n_test: int = 0                  # stratified test subsample, the points attacked (0: all rows)
eps: float = 0.3                 # the Table III distortion (paper: MNIST 0.3, CIFAR10 0.0625)
eps_values: list = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4]  # the eps sweep of every cell
models: dict = {                 # estimator settings per model (left out: the estimator's defaults)
    "SVM": {},
    "SCD01": {"n_iter": 200},
    "MLP": {"epochs": 100},
    "MLP01": {"n_iter": 200},
}
device: str = "cpu"              # "cpu", "cuda" or "auto" for training
interactive: bool = True         # show the explorer widget (profiles switch it off for headless runs)
output_dir: str = "../outputs/dev/whitebox_transfer"  # where tables and figures go (the runner sets it)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from zerolib import ResultDir, load_dataset
from zerolib.experiments import whitebox_transfer as experiment
from zerolib.experiments.common import model_suite as suite
from zerolib.experiments.common.cache import ModelCache
from zerolib.experiments.common.summary import seed_list
from zerolib.experiments.common.plots import BAND

out = ResultDir(output_dir)
cache = ModelCache()
seeds = seed_list(seed, n_seeds)
data = load_dataset(dataset, classes=classes, n_train=n_train or None, n_test=n_test or None, seed=seed)
data_key = {"dataset": dataset, "n_train": n_train or None, "subsample_seed": seed, "classes": list(classes)}
names = list(suite.MODEL_NAMES)
print(f"{dataset} classes {classes}: {len(data.x_train)} training rows, {len(data.x_test)} test points "
      f"attacked; eps = {eps}; seeds {seeds}")

# %% [markdown]
# ## Table III at the paper's eps

# %%
tables, sweeps, fitted = [], [], {}
for s in seeds:
    fitted[s] = suite.fit_models(names, models, s, 1, data_key, data.x_train, data.y_train, device=device,
                                 cache=cache)
    table, sweep = experiment.one_seed(fitted[s], data.x_test, data.y_test, eps, eps_values, s)
    tables.append(table)
    sweeps.append(sweep)
long = pd.concat(tables, ignore_index=True)
out.table(long, experiment.PER_SEED)
summary = experiment.table_iii(long, dataset)
out.table(summary, experiment.SUMMARY)
display(Markdown(f"**Ours** (mean ± sd over {n_seeds} seeds, accuracy %, eps = {eps})"))
display(experiment.ours_shown(summary))
paper_table = experiment.paper_shown(dataset)
if paper_table is not None:
    display(Markdown(f"**Paper** (eps = {experiment.paper_eps(dataset)}) and **ours minus paper**"))
    display(paper_table)
    display(experiment.difference_shown(summary))
else:
    display(Markdown(f"The paper has no Table III for {dataset}."))

# %%
panels = [("ours", experiment.means(summary), eps)]
if paper_table is not None:
    panels.append(("paper", paper_table, experiment.paper_eps(dataset)))
fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
for ax, (title, table, table_eps) in zip(axes[0], panels):
    im = ax.imshow(table.values.astype(float), cmap="viridis", vmin=0, vmax=100)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(table.index)), table.index)
    ax.set_xlabel("target")
    ax.set_ylabel("source of the adversaries")
    for (i, j), v in np.ndenumerate(table.values.astype(float)):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="white" if v < 60 else "black", fontsize=9)
    ax.set_title(f"{title}: {dataset} {classes[0]} vs {classes[1]}, eps {table_eps}")
fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="accuracy (%)")
_ = out.figure(fig, experiment.HEATMAP)

# %% [markdown]
# ## Every cell over an eps sweep
#
# One panel per source; each line is a target's accuracy on that source's adversaries,
# the band ± one standard deviation over seeds. The dotted line marks the paper's eps.

# %%
sweep_long = pd.concat(sweeps, ignore_index=True)
out.table(sweep_long, experiment.SWEEP_PER_SEED)
sweep = experiment.sweep_summary(sweep_long)
out.table(sweep, experiment.SWEEP)
fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), sharey=True)
for ax, source in zip(axes, names):
    for target in names:
        s = sweep[(sweep.source == source) & (sweep.target == target)].sort_values("eps")
        ax.plot(s.eps, s["mean"], marker="o", ms=3, label=target)
        ax.fill_between(s.eps, s["mean"] - s["std"].fillna(0), s["mean"] + s["std"].fillna(0), alpha=0.2)
    ax.axvline(eps, color="gray", ls=":")
    ax.set_title(f"adversaries of {source}")
    ax.set_xlabel("eps")
axes[0].set_ylabel("accuracy (%)")
axes[-1].legend(title=f"target ({BAND})", fontsize=8, title_fontsize=7)
fig.suptitle(f"{dataset}, classes {classes[0]} vs {classes[1]}: each target's accuracy on each source's adversaries "
             f"over eps (dotted: eps {eps})", fontsize=10)
fig.tight_layout()
_ = out.figure(fig, experiment.SWEEP)

# %% [markdown]
# ## The paper's claims about Table III, judged on our numbers
#
# *holds*: the whole 95 % interval of the claim's quantity q is on the claim's side of its
# threshold; *does not hold*: the whole interval on the other side; *unclear*: the interval
# contains the threshold. The interval counts the seeds and the sampling of the test rows
# (`zerolib.papers.intervals` states the model); `n` is seeds x rows. `paper` is the same
# quantity on the paper's numbers.

# %%
verdicts = experiment.verdicts(long, dataset, n_rows=len(data.x_test))
out.table(verdicts, experiment.CLAIMS)
display(verdicts[["claim", "verdict", "mean", "lo", "hi", "n_seeds", "n_rows", "paper", "paper_verdict"]])

# %% [markdown]
# ## Reading
#
# Where ours and the paper's differ, look first at the clean row: a target that is less
# accurate to begin with has less to lose. Then at the attacks: the linear sources' sign(w)
# attack is the exact worst case for a linear model under an Linf budget, so no attack of
# that budget does better against SVM or SCD01; MLP's FGSM is a one-step linearisation of
# its loss; MLP01's heuristic pushes across one hidden node at a time and can fail against
# its own network. Transfer between SVM and MLP depends on how aligned their gradients
# are, which depends on the data and on the SVM's C. The cell below states, from the
# numbers, each claim's verdict, each white-box (diagonal) cell beside its clean accuracy,
# the paper's cell and the other sources' adversaries on the same model, how it moves over
# the eps sweep, the largest differences from the paper, and the eps and SCD iterations
# beside the paper's.

# %%
display(Markdown("\n".join(f"- {line}" for line in
                            experiment.reading(summary, verdicts, dataset, eps, models, sweep))))

# %% [markdown]
# ## Explore: one image, every source's adversary, every target's prediction
#
# Move the sliders to pick a test image and an eps (models of the first seed).

# %%
if interactive:
    from zerolib.experiments.widgets import TransferExplorer

    explorer = TransferExplorer(fitted[seeds[0]], fitted[seeds[0]], data.x_test, data.y_test,
                                data.x_test.shape[1:], eps=eps)
    display(explorer.widget)
