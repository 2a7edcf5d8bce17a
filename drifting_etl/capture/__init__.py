"""The capture SDK a model service uses: `LogWriter` for request/response logs, `LabelWriter` for late labels.

Depends only on core and store (pyarrow and fsspec), so `pip install drifting-etl` is all a model service needs.
"""

from drifting_etl.capture.writers import LabelWriter, LogWriter

__all__ = ["LabelWriter", "LogWriter"]
