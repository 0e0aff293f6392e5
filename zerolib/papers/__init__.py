"""The two papers as data: their tables' numbers (`numbers`) and their claims as computable
statements judged on ours (`claims`). Imports nothing of zerolib but the loss names."""
