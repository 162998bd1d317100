"""The ``pysig`` command: ``info``, ``signatures``, ``run`` and ``bench`` on a model file or
the demo model, ``serve`` (TF Serving's REST API) and ``convert`` from TensorFlow models.

Exit status: 0 on success, 1 when the model cannot be loaded or run, 2 for bad
arguments (argparse's convention), 130 after Ctrl-C. Each command is a module of
this package with an ``add_parser(commands)``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import numpy as np

from .._resources import DEMO_MODEL_PATH
from .._version import __version__
from ..bench.inputs import BadArgument
from ..bench.plot import PlotUnavailable
from ..errors import PysigError
from ..runtime.versions import installed_versions
from . import bench, convert, info, run, serve, signatures
from .common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE

COMMANDS = (info, signatures, run, bench, serve, convert)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except BadArgument as error:
        command: argparse.ArgumentParser = args.parser
        command.error(str(error))  # exits with status 2
    except PlotUnavailable as error:
        print(f"pysig: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pysig: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    # tflite_runtime reports its own failures as ValueError or RuntimeError.
    except (PysigError, OSError, ValueError, RuntimeError) as error:
        print(f"pysig: error: {error}", file=sys.stderr)
        return EXIT_FAILURE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pysig",
        description="Inspect, run and benchmark TensorFlow Lite models by signature.",
        epilog="With no MODEL, every command uses the demo model shipped in the package "
        f"({os.path.basename(DEMO_MODEL_PATH)}). Run 'pysig COMMAND --help' for a command's options.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__} ({installed_versions()}, "
        f"numpy {np.__version__}, Python {sys.version.split()[0]})",
    )
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True
    for command in COMMANDS:
        command.add_parser(commands)
    return parser
