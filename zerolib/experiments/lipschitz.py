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
- MaxPool2d: ``sqrt(o)``, ``o`` the most windows one input pixel lies in
  (``ceil(k / s)`` per axis): max is 1-Lipschitz per window.
- AvgPool2d / AdaptiveAvgPool2d: ``sqrt(o / n)``, ``n`` the fewest pixels a window
  averages (Cauchy-Schwarz per window); the 2 x 2 average pool gives 1/2 (exact), a
  global average ``1 / sqrt(H W)`` (exact).
- DenseNet's dense layer ``x -> [x, f(x)]`` (a concatenation, not a composition):
  ``|[x - x', f(x) - f(x')]| <= sqrt(1 + L_f^2) |x - x'|``, ``L_f`` the product
  of its body's bounds. Its inner layers are listed (``in_chain=False``) but only
  the concatenation's bound enters the running product.

A layer or a module whose forward is not one of these compositions gets a
``ValueError`` naming it, never a silent bound.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["conv2d_singular_values", "conv2d_bound", "operator_norm_estimate", "layer_bounds", "first_layer_bounds"]


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
    raise ValueError(f"cannot bound layer {name} ({type(module).__name__}): no rule for it in zerolib.lipschitz")


def _children_in_order(module: nn.Module):
    """The children a zerolib network's forward composes, in order, or None."""
    from zerolib.models.nets import DenseNet, LeNet, SimpleNet80, SubstituteCNN, SubstituteMLP

    if isinstance(module, nn.Sequential):
        return list(module.named_children())
    if isinstance(module, SubstituteMLP):
        return [("net", module.net)]
    if isinstance(module, (LeNet, SimpleNet80, SubstituteCNN, DenseNet)):
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
