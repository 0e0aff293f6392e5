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
# on a random codeword per class (**R:TANH:MSE**, codewords of length d = `code_length`
# drawn once from U(-1, 1)^d with a secret seed, prediction by the nearest codeword). It then attacks
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
n_test: int = 0                  # stratified test subsample (0: all rows; a dry run caps it)
net: str = "densenet_small"      # zerolib network (paper: densenet, depth 40 and growth 12)
arch: dict = {}                  # architecture overrides, e.g. {"depth": 40, "growth_rate": 12}
train: dict = {"epochs": 10, "optimizer": "adam", "lr": 0.001, "batch_size": 64}  # zerolib.models.train settings
code_length: int = 128           # codeword length d of R:TANH:MSE (paper: 128)
code_seed: int = 2024            # the codebook's secret seed
n_attack: int = 0                # test rows attacked per seed (0: the whole test set)
max_steps: int = 0               # cap on the attacks' fixed iteration counts (0: the paper's)
deepfool_steps: list = [10, 20, 30, 40]  # DeepFool's step limits m, Table 3's grid (paper B's; a dry run: [1])
n_examples: int = 8              # images shown per figure
device: str = "cpu"              # "cpu", "cuda" or "auto"
output_dir: str = "../outputs/dev/loss_targets"  # where tables and figures go (the runner sets it)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from zerolib import ResultDir, load_dataset
from zerolib.attacks import CodebookCWL2
from zerolib.experiments import loss_targets as experiment
from zerolib.experiments.common.attack_grid import TARGETED, UNTARGETED, random_targets, thin, with_step_limits
from zerolib.experiments.common.cache import ModelCache
from zerolib.experiments.common.plots import plot_adversaries
from zerolib.experiments.common.summary import over_seeds, seed_list
from zerolib.experiments.loss_targets import (HEAD_MODELS, attack_subset, clean_accuracies, fit_heads, grid_spec,
                                              head_grids, head_key, smallest_full_success)
from zerolib.losses import Codebook
from zerolib.models import predict

out = ResultDir(output_dir)
cache = ModelCache()
seeds = seed_list(seed, n_seeds, run_seeds)
untargeted = with_step_limits(thin(UNTARGETED, max_steps) if max_steps else UNTARGETED, deepfool_steps)
targeted = thin(TARGETED, max_steps) if max_steps else TARGETED
out.json({"untargeted": grid_spec(untargeted), "targeted": grid_spec(targeted), "code_seed": code_seed,
          "code_length": code_length}, experiment.GRIDS_SPEC)

data = load_dataset(dataset, n_train=n_train or None, n_test=n_test or None, seed=seed)
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
out.table(clean, experiment.CLEAN_PER_SEED)
t4 = experiment.table_4(clean, dataset)
out.table(t4, experiment.CLEAN)
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
out.table(grids, experiment.GRIDS_PER_SEED)

# %% [markdown]
# ### Table 3: accuracy (%) under untargeted white-box attacks

# %%
t3 = experiment.table_3(grids, dataset)
out.table(t3, experiment.UNTARGETED_TABLE)
display(t3)

# %% [markdown]
# ### Table 5: success (%) of targeted white-box attacks (lower is more robust)

# %%
t5 = experiment.table_5(grids, dataset)
out.table(t5, experiment.TARGETED_TABLE)
display(t5)

# %% [markdown]
# ### DeepFool and L-BFGS beside paper B: what differs, and why
#
# **DeepFool (Table 3).** Paper B ran cleverhans' DeepFool: a few candidate classes, a small
# overshoot, inputs clipped to [0, 1], step limit m (our grid's settings are in `grids.json`).
# Ours (`zerolib.attacks.DeepFool`) does what cleverhans and ART do: each step is linearised
# at the base point x + r, the overshoot scales the whole accumulated perturbation, and a
# row stops once the point returned, clip(x + (1 + overshoot) r), is misclassified. An
# earlier version linearised each step at the overshot point itself: in the box a step
# loses the part of it that points out of [0, 1], so the iterate nears the boundary
# geometrically, and linearised at the overshot point it was that point which converged
# onto the boundary from inside and never crossed. `tests/test_deepfool_lbfgs.py` checks
# the fix against a known answer in the box and against ART's DeepFool;
# `benchmarks/README.md` records ours before and after the fix beside ART's on one model
# (`benchmarks/deepfool_lbfgs_art.py`, a one-off measurement this notebook does not
# recompute). What still differs:
#
# - The box makes every implementation (ours, ART's, cleverhans') take several steps on
#   many images; how our accuracy at the smallest m stands to the paper's is computed in
#   the reading below. The benchmark separates the attack from the model (a much smaller
#   DenseNet, trained for a few epochs).
# - Rows misclassified before any attack: we attack the true label and leave these rows
#   as they are (they count as errors). cleverhans attacks the model's own prediction,
#   which can move such a row onto its true label. This can raise the paper's accuracy
#   by at most its clean error rate.
# - R:TANH:MSE: ours uses the codebook-aware scores (minus the distances to the
#   codewords). Whether the paper's DeepFool stalls on this model (the same accuracy at
#   every m), as cleverhans' DeepFool reading the tanh outputs as class logits would, is
#   computed in the reading below; that attack misreads the head, as plain CW-L2 does in
#   Table 7. This is our guess; the paper does not say how it adapted DeepFool.
#
# **L-BFGS (Table 5).** Ours minimises ||x' - x||^2 + c * loss(x', t) with the model's own
# loss (on R:TANH:MSE, the MSE of the tanh outputs to the target's codeword, the adaptation
# paper B describes), and its binary search over c counts a success by the model's
# decision (the nearest codeword). The grid scores every adversary by the model's own
# prediction, so the successes are real. It is a stronger attack than the paper's, not a
# bug. cleverhans' L-BFGS counts a success when the argmax of the model's outputs equals
# the argmax of the target vector. On a codebook head with a codeword target, that is not
# the model's decision. The search then raises c, and every row where the criterion never
# holds gets its original image back; `benchmarks/README.md` records how often the same
# optimisation reaches the target with that bookkeeping. So the paper's L-BFGS success on
# R:TANH:MSE (beside ours in the reading) is not evidence of robustness. Its success on
# O:SOFTMAX:MSE at small c (where that criterion is the model's decision) is a different
# matter that we have not measured; cleverhans runs scipy's L-BFGS-B on the whole batch as
# one problem, with that optimiser's stopping rules.

# %% [markdown]
# ### Table 6: accuracy (%) on O:SOFTMAX:CE's adversaries (black-box transfer)

# %%
display(Markdown(experiment.transfer_cells_line()))
t6 = experiment.table_6(grids, dataset)
out.table(t6, experiment.TRANSFER_TABLE)
display(t6)

# %% [markdown]
# ### Table 7: targeted CW-L2 against the codebook-aware CW-L2

# %%
t7 = experiment.table_7(grids, dataset)
out.table(t7, experiment.CODEBOOK_TABLE)
display(t7)

# %%
own = experiment.own_rows(grids)
fig, axes = plt.subplots(2, 6, figsize=(17, 5.6), sharey=True)
for i, setting in enumerate(("untargeted", "targeted")):
    metric = "accuracy" if setting == "untargeted" else "success"
    grid = untargeted if setting == "untargeted" else targeted
    sm = over_seeds(own[(own.setting == setting) & (own.attack != experiment.CODEBOOK_CW)],
                    ["model", "attack", "value"], value=metric)
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
_ = out.figure(fig, experiment.GRIDS_FIGURE)

# %% [markdown]
# ## Figs. 1-3: what the adversaries look like
#
# Fig. 1: targeted PGD at the smallest eps where it reaches 100 % success on the images
# shown (the grid's eps, then the larger ones of `experiment.FIG1_EPS_BEYOND`; the caption
# says when none does): how much further the codebook model's eps is than the CE model's
# is the figure's point. Fig. 2: untargeted MIM; Fig. 3: the codebook-aware CW-L2 on
# R:TANH:MSE (each caption gives its eps or c). First seed, the first `n_examples`
# attacked rows.

# %%
s0 = seeds[0]
rows = attack_subset(len(data.x_test), n_attack or None, s0)[:n_examples]
xs, ys = data.x_test[rows], data.y_test[rows]
ts = random_targets(data.y_test[attack_subset(len(data.x_test), n_attack or None, s0)], k, s0)[:n_examples]
pgd = next(g for g in targeted if g.name == "PGD")
mim = next(g for g in untargeted if g.name == "MIM")
cw = next(g for g in targeted if g.name == "CW-L2")
ladder = sorted(set(pgd.values) | set(experiment.FIG1_EPS_BEYOND))  # the grid's eps, then beyond it
panels = []
for m in ("O:SOFTMAX:CE", experiment.CODEBOOK_HEAD):
    eps, _, reached = smallest_full_success(models[s0][m], pgd, xs, ts, ladder, loss=models[s0][m].loss,
                                            targeted=True, seed=s0)
    note = (f"the smallest eps of {ladder} with 100 % success on these images: {eps:g}" if reached
            else f"no eps up to {eps:g} reaches 100 % on these images")
    panels.append((1, f"Fig. 1: targeted PGD on {m}, {note}", m, pgd, eps, True))
for m in ("O:SOFTMAX:CE", experiment.CODEBOOK_HEAD):
    panels.append((2, f"Fig. 2: untargeted MIM on {m}, eps {experiment.FIG2_EPS:g}", m, mim, experiment.FIG2_EPS,
                   False))
panels.append((3, f"Fig. 3: codebook-aware CW-L2 on {experiment.CODEBOOK_HEAD}, c {experiment.FIG3_C:g}",
               experiment.CODEBOOK_HEAD, None, experiment.FIG3_C, True))
for number, title, m, ga, v, is_targeted in panels:
    model = models[s0][m]
    if ga is None:
        atk = CodebookCWL2(model, Codebook(model.codebook), initial_const=v, targeted=True,
                           **{name: val for name, val in cw.fixed.items() if name != "initial_const"})
    else:
        atk = ga.build(model, v, loss=model.loss, targeted=is_targeted, seed=s0)
    adv = atk(xs, ts if is_targeted else ys)
    fig, axes = plt.subplots(2, len(xs), figsize=(1.3 * len(xs), 3.6), squeeze=False)
    plot_adversaries(axes, xs, adv, predict(model, xs), predict(model, adv), data.classes,
                     title=title + (f" (targets: {', '.join(str(int(t)) for t in ts)})" if is_targeted else ""))
    fig.tight_layout()
    _ = out.figure(fig, experiment.figure_name(number, m))

# %% [markdown]
# ## The paper's claims, judged on our numbers
#
# *holds*: the whole 95 % interval of the claim's quantity q is on the claim's side of its
# threshold; *does not hold*: the whole interval on the other side; *unclear*: the interval
# contains the threshold. The interval counts the seeds and the sampling of the test rows
# (`zerolib.papers.intervals` states the model); `n` is seeds x rows. `paper` is the same
# quantity on the paper's numbers.

# %%
verdicts = experiment.verdicts(grids, clean, dataset, n_rows=len(data.x_test), n_attacked=n_attack or len(data.x_test))
out.table(verdicts, experiment.CLAIMS)
display(verdicts[["where", "claim", "verdict", "mean", "lo", "hi", "n_seeds", "n_rows", "paper", "paper_verdict"]])

# %% [markdown]
# ## Reading
#
# What to look for: whether the MSE and codebook heads keep accuracy where the CE head
# loses it (Tables 3 and 5), whether that survives an attacker who uses the codebook
# (Table 7: the plain CW-L2 reads the codebook model's `code_length` outputs as if they
# were class logits, so its "success" is not the model's decision; the codebook-aware
# margin is the fair white-box attack), and whether the gains also hold for transferred
# adversaries (Table 6). Where ours differ from the paper: the `-cpu` profiles train a
# VGG-style ConvNet in place of DenseNet-40-12 for a few epochs, attack 200 test rows per seed and cap the attacks' iteration
# counts (each reduction stated in the profile and in the setting line below). A flat or
# saturating loss (MSE on softmax, tanh outputs) gives gradient attacks little to climb:
# it can raise accuracy under them without the model being harder to fool by other means
# (gradient masking), which the codebook-aware CW-L2 is the paper's own check for. The
# lines below say, from the numbers, what each head's loss does here.

# %%
run_params = {"net": net, "arch": arch, "train": train, "n_train": n_train, "n_attack": n_attack,
              "max_steps": max_steps, "deepfool_steps": deepfool_steps}
display(Markdown("\n".join(f"- {line}" for line in experiment.reading(grids, clean, verdicts, dataset, run_params))))
