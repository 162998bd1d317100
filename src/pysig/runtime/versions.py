"""The installed runtimes' versions, for --version and reports (without importing them)."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTIONS = {"tflite": "tflite-runtime", "litert": "ai-edge-litert"}
# Their import names, as reports name them.
PACKAGES = {"tflite": "tflite_runtime", "litert": "ai_edge_litert"}


def runtime_versions() -> dict[str, str]:
    """Runtime name -> installed version, for the runtimes that are installed."""
    found = {}
    for name, distribution in DISTRIBUTIONS.items():
        try:
            found[name] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return found


def installed_versions() -> str:
    versions = runtime_versions()
    if not versions:
        return "no runtime installed"
    return ", ".join(f"{DISTRIBUTIONS[name]} {version}" for name, version in versions.items())
