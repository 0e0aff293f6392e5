"""Shared machinery of the attacks: device handling, eval mode,
the loss gradient with the targeted sign, clipping and eps-ball projection.

An attack is called like torchattacks': ``x_adv = atk(x, y)``.

- ``x``: a float tensor (N, ...) with values in [0, 1]; it is never modified.
- ``y``: integer labels (N,); with ``targeted=True`` they are the targets.
  ``y=None`` (untargeted only) attacks the model's own predictions, as
  cleverhans does, which avoids label leaking.
- The work runs on the model's device and in the model's dtype, with every
  module in eval mode (restored afterwards, module by module) and gradients
  taken with ``torch.autograd.grad`` w.r.t. the input only, so the model's
  ``.grad`` fields are never touched.
- The result has ``x``'s shape, dtype and device and lies in [0, 1].
"""

from __future__ import annotations


import torch

from zerolib._checks import check_int, check_nonneg, check_positive, check_x, check_y
from zerolib.losses import CrossEntropy, LossAdapter, label_margin
from zerolib.torchutil import eval_mode, module_device_dtype

__all__ = ["Attack", "check_nonneg", "check_positive", "check_int", "project_linf"]


# ------------------------------------------------------------------- helpers
def project_linf(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Project onto the Linf ball of radius ``eps`` around ``x`` and onto [0, 1]."""
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0, 1)


class ConstSearch:
    """Per-row binary search over the constant c that weighs the attack's loss against
    the perturbation's size (CW-L2, L-BFGS).

    A row that succeeded at c tries a smaller c next, one that failed a larger one:
    halfway to the bounds once both are known, ten times larger until then.
    """

    UNBOUNDED = 1e10

    def __init__(self, n: int, initial_const: float, like: torch.Tensor):
        kw = dict(device=like.device, dtype=like.dtype)
        self.lower = torch.zeros(n, **kw)
        self.upper = torch.full((n,), self.UNBOUNDED, **kw)
        self.const = torch.full((n,), initial_const, **kw)

    def update(self, success: torch.Tensor) -> None:
        """Move each row's c after a search step; `success` says where the attack worked."""
        self.upper = torch.where(success, torch.minimum(self.upper, self.const), self.upper)
        self.lower = torch.where(success, self.lower, torch.maximum(self.lower, self.const))
        bounded = self.upper < self.UNBOUNDED / 10
        self.const = torch.where(bounded, (self.lower + self.upper) / 2, self.const * 10)


# ---------------------------------------------------------------------- base
class Attack:
    """Base class of every attack.

    Subclasses set the class attributes below and implement
    ``perturb(x, y)``, which gets ``x`` already on the model's device and in
    its dtype and ``y`` as long labels on the same device, and returns the
    adversarial batch. ``x`` may be the caller's own tensor: ``perturb`` must
    never write to it (it may return it unchanged). Model outputs must be obtained through
    ``self.forward(x)``, which validates them (and the labels, on first use).

    Class attributes:
        norm: ``"Linf"`` or ``"L2"`` when ``eps`` bounds the perturbation in
            that norm; ``None`` for minimum-norm attacks (CW-L2, DeepFool,
            L-BFGS).
        deterministic: whether rows are attacked independently and without
            randomness, so a batch gives the rows' one-by-one results.
        targeted_modes: the values of ``targeted`` the attack supports.
    """

    norm: str | None = "Linf"
    deterministic: bool = True
    targeted_modes: tuple = (False, True)

    def __init__(self, model, *, loss: LossAdapter | None = None, targeted: bool = False):
        if model is not None and not callable(model):
            raise TypeError(f"model must be callable (an nn.Module), got {type(model).__name__}")
        self.model = model
        if loss is None:
            loss = CrossEntropy()
        if not isinstance(loss, LossAdapter):
            raise TypeError(f"loss must be a zerolib.losses.LossAdapter, got {type(loss).__name__}")
        self.loss = loss
        targeted = bool(targeted)
        if targeted not in self.targeted_modes:
            kind = "targeted" if targeted else "untargeted"
            raise ValueError(f"{type(self).__name__} has no {kind} mode")
        self.targeted = targeted
        self._labels_to_check = None

    # -- device --------------------------------------------------------------
    def _device_dtype(self, x: torch.Tensor):
        device, dtype = module_device_dtype(self.model)
        return (device or x.device), (dtype or x.dtype)

    # -- the call ------------------------------------------------------------
    def n_classes(self) -> int | None:
        """Number of classes if known without running the model, else None."""
        return None

    def __call__(self, x, y=None) -> torch.Tensor:
        x = check_x(x)
        if y is None and self.targeted:
            raise ValueError("a targeted attack needs the target labels y")
        if y is not None:
            y = check_y(y, x.shape[0], self.n_classes())
        if x.shape[0] == 0:
            raise ValueError(f"x is an empty batch {tuple(x.shape)}: there is nothing to attack")
        device, dtype = self._device_dtype(x)
        with torch.inference_mode(False), eval_mode(self.model), torch.enable_grad():
            xd = x.detach().to(device=device, dtype=dtype)  # may be x itself: perturb must not write to it
            if xd.is_inference():  # made under torch.inference_mode: autograd needs a normal tensor
                xd = xd.clone()
            if y is None:
                with torch.no_grad():
                    yd = self.default_labels(xd)
            else:
                yd = y.to(device)
                if yd.is_inference():
                    yd = yd.clone()
                self._labels_to_check = yd
            try:
                adv = self.perturb(xd, yd)
            finally:
                self._labels_to_check = None
            adv = adv.detach()
            if adv.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
                adv = adv.clone()  # never hand back (a view of) the caller's tensor
            return adv.clamp_(0, 1).to(device=x.device, dtype=x.dtype)

    def default_labels(self, x: torch.Tensor) -> torch.Tensor:
        """Labels an untargeted attack uses when called with ``y=None``: the model's predictions."""
        return self.loss.predict(self.forward(x))

    def perturb(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    # -- model access ----------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model's raw outputs on ``x``, checked; checks the labels on first use."""
        out = self.model(x)
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != x.shape[0]:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"the model must return a (N, outputs) tensor, got {shape}")
        if self._labels_to_check is not None:
            y, self._labels_to_check = self._labels_to_check, None
            k = self.loss.n_classes(out)
            if int(y.max()) >= k:
                raise ValueError(f"y must hold labels < {k} (the number of classes), got {int(y.max())}")
        return out

    def loss_grad(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Gradient w.r.t. ``x`` of the summed per-example loss, signed so that
        ascending it is the attack's direction: up the loss of the true label
        (untargeted), down the loss of the target (targeted). Summing (not
        averaging) keeps each row's gradient independent of the batch."""
        x = x.detach().requires_grad_(True)
        loss = self.loss.losses(self.forward(x), y).sum()
        if self.targeted:
            loss = -loss
        (grad,) = torch.autograd.grad(loss, x)
        return grad

    def __repr__(self) -> str:
        skip = {"model", "_labels_to_check"}
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k not in skip and not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def attack_margin(scores: torch.Tensor, y: torch.Tensor, targeted: bool) -> torch.Tensor:
    """The attacker's margin, negative exactly where the attack has succeeded:
    untargeted ``s_y - max_{j != y} s_j``; targeted ``max_{j != t} s_j - s_t``."""
    m = label_margin(scores, y)
    return -m if targeted else m
