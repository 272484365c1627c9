"""What every benchmark prints the same way: its lines (past the services' own stdout), and a header that
says how to reproduce the run and how busy the machine was."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator


def say(line: str) -> None:
    """A report line, on the real stdout even inside :func:`quiet`."""
    print(line, file=sys.__stdout__, flush=True)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The services' JSON logs and EMF metric lines (stdout in Lambda) are kept out of the report."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def header(command: str, *, needs_f1data: bool = True) -> None:
    """The reproduce line and the machine's CPUs and load; exits when the shared F1 data is needed and not there."""
    from f1common.settings import Settings

    if needs_f1data and Settings().f1data_dir is None:
        raise SystemExit("the shared F1 data is needed: set GPI_F1DATA_DIR to the f1data directory")
    say(f"reproduce: {command}{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}")
    say(f"machine: {os.cpu_count()} CPUs; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
