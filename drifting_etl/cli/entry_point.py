"""The `drifting-etl` console script: checks that the [etl] extra is installed, then hands over to the CLI.

A model service installs the bare package for the capture SDK and still gets this script; without the extra it
must print which extra to install rather than a ModuleNotFoundError traceback. So this module imports nothing
beyond the core, and drifting_etl.cli.main (which imports click, numpy, ...) only once the check has passed.
"""

from __future__ import annotations

import sys

from drifting_etl.core.errors import MissingExtraError
from drifting_etl.core.extras import require_extra


def main() -> None:
    try:
        require_extra("etl", feature="the drifting-etl command")
    except MissingExtraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    from drifting_etl.cli.main import main as cli

    cli()
