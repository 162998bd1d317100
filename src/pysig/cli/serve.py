"""``pysig serve``: TF Serving's REST API over pysig Pools, with TF Serving's flag names."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from ..bench.inputs import BadArgument
from .common import non_negative_int, positive_float, positive_int


def add_parser(commands: Any) -> None:
    command = commands.add_parser(
        "serve",
        help="serve models over TensorFlow Serving's REST API (needs pysig[serve])",
        description="Serve TensorFlow Lite models over TensorFlow Serving's REST API: model "
        "status and metadata, predict (row and columnar), classify and regress, with "
        "versions polled from the base path and swapped in without failing a request, "
        "optional dynamic batching, Prometheus metrics at /monitoring/prometheus/metrics and "
        "an OpenAPI document at /openapi.json. SIGTERM or Ctrl-C answers the requests in "
        "flight and exits.",
        epilog="MODEL_BASE_PATH holds numeric version folders, each with a model.tflite; the "
        "newest is served. A single .tflite file is served as version 1. Needs the serve extra: "
        'pip install "pysig[serve]".',
    )
    command.set_defaults(handler=_serve, parser=command)
    models = command.add_argument_group("models (as TF Serving's flags)")
    models.add_argument(
        "--model_name", default="default", help="name of the model (default: default)"
    )
    models.add_argument(
        "--model_base_path", help="folder of numeric version folders, or a .tflite file"
    )
    models.add_argument(
        "--model_config_file",
        help="a ModelServerConfig text file with a model_config_list (instead of --model_name "
        "and --model_base_path)",
    )
    models.add_argument(
        "--file_system_poll_wait_seconds",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between looks for new versions; 0: look once at start (default: 1)",
    )
    network = command.add_argument_group("network")
    network.add_argument("--rest_api_port", type=positive_int, default=8501, help="(default: 8501)")
    network.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)",
    )
    network.add_argument(
        "--max_request_bytes",
        type=positive_int,
        default=64 << 20,
        help="larger request bodies get 413 (default: 64 MiB)",
    )
    network.add_argument(
        "--drain_seconds",
        type=positive_float,
        default=30.0,
        help="on SIGTERM, how long requests in flight may take to finish (default: 30)",
    )
    runtime = command.add_argument_group("inference")
    runtime.add_argument(
        "--runtime",
        choices=("auto", "tflite", "litert"),
        help="the runtime each interpreter uses (default: pysig's choice)",
    )
    runtime.add_argument(
        "--num_threads", type=positive_int, default=1, help="threads per interpreter (default: 1)"
    )
    runtime.add_argument(
        "--pool_size",
        type=positive_int,
        help="interpreters per model version (default: the CPUs this process may use)",
    )
    runtime.add_argument(
        "--max_queued_requests",
        type=non_negative_int,
        default=64,
        help="requests a model version holds beyond its interpreters before answering 429 "
        "(default: 64; with batching, max_enqueued_batches bounds the batched signatures)",
    )
    batching = command.add_argument_group("batching (as TF Serving's flags)")
    batching.add_argument(
        "--enable_batching",
        action="store_true",
        help="merge concurrent requests to signatures whose inputs and outputs have a dynamic "
        "first dimension",
    )
    batching.add_argument(
        "--batching_parameters_file",
        help="a BatchingParameters text file (max_batch_size, batch_timeout_micros, "
        "max_enqueued_batches, num_batch_threads, allowed_batch_sizes, "
        "pad_variable_length_inputs)",
    )
    command.add_argument("--verbose", action="store_true", help="log every model event and request")


def _serve(args: argparse.Namespace) -> int:
    try:
        # The serve extra's modules, imported only by this command.
        from ..serve.config import (
            ConfigError,
            ModelConfig,
            read_batching_parameters,
            read_model_config_file,
        )
        from ..serve.models import ServingOptions
        from ..serve.server import ServerOptions, run
    except ImportError as error:
        raise BadArgument(
            f'pysig serve needs the serve extra: pip install "pysig[serve]" ({error})'
        ) from None
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pysig.serve").setLevel(logging.INFO)
    try:
        if args.model_config_file is not None:
            if args.model_base_path is not None:
                raise BadArgument("give --model_config_file or --model_base_path, not both")
            models = read_model_config_file(args.model_config_file)
        elif args.model_base_path is not None:
            models = [ModelConfig(args.model_name, os.path.abspath(args.model_base_path))]
        else:
            raise BadArgument("give --model_base_path (or --model_config_file)")
        if args.batching_parameters_file is not None and not args.enable_batching:
            raise BadArgument("--batching_parameters_file needs --enable_batching")
        batching = (
            read_batching_parameters(args.batching_parameters_file)
            if args.enable_batching
            else None
        )
    except ConfigError as error:
        raise BadArgument(str(error)) from None
    if args.file_system_poll_wait_seconds < 0:
        raise BadArgument("--file_system_poll_wait_seconds must not be negative")
    pool_options: dict[str, Any] = {"num_threads": args.num_threads}
    if args.pool_size is not None:
        pool_options["size"] = args.pool_size
    if args.runtime is not None:
        pool_options["runtime"] = args.runtime
    run(
        ServerOptions(
            host=args.host,
            port=args.rest_api_port,
            models=models,
            serving=ServingOptions(pool_options, batching, args.max_queued_requests),
            poll_seconds=args.file_system_poll_wait_seconds,
            max_request_bytes=args.max_request_bytes,
            drain_seconds=args.drain_seconds,
        )
    )
    return 0
