"""`drifting-etl config`: help with writing a project configuration."""

from __future__ import annotations

import click

from drifting_etl.core.resources import example_project_text


@click.group()
def config() -> None:
    """Help with writing a project configuration."""


@config.command("example")
def example() -> None:
    """Print a commented example configuration with every key (redirect it to a file to start a project)."""
    click.echo(example_project_text(), nl=False)
