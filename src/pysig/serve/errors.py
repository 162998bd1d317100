"""Errors a request can end with, each with the HTTP status TF Serving gives its status code."""

from __future__ import annotations

from http import HTTPStatus

from ..errors import (
    InputNameError,
    InputShapeError,
    InputTypeError,
    InvokeCancelledError,
    InvokeError,
    PysigError,
    SignatureNotFoundError,
    UnsupportedOpError,
    UnsupportedTypeError,
)


class ApiError(Exception):
    """A request that ends with ``{"error": message}`` and this HTTP status."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ApiError):
    status = HTTPStatus.BAD_REQUEST


class NotFound(ApiError):
    status = HTTPStatus.NOT_FOUND


class PayloadTooLarge(ApiError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class ResourceExhausted(ApiError):
    status = HTTPStatus.TOO_MANY_REQUESTS


class Unavailable(ApiError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class Unimplemented(ApiError):
    status = HTTPStatus.NOT_IMPLEMENTED


def from_pysig(error: PysigError) -> ApiError:
    """What a pysig error raised by a call becomes: the request's fault, or the server's."""
    if isinstance(error, SignatureNotFoundError):
        return NotFound(str(error))
    if isinstance(error, InvokeCancelledError):
        return Unavailable(f"the call was cancelled: {error}")
    # A model that fails on the request's values (an index out of range, ...) is
    # INVALID_ARGUMENT in TensorFlow too.
    if isinstance(error, (InputNameError, InputTypeError, InputShapeError, InvokeError)):
        return InvalidArgument(str(error))
    # A signature the server's runtime cannot run (LiteRT and string tensors, say): the
    # request is fine and so is the server, as UNIMPLEMENTED is in TensorFlow.
    if isinstance(error, (UnsupportedTypeError, UnsupportedOpError)):
        return Unimplemented(str(error))
    return ApiError(f"{type(error).__name__}: {error}")
