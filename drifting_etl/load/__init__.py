"""Load: the metrics tables, their rows, the database (replace-window transactions, read queries), migrations and
SQL views.

Imports only core (and the store's location for the default SQLite file); never profiles or orchestration."""
