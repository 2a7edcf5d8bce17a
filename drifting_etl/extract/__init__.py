"""Extract: list a window's log partitions, stream their rows, and read late labels.

Reads the store; computes nothing and never touches the database or orchestration."""
