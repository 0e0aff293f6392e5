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
# standard deviation over `n_seeds` independent seeds. The code is `zerolib.experiments.common.transfer`.

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

from zerolib import load_dataset
from zerolib.experiments.common import model_suite as suite
from zerolib.papers import numbers as paper
from zerolib.experiments.common.cache import ModelCache
from zerolib.papers.claims import TABLE_III_CLAIMS, judge_all, table_iii_cells
from zerolib._io import ResultDir
from zerolib.experiments.common.summary import long_form, over_seeds, seed_list, wide
from zerolib.experiments.common.transfer import eps_sweep, paper_attack, transfer_table

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
    models_s = suite.fit_models(names, models, s, 1, data_key, data.x_train, data.y_train, device=device,
                                cache=cache)
    fitted[s] = models_s
    attacks = {n: paper_attack(m, eps, seed=s) for n, m in models_s.items()}
    tables.append(long_form(transfer_table(attacks, models_s, data.x_test, data.y_test), s))
    sweep = eps_sweep(models_s, models_s, data.x_test, data.y_test, eps_values, seed=s)
    sweeps.append(sweep.assign(seed=s))
long = pd.concat(tables, ignore_index=True)
out.table(long, "table3_per_seed")
summary = over_seeds(long, ["source", "target"])
summary["paper"] = [paper.paper_value(paper.TABLE_III, dataset, a, b) for a, b in zip(summary.source, summary.target)]
summary["difference"] = summary["mean"] - summary["paper"].astype(float)
out.table(summary, "table3")
display(Markdown(f"**Ours** (mean ± sd over {n_seeds} seeds, accuracy %, eps = {eps})"))
display(wide(summary, "source", "target", rows=["clean"] + names, cols=names))
paper_eps = paper.TABLE_III_EPS.get(dataset)
if paper_eps is not None:
    display(Markdown(f"**Paper** (eps = {paper_eps}) and **ours minus paper**"))
    display(pd.DataFrame(paper.TABLE_III[dataset]).T.loc[["clean"] + names, names])
    display(summary.pivot(index="source", columns="target", values="difference").loc[["clean"] + names, names]
            .round(1))
else:
    display(Markdown(f"The paper has no Table III for {dataset}."))

# %%
means = summary.pivot(index="source", columns="target", values="mean").loc[["clean"] + names, names]
cols = 2 if paper_eps is not None else 1
fig, axes = plt.subplots(1, cols, figsize=(5.2 * cols, 4.2), squeeze=False)
panels = [("ours", means)]
if paper_eps is not None:
    panels.append(("paper", pd.DataFrame(paper.TABLE_III[dataset]).T.loc[["clean"] + names, names]))
for ax, (title, table) in zip(axes[0], panels):
    im = ax.imshow(table.values.astype(float), cmap="viridis", vmin=0, vmax=100)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(table.index)), table.index)
    ax.set_xlabel("target")
    ax.set_ylabel("source of the adversaries")
    for (i, j), v in np.ndenumerate(table.values.astype(float)):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="white" if v < 60 else "black", fontsize=9)
    ax.set_title(f"{title}: {dataset} {classes[0]} vs {classes[1]}, eps {eps if title == 'ours' else paper_eps}")
fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="accuracy (%)")
_ = out.figure(fig, "table3_heatmap")

# %% [markdown]
# ## Every cell over an eps sweep
#
# One panel per source; each line is a target's accuracy on that source's adversaries,
# the band ± one standard deviation over seeds. The dotted line marks the paper's eps.

# %%
sweep_long = pd.concat(sweeps, ignore_index=True)
out.table(sweep_long, "eps_sweep_per_seed")
sweep = over_seeds(sweep_long, ["eps", "source", "target"])
out.table(sweep, "eps_sweep")
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
axes[-1].legend(title="target", fontsize=8)
_ = out.figure(fig, "eps_sweep")

# %% [markdown]
# ## The paper's claims about Table III, judged on our numbers
#
# *holds*: true at the mean ± one standard deviation over seeds; *does not hold*: false at
# both; *unclear*: in between. `paper` is the same quantity on the paper's table.

# %%
verdicts = judge_all(TABLE_III_CLAIMS, table_iii_cells(long), paper.table_iii_cells(dataset))
out.table(verdicts, "table3_claims")
display(verdicts[["claim", "verdict", "mean", "std", "paper", "paper_verdict"]])

# %% [markdown]
# ## Reading
#
# Where ours and the paper's differ, look first at the clean row: a target that is less
# accurate to begin with has less to lose. Then at the attacks: the linear sources' sign(w)
# attack is the exact worst case for a linear model, so the SVM and SCD01 diagonals are
# near 0 at a large enough eps on any data; MLP01's heuristic pushes across one hidden
# node at a time and often fails against its own network, which is why its diagonal stays
# high. Transfer between SVM and MLP depends on how aligned their gradients are, which
# depends on the data and on the SVM's C. The `-cpu` profiles train the 01-loss models
# for fewer iterations than the paper's 1000 (stated in the profile), so their boundaries
# are less fitted.

# %%
lines = []
for _, v in verdicts.iterrows():
    lines.append(f"- {v.claim}: **{v.verdict}** (q = {v['mean']:.1f} ± {v['std']:.1f}"
                 + (f"; paper q = {v.paper:.1f}, {v.paper_verdict})" if pd.notna(v.paper) else ")"))
big = summary.dropna(subset=["paper"]).assign(absdiff=lambda d: d.difference.abs()).nlargest(4, "absdiff")
for _, r in big.iterrows():
    lines.append(f"- Largest differences from the paper: {r.source} -> {r.target}: ours {r['mean']:.1f} ± "
                 f"{r['std']:.1f}, paper {r.paper:.1f} ({r.difference:+.1f})")
display(Markdown("\n".join(lines)))

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
