"""Every model family of both papers, behind one interface.

- Convex baselines with the 01-loss models' estimator API (``convex``):
  :class:`LinearSVMClassifier`, :class:`MLPClassifier`, :class:`MLP400Classifier`;
  their vote views for attacks (``zerolib.models.votes``): :class:`VoteLinear`, :class:`VoteMLP`.
- Torch networks with paper B's heads (``nets``, ``heads``): :func:`make_model`
  builds ``substitute_mlp``, ``lenet``, ``simplenet80``, ``substitute_cnn``,
  ``densenet`` (depth 40, growth 12) or ``densenet_small`` with head ``"ce"``,
  ``"mse"`` or ``"codebook"``.
- :func:`train`: the one training loop (seeded, checkpoint and resume).
- :func:`predict` / :func:`accuracy`: labels of any model on inputs in [0, 1].
"""

from .convex import DEFAULT_CS, LinearSVMClassifier, MLP400Classifier, MLPClassifier
from .votes import VoteLinear, VoteMLP
from .heads import HEADS, HeadNet, canonical_head
from .interface import accuracy, predict
from .nets import MODELS, DenseNet, LeNet, SimpleNet80, SubstituteCNN, SubstituteMLP, make_model
from .train import load_checkpoint, train

__all__ = [
    "DEFAULT_CS", "LinearSVMClassifier", "MLPClassifier", "MLP400Classifier", "VoteLinear", "VoteMLP",
    "HEADS", "HeadNet", "canonical_head", "MODELS", "make_model", "SubstituteMLP", "LeNet", "SimpleNet80",
    "SubstituteCNN", "DenseNet", "train", "load_checkpoint", "predict", "accuracy",
]
