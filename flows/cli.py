"""The `sparkpick` command: parse arguments, call a flow or a plain function, print. No logic here.

Heavy libraries (pandas, MLflow, Prefect, LightGBM) are imported inside the commands that need them, so
that a command like `video-features` starts quickly.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from flows.invocation import HOME_ENV, resolve
from sparkpick.errors import InputError, SparkpickError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="sparkpick: rank organic TikTok posts by expected Spark Ad uplift.",
)

# Whether this process is the `sparkpick` command itself (main), rather than the app invoked inside another
# program (a test's CliRunner): only then do its temporary files move into the home for the process's life.
_whole_process = False


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(help=f"Folder for everything a run writes (default: ${HOME_ENV} or the current folder)."),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file overlaid on configs/default.yaml.")] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False,
) -> None:
    ctx.obj = resolve(home, config, debug, temporary_in_home=_whole_process)


def _echo_err(message: str) -> None:
    from flows.commands.terminal_text import terminal_safe

    # An error may quote outside text (a bad cell's value, an API's message): shown, never obeyed.
    typer.secho(terminal_safe(message, lines=True), fg=typer.colors.RED, err=True)


def _click_classes(name: str) -> tuple[type, ...]:
    """click's exception class `name`, and typer's own copy of it (typer 0.2x vendors click as
    `typer._click`, whose exceptions are not click's: both are caught)."""
    import click

    found: list[type] = [getattr(click.exceptions, name)]
    try:
        from typer._click import exceptions as vendored
    except ImportError:  # a typer that uses click itself
        return tuple(found)
    return (*found, getattr(vendored, name))


def _print_traceback() -> None:
    """The current exception's traceback (`--debug`), its messages made inert: they may quote outside text."""
    from flows.commands.terminal_text import terminal_safe

    sys.stderr.write(terminal_safe(traceback.format_exc(), lines=True))


def _is_usage_error(exc: BaseException) -> bool:
    """A bad option or argument (unknown, missing, or a value it refuses): exit status 2."""
    return isinstance(exc, _click_classes("UsageError"))


def _is_click_error(exc: BaseException) -> bool:
    return isinstance(exc, _click_classes("ClickException"))


def main() -> None:
    """Entry point: run the app and turn errors into one paragraph and an exit status (2 input, 1 other)."""
    global _whole_process
    _whole_process = True
    debug = "--debug" in sys.argv
    try:
        # Without standalone mode click returns (not raises) a `typer.Exit`'s code: pass it on.
        code = app(standalone_mode=False)
    except InputError as exc:
        if debug:
            _print_traceback()
        _echo_err(f"Error: {exc}")
        sys.exit(2)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", None)
        sys.exit(code if code is not None else getattr(exc, "code", 0))
    except typer.Abort:
        _echo_err("Aborted.")
        sys.exit(1)
    except Exception as exc:  # click's usage errors carry their own exit code
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]  # names the option: "Invalid value for '--top': ..."
            sys.exit(2)
        if _is_click_error(exc):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(int(getattr(exc, "exit_code", 1)))
        if debug:
            _print_traceback()
        kind = "" if isinstance(exc, SparkpickError) else f"{type(exc).__name__}: "
        _echo_err(f"Error: {kind}{exc}\n(run again with --debug for the traceback)")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


# Commands live in flows/commands/*.py, one module per stage, each registering on `app`.
from flows.commands import register_all  # noqa: E402

register_all(app)

if __name__ == "__main__":
    main()
