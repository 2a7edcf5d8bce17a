"""The core every stage shares: the error tree, the window, the project configuration, settings and column names.

Imports nothing else of drifting_etl, and nothing heavier than pydantic, yaml and croniter."""
