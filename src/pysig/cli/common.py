"""What every ``pysig`` command shares: the MODEL argument, loading, option parsers,
exit codes and running work so that Ctrl-C cancels it."""

from __future__ import annotations

import argparse
import threading
from typing import Any, Callable, TypeVar

from .._resources import DEMO_MODEL_PATH
from ..bench.inputs import BadArgument, parse_shape
from ..interpreter import Interpreter
from ..runtime.choose import RUNTIMES

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def add_command(
    commands: Any, name: str, handler: Callable[[argparse.Namespace], int], **kwargs: Any
) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(name, **kwargs)
    command.set_defaults(handler=handler, parser=command)
    command.add_argument(
        "model", nargs="?", metavar="MODEL", help="a .tflite file (default: the demo model)"
    )
    command.add_argument(
        "--runtime",
        choices=RUNTIMES,
        help="the runtime that runs the model (default: auto, the one that runs it "
        "correctly and fastest)",
    )
    return command


def add_input_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--shape",
        action="append",
        type=parse_shape,
        metavar="NAME=D0,D1,...",
        help="run input NAME with this shape, e.g. x=4,224,224,3 (repeatable)",
    )
    command.add_argument(
        "--seed", type=int, default=0, help="seed of the random inputs (default: 0)"
    )
    command.add_argument(
        "--num-threads", type=positive_int, metavar="T", help="threads the runtime may use"
    )


def int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def load(args: argparse.Namespace) -> tuple[Interpreter, str]:
    path = DEMO_MODEL_PATH if args.model is None else args.model
    options: dict[str, Any] = {"num_threads": getattr(args, "num_threads", None)}
    if getattr(args, "runtime", None) is not None:
        options["runtime"] = args.runtime
    return Interpreter(path, **options), path


def signature_keys(args: argparse.Namespace, interpreter: Interpreter) -> list[str]:
    """The signature ``--signature`` names, else all of the model's, in the model's order."""
    keys = list(interpreter.get_signature_list())
    if args.signature is None:
        return keys
    if args.signature not in keys:
        raise BadArgument(
            f"--signature: the model has no signature {args.signature!r} (its signatures: "
            f"{listed(keys)})"
        )
    return [args.signature]


def several_signatures(keys: list[str], need: str) -> BadArgument:
    return BadArgument(f"{need}: the model has {len(keys)} signatures ({listed(keys)})")


def listed(keys: list[str]) -> str:
    return ", ".join(map(repr, keys))


def interruptible(work: Callable[[], T], cancel: Callable[[], None]) -> T:
    """Run ``work`` in a worker thread so that Ctrl-C reaches the main thread at once;
    on Ctrl-C (or any exception while waiting), ``cancel()`` stops the work, the worker
    is waited for, and the exception propagates."""
    result: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            result.append(work())
        except BaseException as error:  # noqa: BLE001  (re-raised in the main thread)
            failure.append(error)
        finally:
            done.set()

    worker = threading.Thread(target=target, name="pysig-cli-worker")
    # Waiting on an Event, not on Thread.join(): before Python 3.13, a join() interrupted
    # by Ctrl-C marks the thread as finished although it is still running. Any exception
    # stops the work, not only KeyboardInterrupt: another one can come out of the wait (a
    # signal handler of another library's, or a signal landing between two steps of
    # Event.wait(), which then releases its lock twice and raises RuntimeError). Once, under
    # load, the main thread reached join() while the uncancelled worker ran on forever.
    # Ctrl-C can also come while start() waits for the new thread.
    try:
        worker.start()
        done.wait()
    except BaseException:
        cancel()
        if worker.ident is not None:  # it runs: wait for the cancelled work to end
            done.wait()
        raise
    finally:
        if worker.ident is not None:
            worker.join()
    if failure:
        raise failure[0]
    return result[0]
