"""Google-style API errors: what the REST client turns into ``google.api_core.exceptions``."""
from __future__ import annotations

from typing import Any

# gRPC status name -> HTTP status, as google.api_core maps them back (AIP-193).
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500, "UNAVAILABLE": 503, "UNIMPLEMENTED": 501,
}
# google.rpc.Code numbers used in a job's `error` field.
RPC_CODE = {"CANCELLED": 1, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
            "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "INTERNAL": 13, "UNAVAILABLE": 14}


class ApiError(Exception):
    """An error answer: HTTP status plus ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
        self.http = HTTP_STATUS[status]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.http, "message": self.message, "status": self.status}}


def invalid(message: str) -> ApiError:
    return ApiError("INVALID_ARGUMENT", message)


def status_for_http(http: int) -> str:
    """The status name an injected HTTP error carries (429, 500, 503)."""
    return {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[http]
