"""The reference retraining job: fit, evaluate against production, store as skops, promote."""
