"""Load: the metrics database that BI dashboards read, and everything that writes it.

- `url`: which database (`DRIFTING_DATABASE_URL`, or SQLite next to a local store), parsed, shown without password
- `engine`: connections per backend, and driver errors as `DatabaseError`
- `tables`: the table definitions (a public contract) and the closed sets their columns hold
- `rows`: the row dataclasses the pipeline hands over, checked on construction
- `migrate`: the packaged Alembic migrations (`migrations/`), upgrading and checking the revision
- `queries`: the read statements (runs, a window's rows, previous performance, retraining triggers)
- `database`: `MetricsDatabase`, the one object callers use: window writes in one transaction, and the reads
- `sql_views/`: the BI views' SQL, created by migration 0002

Imports only core (and the store's location for the default SQLite file); never profiles or orchestration."""
