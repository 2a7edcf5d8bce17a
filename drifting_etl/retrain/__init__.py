"""The reference retraining job: fit, evaluate against production, store as skops, promote.

Needs the [retrain] extra (scikit-learn, skops, pandas), checked on import."""

from drifting_etl.core.extras import require_extra

require_extra("retrain", feature="the reference retraining job")
