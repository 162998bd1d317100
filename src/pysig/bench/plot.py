"""`--plot`: latency distributions of `pysig bench` reports as a PNG (needs matplotlib)."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from .report import format_time

PLOT_EXTRA_HINT = "pip install 'pysig[plot]'  (or: pip install matplotlib)"


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def check_available() -> None:
    """Fail before a long run rather than after it."""
    try:
        import matplotlib as mpl  # noqa: F401  (an optional extra: imported on use)
    except ImportError:
        raise PlotUnavailable(f"--plot needs matplotlib: {PLOT_EXTRA_HINT}") from None


def write_plot(path: str, reports: Sequence[Mapping[str, Any]], titles: Sequence[str]) -> None:
    """One panel per report: each method's latency distribution (CDF up to p99, log time axis;
    the rare slowest calls would stretch the axis and are in the table's max column)."""
    check_available()
    import matplotlib as mpl

    mpl.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        len(reports), 1, figsize=(9, 3.2 * len(reports)), squeeze=False, layout="constrained"
    )
    for axis, report, title in zip(axes[:, 0], reports, titles):
        for method in report["methods"]:
            quantiles = method["quantiles_us"][:100]
            fractions = [i / 100 for i in range(len(quantiles))]
            label = f"{method['label']} (p50 {format_time(method['p50_us'])})"
            axis.step(quantiles, fractions, where="post", label=label)
        axis.set_xscale("log")
        axis.set_xlabel("latency per call (us, log scale)")
        axis.set_ylabel("fraction of calls (to p99)")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small", loc="lower right")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
