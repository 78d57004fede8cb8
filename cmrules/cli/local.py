"""The ``local`` group: the embedded local database."""

from __future__ import annotations

import click

from .app import cli
from .common import open_session, progress


@cli.group()
def local() -> None:
    """The embedded local database."""


@local.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--keep-demo",
    is_flag=True,
    help="Keep the bundled demo agencies beside your data (default: your first import "
    "replaces a store that holds only the demo).",
)
@click.pass_context
def local_import(ctx: click.Context, file: str, keep_demo: bool) -> None:
    """Import organisations, contacts, activities and engagements from YAML or JSON.

    Nothing partial is committed: a bad row stops the import with its file, row and line.
    Importing your own organisations into a store that holds only the demo replaces the
    demo (and says so), unless --keep-demo.

    \b
    Example:
      cmrules local import examples/import-example.yaml
    """
    from ..errors import ConfigError

    session = open_session(ctx)
    conn = session.connector  # built through the entry-point registry, like every connector
    importer = getattr(conn, "import_file", None)
    if conn.name != "local" or importer is None:
        raise ConfigError(
            f"'local import' needs source: local (this config uses {session.config.source})"
        )
    with progress(ctx, session.config.language) as on_progress:
        counts = importer(file, replace_demo=not keep_demo, on_progress=on_progress)
    if counts.pop("demo_replaced", 0):
        click.echo("replaced the bundled demo data with yours (use --keep-demo to keep the demo)")
    click.echo(
        "imported "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + f" into {getattr(conn, 'path', conn.describe())}"
    )


@local.command("path")
@click.pass_context
def local_path(ctx: click.Context) -> None:
    """Print the local database path (creating it from the demo if needed)."""
    session = open_session(ctx)
    conn = session.connector
    if conn.name == "local":
        conn.setup()  # creates the database from the demo if needed
        click.echo(str(getattr(conn, "path", "")))
