"""The README's Ray example runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def ray_example() -> str:
    text = README.read_text()
    section = text[text.index("## Batch inference on a cluster") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "no Python example in the README's batch inference section"
    return match.group(1)


def test_readme_ray_example_runs_as_written(ray_cluster: Any) -> None:
    code = ray_example()
    assert "ray.init()" in code
    # ray.init() joins the running test cluster, as it would join a user's cluster.
    env = {**os.environ, "RAY_ADDRESS": ray_cluster.get_runtime_context().gcs_address}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(r"'data': array\(\[([^\]]*)\][^}]*'y': array\(\[([^\]]*)\]", done.stdout)
    assert len(rows) == 2, done.stdout
    for data, y in rows:
        x = [float(v) for v in data.split(",")]
        got = [float(v) for v in y.split(",")]
        # The demo's scale signature: y = 2.5 x + 1.
        assert all(abs(g - (2.5 * v + 1)) < 1e-5 for g, v in zip(got, x))
