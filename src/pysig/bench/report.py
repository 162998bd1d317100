"""Rendering `pysig bench` reports (text and Markdown tables), with machine and version facts."""

from __future__ import annotations

import datetime as dt
import io
import os
import platform
from typing import Any, Mapping, Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

from .._version import __version__
from ..runtime.versions import DISTRIBUTIONS, PACKAGES, runtime_versions

_COLUMNS = (
    "method",
    "runs",
    "min",
    "p50",
    "p90",
    "p99",
    "max",
    "calls/s",
    "vs floor",
    "vs tflite SR",
    "vs litert SR",
)
# Columns of the ratios, shown with --compare only.
_RATIO_COLUMNS = 3


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        # Other work on the machine skews timings: this tells whether there was any.
        "load_average": list(os.getloadavg()),
    }


def cpu_model() -> str | None:
    """The CPU's name from /proc/cpuinfo (x86 "model name"; some ARM kernels give "Model")."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def versions() -> dict[str, str]:
    return {
        "pysig": __version__,
        **{PACKAGES[name]: version for name, version in runtime_versions().items()},
        "numpy": np.__version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }


def format_time(us: float) -> str:
    """A duration given in microseconds, with three significant digits and its unit."""
    # 0.9995: a value that rounds up to 1000 of a unit is shown in the next unit.
    for unit, scale in (("s", 1e6), ("ms", 1e3), ("us", 1.0)):
        if us >= scale * 0.9995:
            return f"{us / scale:.3g} {unit}"
    return f"{us * 1e3:.3g} ns"


def format_rate(per_second: float | None) -> str:
    if per_second is None:
        return "-"
    for suffix, scale in (("M", 1e6), ("k", 1e3)):
        if per_second >= scale * 0.9995:
            return f"{per_second / scale:.3g}{suffix}"
    return f"{per_second:.3g}"


def format_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.3g}x"


def format_bytes(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def tensors_text(tensors: Mapping[str, Mapping[str, Any]]) -> str:
    return (
        ", ".join(
            f"{name} {t['dtype']}[{','.join(map(str, t['shape']))}]" for name, t in tensors.items()
        )
        or "none"
    )


def rows(report: Mapping[str, Any]) -> list[list[str]]:
    return [
        [
            m["label"],
            str(m["runs"]),
            *(format_time(m[key]) for key in ("min_us", "p50_us", "p90_us", "p99_us", "max_us")),
            format_rate(m["throughput_per_s"]),
            format_ratio(m["ratio_to_floor"]),
            format_ratio(m["ratio_to_tflite_signature_runner"]),
            format_ratio(m["ratio_to_litert_signature_runner"]),
        ]
        for m in report["methods"]
    ]


def _compared(report: Mapping[str, Any]) -> bool:
    return bool(report["options"]["compare"])


def load_text(report: Mapping[str, Any]) -> str:
    one, five, fifteen = report["machine"]["load_average"]
    return f"{one:.2f} (1 min), {five:.2f} (5 min), {fifteen:.2f} (15 min)"


def format_table(report: Mapping[str, Any]) -> str:
    """The text `pysig bench` prints: a heading, a table, notes and peak RSS."""
    model = report["model"]
    options = report["options"]
    threads = options["num_threads"] or "default"
    amount = (
        f"runs: {options['runs']} per method"
        if options["runs"] is not None
        else f"duration: {options['duration']:g} s per method"
    )
    name = os.path.basename(model["path"])
    lines = [
        f"{name}, signature {model['signature']!r}: inputs {tensors_text(model['inputs'])}",
        f"threads: {threads}, warmup: {options['warmup']}, {amount}, {options['rounds']} rounds",
        "",
    ]
    columns: Sequence[str] = _COLUMNS if _compared(report) else _COLUMNS[:-_RATIO_COLUMNS]
    table = Table(box=None, pad_edge=False, show_edge=False, header_style=None)
    for position, column in enumerate(columns):
        table.add_column(column, justify="left" if position == 0 else "right", no_wrap=True)
    for row in rows(report):
        table.add_row(*row[: len(columns)])
    lines.append(_plain_text(table))
    lines.append("")
    if _compared(report):
        lines.append(
            "vs floor: median time over the floor's of the method's runtime; vs tflite SR, "
            "vs litert SR: over tflite_runtime's / ai_edge_litert's SignatureRunner's."
        )
    lines.append(
        f"Python-timed calls include the timing loop: {format_time(report['timing_overhead_us'])} "
        "per call."
    )
    lines.extend(f"skipped {s['label']}: {s['reason']}" for s in report["skipped"])
    lines.append(f"peak RSS: {format_bytes(report['peak_rss_bytes'])}")
    lines.append(f"load average after the run: {load_text(report)}")
    return "\n".join(lines)


def _plain_text(table: Table) -> str:
    """The table as plain text, as wide as it needs: the same on a terminal and in a pipe."""
    console = Console(file=io.StringIO(), width=1000, color_system=None, highlight=False)
    console.print(table)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())  # type: ignore[attr-defined]


def format_markdown(report: Mapping[str, Any]) -> str:
    """One model's section of benchmarks/RESULTS.md."""
    model = report["model"]
    columns: Sequence[str] = _COLUMNS if _compared(report) else _COLUMNS[:-_RATIO_COLUMNS]
    heading = (
        f"Signature `{model['signature']}`: inputs {tensors_text(model['inputs'])}; "
        f"outputs {tensors_text(model['outputs'])}. Model file {format_bytes(model['bytes'])}."
    )
    lines = [
        heading,
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|",
    ]
    lines.extend("| " + " | ".join(row[: len(columns)]) + " |" for row in rows(report))
    lines.append("")
    lines.extend(f"- skipped {s['label']}: {s['reason']}" for s in report["skipped"])
    lines.append(
        f"- Python-timed calls include the timing loop: "
        f"{format_time(report['timing_overhead_us'])} per call"
    )
    lines.append(f"- peak RSS of the benchmark process: {format_bytes(report['peak_rss_bytes'])}")
    lines.append(f"- load average after the run: {load_text(report)}")
    return "\n".join(lines)


def environment_markdown(report: Mapping[str, Any]) -> str:
    """Machine and versions, for the top of benchmarks/RESULTS.md."""
    m, v = report["machine"], report["versions"]
    cpu = m["cpu_model"] or "unknown CPU"
    machine_line = f"- machine: {cpu}, {m['cpu_count']} CPUs, {m['machine']}, {m['platform']}"
    versions_line = (
        f"- versions: pysig {v['pysig']}, "
        + "".join(
            f"{DISTRIBUTIONS[name]} {v[package]}, "
            for name, package in PACKAGES.items()
            if package in v
        )
        + f"numpy {v['numpy']}, {v['python_implementation']} {v['python']}"
    )
    return f"{machine_line}\n{versions_line}"


def results_heading(
    title: str, script: str, command: str, report: Mapping[str, Any], versions_extra: str = ""
) -> list[str]:
    """The top of a benchmark's results file: what wrote it and when, the machine, the
    versions, and the load average before and after the run (``report["load_before"]``)."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    before, after = (
        ", ".join(f"{value:.2f}" for value in loads)
        for loads in (report["load_before"], report["machine"]["load_average"])
    )
    return [
        f"# {title}",
        "",
        f"Written by `benchmarks/{script}` on {now}: `{command}`.",
        "",
        environment_markdown(report) + versions_extra,
        f"- load average (1, 5, 15 min) before: {before}; after: {after}",
    ]
