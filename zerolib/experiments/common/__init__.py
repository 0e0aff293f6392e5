"""What several experiments share: paper A's model suite, the model cache, the transfer and
substitute machinery, paper B's head networks and attack grid, summaries over seeds, plots.
Nothing here imports an experiment."""
