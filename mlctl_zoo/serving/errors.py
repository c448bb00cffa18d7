"""The server's errors: every ``error_type`` a client can get carries its HTTP status, as
text-embeddings-inference's ``ErrorType`` does, so no handler maps names to statuses by hand.

The core raises :class:`ApiError` (``raise ApiError(ErrorType.OVERLOADED, "...")``); the HTTP edge renders it
as ``{"error": message, "error_type": type}`` with the type's status (``serving/edge/errors.py``). The table
of types and statuses is also in docs/serving.md (a test keeps the two in step).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class ErrorType(StrEnum):
    """What went wrong, as the ``error_type`` of the answer; ``.status`` is its HTTP status."""

    status: int | None

    def __new__(cls, value: str, status: int | None) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        return member

    # the request
    INVALID_JSON = "invalid_json", 400
    VALIDATION_ERROR = "validation_error", 422
    EMPTY_INPUT = "empty_input", 422
    DIMENSIONS_NOT_SUPPORTED = "dimensions_not_supported", 422
    INVALID_DIMENSIONS = "invalid_dimensions", 422
    UNKNOWN_PROMPT = "unknown_prompt", 422
    NO_CALIBRATION = "no_calibration", 422
    NO_TOKENIZER = "no_tokenizer", 422
    UNAUTHORIZED = "unauthorized", 401
    # what it asks for
    NOT_FOUND = "not_found", 404
    UNKNOWN_MODEL = "unknown_model", 404
    NO_CORPUS = "no_corpus", 404
    METHOD_NOT_ALLOWED = "method_not_allowed", 405
    # limits
    PAYLOAD_TOO_LARGE = "payload_too_large", 413
    TOO_MANY_INPUTS = "too_many_inputs", 413
    INPUT_TOO_LONG = "input_too_long", 413
    OVERLOADED = "overloaded", 429
    # the server
    NOT_READY = "not_ready", 503
    SHUTTING_DOWN = "shutting_down", 503
    INTERNAL_ERROR = "internal_error", 500
    # any other HTTP error the framework (or a route added later) raises: the status is that error's own
    HTTP_ERROR = "http_error", None


class ApiError(Exception):
    """A failure reported to the client: ``error_type`` (an :class:`ErrorType`, or its name) decides the status.

    ``status`` is given only for ``ErrorType.HTTP_ERROR``, the one type without a status of its own.
    """

    def __init__(self, error_type: ErrorType | str, message: str, headers: dict[str, str] | None = None, *,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.error_type = ErrorType(error_type)
        if (status is None) != (self.error_type.status is not None):
            raise ValueError(f"error_type {self.error_type.value!r} has the status {self.error_type.status}; "
                             "a status is given only for http_error")
        self.status: int = self.error_type.status if status is None else status
        self.message = message
        self.headers = headers or {}
