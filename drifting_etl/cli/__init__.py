"""The `drifting-etl` command line and the demo."""
