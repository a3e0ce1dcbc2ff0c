"""Training: simulated cameras and brackets, scene sources, training batches, the fixed validation sets
and the training loop."""
