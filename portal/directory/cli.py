"""`flask --app portal directory import FILE` and `directory export FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.db import database
from portal.directory.importer import (
    ImportAborted,
    export_extraction,
    extraction_size,
    import_extraction,
)

directory_cli = AppGroup("directory", help="Import and export the MSSanté directory extraction.")


@directory_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--max-rejected",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 100),
    help="Abort (keeping the current directory) when more than this percentage of lines is rejected.",
)
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Accept a file with less than half the addresses of the current directory.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report to this file.",
)
def import_command(
    file: Path, max_rejected: float, allow_shrink: bool, rejects: Path | None
) -> None:
    """Replace the imported directory with FILE (the extraction, .txt or .zip)."""
    engine = database().engine
    try:
        size = extraction_size(file)
        with click.progressbar(
            length=size, label="Importing", file=sys.stderr, show_eta=True
        ) as bar:
            report = import_extraction(
                engine,
                file,
                progress=bar.update,
                max_rejected_ratio=max_rejected / 100,
                allow_shrink=allow_shrink,
            )
    except ImportAborted as error:
        raise click.ClickException(f"{error} The previous directory is unchanged.") from error
    lines = report.lines()
    for line in lines:
        click.echo(line)
    if rejects is not None:
        rejects.write_text("\n".join(lines) + "\n", encoding="utf-8")


@directory_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_command(file: Path) -> None:
    """Write the public directory to FILE in the extraction format (.txt, or .zip)."""
    with click.progressbar(length=0, label="Exporting", file=sys.stderr) as bar:
        written = export_extraction(database().engine, file, progress=bar.update)
    click.echo(f"Entries written: {written} (liste rouge entries are never exported)")
    click.echo(f"File: {file}")
