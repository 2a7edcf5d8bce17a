"""The HTML drift report of a window."""
