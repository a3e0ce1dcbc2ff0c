"""Scoring merges against ground truth: the dataset layouts, the field's metrics and `adnet eval`'s work."""
