"""Google Cloud SDKs, imported lazily in this one place (the shape of SkyPilot's ``sky/adaptors``).

google-cloud-storage and ``aiplatform_v1`` take seconds to import; `nasctl status`, `diff` and
`validate` on local state must not pay for them, and a test asserts they don't. Every module of
nasctl that talks to Google Cloud asks here for the SDK instead of importing it at the top.
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import JobServiceClient
    from google.cloud.storage import Client

EMULATOR_PROJECT = "nasctl-emulator"


def storage() -> ModuleType:
    from google.cloud import storage as module  # noqa: PLC0415 - the point of this module

    return module


def storage_retry() -> ModuleType:
    from google.cloud.storage import retry  # noqa: PLC0415

    return retry


def api_exceptions() -> ModuleType:
    from google.api_core import exceptions  # noqa: PLC0415

    return exceptions


def aiplatform() -> ModuleType:
    """The low-level ``google.cloud.aiplatform_v1`` (1.4 s to import; the high-level SDK takes 3.2 s)."""
    from google.cloud import aiplatform_v1  # noqa: PLC0415

    return aiplatform_v1


def duration_pb2() -> ModuleType:
    from google.protobuf import duration_pb2 as module  # noqa: PLC0415

    return module


def _anonymous_credentials():  # noqa: ANN202 - google.auth.credentials.AnonymousCredentials
    from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415

    return AnonymousCredentials()


def storage_client() -> "Client":
    """A storage client: anonymous against an emulator (``STORAGE_EMULATOR_HOST``), else ADC."""
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        return storage().Client(project=EMULATOR_PROJECT, credentials=_anonymous_credentials())
    return storage().Client()


def job_client(region: str, api_endpoint: str | None = None) -> "JobServiceClient":
    """The regional JobServiceClient; `api_endpoint` (e.g. a loopback emulator) replaces the default."""
    v1 = aiplatform()
    if api_endpoint:
        insecure = api_endpoint.startswith("http://")
        return v1.JobServiceClient(transport="rest", client_options={"api_endpoint": api_endpoint},
                                   credentials=_anonymous_credentials() if insecure else None)
    return v1.JobServiceClient(client_options={"api_endpoint": f"{region}-aiplatform.googleapis.com"})


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/some/prefix`` → ("bucket", "some/prefix") with no trailing slash."""
    if not uri.startswith("gs://"):
        raise ValueError(f"not a gs:// location: {uri!r}")
    bucket, _, prefix = uri[len("gs://"):].partition("/")
    if not bucket:
        raise ValueError(f"gs:// location without a bucket: {uri!r}")
    return bucket, prefix.strip("/")


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors worth retrying on a Google API call: 429, 500, 502, 503, 504, deadlines and dropped connections."""
    exceptions = api_exceptions()
    from requests import exceptions as http  # noqa: PLC0415 - the REST transport's own errors

    return (exceptions.TooManyRequests, exceptions.InternalServerError, exceptions.BadGateway,
            exceptions.ServiceUnavailable, exceptions.GatewayTimeout, exceptions.DeadlineExceeded,
            http.ConnectionError, http.Timeout)


def timeout_errors() -> tuple[type[BaseException], ...]:
    """The transient errors after which the request may still be executing (the caller stopped waiting)."""
    from requests import exceptions as http  # noqa: PLC0415

    return api_exceptions().DeadlineExceeded, api_exceptions().GatewayTimeout, http.Timeout


_HTTP_VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def describe_error(error: BaseException) -> str:
    """One line for a Google API error: its kind and the service's message (a 429 names the quota), without the
    request line the REST transports put first ("GET https://...: ")."""
    message = " ".join(str(getattr(error, "message", None) or error).split())
    verb, _, rest = message.partition(" ")
    if verb in _HTTP_VERBS and ": " in rest:
        message = rest.split(": ", 1)[1]
    return f"{type(error).__name__}: {message}"[:300]
