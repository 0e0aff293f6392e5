"""Per-layer Lipschitz bounds (L2) of the study's networks (paper B, Fig. 4).

- :func:`conv2d_singular_values`: the exact singular values of a stride-1
  convolution with circular padding on an ``n x m`` grid (Sedghi, Gupta, Long
  2019): the 2-D DFT of the kernel zero-padded to the grid gives, per frequency,
  a ``c_out x c_in`` matrix; the operator's singular values are the union of theirs.
- :func:`first_layer_bounds`: paper A's estimators (SVM, SCD01, MLP, MLP01), per
  class problem and vote, the norm of their real-valued first layer. For the
  01-loss models it bounds only that layer: their sign / step nodes are
  discontinuous, so the models themselves have no Lipschitz constant.
- :func:`layer_bounds`: an upper bound for every layer of a model, the running
  product along the network, and beside each linear layer a power-iteration
  estimate of its real operator's norm (a lower bound).

Why each bound holds:

- Linear: the largest singular value (exact).
- Conv2d with zero padding, any stride: the layer's output is a crop (and, for
  stride > 1, a subsample) of the *full* linear convolution of its input, which
  equals the circular convolution on an ``(H + k - 1) x (W + k - 1)`` grid of the
  zero-embedded input; embedding is an isometry and cropping a contraction, so the
  circular operator's largest singular value on that grid bounds the layer
  (dilation: the kernel with its holes; groups: the largest group's).
- BatchNorm (eval mode): ``max |gamma / sqrt(running_var + eps)|`` (exact: diagonal).
- ReLU, Tanh, Identity, Flatten, Dropout (eval): 1; Sigmoid: 1/4; LeakyReLU:
  ``max(1, |slope|)``.
- MaxPool2d / AdaptiveMaxPool2d: ``sqrt(o)``, ``o`` the most windows one input
  pixel lies in (``ceil(k / s)`` per axis): max is 1-Lipschitz per window; a
  global max pool gives 1 (exact).
- AvgPool2d / AdaptiveAvgPool2d: ``sqrt(o / n)``, ``n`` the fewest pixels a window
  averages (Cauchy-Schwarz per window); the 2 x 2 average pool gives 1/2 (exact), a
  global average ``1 / sqrt(H W)`` (exact).
- DenseNet's dense layer ``x -> [x, f(x)]`` (a concatenation, not a composition):
  ``|[x - x', f(x) - f(x')]| <= sqrt(1 + L_f^2) |x - x'|``, ``L_f`` the product
  of its body's bounds. Its inner layers are listed (``in_chain=False``) but only
  the concatenation's bound enters the running product.

A layer or a module whose forward is not one of these compositions gets a
``ValueError`` naming it, never a silent bound.

What the notebook makes of the bounds, owned here so the notebook and the report say the
same: the names of the files it writes, Fig. 4's table (:func:`conv_bounds_table`), the
networks' bounds (:func:`network_bounds`), paper A's first layers
(:func:`first_layer_table`), the claims' verdicts (:func:`verdicts`), the reading, whose
every number and direction is computed (:func:`reading`), and the report's section
(:func:`section`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from zerolib.experiments.common.head_models import HEAD_MODELS, model_line
from zerolib.experiments.common.markdown import Section, figures, md_table, verdict_lines, verdict_table
from zerolib.experiments.common.summary import fmt, over_seeds
from zerolib.experiments.common.wording import direction, mean_sd
from zerolib.papers.claims import FIG4_CLAIMS, conv_bound_cells, judge_all

__all__ = ["conv2d_singular_values", "conv2d_bound", "operator_norm_estimate", "layer_bounds", "first_layer_bounds",
           "NOTEBOOK", "LAYER_BOUNDS_PER_SEED", "CLEAN_PER_SEED", "CONV_BOUNDS", "NETWORK_BOUNDS", "FIRST_LAYERS_PER_SEED",
           "FIRST_LAYERS", "CLAIMS", "FIG4", "conv_rows", "estimates_within_bounds", "conv_bounds_table",
           "network_bounds", "first_layer_table", "verdicts", "direction", "conv_comparison_lines",
           "network_comparison_lines", "tightness_lines", "claim_lines", "reading", "section"]


def conv2d_singular_values(weight: torch.Tensor, input_size) -> torch.Tensor:
    """All singular values (descending) of the stride-1 circular convolution with
    ``weight`` (c_out, c_in, kh, kw) on an ``input_size`` = (n, m) grid: n m min(c_out, c_in) values."""
    if weight.ndim != 4:
        raise ValueError(f"weight must be (c_out, c_in, kh, kw), got shape {tuple(weight.shape)}")
    n, m = (int(s) for s in input_size)
    kh, kw = weight.shape[-2:]
    if kh > n or kw > m:
        raise ValueError(f"a {kh}x{kw} kernel does not fit a {n}x{m} grid (the circular operator would alias it)")
    spectrum = torch.fft.fft2(weight.detach().to(torch.float64), s=(n, m))  # (c_out, c_in, n, m)
    per_freq = spectrum.permute(2, 3, 0, 1).reshape(n * m, *weight.shape[:2])
    return torch.linalg.svdvals(per_freq).flatten().sort(descending=True).values


def _dilated(weight: torch.Tensor, dilation) -> torch.Tensor:
    dh, dw = dilation
    if (dh, dw) == (1, 1):
        return weight
    c_out, c_in, kh, kw = weight.shape
    out = weight.new_zeros(c_out, c_in, (kh - 1) * dh + 1, (kw - 1) * dw + 1)
    out[:, :, ::dh, ::dw] = weight
    return out


def conv2d_bound(conv: nn.Conv2d, input_hw) -> float:
    """An upper bound of ``conv``'s operator norm on ``input_hw`` inputs (see the module docstring)."""
    if conv.padding_mode != "zeros":
        raise ValueError(f"cannot bound a convolution with padding_mode {conv.padding_mode!r} (only 'zeros')")
    if isinstance(conv.padding, str) and conv.padding not in ("same", "valid"):
        raise ValueError(f"unknown padding {conv.padding!r}")
    w = _dilated(conv.weight.detach(), conv.dilation)
    h, wd = (int(s) for s in input_hw)
    grid = (h + w.shape[-2] - 1, wd + w.shape[-1] - 1)
    per_group = w.shape[0] // conv.groups
    return max(float(conv2d_singular_values(w[g * per_group:(g + 1) * per_group], grid)[0])
               for g in range(conv.groups))


def operator_norm_estimate(op, shape, n_iter: int = 50, seed: int = 0) -> float:
    """Power iteration on the linear map ``x -> op(x) - op(0)`` at inputs of ``shape``
    (its Jacobian, exact for a linear layer): a lower bound of its operator norm."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    zero = torch.zeros(shape, dtype=torch.float64)
    with torch.no_grad():
        base = op(zero)
    est = 0.0
    for _ in range(n_iter):
        x = (x / x.norm()).requires_grad_(True)
        y = op(x) - base
        (g,) = torch.autograd.grad(y, x, grad_outputs=y.detach())  # J^T J x
        est = float(y.detach().norm())
        if float(g.norm()) == 0.0:
            return 0.0
        x = g.detach()
    return est


# ------------------------------------------------------------------ layers
def _pool_overlap(k, s):
    return math.ceil(k / s)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _adaptive_windows(size: int, out: int):
    starts = [math.floor(i * size / out) for i in range(out)]
    ends = [math.ceil((i + 1) * size / out) for i in range(out)]
    cover = max(sum(s <= p < e for s, e in zip(starts, ends)) for p in range(size))
    return cover, min(e - s for s, e in zip(starts, ends))


def _leaf_bound(module: nn.Module, name: str, in_shape) -> tuple[str, float, bool]:
    """(kind, bound, is_linear_operator) of one layer at input shape ``in_shape`` (N, ...)."""
    if isinstance(module, nn.Linear):
        return "linear", float(torch.linalg.matrix_norm(module.weight.detach().double(), ord=2)), True
    if isinstance(module, nn.Conv2d):
        return "conv2d", conv2d_bound(module, in_shape[-2:]), True
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if module.training or module.running_var is None:
            raise ValueError(f"cannot bound {name} ({type(module).__name__}) in training mode or without running "
                             "statistics: its output depends on the batch; call model.eval()")
        scale = 1.0 / torch.sqrt(module.running_var.detach().double() + module.eps)
        if module.weight is not None:
            scale = scale * module.weight.detach().double()
        return "batchnorm", float(scale.abs().max()), False
    if isinstance(module, (nn.ReLU, nn.Tanh, nn.Identity, nn.Flatten)):
        return type(module).__name__.lower(), 1.0, False
    if isinstance(module, nn.Dropout):
        if module.training and module.p > 0:
            raise ValueError(f"cannot bound {name} (Dropout) in training mode; call model.eval()")
        return "dropout", 1.0, False
    if isinstance(module, nn.Sigmoid):
        return "sigmoid", 0.25, False
    if isinstance(module, nn.LeakyReLU):
        return "leakyrelu", max(1.0, abs(module.negative_slope)), False
    if isinstance(module, nn.MaxPool2d):
        if _pair(module.dilation) != (1, 1):
            raise ValueError(f"cannot bound {name} (MaxPool2d with dilation)")
        (kh, kw), (sh, sw) = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
        return "maxpool", math.sqrt(_pool_overlap(kh, sh) * _pool_overlap(kw, sw)), False
    if isinstance(module, nn.AvgPool2d):
        (kh, kw), (sh, sw) = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
        overlap = _pool_overlap(kh, sh) * _pool_overlap(kw, sw)
        if module.divisor_override:
            raise ValueError(f"cannot bound {name} (AvgPool2d with divisor_override)")
        smallest = kh * kw if (module.count_include_pad or _pair(module.padding) == (0, 0)) else 1
        bound = math.sqrt(overlap / smallest)
        return "avgpool", bound, True
    if isinstance(module, nn.AdaptiveAvgPool2d):
        out = _pair(module.output_size)
        (h, w) = in_shape[-2:]
        (ch, nh), (cw, nw) = _adaptive_windows(h, out[0] or h), _adaptive_windows(w, out[1] or w)
        return "avgpool", math.sqrt(ch * cw / (nh * nw)), True
    if isinstance(module, nn.AdaptiveMaxPool2d):
        out = _pair(module.output_size)
        (h, w) = in_shape[-2:]
        (ch, _), (cw, _) = _adaptive_windows(h, out[0] or h), _adaptive_windows(w, out[1] or w)
        return "maxpool", math.sqrt(ch * cw), False
    raise ValueError(f"cannot bound layer {name} ({type(module).__name__}): no rule for it in zerolib.lipschitz")


def _children_in_order(module: nn.Module):
    """The children a zerolib network's forward composes, in order, or None."""
    from zerolib.models.nets import ConvNet, DenseNet, LeNet, SimpleNet80, SubstituteCNN, SubstituteMLP

    if isinstance(module, nn.Sequential):
        return list(module.named_children())
    if isinstance(module, SubstituteMLP):
        return [("net", module.net)]
    if isinstance(module, (LeNet, SimpleNet80, SubstituteCNN, DenseNet, ConvNet)):
        return [("features", module.features), ("classifier", module.classifier)]
    return None


def layer_bounds(model: nn.Module, input_shape, n_iter: int = 50, seed: int = 0) -> pd.DataFrame:
    """One row per layer of ``model`` (in eval mode) for inputs of ``input_shape``
    (C, H, W or D): ``layer`` (its qualified name), ``kind``, ``bound`` (an upper
    bound of its L2 Lipschitz constant), ``estimate`` (power iteration on its real
    operator, for linear layers; NaN otherwise), ``in_chain`` (whether it enters the
    running product: False inside a dense layer, whose concatenation row stands for
    it) and ``cumulative`` (the product of the chain's bounds up to that row: an upper
    bound of the network up to that layer)."""
    from zerolib.models.nets import _DenseLayer

    was_training = model.training
    model.eval()
    shapes: dict[str, tuple] = {}

    def record(name):
        def hook(module, inputs, output):  # returns None: the output is left as it is
            shapes.setdefault(name, tuple(inputs[0].shape))
        return hook

    hooks = [m.register_forward_hook(record(n)) for n, m in model.named_modules()]
    try:
        device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    finally:
        for h in hooks:
            h.remove()
    rows: list[dict] = []

    def leaf(name, module, in_chain):
        kind, bound, linear = _leaf_bound(module, name, shapes[name])
        est = float("nan")
        if linear:
            m64 = _without_bias(module)
            est = operator_norm_estimate(m64, shapes[name], n_iter=n_iter, seed=seed)
        rows.append({"layer": name, "kind": kind, "bound": bound, "estimate": est, "in_chain": in_chain})
        return bound

    def walk(name, module, in_chain) -> float:
        if name not in shapes:
            return 1.0  # never called by forward (e.g. an unused head)
        children = _children_in_order(module)
        if isinstance(module, _DenseLayer):
            inner = walk(f"{name}.body", module.body, False) * walk(f"{name}.drop", module.drop, False)
            bound = math.sqrt(1.0 + inner ** 2)
            rows.append({"layer": name, "kind": "dense concat", "bound": bound, "estimate": float("nan"),
                         "in_chain": in_chain})
            return bound
        if children is not None:
            total = 1.0
            for child, sub in children:
                total *= walk(f"{name}.{child}" if name else child, sub, in_chain)
            return total
        if any(True for _ in module.children()):
            raise ValueError(f"cannot bound {name or 'the model'} ({type(module).__name__}): its forward is not a "
                             "composition zerolib.lipschitz knows")
        return leaf(name, module, in_chain)

    try:
        walk("", model, True)
    finally:
        model.train(was_training)
    df = pd.DataFrame(rows, columns=["layer", "kind", "bound", "estimate", "in_chain"])
    running, cumulative = 1.0, []
    for r in df.itertuples():
        if r.in_chain:
            running *= r.bound
        cumulative.append(running if r.in_chain else float("nan"))
    df["cumulative"] = cumulative
    return df


def _without_bias(module: nn.Module):
    """``module``'s linear part in float64 (the bias does not change a Lipschitz constant)."""
    import copy

    m = copy.deepcopy(module).double().cpu().eval()
    if getattr(m, "bias", None) is not None:
        with torch.no_grad():
            m.bias.zero_()
    return m


def first_layer_bounds(estimator) -> pd.DataFrame:
    """The L2 norm of a fitted paper-A estimator's first (real-valued) layer, per class
    problem and vote: ``|w|`` for the linear models (SVM, SCD01), the largest singular
    value of the D x H hidden weights for MLP and MLP01. Columns: problem, vote, layer,
    bound."""
    if hasattr(estimator, "hidden_coef_"):
        w, layer = estimator.hidden_coef_, "hidden (sign nodes follow)"
    elif hasattr(estimator, "coefs_"):
        w, layer = estimator.coefs_[0], "hidden (sigmoid nodes follow)"
    elif hasattr(estimator, "coef_"):
        w, layer = estimator.coef_[..., None], "linear"
    else:
        raise ValueError(f"{type(estimator).__name__} has no fitted weights (coef_, coefs_ or hidden_coef_): fit it "
                         "first, or use layer_bounds for a torch network")
    norms = torch.linalg.matrix_norm(torch.as_tensor(w, dtype=torch.float64), ord=2)  # (P, V)
    return pd.DataFrame([{"problem": p, "vote": v, "layer": layer, "bound": float(norms[p, v])}
                         for p in range(norms.shape[0]) for v in range(norms.shape[1])])


# ------------------------------------------------------------------ what the notebook saves
NOTEBOOK = "lipschitz"
LAYER_BOUNDS_PER_SEED = "layer_bounds_per_seed"   # layer_bounds of every head model, per seed
CLEAN_PER_SEED = "clean_per_seed"                 # the head models' clean test accuracy (%), per seed
CONV_BOUNDS = "fig4_conv_bounds"                  # Fig. 4 as a table: conv bounds per layer and head
NETWORK_BOUNDS = "network_bounds"                 # the product of the chain's bounds per head
FIRST_LAYERS_PER_SEED, FIRST_LAYERS = "paper_a_first_layers_per_seed", "paper_a_first_layers"
CLAIMS = "claims"
FIG4 = "fig4"
CE, MSE = "O:SOFTMAX:CE", "O:SOFTMAX:MSE"


# ------------------------------------------------------------------ the tables
def conv_rows(bounds: pd.DataFrame) -> pd.DataFrame:
    """The convolution layers' rows of ``layer_bounds`` output (columns model and seed added)."""
    return bounds[bounds.kind.str.startswith("conv")]


def estimates_within_bounds(bounds: pd.DataFrame, rel: float = 1e-6) -> bool:
    """Whether every power-iteration estimate (a lower bound) is at most its upper bound."""
    return bool((bounds.estimate.isna() | (bounds.estimate <= bounds.bound * (1 + rel))).all())


def _ce_over_mse(conv_summary: pd.DataFrame) -> pd.Series:
    by = conv_summary.set_index("layer")
    return by[by.model == CE]["mean"] / by[by.model == MSE]["mean"]


def conv_bounds_table(bounds: pd.DataFrame) -> pd.DataFrame:
    """Fig. 4 as a table: a row per conv layer, each head's bound (mean ± sd over seeds) and
    the ratio of CE's mean bound to MSE's (the paper's comparison)."""
    conv = conv_rows(bounds)
    summary = over_seeds(conv, ["model", "layer"], value="bound")
    layers = list(dict.fromkeys(conv.layer))
    table = pd.DataFrame({"layer": layers, **{
        m: [fmt(r["mean"], r["std"], 2) for _, r in summary[summary.model == m].set_index("layer")
            .loc[layers].iterrows()] for m in HEAD_MODELS}})
    ratio = _ce_over_mse(summary)
    table["CE / MSE"] = [f"{ratio[l]:.2f}" for l in layers]
    return table


def _network_per_seed(bounds: pd.DataFrame) -> pd.DataFrame:
    return bounds[bounds.in_chain].groupby(["model", "seed"]).bound.prod().reset_index()


def network_bounds(bounds: pd.DataFrame) -> pd.DataFrame:
    """Per head, the whole network's bound (the product of the chain's bounds) over seeds:
    mean, std, ... and ``bound`` printed as ``mean ± sd``."""
    whole = over_seeds(_network_per_seed(bounds), ["model"], value="bound")
    whole["bound"] = [f"{m:.3g} ± {s:.2g}" for m, s in zip(whole["mean"], whole["std"].fillna(0))]
    return whole


def first_layer_table(first: pd.DataFrame) -> pd.DataFrame:
    """Paper A's models: the first layer's norm per model and layer, ``mean ± sd`` over seeds."""
    fa = over_seeds(first, ["model", "layer"], value="bound")
    fa["bound"] = [fmt(m, s, 3) for m, s in zip(fa["mean"], fa["std"])]
    return fa[["model", "layer", "bound"]]


def verdicts(bounds: pd.DataFrame) -> pd.DataFrame:
    """Paper B's Fig. 4 claims judged per seed on our bounds (the paper gives no numbers)."""
    return judge_all(FIG4_CLAIMS, conv_bound_cells(bounds))


# ------------------------------------------------------------------ the reading (computed)
def conv_comparison_lines(bounds: pd.DataFrame) -> list[str]:
    """For each head beside O:SOFTMAX:CE: at how many conv layers its bound is below CE's
    beyond one sd over seeds (log10 of CE's over its), above, or neither, and the word
    that says which head has the larger bounds."""
    conv = conv_rows(bounds)
    wide = conv.pivot_table(index=["layer", "seed"], columns="model", values="bound")
    lines = []
    for h in [m for m in HEAD_MODELS if m != CE and m in wide.columns and CE in wide.columns]:
        per_layer = [mean_sd(g) for _, g in np.log10(wide[CE] / wide[h]).dropna().groupby(level="layer")]
        below = sum(direction(m, s, "below", "above", "") == "below" for m, s in per_layer)
        above = sum(direction(m, s, "below", "above", "") == "above" for m, s in per_layer)
        n = len(per_layer)
        word = ("mostly smaller than" if below > n / 2 else "mostly larger than" if above > n / 2
                else "neither mostly smaller nor mostly larger than")
        ratios = [10 ** m for m, _ in per_layer]
        lines.append(f"{h}'s convolution bound is below {CE}'s at {below}, above it at {above} and within one sd "
                     f"at {n - below - above} of {n} conv layers ({CE} / {h} from {min(ratios):.2f} to "
                     f"{max(ratios):.2f}, geometric means over seeds): {h}'s conv bounds are {word} {CE}'s.")
    return lines


def network_comparison_lines(bounds: pd.DataFrame) -> list[str]:
    """For each head beside O:SOFTMAX:CE: log10 of CE's whole-network bound over its, mean
    ± sd over seeds, and whether its bound is the smaller, the larger or neither."""
    wide = _network_per_seed(bounds).pivot(index="seed", columns="model", values="bound")
    lines = []
    for h in [m for m in HEAD_MODELS if m != CE and m in wide.columns and CE in wide.columns]:
        m, s = mean_sd(np.log10(wide[CE] / wide[h]).dropna())
        word = direction(m, s, "smaller than", "larger than", "not clearly smaller or larger than")
        lines.append(f"Whole network: log10 of {CE}'s bound over {h}'s is {m:+.2f} ± {s:.2f} over {len(wide)} "
                     f"seeds, so {h}'s bound is {word} {CE}'s.")
    return lines


def tightness_lines(bounds: pd.DataFrame) -> list[str]:
    """How tight the conv bounds are (each layer's power-iteration estimate over its bound:
    the true constant lies between the two) and how many factors the network's bound
    multiplies (the chain's layers), with its range over heads."""
    conv = conv_rows(bounds).dropna(subset=["estimate"])
    lines = []
    if len(conv):
        r = conv.estimate / conv.bound
        lines.append(f"The convolutions' power-iteration estimates (lower bounds) are {r.min():.2f} to {r.max():.2f} "
                     f"times their upper bounds (median {r.median():.2f}, {len(r)} layer fits): each conv layer's "
                     f"constant is pinned within a factor {1 / r.min():.2f}.")
    chain = bounds[bounds.in_chain].groupby(["model", "seed"]).bound.agg(["size", "prod"])
    if len(chain):
        sizes = sorted(set(chain["size"]))
        lines.append(f"The whole network's bound multiplies {' to '.join(str(n) for n in sizes)} factors, one per "
                     f"layer of the chain, and comes to {chain['prod'].min():.3g} to {chain['prod'].max():.3g} over "
                     "heads and seeds: a product like that says little about a single input, which is why the "
                     "paper compares layer by layer.")
    return lines


def claim_lines(judged: pd.DataFrame) -> list[str]:
    """Each Fig. 4 claim with where the paper makes it, its verdict and q in the claim's unit."""
    return verdict_lines(judged, digits=2, where=True)


def reading(bounds: pd.DataFrame, judged: pd.DataFrame) -> list[str]:
    """The notebook's reading, every number and direction computed: which head has the
    larger conv and network bounds, how tight the bounds are, and each claim's verdict."""
    whole = network_bounds(bounds)
    return (conv_comparison_lines(bounds) + network_comparison_lines(bounds)
            + ["Network bounds: " + ", ".join(f"{r.model} {r.bound}" for r in whole.itertuples()) + "."]
            + tightness_lines(bounds) + claim_lines(judged))


# ------------------------------------------------------------------ the report's section
def section(d: Path, dataset: str, params: dict) -> Section | None:
    """Fig. 4's conv bounds per layer and head, paper A's first layers, the computed
    comparison and the claims, from the files in ``d`` (None when they are missing)."""
    if not (d / f"{LAYER_BOUNDS_PER_SEED}.csv").is_file():
        return None
    bounds = pd.read_csv(d / f"{LAYER_BOUNDS_PER_SEED}.csv")
    judged = verdicts(bounds)
    table = conv_bounds_table(bounds).set_index("layer")
    table.index.name = "conv layer"
    lines = [(f"#### Paper B, Fig. 4: L2 Lipschitz upper bounds of the convolution layers, mean ± sd over "
             f"{bounds.seed.nunique()} seeds (the paper gives a figure, no numbers)"), "", md_table(table), "",
             " ".join(conv_comparison_lines(bounds) + network_comparison_lines(bounds)), ""]
    if (d / f"{FIRST_LAYERS}.csv").is_file():
        fa = pd.read_csv(d / f"{FIRST_LAYERS}.csv").set_index("model")
        classes = params.get("paper_a_classes", [0, 1])
        lines += [(f"Paper A's models, the L2 norm of the first (real-valued) layer, classes "
                  f"{' vs '.join(str(c) for c in classes)}:"), "", md_table(fa), ""]
    model = ""
    if (d / f"{CLEAN_PER_SEED}.csv").is_file():
        model = model_line(params, pd.read_csv(d / f"{CLEAN_PER_SEED}.csv")) + "."
        lines = [f"The bounds are of these models: {model}", ""] + lines
    return Section(lines + [figures(d, [f"{FIG4}.png"]), "", "Claims (verdicts computed from the per-seed bounds):",
                            "", verdict_table(judged), ""], [judged], model)
