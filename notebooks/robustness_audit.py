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
# # Beyond the papers: a robustness audit of every model family, with adaptive attacks
#
# Paper A's 01-loss models have no useful gradient, so every gradient attack on them is a
# heuristic; paper B's MSE and codebook heads may flatten or saturate the gradient. Robustness
# is only what survives an attacker who knows the defense (Athalye, Carlini and Wagner 2018;
# Tramèr et al. 2020). This notebook audits every model family of both papers on one binary
# task (the `classes` parameter) with every applicable attack (`zerolib.experiments.robustness_audit`):
#
# - white-box: paper A's own attack; on the 01-loss models (single runs and vote ensembles)
#   the adaptive **surrogate PGD** (PGD on a margin through a tempered-sigmoid stand-in and a
#   straight-through one, several temperatures and restarts, every iterate judged by the real
#   model); on the differentiable models PGD on their loss and on the margin of their scores,
#   and on the codebook head PGD on the margin of the pre-tanh distances to the codewords;
# - score-based: the **Square** attack on the scores (the ensembles' vote counts count);
# - transfer from every other family, a Papernot substitute, and the label-only HopSkipJump
#   (L2 and Linf), whose median distance is also followed against its query budget;
# - a **random-noise baseline** (uniform noise in the ball, several draws).
#
# An image counts as robust at eps only if **every** attack failed on it, at that eps and at
# every smaller one (the worst case per image). The checks of Carlini et al. (2019) are
# computed as flags, each with a category: *broken model* (predictions collapse to one class
# under noise, the raw worst case rises with eps) or *attack strength* (noise beats the attacks,
# an unbounded attack falls short of near-100 % success, some images survive the largest eps,
# label-only beats gradients, HopSkipJump had not levelled off). **A flagged family's number is
# never read as robustness.** Every number is the mean ± one standard deviation over `n_seeds`
# seeds (a seed fixes every model's fit, the audited rows, the substitute and the attacks'
# randomness).

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed: int = 0                    # base seed: run i uses seed + i
n_seeds: int = 2                 # independent seeds behind every number
run_seeds: list = []             # run only these of the seeds (the parallel runner's per-seed tasks; empty: all)
dataset: str = "digits"          # digits, mnist, fashion_mnist or cifar10 (from ZEROLIB_DATA)
classes: list = [0, 1]           # the binary task every family is trained on (paper A's)
n_train: int = 0                 # stratified training subsample of the task for paper A's models (0: all)
n_votes: int = 4                 # votes of the "MLP01 votes" ensemble (paper: 32)
models: dict = {"SVM": {}, "SCD01": {"n_iter": 50}, "MLP": {"epochs": 30}, "MLP01": {"n_iter": 50}, "MLP400": {"epochs": 30}}  # paper A's settings
n_train_nets: int = 0            # stratified training subsample for the CNNs and paper B's heads (0: all)
nets: dict = {"LeNet": {"name": "lenet", "epochs": 10, "optimizer": "adam", "lr": 0.001, "batch_size": 64}, "SimpleNet80": {"name": "simplenet80", "epochs": 10, "optimizer": "adam", "lr": 0.001, "batch_size": 64}}  # paper A's CNNs
heads: dict = {"net": "densenet_small", "train": {"epochs": 10, "optimizer": "adam", "lr": 0.001, "batch_size": 64}, "code_length": 128, "code_seed": 2024}  # paper B's three heads
eps_values: list = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]  # Linf grid of the robust-accuracy curves
eps_matrix: float = 0.3          # eps of the transfer matrix and of the paper-A comparison
n_audit: int = 40                # test rows audited per seed (0: all but the substitute's seed points)
n_seed_points: int = 30          # test rows the substitute starts from (disjoint from the audited ones)
pgd_steps: int = 10              # PGD iterations (step 2.5 eps / steps)
hsj: dict = {"max_queries": 300, "init_evals": 30, "max_evals": 100}  # HopSkipJump's query budget per image
hsj_budgets: list = [75, 150, 300, 600]  # HopSkipJump L2's median distance recorded at these query counts
hsj_rows: int = 20               # audited rows (the first ones) of that distance-against-queries curve
surrogate: dict = {"steps": 30, "temperatures": ["inf", 1.0, 0.1], "restarts": 2}  # surrogate PGD on the 01-loss models
square: dict = {"n_queries": 300}  # Square attack (Linf) per image and eps
noise_draws: int = 5             # draws of the uniform-noise baseline
substitute: dict = {"epochs": 10, "lr": 0.001, "batch_size": 64}  # paper A's MLP substitute
rounds: int = 4                  # substitute rounds (paper A: 20)
cap: int = 240                   # largest substitute training set (paper A: 6400)
device: str = "cpu"              # "cpu", "cuda" or "auto"
output_dir: str = "../outputs/dev/robustness_audit"  # where tables and figures go (the runner sets it)

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from zerolib import load_dataset
from zerolib._io import ResultDir, package_code_hash
from zerolib.experiments import robustness_audit as experiment
from zerolib.experiments.common.cache import ModelCache
from zerolib.experiments.common.substitutes import NetSubstitute
from zerolib.experiments.common.summary import seed_list
from zerolib.experiments.robustness_audit import FAMILIES, ZERO_ONE

out = ResultDir(output_dir)
cache = ModelCache()
seeds = seed_list(seed, n_seeds, run_seeds)
data = load_dataset(dataset, classes=list(classes), n_train=n_train or None, seed=seed)
data_key = {"dataset": dataset, "n_train": n_train or None, "subsample_seed": seed, "classes": list(classes)}
net_data = load_dataset(dataset, classes=list(classes), n_train=n_train_nets or None, seed=seed)
net_key = dict(data_key, n_train=n_train_nets or None)
settings = dict(eps_values=eps_values, eps_matrix=eps_matrix, n_audit=n_audit or None, n_seed_points=n_seed_points,
                pgd_steps=pgd_steps, hsj=hsj, hsj_budgets=hsj_budgets, hsj_rows=hsj_rows, surrogate=surrogate,
                square=square, noise_draws=noise_draws, rounds=rounds, cap=cap)
display(Markdown(f"{len(FAMILIES)} families on {dataset}, classes {list(classes)}: paper A's models on "
                 f"{len(data.x_train)} training rows, the networks on {len(net_data.x_train)}; "
                 f"{n_audit or 'all'} audited test rows per seed; "
                 f"HopSkipJump budget {hsj.get('max_queries')} queries per image (its distance curve up to "
                 f"{max(hsj_budgets) if hsj_budgets else hsj.get('max_queries')}); surrogate PGD {surrogate}; "
                 f"Square {square}; {noise_draws} noise draws; {n_votes} votes per ensemble; substitute "
                 f"{rounds} rounds up to {cap} points."))

# %% [markdown]
# ## The audit, seed by seed
#
# Each seed's audit is kept in the model cache's state folder once done, so a rerun (or a
# crash) loses nothing finished.

# %%
by_seed = {}
for s in seeds:
    fams = experiment.fit_families(data, data_key, s, models=models, n_votes=n_votes, net_data=net_data,
                                   net_key=net_key, nets=nets, heads=heads, device=device, cache=cache)
    with cache.job({"class": "RobustnessAudit", "data": data_key, "net_data": net_key, "seed": s,
                    "models": models, "n_votes": n_votes, "nets": nets, "heads": heads,
                    "settings": settings, "substitute": substitute, "code": package_code_hash()}) as state:
        by_seed[s] = experiment.audit_seed(fams, data.x_test, data.y_test, state_dir=state, seed=s,
                                           substitute=NetSubstitute(device=device, **substitute), **settings)
frames = experiment.stack_seeds(by_seed)
for k, v in frames.items():
    out.table(v, experiment.PER_SEED[k])

# %% [markdown]
# ## Robust accuracy: the worst case over every attack, per image
#
# Rows: families; columns: Linf eps. "paper A" is the robust accuracy under paper A's
# attacks alone (the family's own paper attack, transfer from SVM, SCD01, MLP and MLP01,
# and the substitute), beside the worst case of the whole audit.

# %%
curves = frames["curves"]
robust = experiment.robust_table(curves)
out.table(robust.reset_index(names="family"), experiment.ROBUST)
display(robust)
vs_paper = experiment.comparison_at(curves, frames["distances"], eps_matrix)
out.table(vs_paper.reset_index(names="family"), experiment.PAPER_A_VS_WORST)
display(Markdown(f"At eps {eps_matrix}: the worst case beside paper A's attacks alone and transfer alone, and "
                 "HopSkipJump's median distances:"), vs_paper)

# %% [markdown]
# ## The adaptive attack on the 01-loss models
#
# Attack by attack over eps: paper A's own attack (sign(w) for SCD01, the hidden-node
# heuristic for MLP01), the surrogate-gradient PGD, the score-based Square attack, transfer
# alone, paper A's attacks together, and the worst case of the whole audit.

# %%
adaptive = experiment.adaptive_table(curves)
out.table(adaptive.reset_index(names="family: attack"), experiment.ADAPTIVE)
display(adaptive)

# %%
KIND_COLORS = {"white-box": "C0", "score": "C5", "transfer": "C2", "black-box": "C1", "decision": "C4",
               "noise": "C7"}
fig, axes = plt.subplots(3, 5, figsize=(18, 9.5), sharex=True, sharey=True)
for ax, fam in zip(axes.flat, FAMILIES):
    c = curves[curves.family == fam].groupby(["attack", "kind", "eps"], sort=False).accuracy.mean().reset_index()
    for (att, kind), g in c.groupby(["attack", "kind"], sort=False):
        if kind == "all":
            ax.plot(g.eps, g.accuracy, "k-o", lw=2, ms=3, label="worst case")
        elif kind == "paper A":
            ax.plot(g.eps, g.accuracy, "r--", lw=1.5, label="paper A's attacks")
        elif att == "surrogate PGD":
            ax.plot(g.eps, g.accuracy, color="m", lw=1.5, label="surrogate PGD")
        elif kind in KIND_COLORS:
            ax.plot(g.eps, g.accuracy, color=KIND_COLORS[kind], lw=0.8, alpha=0.35)
    ax.set_title(fam, fontsize=10)
    ax.set_ylim(-3, 103)
for ax in axes.flat[len(FAMILIES):]:
    ax.axis("off")
legend = axes.flat[len(FAMILIES)]
for kind, color in KIND_COLORS.items():
    legend.plot([], [], color=color, alpha=0.6, label=kind)
legend.plot([], [], "m", label="surrogate PGD (01-loss)")
legend.plot([], [], "k-o", label="worst case")
legend.plot([], [], "r--", label="paper A's attacks")
legend.legend(loc="center")
fig.supxlabel("Linf eps")
fig.supylabel("accuracy (%)")
fig.suptitle(f"{dataset}: each attack (faint) and the worst case per image (mean over {n_seeds} seeds)")
out.figure(fig, experiment.ROBUST)
plt.show()

# %% [markdown]
# ## The checks, as flags
#
# Each cell says in how many seeds the check passed; the category is in brackets. A failed
# *broken model* check says the model, not the attacks, is at fault (its predictions collapse
# to one class under noise, or its raw worst case rises with eps); a failed *attack strength*
# check says the attacks may be too weak (noise beats them, an unbounded attack falls short of
# near-100 % success, white-box weaker than transfer, label-only stronger than gradients, some
# images survive the largest eps, HopSkipJump's median still falling).

# %%
flags = frames["flags"]
passed = experiment.flag_table(flags)
out.table(passed.reset_index(names="family"), experiment.FLAGS)
display(passed)

# %% [markdown]
# ## Label-only distances: how far HopSkipJump has to go
#
# Median over the correctly classified audited rows of the distance to the adversary
# HopSkipJump found (L2 for the L2 run, Linf for the Linf run; an image it did not break
# counts as infinitely far), and its success rate.

# %%
distances = experiment.distance_table(frames["distances"])
out.table(distances.reset_index(names="family"), experiment.DISTANCES)
display(distances)

# %% [markdown]
# ### HopSkipJump's median L2 distance against its query budget
#
# One run per family to the largest budget on the first `hsj_rows` audited rows, its best
# distance recorded after each budget: where the curve is still falling, the audit's
# distances are upper bounds on the minimal one.

# %%
hc = frames["hsj_curve"]
if len(hc):
    curve = experiment.hsj_curve_table(hc)
    out.table(curve.reset_index(), experiment.HSJ_CURVE)
    display(curve)
    fig, ax = plt.subplots(figsize=(7, 4))
    for fam, row in curve.iterrows():
        ax.plot(row.index, row.values, marker="o", ms=3, label=fam, ls="-" if fam in ZERO_ONE else ":")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(curve.columns), [str(q) for q in curve.columns])
    ax.set_xlabel("label queries per image")
    ax.set_ylabel("median L2 distance")
    ax.set_title(f"{dataset}: HopSkipJump L2, median over {hsj_rows} rows (mean over {n_seeds} seeds)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    out.figure(fig, experiment.HSJ_CURVE)
    plt.show()

# %% [markdown]
# ## One transfer matrix across the families of both papers
#
# Rows: the source whose white-box adversaries (worst over its attacks, per image) are
# scored; columns: the target. The diagonal is the white-box worst case.

# %%
tm = experiment.transfer_matrix(frames["transfer"])
out.table(tm.reset_index(), experiment.TRANSFER_MATRIX)
fig, ax = plt.subplots(figsize=(8, 7))
im = ax.imshow(tm.values, vmin=0, vmax=100, cmap="viridis")
ax.set_xticks(range(len(FAMILIES)), FAMILIES, rotation=60, ha="right")
ax.set_yticks(range(len(FAMILIES)), FAMILIES)
for i in range(len(FAMILIES)):
    for j in range(len(FAMILIES)):
        ax.text(j, i, f"{tm.values[i, j]:.0f}", ha="center", va="center", fontsize=7,
                color="w" if tm.values[i, j] < 50 else "k")
ax.set_xlabel("target")
ax.set_ylabel("source")
fig.colorbar(im, ax=ax, label="target accuracy (%)")
ax.set_title(f"{dataset}: transfer at eps {eps_matrix} (mean over {n_seeds} seeds)")
out.figure(fig, experiment.TRANSFER_MATRIX)
plt.show()

# %% [markdown]
# ## Reading
#
# The answers below are computed from this run's numbers.

# %%
lines = experiment.reading(frames, eps_matrix)
display(Markdown("\n\n".join(lines)))
out.json({"reading": lines}, experiment.READING)
