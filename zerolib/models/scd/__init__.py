"""01-loss models trained by stochastic coordinate descent: SCD01 (linear) and
MLP01 (one hidden layer of step units), with votes and one-vs-all batched in one
torch program on CPU or CUDA.

The module docstrings describe the procedure; `_kernels` holds the threshold
searches, `_engine` the training loops, `_estimators` the scikit-learn estimators.
"""

from zerolib.models.votes import VoteModule

from ._estimators import MLP01Classifier, SCD01Classifier, load, vote_seed

__all__ = ["SCD01Classifier", "MLP01Classifier", "VoteModule", "load", "vote_seed"]
