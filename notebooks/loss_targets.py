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
# # Loss functions and target representations under seven attacks (paper B, Tables 3-7, Figs. 1-3)
#
# Paper B trains one DenseNet three ways: softmax with cross-entropy (**O:SOFTMAX:CE**),
# softmax with MSE to the one-hot label (**O:SOFTMAX:MSE**), and tanh outputs regressed
# on a random codeword per class (**R:TANH:MSE**, d = 128, codewords drawn once from
# U(-1, 1)^d with a secret seed, prediction by the nearest codeword). It then attacks
# each model white-box with the internal loss matching its training (the attacker knows
# the codebook), untargeted (Table 3) and with a random target per image (Table 5);
# transfers O:SOFTMAX:CE's adversaries to the other two (Table 6); and runs its
# codebook-aware CW-L2 against plain CW-L2 (Table 7).
#
# Every number below is the mean ± one standard deviation over `n_seeds` seeds (a seed
# fixes the network's initialisation, its minibatch order, the attacked rows and the
# targets); the paper's number is in brackets. The codebook comes from `code_seed`,
# recorded with the run's parameters.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed: int = 0                    # base seed: run i uses seed + i
n_seeds: int = 2                 # independent seeds behind every number
run_seeds: list = []             # run only these of the seeds (the parallel runner's per-seed tasks; empty: all)
dataset: str = "digits"          # digits, mnist, fashion_mnist or cifar10 (from ZEROLIB_DATA)
n_train: int = 0                 # stratified training subsample (0: all rows)
net: str = "densenet_small"      # zerolib network (paper: densenet, depth 40 and growth 12)
arch: dict = {}                  # architecture overrides, e.g. {"depth": 40, "growth_rate": 12}
train: dict = {"epochs": 10, "optimizer": "adam", "lr": 0.001, "batch_size": 64}  # zerolib.models.train settings
code_length: int = 128           # codeword length d of R:TANH:MSE (paper: 128)
code_seed: int = 2024            # the codebook's secret seed
n_attack: int = 0                # test rows attacked per seed (0: the whole test set)
max_steps: int = 0               # cap on the attacks' fixed iteration counts (0: the paper's)
n_examples: int = 8              # images shown per figure
device: str = "cpu"              # "cpu", "cuda" or "auto"
output_dir: str = "../outputs/dev/loss_targets"  # where tables and figures go (the runner sets it)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from zerolib import load_dataset
from zerolib.papers import numbers as paper
from zerolib.attacks import CodebookCWL2
from zerolib.experiments.common.cache import ModelCache
from zerolib.papers.claims import (TABLE_3_CLAIMS, TABLE_4_CLAIMS, TABLE_5_CLAIMS, TABLE_6_CLAIMS, TABLE_7_CLAIMS,
                            judge_all)
from zerolib.experiments.common.attack_grid import TARGETED, UNTARGETED, random_targets, thin
from zerolib.experiments.loss_targets import (HEAD_MODELS, attack_subset, beside_paper, clean_accuracies, fit_heads,
                                  grid_spec, head_cells, head_grids, head_key, smallest_full_success)
from zerolib.losses import Codebook
from zerolib.models import predict
from zerolib.experiments.common.plots import plot_adversaries
from zerolib._io import ResultDir
from zerolib.experiments.common.summary import over_seeds, seed_list

out = ResultDir(output_dir)
cache = ModelCache()
seeds = seed_list(seed, n_seeds, run_seeds)
untargeted = thin(UNTARGETED, max_steps) if max_steps else UNTARGETED
targeted = thin(TARGETED, max_steps) if max_steps else TARGETED
out.json({"untargeted": grid_spec(untargeted), "targeted": grid_spec(targeted), "code_seed": code_seed,
          "code_length": code_length}, "grids")

data = load_dataset(dataset, n_train=n_train or None, seed=seed)
data_key = {"dataset": dataset, "n_train": n_train or None, "subsample_seed": seed}
in_shape, k = tuple(data.x_train.shape[1:]), data.n_classes
display(Markdown(f"{dataset}: {len(data.x_train)} training rows, {len(data.x_test)} test rows, {k} classes, "
                 f"inputs {in_shape}; network `{net}` {arch or ''}; attacks on "
                 f"{n_attack or len(data.x_test)} test rows per seed"
                 + (f"; fixed iteration counts capped at {max_steps}" if max_steps else "") + "."))

# %% [markdown]
# ## The three models, and their clean accuracy (Table 4)

# %%
models, keys, clean = {}, {}, []
for s in seeds:
    models[s] = fit_heads(net, in_shape, k, data_key, data.x_train, data.y_train, seed=s, train=train, arch=arch,
                          code_length=code_length, code_seed=code_seed, device=device, cache=cache)
    keys[s] = {h: head_key(net, h, in_shape, k, data_key, s, train, arch, code_length, code_seed) for h in HEAD_MODELS}
    clean.append(clean_accuracies(models[s], data.x_test, data.y_test).assign(seed=s))
clean = pd.concat(clean, ignore_index=True)
out.table(clean, "table4_per_seed")
t4 = beside_paper(clean.assign(row=clean.model, attack="clean", value=0), "accuracy",
                  lambda m, a, v: paper.paper_value(paper.TABLE_4, dataset, m)).rename(columns={"clean 0": "clean"})
out.table(t4, "table4")
display(t4)

# %% [markdown]
# ## The attack grids
#
# Each seed attacks its own seeded subset of the test rows: the untargeted grid of Table 3
# and the targeted grid of Table 5 (a random target per image, never its label) on every
# model, the codebook-aware CW-L2 on the codebook model, and O:SOFTMAX:CE's untargeted
# adversaries scored on the other two (Table 6). The attacks' losses follow
# `zerolib.experiments.common.attack_grid`: the model's own adapter, except CW-L2, which reads the raw outputs as
# logits as cleverhans' does (on R:TANH:MSE that is the paper's plain CW-L2).

# %%
grids = []
for s in seeds:
    rows = attack_subset(len(data.x_test), n_attack or None, s)
    x, y = data.x_test[rows], data.y_test[rows]
    g = head_grids(models[s], x, y, n_classes=k, untargeted=untargeted, targeted=targeted, seed=s, keys=keys[s],
                   data_key=data_key, cache=cache)
    grids.append(g.assign(seed=s))
grids = pd.concat(grids, ignore_index=True)
out.table(grids, "grids_per_seed")
own = grids[grids.scored_on == "self"].assign(row=lambda d: d.model)
u_values = {g.name: g.values for g in UNTARGETED}
t_values = {g.name: g.values for g in TARGETED}


def paper_grid(table):
    cells = paper.grid_cells(table, dataset, u_values if table is paper.TABLE_3 else t_values) or {}
    return lambda m, a, v: cells.get((m, a, v))


# %% [markdown]
# ### Table 3: accuracy (%) under untargeted white-box attacks

# %%
t3 = beside_paper(own[own.setting == "untargeted"], "accuracy", paper_grid(paper.TABLE_3))
out.table(t3, "table3")
display(t3)

# %% [markdown]
# ### Table 5: success (%) of targeted white-box attacks (lower is more robust)

# %%
t5 = beside_paper(own[(own.setting == "targeted") & (own.attack != "codebook CW-L2")], "success",
                  paper_grid(paper.TABLE_5))
out.table(t5, "table5")
display(t5)

# %% [markdown]
# ### DeepFool and L-BFGS beside paper B: what differs, and why
#
# **DeepFool (Table 3).** Paper B ran cleverhans' DeepFool: 10 candidate classes, overshoot
# 0.02, inputs clipped to [0, 1], step limit m. Ours (`zerolib.attacks.DeepFool`) now does
# what cleverhans and ART do: each step is linearised at the base point x + r, the
# overshoot scales the whole accumulated perturbation, and a row stops once the point
# returned, clip(x + 1.02 r), is misclassified. The first mnist-cpu run used an earlier
# version that linearised each step at the overshot point itself. In the box a step loses
# the part of it that points out of [0, 1], so the iterate nears the boundary
# geometrically, and linearised at the overshot point it was that point which converged
# onto the boundary from inside and never crossed: most O:SOFTMAX:CE rows were still
# correctly classified after 10 steps. `tests/test_deepfool_lbfgs.py` checks the fix
# against a known answer in the box and against ART's DeepFool. What still differs:
#
# - The box makes every implementation (ours, ART's, cleverhans') take several steps on
#   many MNIST images of our small DenseNet, so accuracy at m = 10 stays above the
#   paper's. ART's DeepFool leaves about the same accuracy on the same model (below), so
#   the rest of the gap comes from the model (a much smaller DenseNet, trained for a few
#   epochs), not from the attack.
# - Rows misclassified before any attack: we attack the true label and leave these rows
#   as they are (they count as errors). cleverhans attacks the model's own prediction,
#   which can move such a row onto its true label. This can raise the paper's accuracy
#   by at most its clean error rate.
# - R:TANH:MSE: ours uses the codebook-aware scores (minus the distances to the
#   codewords). The paper's accuracy is the same at every m, which fits cleverhans'
#   DeepFool reading the 128 tanh outputs as class logits. Read that way (attacking the
#   argmax of the outputs), the decoded accuracy stays at its clean level at every m
#   (below). That attack misreads the head, as plain CW-L2 does in Table 7. This is our
#   guess; the paper does not say how it adapted DeepFool.
#
# **L-BFGS (Table 5).** Ours minimises ||x' - x||^2 + c * loss(x', t) with the model's own
# loss (on R:TANH:MSE, the MSE of the tanh outputs to the target's codeword, the adaptation
# paper B describes), and its binary search over c counts a success by the model's
# decision (the nearest codeword). The grid scores every adversary by the model's own
# prediction, so the successes are real. It is a stronger attack than the paper's, not a
# bug. cleverhans' L-BFGS counts a success when the argmax of the model's outputs equals
# the argmax of the target vector. On a 128-output codebook head with a codeword target,
# that is not the model's decision. The search then raises c, and every row where the
# criterion never holds gets its original image back. With that bookkeeping the same
# optimisation reaches the target far less often, more often as c grows: the shape of the
# paper's row. So the paper's low L-BFGS success on R:TANH:MSE is not evidence of
# robustness. Its low success on O:SOFTMAX:MSE at small c (where that criterion is the
# model's decision) is a different matter that we have not measured; cleverhans runs
# scipy's L-BFGS-B on the whole batch as one problem, with that optimiser's stopping rules.
#
# One-off measurement (2026-12-03, 2-core AMD EPYC, 1 torch thread, not recomputed by
# this notebook): `ZEROLIB_DATA=<data root> .venv/bin/python
# benchmarks/deepfool_lbfgs_art.py` (`densenet_small`, 10000 MNIST training rows, 4
# epochs of Adam, seed 0; 100 attacked test rows, L-BFGS on the first 30 of them, 5 x 40
# iterations as this profile caps them).
#
# | O:SOFTMAX:CE, DeepFool: accuracy (%) at m = | 10 | 20 | 30 | 40 |
# | --- | --- | --- | --- | --- |
# | ours | 28 | 5 | 3 | 1 |
# | ours before the fix | 66 | 41 | 27 | 18 |
# | ART 1.20.1 | 30 | 7 | 5 | 3 |
#
# | R:TANH:MSE, targeted L-BFGS: success (%) at c = | 0.01 | 0.1 | 1 | 10 |
# | --- | --- | --- | --- | --- |
# | ours (the model's decision) | 100 | 100 | 100 | 100 |
# | the same, with cleverhans' argmax bookkeeping | 3.3 | 6.7 | 16.7 | 16.7 |
#
# R:TANH:MSE, DeepFool at m = 10, 20, 30, 40: codebook-aware 40, 10, 0, 0 % accuracy;
# the 128 outputs read as logits: 95 % at every m (the clean accuracy of those rows).

# %% [markdown]
# ### Table 6: accuracy (%) on O:SOFTMAX:CE's adversaries (black-box transfer)
#
# The paper reports three cells (CW-L2 c = 0.01, DeepFool m = 10, MIM eps = 0.01); the
# adversaries of the whole untargeted grid are scored, so all cells are here.

# %%
transfer = grids[(grids.setting == "untargeted") & (grids.scored_on != "self")].assign(row=lambda d: d.scored_on)
t6 = beside_paper(transfer, "accuracy", lambda m, a, v: paper.paper_value(paper.TABLE_6, dataset, m, (a, v)),
                  rows=[h for h in HEAD_MODELS if h != "O:SOFTMAX:CE"])
out.table(t6, "table6")
display(t6)

# %% [markdown]
# ### Table 7: targeted CW-L2 against the codebook-aware CW-L2

# %%
t7_long = own[(own.setting == "targeted") & own.attack.isin(["CW-L2", "codebook CW-L2"])]
t7 = beside_paper(t7_long, "success", lambda m, a, v: paper.paper_value(paper.TABLE_7, dataset, m, (a, v)))
out.table(t7, "table7")
display(t7)

# %%
fig, axes = plt.subplots(2, 6, figsize=(17, 5.6), sharey=True)
for i, setting in enumerate(("untargeted", "targeted")):
    metric = "accuracy" if setting == "untargeted" else "success"
    grid = untargeted if setting == "untargeted" else targeted
    sm = over_seeds(own[(own.setting == setting) & (own.attack != "codebook CW-L2")], ["model", "attack", "value"],
                    value=metric)
    for j, ga in enumerate(grid):
        ax = axes[i, j]
        for m in HEAD_MODELS:
            c = sm[(sm.model == m) & (sm.attack == ga.name)]
            ax.errorbar(range(len(c)), c["mean"], yerr=c["std"].fillna(0), marker="o", ms=3, capsize=2, label=m)
        ax.set_xticks(range(len(ga.values)), [f"{v:g}" for v in ga.values], fontsize=7)
        ax.set_title(f"{setting} {ga.name} ({ga.param})", fontsize=8)
        ax.set_ylim(-3, 103)
    axes[i, 0].set_ylabel(f"{metric} (%)")
axes[0, 0].legend(fontsize=7)
fig.tight_layout()
_ = out.figure(fig, "grids")

# %% [markdown]
# ## Figs. 1-3: what the adversaries look like
#
# Fig. 1: targeted PGD at the smallest eps where it reaches 100 % success on the images
# shown (the grid's eps, then 0.15, 0.2, 0.3, 0.5; the caption says when none does): how
# much further the codebook model's eps is than the CE model's is the figure's point.
# Fig. 2: untargeted MIM at eps = 0.1; Fig. 3: the codebook-aware CW-L2 (c = 0.1) on R:TANH:MSE. First seed,
# the first `n_examples` attacked rows.

# %%
s0 = seeds[0]
rows = attack_subset(len(data.x_test), n_attack or None, s0)[:n_examples]
xs, ys = data.x_test[rows], data.y_test[rows]
ts = random_targets(data.y_test[attack_subset(len(data.x_test), n_attack or None, s0)], k, s0)[:n_examples]
pgd = next(g for g in targeted if g.name == "PGD")
mim = next(g for g in untargeted if g.name == "MIM")
cw = next(g for g in targeted if g.name == "CW-L2")
ladder = sorted(set(pgd.values) | {0.15, 0.2, 0.3, 0.5})  # the grid's eps, then beyond it
panels = []
for m in ("O:SOFTMAX:CE", "R:TANH:MSE"):
    eps, _, reached = smallest_full_success(models[s0][m], pgd, xs, ts, ladder, loss=models[s0][m].loss,
                                            targeted=True, seed=s0)
    note = (f"the smallest eps of {ladder} with 100 % success on these images: {eps:g}" if reached
            else f"no eps up to {eps:g} reaches 100 % on these images")
    panels.append((f"Fig. 1: targeted PGD on {m}, {note}", m, pgd, eps, True))
for m in ("O:SOFTMAX:CE", "R:TANH:MSE"):
    panels.append((f"Fig. 2: untargeted MIM on {m}, eps 0.1", m, mim, 0.1, False))
panels.append(("Fig. 3: codebook-aware CW-L2 on R:TANH:MSE, c 0.1", "R:TANH:MSE", None, 0.1, True))
for i, (title, m, ga, v, is_targeted) in enumerate(panels):
    model = models[s0][m]
    if ga is None:
        atk = CodebookCWL2(model, Codebook(model.codebook), initial_const=v, targeted=True,
                           **{name: val for name, val in cw.fixed.items() if name != "initial_const"})
    else:
        atk = ga.build(model, v, loss=model.loss, targeted=is_targeted, seed=s0)
    adv = atk(xs, ts if is_targeted else ys)
    fig, axes = plt.subplots(2, len(xs), figsize=(1.3 * len(xs), 3.0), squeeze=False)
    plot_adversaries(axes, xs, adv, predict(model, xs), predict(model, adv), data.classes,
                     title=title + (f" (targets: {', '.join(str(int(t)) for t in ts)})" if is_targeted else ""))
    fig.tight_layout()
    _ = out.figure(fig, f"fig{[1, 1, 2, 2, 3][i]}_{m.replace(':', '_').lower()}")

# %% [markdown]
# ## The paper's claims, judged on our numbers

# %%
per_seed = [head_cells(grids[grids.seed == s], clean[clean.seed == s]) for s in seeds]
paper_cells = paper.head_cells(dataset, u_values, t_values)
verdicts = judge_all(TABLE_4_CLAIMS + TABLE_3_CLAIMS + TABLE_5_CLAIMS + TABLE_6_CLAIMS + TABLE_7_CLAIMS, per_seed,
                     paper_cells)
out.table(verdicts, "claims")
display(verdicts[["where", "claim", "verdict", "mean", "std", "paper", "paper_verdict"]])

# %% [markdown]
# ## Reading
#
# What to look for: whether the MSE and codebook heads keep accuracy where the CE head
# loses it (Tables 3 and 5), whether that survives an attacker who uses the codebook
# (Table 7: the plain CW-L2 reads the codebook model's 128 outputs as if they were class
# logits, so its "success" is not the model's decision; the codebook-aware margin is the
# fair white-box attack), and whether the gains also hold for transferred adversaries
# (Table 6). Where ours differ from the paper: the `-cpu` profiles train a much smaller
# DenseNet for a few epochs on a subsample and cap the attacks' iteration counts (each
# reduction stated in the profile), so clean accuracy is lower and the minimum-norm
# attacks (CW-L2, L-BFGS) are weaker than with 1000 iterations; and a flat or saturated
# loss (MSE on softmax, tanh outputs) gives gradient attacks little to climb, which
# raises accuracy under them without the model being harder to fool by other means:
# gradient masking, which the codebook-aware CW-L2 is the paper's own check for.

# %%
lines = [f"- {v['where']}: {v.claim}: **{v.verdict}** (q = {v['mean']:.1f} ± {v['std']:.1f}"
         + (f"; paper: {v.paper:.1f}, {v.paper_verdict})" if pd.notna(v.paper) else ")")
         for _, v in verdicts.iterrows()]
acc = clean.groupby("model").accuracy.mean()
lines.append("- Clean accuracy: " + ", ".join(f"{m} {acc[m]:.1f} %" for m in HEAD_MODELS) + ".")
t7m = over_seeds(t7_long, ["model", "attack", "value"], value="success").set_index(["model", "attack", "value"])
if ("R:TANH:MSE", "codebook CW-L2", 0.1) in t7m.index:
    lines.append(f"- Table 7 at c = 0.1 on R:TANH:MSE: CW-L2 {t7m.loc[('R:TANH:MSE', 'CW-L2', 0.1), 'mean']:.1f} % "
                 f"vs codebook-aware {t7m.loc[('R:TANH:MSE', 'codebook CW-L2', 0.1), 'mean']:.1f} % success.")
display(Markdown("\n".join(lines)))
