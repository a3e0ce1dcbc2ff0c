"""The network and how it runs: the deformable op, ADNet and its parameter-free bases (the optimal merge
among them), the input conventions, checkpoints, and the tiled and motion-adaptive inference."""
