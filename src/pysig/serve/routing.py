"""TF Serving's REST paths: which model, version or label, and which API a request is for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from .errors import InvalidArgument

_INT64_MAX = 2**63 - 1

# The path patterns of TF Serving's http_rest_api_util (matched case-insensitively).
_VERB = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE,
)
_STATUS = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE,
)
API_PREFIX = "/v1/"


@dataclass(frozen=True)
class Route:
    api: str  # "predict", "classify", "regress", "metadata" or "status"
    model: str
    version: int | None
    label: str | None


# Clients call the same few paths over and over; bounded, so odd paths cannot grow it.
@lru_cache(maxsize=1024)
def route(method: str, path: str) -> Route:
    """The route of a request under /v1/; raises TF Serving's errors for the others."""
    match = None
    if method == "POST":
        match = _VERB.fullmatch(path)
    elif method == "GET":
        match = _STATUS.fullmatch(path)
    if match is None:
        raise InvalidArgument(f"Malformed request: {method} {path}")
    name, version_text, label, api = match.groups()
    if not name:
        raise InvalidArgument("Missing model name in request.")
    version = None
    if version_text is not None:
        version = int(version_text)
        if version > _INT64_MAX:
            raise InvalidArgument(f"Failed to convert version: {version_text} to numeric.")
    return Route(
        api=(api or "status").lower(),
        model=unquote(name),
        version=version,
        label=None if label is None else unquote(label),
    )
