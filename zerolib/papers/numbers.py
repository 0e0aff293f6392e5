"""The papers' published numbers that the study holds its own against
(from the papers' tables; paper A = 01 loss vs convex
models, paper B = MSE loss and codebook targets).

All accuracies are percentages, times seconds. A dataset the paper did not run
(Fashion-MNIST for paper A) has no entry: the report then shows ours alone.
"""

from __future__ import annotations

from zerolib.losses import PAPER_B_VARIANTS

__all__ = ["TABLE_6_CELLS", "TABLE_I", "TABLE_II", "TABLE_III", "TABLE_III_EPS", "TABLE_IV", "BLACKBOX", "FIG7_PAIR",
           "N_ITER", "N_VOTES", "paper_value",
           "table_i_cells", "table_iii_cells", "table_iv_cells", "blackbox_cells", "HEAD_MODELS", "TABLE_3", "TABLE_4",
           "TABLE_5", "TABLE_6", "TABLE_7", "grid_cells", "head_cells"]

MODELS = ("SVM", "SCD01", "MLP", "MLP01")  # paper A's four models, in its tables' order

# Paper A, Table I: clean test accuracy, multiclass one-vs-all.
TABLE_I = {
    "mnist": {"single": dict(zip(MODELS, (91.7, 83.7, 97.6, 91.2))),
              "votes": dict(zip(MODELS, (91.7, 90.8, 97.1, 96.0)))},
    "cifar10": {"single": dict(zip(MODELS, (39.9, 30.7, 50.2, 34.3))),
                "votes": dict(zip(MODELS, (40.2, 39.7, 47.4, 46.4)))},
}

# Paper A, Table II: seconds for one run on class 0 vs all (01 loss on a Titan RTX GPU,
# SVM and MLP with scikit-learn on Xeon 6142 CPUs).
TABLE_II = {
    "mnist": dict(zip(MODELS, (0.8, 171, 64, 875))),
    "cifar10": dict(zip(MODELS, (80, 150, 267, 838))),
}

# Paper A, Table III: accuracy of the row source's adversaries on the column target,
# classes 0 vs 1, single runs; the row "clean" is the clean test accuracy.
_SOURCES = ("clean",) + MODELS
TABLE_III = {
    "mnist": dict(zip(_SOURCES, (dict(zip(MODELS, r)) for r in (
        (100, 99.9, 100, 100), (11.9, 8.1, 40.4, 43.5), (97, 0, 98.5, 53.2),
        (25.5, 16.1, 31, 42.3), (99.9, 99.8, 99.6, 69.5))))),
    "cifar10": dict(zip(_SOURCES, (dict(zip(MODELS, r)) for r in (
        (82.2, 81.1, 88.7, 84.2), (0, 41.3, 0.5, 70.1), (76, 0.8, 86, 84.5),
        (0, 43.5, 0.4, 63.7), (81.7, 80, 88.5, 66.9))))),
}
TABLE_III_EPS = {"mnist": 0.3, "cifar10": 0.0625}

# Paper A, Table IV: Table III's layout on CIFAR10 0 vs 1, original and fully binarized
# (p = infinity) inputs, eps 0.0625.
TABLE_IV = {
    "cifar10": {"original": TABLE_III["cifar10"],
                "binarized": dict(zip(_SOURCES, (dict(zip(MODELS, r)) for r in (
                    (76.6, 79.1, 81.2, 78.6), (0, 73.9, 6.5, 76.7), (71.1, 62.4, 78.1, 78.5),
                    (0.3, 74.2, 3, 76.3), (76.7, 79.4, 81, 73.8)))))},
}

# Paper A, section III-C (Fig. 3), the black-box end points it states in words: the
# convex substitute's adversaries after 20 rounds, and the clean accuracy (round 0).
# Keys: (setting, substitute, target, round, metric); "MLP01 - MLP" is a difference
# the paper gives without either value.
BLACKBOX = {
    "cifar10": {("binary", "MLP", "MLP01", "last", "target_accuracy"): 58.0,
                ("binary", "MLP", "MLP", "last", "target_accuracy"): 7.0,
                ("binary", "MLP", "MLP01", 0, "target_accuracy"): 86.0,
                ("binary", "MLP", "MLP", 0, "target_accuracy"): 88.0,
                ("multiclass", "MLP", "MLP01 - MLP", "last", "target_accuracy"): 24.0},
}

# Paper A, section III-E: the CIFAR10 class pair where MLP01 is most accurate.
FIG7_PAIR = {"cifar10": (6, 8)}

# Paper A, section III: the SCD iterations of its 01-loss models (SCD01 and MLP01), and
# the votes of its ensembles.
N_ITER = 1000
N_VOTES = 32


def paper_value(table: dict, dataset: str, *keys):
    """``table[dataset][k1][k2]...``, or None where the paper has no such number."""
    node = table.get(dataset)
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def table_i_cells(dataset: str) -> dict | None:
    """Table I as {(model, "single" | "votes"): accuracy}, or None."""
    t = TABLE_I.get(dataset)
    return None if t is None else {(m, k): v for k, row in t.items() for m, v in row.items()}


def table_iii_cells(dataset: str) -> dict | None:
    """Table III as {(source, target): accuracy}, or None."""
    t = TABLE_III.get(dataset)
    return None if t is None else {(s, m): v for s, row in t.items() for m, v in row.items()}


def table_iv_cells(dataset: str) -> dict | None:
    """Table IV as {(inputs, source, target): accuracy}, inputs "original" | "binarized"."""
    t = TABLE_IV.get(dataset)
    return None if t is None else {(i, s, m): v for i, tab in t.items() for s, row in tab.items()
                                   for m, v in row.items()}


def blackbox_cells(dataset: str) -> dict | None:
    """The black-box end points of section III-C as cells (see ``BLACKBOX``), or None."""
    return BLACKBOX.get(dataset)


# Our eps where the paper gives none, and why (the profiles use these).
EPS_CHOICE = {
    "fashion_mnist": (0.1, "paper A ran no Fashion-MNIST; 0.1 is the Linf budget usual for it in the "
                           "robustness literature: its classes differ in texture and outline rather than in "
                           "stroke, so MNIST's 0.3 wipes out most garments for every model and separates nothing"),
    "digits": (0.3, "the embedded smoke-test data: MNIST's eps, since its pixels share MNIST's [0, 1] scale"),
}


# ---------------------------------------------------------------------------- paper B
# Paper B prints fractions; here, as everywhere in zerolib, they are percentages.
HEAD_MODELS = PAPER_B_VARIANTS  # paper B's three heads, in its tables' order


def _pct(table):
    if isinstance(table, dict):
        return {k: _pct(v) for k, v in table.items()}
    if isinstance(table, tuple):
        return tuple(_pct(v) for v in table)
    return round(100.0 * table, 4)


# Paper B, Table 3: accuracy under untargeted white-box attacks, per (dataset, model,
# attack) at the four grid values of zerolib.experiments.common.attack_grid.UNTARGETED (in its order).
# Paper B, Table 5: success rate of targeted white-box attacks (random targets), at the
# four values of zerolib.experiments.common.attack_grid.TARGETED. Both transcribed from the paper's text.
TABLE_3 = _pct({
    "cifar10": {
        "O:SOFTMAX:CE": {"CW-L2": (0.022, 0.022, 0.022, 0.022), "MIM": (0.682, 0.043, 0.041, 0.041), "DeepFool": (0.159, 0.049, 0.034, 0.031), "BIM": (0.751, 0.053, 0.042, 0.042), "FGSM": (0.743, 0.291, 0.193, 0.139), "PGD": (0.301, 0.05, 0.041, 0.041)},
        "O:SOFTMAX:MSE": {"CW-L2": (0.078, 0.044, 0.039, 0.039), "MIM": (0.838, 0.595, 0.509, 0.467), "DeepFool": (0.112, 0.069, 0.065, 0.061), "BIM": (0.807, 0.424, 0.24, 0.174), "FGSM": (0.879, 0.729, 0.666, 0.535), "PGD": (0.79, 0.707, 0.668, 0.608)},
        "R:TANH:MSE": {"CW-L2": (0.583, 0.584, 0.586, 0.585), "MIM": (0.919, 0.701, 0.593, 0.536), "DeepFool": (0.583, 0.582, 0.582, 0.582), "BIM": (0.85, 0.634, 0.39, 0.213), "FGSM": (0.923, 0.699, 0.604, 0.451), "PGD": (0.923, 0.897, 0.877, 0.839)},
    },
    "mnist": {
        "O:SOFTMAX:CE": {"CW-L2": (0.008, 0.008, 0.008, 0.008), "MIM": (0.994, 0.661, 0.012, 0.007), "DeepFool": (0.009, 0.008, 0.008, 0.008), "BIM": (0.994, 0.628, 0.015, 0.008), "FGSM": (0.994, 0.949, 0.654, 0.227), "PGD": (0.983, 0.809, 0.263, 0.008)},
        "O:SOFTMAX:MSE": {"CW-L2": (0.897, 0.182, 0.123, 0.118), "MIM": (0.997, 0.986, 0.956, 0.831), "DeepFool": (0.1, 0.074, 0.059, 0.049), "BIM": (0.997, 0.929, 0.49, 0.196), "FGSM": (0.997, 0.988, 0.985, 0.774), "PGD": (0.992, 0.983, 0.975, 0.896)},
        "R:TANH:MSE": {"CW-L2": (0.995, 0.995, 0.975, 0.983), "MIM": (0.995, 0.995, 0.994, 0.973), "DeepFool": (0.815, 0.815, 0.815, 0.815), "BIM": (0.995, 0.882, 0.429, 0.196), "FGSM": (0.995, 0.995, 0.918, 0.332), "PGD": (0.995, 0.995, 0.995, 0.993)},
    },
    "fashion_mnist": {
        "O:SOFTMAX:CE": {"CW-L2": (0.041, 0.041, 0.041, 0.041), "MIM": (0.196, 0.038, 0.035, 0.034), "DeepFool": (0.049, 0.042, 0.041, 0.041), "BIM": (0.564, 0.038, 0.037, 0.036), "FGSM": (0.659, 0.321, 0.225, 0.147), "PGD": (0.046, 0.036, 0.033, 0.029)},
        "O:SOFTMAX:MSE": {"CW-L2": (0.156, 0.076, 0.057, 0.049), "MIM": (0.836, 0.304, 0.211, 0.142), "DeepFool": (0.082, 0.064, 0.059, 0.056), "BIM": (0.815, 0.296, 0.176, 0.142), "FGSM": (0.882, 0.509, 0.362, 0.224), "PGD": (0.731, 0.542, 0.425, 0.315)},
        "R:TANH:MSE": {"CW-L2": (0.946, 0.942, 0.946, 0.945), "MIM": (0.902, 0.691, 0.574, 0.568), "DeepFool": (0.935, 0.935, 0.935, 0.935), "BIM": (0.799, 0.233, 0.089, 0.051), "FGSM": (0.905, 0.671, 0.389, 0.185), "PGD": (0.901, 0.863, 0.829, 0.802)},
    },
})
TABLE_5 = _pct({
    "cifar10": {
        "O:SOFTMAX:CE": {"L-BFGS": (1.0, 1.0, 1.0, 1.0), "BIM": (0.997, 1.0, 1.0, 1.0), "PGD": (0.934, 0.998, 1.0, 1.0), "CW-L2": (1.0, 1.0, 1.0, 1.0), "MIM": (1.0, 1.0, 1.0, 1.0), "FGSM": (0.445, 0.316, 0.231, 0.182)},
        "O:SOFTMAX:MSE": {"L-BFGS": (0.667, 0.864, 0.955, 0.994), "BIM": (0.461, 0.624, 0.658, 0.664), "PGD": (0.266, 0.343, 0.402, 0.441), "CW-L2": (0.756, 0.842, 0.861, 0.867), "MIM": (0.351, 0.433, 0.459, 0.468), "FGSM": (0.046, 0.061, 0.071, 0.083)},
        "R:TANH:MSE": {"L-BFGS": (0.272, 0.475, 0.554, 0.564), "BIM": (0.23, 0.337, 0.353, 0.353), "PGD": (0.242, 0.345, 0.426, 0.467), "CW-L2": (0.368, 0.362, 0.361, 0.346), "MIM": (0.095, 0.136, 0.137, 0.16), "FGSM": (0.028, 0.044, 0.081, 0.082)},
    },
    "mnist": {
        "O:SOFTMAX:CE": {"L-BFGS": (1.0, 1.0, 1.0, 1.0), "BIM": (0.851, 0.992, 0.997, 0.999), "PGD": (0.057, 0.464, 0.828, 0.94), "CW-L2": (1.0, 1.0, 1.0, 1.0), "MIM": (0.908, 0.997, 0.998, 0.998), "FGSM": (0.095, 0.131, 0.115, 0.113)},
        "O:SOFTMAX:MSE": {"L-BFGS": (0.04, 0.536, 0.92, 0.991), "BIM": (0.316, 0.539, 0.597, 0.612), "PGD": (0.008, 0.042, 0.163, 0.269), "CW-L2": (0.176, 0.592, 0.677, 0.669), "MIM": (0.153, 0.319, 0.347, 0.357), "FGSM": (0.014, 0.028, 0.052, 0.067)},
        "R:TANH:MSE": {"L-BFGS": (0.045, 0.457, 0.72, 0.776), "BIM": (0.057, 0.129, 0.169, 0.184), "PGD": (0.007, 0.068, 0.154, 0.245), "CW-L2": (0.006, 0.006, 0.006, 0.002), "MIM": (0.023, 0.04, 0.052, 0.05), "FGSM": (0.007, 0.031, 0.047, 0.067)},
    },
    "fashion_mnist": {
        "O:SOFTMAX:CE": {"L-BFGS": (1.0, 1.0, 1.0, 1.0), "BIM": (0.957, 1.0, 1.0, 1.0), "PGD": (0.999, 1.0, 1.0, 1.0), "CW-L2": (1.0, 1.0, 1.0, 1.0), "MIM": (1.0, 1.0, 1.0, 1.0), "FGSM": (0.213, 0.158, 0.122, 0.109)},
        "O:SOFTMAX:MSE": {"L-BFGS": (0.571, 0.87, 0.97, 0.992), "BIM": (0.457, 0.581, 0.6, 0.603), "PGD": (0.464, 0.589, 0.648, 0.659), "CW-L2": (0.658, 0.812, 0.845, 0.851), "MIM": (0.394, 0.396, 0.394, 0.382), "FGSM": (0.073, 0.085, 0.102, 0.107)},
        "R:TANH:MSE": {"L-BFGS": (0.644, 0.808, 0.826, 0.832), "BIM": (0.807, 0.926, 0.938, 0.94), "PGD": (0.626, 0.724, 0.794, 0.834), "CW-L2": (0.583, 0.592, 0.576, 0.548), "MIM": (0.114, 0.14, 0.143, 0.147), "FGSM": (0.048, 0.081, 0.088, 0.097)},
    },
})

# Paper B, Table 4: clean test accuracy.
TABLE_4 = _pct({
    "cifar10": {"O:SOFTMAX:CE": 0.933, "O:SOFTMAX:MSE": 0.931, "R:TANH:MSE": 0.930},
    "mnist": {"O:SOFTMAX:CE": 0.996, "O:SOFTMAX:MSE": 0.997, "R:TANH:MSE": 0.996},
    "fashion_mnist": {"O:SOFTMAX:CE": 0.948, "O:SOFTMAX:MSE": 0.948, "R:TANH:MSE": 0.945},
})

# Paper B, Table 6: accuracy on O:SOFTMAX:CE's untargeted adversaries (black box), per
# (dataset, model, (attack, value)).
TABLE_6 = _pct({
    "cifar10": {"O:SOFTMAX:MSE": {("CW-L2", 0.01): 0.483, ("DeepFool", 10): 0.451, ("MIM", 0.01): 0.895},
                "R:TANH:MSE": {("CW-L2", 0.01): 0.612, ("DeepFool", 10): 0.617, ("MIM", 0.01): 0.926}},
    "mnist": {"O:SOFTMAX:MSE": {("CW-L2", 0.01): 0.996, ("DeepFool", 10): 0.984, ("MIM", 0.01): 0.997},
              "R:TANH:MSE": {("CW-L2", 0.01): 0.996, ("DeepFool", 10): 0.973, ("MIM", 0.01): 0.995}},
    "fashion_mnist": {"O:SOFTMAX:MSE": {("CW-L2", 0.01): 0.937, ("DeepFool", 10): 0.933, ("MIM", 0.01): 0.839},
                      "R:TANH:MSE": {("CW-L2", 0.01): 0.952, ("DeepFool", 10): 0.946, ("MIM", 0.01): 0.935}},
})
TABLE_6_CELLS = (("CW-L2", 0.01), ("DeepFool", 10), ("MIM", 0.01))

# Paper B, Table 7: targeted success of CW-L2 and of the codebook-aware CW-L2 ("ours"),
# per (dataset, model, (attack, c)).
TABLE_7 = _pct({
    ds: {"O:SOFTMAX:CE": {("CW-L2", 0.1): 1.0, ("CW-L2", 1.0): 1.0,
                          ("codebook CW-L2", 0.1): 1.0, ("codebook CW-L2", 1.0): 1.0},
         "R:TANH:MSE": dict(zip([("CW-L2", 0.1), ("CW-L2", 1.0), ("codebook CW-L2", 0.1), ("codebook CW-L2", 1.0)],
                                row))}
    for ds, row in (("cifar10", (0.368, 0.362, 0.859, 0.868)), ("mnist", (0.006, 0.006, 0.715, 0.772)),
                    ("fashion_mnist", (0.583, 0.592, 0.798, 0.829)))
})


def grid_cells(table: dict, dataset: str, values: dict) -> dict | None:
    """Table 3 or 5 as {(model, attack, value): %}, ``values`` = {attack: the grid's
    four values} (from zerolib.experiments.common.attack_grid); None for a dataset the paper did not run."""
    t = table.get(dataset)
    if t is None:
        return None
    return {(m, a, v): p for m, row in t.items() for a, ps in row.items() for v, p in zip(values[a], ps)}


def head_cells(dataset: str, untargeted: dict, targeted: dict) -> dict | None:
    """Paper B's Tables 3-7 as the cells of :func:`zerolib.experiments.loss_targets.head_cells`;
    ``untargeted`` / ``targeted`` = {attack: the grid's four values}. None for a
    dataset the paper did not run."""
    if dataset not in TABLE_3:
        return None
    cells = {("clean", m): v for m, v in TABLE_4[dataset].items()}
    cells.update({("untargeted", *k): v for k, v in grid_cells(TABLE_3, dataset, untargeted).items()})
    cells.update({("targeted", *k): v for k, v in grid_cells(TABLE_5, dataset, targeted).items()})
    cells.update({("transfer", m, a, v): p for m, row in TABLE_6[dataset].items() for (a, v), p in row.items()})
    cells.update({("targeted", m, a, v): p for m, row in TABLE_7[dataset].items() for (a, v), p in row.items()
                  if a == "codebook CW-L2"})
    return cells
