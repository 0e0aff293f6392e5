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
# # Beyond the papers: a robustness audit of every model family, with label-only attacks
#
# Paper A's 01-loss models have no useful gradient, so every gradient attack on them is a
# heuristic, and paper A says nothing shows they resist black-box attacks that need no
# substitute. Paper B's MSE and codebook heads may flatten or saturate the gradient. This
# notebook audits all eleven families of both papers on one task (classes 0 vs 1) with
# every applicable attack (`zerolib.robustness`): white-box (paper A's own attack; PGD
# on the model's loss and on the margin of its scores), transfer from every other family,
# a Papernot substitute, and the label-only HopSkipJump (L2 and Linf). An image counts as
# robust at eps only if **every** attack failed on it (the worst case per image), and the
# checks of Carlini et al. (2019) are computed as flags. Every number is the mean ± one
# standard deviation over `n_seeds` seeds (a seed fixes every model's fit, the audited
# rows, the substitute and the attacks' randomness).

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
n_train_nets: int = 0            # stratified training subsample for the CNNs and DenseNet heads (0: all)
nets: dict = {"LeNet": {"name": "lenet", "epochs": 10, "optimizer": "adam", "lr": 0.001, "batch_size": 64}, "SimpleNet80": {"name": "simplenet80", "epochs": 10, "optimizer": "adam", "lr": 0.001, "batch_size": 64}}  # paper A's CNNs
heads: dict = {"net": "densenet_small", "train": {"epochs": 10, "optimizer": "adam", "lr": 0.001, "batch_size": 64}, "code_length": 128, "code_seed": 2024}  # paper B's three heads
eps_values: list = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]  # Linf grid of the robust-accuracy curves
eps_matrix: float = 0.3          # eps of the transfer matrix and of the paper-A comparison
n_audit: int = 40                # test rows audited per seed (0: all but the substitute's seed points)
n_seed_points: int = 30          # test rows the substitute starts from (disjoint from the audited ones)
pgd_steps: int = 10              # PGD iterations (step 2.5 eps / steps)
hsj: dict = {"max_queries": 300, "init_evals": 30, "max_evals": 100}  # HopSkipJump's query budget per image
substitute: dict = {"epochs": 10, "lr": 0.001, "batch_size": 64}  # paper A's MLP substitute
rounds: int = 4                  # substitute rounds (paper A: 20)
cap: int = 240                   # largest substitute training set (paper A: 6400)
device: str = "cpu"              # "cpu", "cuda" or "auto"
output_dir: str = "../outputs/dev/robustness_audit"  # where tables and figures go (the runner sets it)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from zerolib import load_dataset
from zerolib.blackbox import NetSubstitute
from zerolib.cache import ModelCache
from zerolib.results import ResultDir
from zerolib.robustness import FAMILIES, ZERO_ONE, audit_seed, fit_families
from zerolib.spread import over_seeds, seed_list, wide
from zerolib.study import package_code_hash

out = ResultDir(output_dir)
cache = ModelCache()
seeds = seed_list(seed, n_seeds, run_seeds)
data = load_dataset(dataset, classes=list(classes), n_train=n_train or None, seed=seed)
data_key = {"dataset": dataset, "n_train": n_train or None, "subsample_seed": seed, "classes": list(classes)}
net_data = load_dataset(dataset, classes=list(classes), n_train=n_train_nets or None, seed=seed)
net_key = dict(data_key, n_train=n_train_nets or None)
settings = dict(eps_values=eps_values, eps_matrix=eps_matrix, n_audit=n_audit or None, n_seed_points=n_seed_points,
                pgd_steps=pgd_steps, hsj=hsj, rounds=rounds, cap=cap)
display(Markdown(f"{dataset}, classes {list(classes)}: paper A's models on {len(data.x_train)} training rows, "
                 f"the networks on {len(net_data.x_train)}; {n_audit or 'all'} audited test rows per seed; "
                 f"HopSkipJump budget {hsj.get('max_queries')} queries per image; substitute {rounds} rounds "
                 f"up to {cap} points."))

# %% [markdown]
# ## The audit, seed by seed
#
# Each seed's audit is kept in the model cache's state folder once done, so a rerun (or a
# crash) loses nothing finished.

# %%
frames = {}
for s in seeds:
    fams = fit_families(data, data_key, s, models=models, n_votes=n_votes, net_data=net_data, net_key=net_key,
                        nets=nets, heads=heads, device=device, cache=cache)
    with cache.job({"class": "RobustnessAudit", "data": data_key, "net_data": net_key, "seed": s,
                    "models": models, "n_votes": n_votes, "nets": nets, "heads": heads,
                    "settings": settings, "substitute": substitute, "code": package_code_hash()}) as state:
        r = audit_seed(fams, data.x_test, data.y_test, state_dir=state, seed=s,
                       substitute=NetSubstitute(device=device, **substitute), **settings)
    for k, v in r.items():
        frames.setdefault(k, []).append(v.assign(seed=s))
frames = {k: pd.concat(v, ignore_index=True) for k, v in frames.items()}
for k, v in frames.items():
    out.table(v, f"{k}_per_seed")

# %% [markdown]
# ## Robust accuracy: the worst case over every attack, per image
#
# Rows: families; columns: Linf eps. "paper A" is the robust accuracy under paper A's
# attacks alone (the family's own paper attack, transfer from SVM, SCD01, MLP and MLP01,
# and the substitute), beside the worst case of the whole audit.

# %%
curves = frames["curves"]
worst = over_seeds(curves[curves.attack == "worst case"], ["family", "eps"])
robust = wide(worst, "family", "eps", rows=list(FAMILIES))
out.table(robust.reset_index(names="family"), "robust_accuracy")
display(robust)
at = curves[(curves.eps == eps_matrix) & curves.attack.isin(["worst case", "paper A's attacks"])]
vs_paper = wide(over_seeds(at, ["family", "attack"]), "family", "attack", rows=list(FAMILIES),
                cols=["paper A's attacks", "worst case"])
out.table(vs_paper.reset_index(names="family"), "paper_a_vs_worst")
display(Markdown(f"At eps {eps_matrix}:"), vs_paper)

# %%
fig, axes = plt.subplots(2, 6, figsize=(20, 6.5), sharex=True, sharey=True)
for ax, fam in zip(axes.flat, FAMILIES):
    c = curves[curves.family == fam].groupby(["attack", "kind", "eps"], sort=False).accuracy.mean().reset_index()
    for (att, kind), g in c.groupby(["attack", "kind"], sort=False):
        if kind == "all":
            ax.plot(g.eps, g.accuracy, "k-o", lw=2, ms=3, label="worst case")
        elif kind == "paper A":
            ax.plot(g.eps, g.accuracy, "r--", lw=1.5, label="paper A's attacks")
        else:
            color = {"white-box": "C0", "transfer": "C2", "black-box": "C1", "decision": "C4"}[kind]
            ax.plot(g.eps, g.accuracy, color=color, lw=0.8, alpha=0.35)
    ax.set_title(fam, fontsize=10)
    ax.set_ylim(-3, 103)
axes.flat[-1].axis("off")
for kind, color in {"white-box": "C0", "transfer": "C2", "black-box": "C1", "decision (HSJ)": "C4"}.items():
    axes.flat[-1].plot([], [], color=color, alpha=0.6, label=kind)
axes.flat[-1].plot([], [], "k-o", label="worst case")
axes.flat[-1].plot([], [], "r--", label="paper A's attacks")
axes.flat[-1].legend(loc="center")
fig.supxlabel("Linf eps")
fig.supylabel("accuracy (%)")
fig.suptitle(f"{dataset}: each attack (faint) and the worst case per image (mean over {n_seeds} seeds)")
out.figure(fig, "robust_accuracy")
plt.show()

# %% [markdown]
# ## The checks, as flags
#
# Each cell says in how many seeds the check passed. A failed "white-box at least as
# strong" on a 01-loss model means its only white-box attack (paper A's heuristic) is weak;
# on a differentiable model a failed "decision-based not stronger" is the sign of gradient
# masking; "the largest eps reaches 0 %" failing means some images resisted everything.

# %%
flags = frames["flags"]
passed = flags.groupby(["family", "check"], sort=False).ok.agg(lambda v: f"{int(v.sum())}/{len(v)}").unstack()
passed = passed.reindex(list(FAMILIES))
out.table(passed.reset_index(), "flags")
display(passed)

# %% [markdown]
# ## Label-only distances: how far HopSkipJump has to go
#
# Median over the correctly classified audited rows of the distance to the adversary
# HopSkipJump found (L2 for the L2 run, Linf for the Linf run; an image it did not break
# counts as infinitely far), and its success rate.

# %%
dist = frames["distances"]
med = wide(over_seeds(dist, ["family", "attack"], value="median"), "family", "attack", digits=3,
           rows=list(FAMILIES))
succ = wide(over_seeds(dist, ["family", "attack"], value="success"), "family", "attack", rows=list(FAMILIES))
distances = med.join(succ, rsuffix=" success %")
out.table(distances.reset_index(names="family"), "distances")
display(distances)

# %% [markdown]
# ## One transfer matrix across the families of both papers
#
# Rows: the source whose white-box adversaries (worst over its attacks, per image) are
# scored; columns: the target. The diagonal is the white-box worst case.

# %%
tm = frames["transfer"].groupby(["source", "target"]).accuracy.mean().unstack().reindex(
    index=list(FAMILIES), columns=list(FAMILIES))
out.table(tm.round(1).reset_index(), "transfer_matrix")
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
out.figure(fig, "transfer_matrix")
plt.show()

# %% [markdown]
# ## Reading
#
# The answers below are computed from this run's numbers.

# %%
wc = worst[worst.eps == eps_matrix].set_index("family")["mean"]
pa = over_seeds(at, ["family", "attack"]).query("attack == \"paper A's attacks\"").set_index("family")["mean"]
l2 = over_seeds(dist[dist.attack == "HSJ L2"], ["family"], value="median").set_index("family")["mean"]
hsj_succ = over_seeds(dist, ["family", "attack"], value="success").groupby("family")["mean"].max()
gm = flags[flags.check.str.startswith("decision-based")].groupby("family").ok.all()
lo, hi = hsj_succ[list(ZERO_ONE)].min(), hsj_succ[list(ZERO_ONE)].max()
lines = [f"**Are 01-loss models robust to label-only attacks?** HopSkipJump, which needs neither a gradient nor "
         f"a substitute, breaks {f'{lo:.0f} %' if lo == hi else f'{lo:.0f} % to {hi:.0f} %'} "
         f"of the 01-loss models' correctly classified rows within {hsj.get('max_queries')} queries; its median "
         f"L2 distance is " + ", ".join(f"{f} {l2[f]:.2f}" for f in ZERO_ONE) + " against "
         + ", ".join(f"{f} {l2[f]:.2f}" for f in ("SVM", "MLP", "MLP400")) + " for the convex ones. "
         + ("The 01-loss models need the larger label-only distance." if l2[list(ZERO_ONE)].min() > l2[["SVM", "MLP"]].max()
            else "The 01-loss models do not need a uniformly larger label-only distance than the convex ones."),
         f"**Does paper A's evaluation overstate robustness?** At eps {eps_matrix} the worst case leaves "
         + ", ".join(f"{f} {wc[f]:.1f} % (paper A's attacks alone: {pa[f]:.1f} %)" for f in ("MLP01", "MLP01 votes", "SCD01", "MLP"))
         + ".",
         "**Do the MSE and codebook gains survive the audit?** At eps " + f"{eps_matrix} the worst case leaves "
         + ", ".join(f"{f} {wc[f]:.1f} %" for f in ("O:SOFTMAX:CE", "O:SOFTMAX:MSE", "R:TANH:MSE")) + "; "
         + ("gradient masking is flagged on " + ", ".join(gm[~gm].index) if (~gm).any()
            else "no differentiable family is flagged for gradient masking (the label-only attack never beat the "
                 "gradient attacks)") + "."]
display(Markdown("\n\n".join(lines)))
out.json({"reading": lines}, "reading")
