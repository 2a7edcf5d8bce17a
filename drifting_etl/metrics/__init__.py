"""Pure metrics over profiles: drift methods, data quality, performance against thresholds, a window's evaluation.

Must not import storage, the database or orchestration."""
