"""Adversarial attacks with a torchattacks-like interface.

>>> atk = PGD(model, eps=0.3, alpha=0.01, steps=40, loss=CrossEntropy())  # doctest: +SKIP
>>> x_adv = atk(x, y)                                                      # doctest: +SKIP

``targeted=True`` makes ``y`` the target. Inputs and outputs are in [0, 1];
see :mod:`zerolib.attacks.base` for the shared contract. The loss adapters
(the model's head and loss) are in :mod:`zerolib.losses`.

=================================  ======  ==========================================
attack                             norm    source
=================================  ======  ==========================================
:class:`FGSM`                      Linf    Goodfellow et al.; paper A (MLP), paper B
:class:`BIM` (= :class:`IFGSM`)    Linf    Kurakin et al.; paper B
:class:`MIM`                       Linf    Dong et al.; paper B
:class:`PGD`                       Linf    Madry et al.; paper B
:class:`CWL2`                      L2 min  Carlini & Wagner; paper B
:class:`CodebookCWL2`              L2 min  paper B's codebook-aware CW-L2
:class:`DeepFool`                  L2 min  Moosavi-Dezfooli et al.; paper B
:class:`LBFGS`                     L2 min  Szegedy et al.; paper B (targeted)
:class:`SignAttack`                Linf    paper A (linear models: SVM, SCD01)
:class:`MLP01HiddenNodeAttack`     Linf    paper A (MLP01)
:class:`SurrogatePGD`              L2/Linf Athalye et al. 2018 (BPDA): 01-loss models
                                           through a tempered-sigmoid stand-in
:class:`Square`                    L2/Linf Andriushchenko et al. 2020: score-based
:class:`HopSkipJump`               L2/Linf Chen et al. 2020: label-only, any model
:class:`BoundaryRandomSearch`      L2/Linf a label-only baseline (boundary walk)
=================================  ======  ==========================================
"""

from .base import Attack
from .cw import CWL2, CodebookCWL2
from .decision import BoundaryRandomSearch, HopSkipJump
from .deepfool import DeepFool
from .fgsm import FGSM
from .iterative import BIM, IFGSM, MIM, PGD
from .lbfgs import LBFGS
from .weight_sign import MLP01HiddenNodeAttack, SignAttack
from .square import Square
from .surrogate import SmoothVotes, SurrogatePGD, VanishingGradientWarning

__all__ = [
    "Attack",
    "FGSM",
    "BIM",
    "IFGSM",
    "MIM",
    "PGD",
    "CWL2",
    "CodebookCWL2",
    "DeepFool",
    "LBFGS",
    "SignAttack",
    "MLP01HiddenNodeAttack",
    "HopSkipJump",
    "BoundaryRandomSearch",
    "SurrogatePGD",
    "SmoothVotes",
    "VanishingGradientWarning",
    "Square",
]
