"""State in a GCS bucket: ``gs://bucket/prefix/<experiment>/``, one JSON object per key.

The store's generation is the GCS object generation, so compare-and-swap is ``if_generation_match``
(0 = create only) and is enforced by the server. The lock is the create-only object ``lock.json``
holding ``holder``, ``expires_at`` and a random ``nonce``; its fencing token is the object generation
it was created (or taken over) with, which renewals carry on as ``token`` (generations only grow, so a
later acquisition has a larger token).

Fencing: GCS has no multi-object transaction, so a fenced write reads the lock (one request) just
before it and refuses with LockLost when the token is not ours. What remains is the window between
that read and the write reaching the server: a holder stalled exactly there for longer than its
lease can land one write after the takeover. Every document write is compare-and-swap, so that write
cannot overwrite the new holder's: the new holder's next write of the document fails with
PreconditionFailed (its apply stops; the next apply continues from the state), nothing is lost.

Retries (backoff on 429/5xx and connection errors) are used for reads and for writes that carry a
generation precondition, never for unconditional writes: a retried conditional write cannot apply
twice. A conditional write whose first attempt did land answers 412 on its retry: for documents
that is a spurious conflict the caller resolves by re-reading; for the lock, the store recognises
its own write and keeps the lock: an acquisition by its random nonce, a renewal by its token (which
also covers a renewal that landed though the whole call failed). Each retry is logged as a warning (the
CLI prints it), so an `apply` waiting out a GCS outage says so instead of looking stuck.

Reads of large documents are revalidated: the store keeps the last copy it read or wrote of a document
of at least 32 KB (the trial index: about 1 MB at 2,000 trials) with its generation, and reads its
metadata (under 1 KB) first; only a changed generation downloads it again. A long-running `apply` thus
reads a constant number of bytes per idle pass, however many trials are recorded. Smaller documents
cost no more to download than to revalidate and are always downloaded.

The lock heartbeat renews through a client of its own (:meth:`GcsStore.heartbeat_store`): a storage
client's HTTP session is not documented as thread-safe, and the reconcile thread uses this store's.

``STORAGE_EMULATOR_HOST`` is honoured by google-cloud-storage itself (anonymous credentials).
google-cloud-storage is imported lazily: ``nasctl status`` on a local store never pays for it.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any

from adaptors import gcp
from adaptors.gcp import parse_gs_uri
from state.store import (
    DEFAULT_LEASE_SECONDS,
    LOCK_KEY,
    CorruptState,
    Lease,
    LockHeld,
    LockLost,
    PreconditionFailed,
    UNREADABLE_LOCK,
    StateStore,
    Versioned,
    dumps,
)

if TYPE_CHECKING:
    from google.api_core.retry import Retry
    from google.cloud.storage import Blob, Bucket, Client
    from google.cloud.storage.retry import ConditionalRetryPolicy

log = logging.getLogger(__name__)


def _log_retry(error: Exception) -> None:
    response = getattr(error, "response", None)  # a media download's error carries GCS's answer unparsed
    if response is not None and hasattr(response, "status_code"):
        error = gcp.api_exceptions().from_http_response(response)
    log.warning("GCS answered %s (retrying)", gcp.describe_error(error))


def _retry() -> Retry:
    """The storage client's default retry (reads, idempotent writes), logging each retried error. (Retry has no
    public way to add `on_error` to a copy; this copies the fields as api_core's own ``with_*`` methods do.)"""
    retry = gcp.storage_retry().DEFAULT_RETRY
    return type(retry)(predicate=retry._predicate, initial=retry._initial, maximum=retry._maximum,
                       multiplier=retry._multiplier, timeout=retry._timeout, on_error=_log_retry)


def _retry_if_generation_specified() -> ConditionalRetryPolicy:
    """Retry a write or delete only when it carries a generation precondition (see the module docstring)."""
    module = gcp.storage_retry()
    return module.ConditionalRetryPolicy(_retry(), module.is_generation_specified, ["query_params"])

_TAKEOVER_ATTEMPTS = 5
_REVALIDATE_BYTES = 32 * 1024  # a document at least this large is downloaded again only when it changed


class GcsStore(StateStore):
    def __init__(self, uri: str, client: "Client | None" = None):
        bucket_name, prefix = parse_gs_uri(uri)
        self.uri = f"gs://{bucket_name}/{prefix}" if prefix else f"gs://{bucket_name}"
        self._prefix = f"{prefix}/" if prefix else ""
        self._bucket_name = bucket_name
        self._given_client = client
        self._copies: dict[str, tuple[bytes, int]] = {}  # key -> (payload, generation) of large documents

    @cached_property
    def _client(self) -> "Client":
        """Made on first use: opening a store (validate, cost preview) needs no credentials."""
        return self._given_client or gcp.storage_client()

    @cached_property
    def _bucket(self) -> "Bucket":
        return self._client.bucket(self._bucket_name)

    def heartbeat_store(self) -> "GcsStore":
        """The same location through a client of its own: a storage client's HTTP session is not
        documented as thread-safe, so the heartbeat thread never shares the reconcile thread's."""
        return GcsStore(self.uri, client=gcp.storage_client())

    # -- helpers ------------------------------------------------------------------------------------
    def _name(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid state key {key!r}")
        return self._prefix + key

    def _location(self, key: str) -> str:
        return f"gs://{self._bucket_name}/{self._name(key)}"

    def _blob(self, key: str) -> "Blob":
        return self._bucket.blob(self._name(key))

    def _read_raw(self, key: str) -> tuple[dict[str, Any], int] | None:
        exceptions = gcp.api_exceptions()
        try:
            raw, generation = self._download(key)
        except exceptions.NotFound:
            self._copies.pop(key, None)
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CorruptState(self._location(key), f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CorruptState(self._location(key), "not a JSON object")
        return data, generation

    def _download(self, key: str) -> tuple[bytes, int]:
        """The document's payload and generation: the kept copy when its generation is still current."""
        copy = self._copies.get(key)
        if copy is not None:
            current = self._blob(key)
            current.reload(retry=_retry())  # metadata only
            if current.generation == copy[1]:
                return copy
        blob = self._blob(key)  # no generation pinned: a concurrent overwrite reads as the newer document
        raw = blob.download_as_bytes(retry=_retry())
        self._keep(key, raw, int(blob.generation))
        return raw, int(blob.generation)

    def _write(self, key: str, payload: bytes, if_generation: int | None) -> int:
        """Upload; a precondition makes the write retryable. Raises PreconditionFailed on 412."""
        exceptions = gcp.api_exceptions()
        blob = self._blob(key)
        try:
            blob.upload_from_string(
                payload,
                content_type="application/json",
                if_generation_match=if_generation,
                retry=_retry_if_generation_specified(),
            )
        except exceptions.PreconditionFailed:
            current = self._read_raw(key)
            raise PreconditionFailed(key, if_generation, current[1] if current else 0) from None
        self._keep(key, payload, int(blob.generation))
        return int(blob.generation)

    def _keep(self, key: str, payload: bytes, generation: int) -> None:
        """Remember a large document's payload at `generation` (see the module docstring)."""
        if len(payload) >= _REVALIDATE_BYTES:
            self._copies[key] = (payload, generation)
        else:
            self._copies.pop(key, None)

    def _delete_if(self, key: str, if_generation: int) -> None:
        """Delete only at `if_generation`; checked first too, which protects emulators that do not enforce it."""
        current = self._read_raw(key)
        actual = current[1] if current else 0
        if actual != if_generation:
            raise PreconditionFailed(key, if_generation, actual)
        if actual:
            self._delete(key, if_generation)

    def _delete(self, key: str, if_generation: int | None) -> None:
        exceptions = gcp.api_exceptions()
        self._copies.pop(key, None)
        try:
            self._blob(key).delete(if_generation_match=if_generation, retry=_retry_if_generation_specified())
        except exceptions.NotFound:
            if if_generation:
                raise PreconditionFailed(key, if_generation, 0) from None
        except exceptions.PreconditionFailed:
            current = self._read_raw(key)
            raise PreconditionFailed(key, if_generation, current[1] if current else 0) from None

    # -- documents ----------------------------------------------------------------------------------
    def get(self, key: str) -> Versioned | None:
        current = self._read_raw(key)
        return Versioned(data=current[0], generation=current[1]) if current else None

    def put(self, key: str, data: dict[str, Any], if_generation: int | None = None) -> int:
        self._check_fence()
        return self._write(key, dumps(data), if_generation)

    def put_artifact(self, key: str, payload: bytes) -> None:
        self._check_fence()
        # An artifact is rewritten whole and only by the lock holder: a retried upload cannot do harm.
        self._blob(key).upload_from_string(payload, retry=_retry())

    def get_artifact(self, key: str) -> bytes | None:
        try:
            return self._blob(key).download_as_bytes(retry=_retry())
        except gcp.api_exceptions().NotFound:
            return None

    def list(self, prefix: str = "") -> list[str]:
        blobs = self._client.list_blobs(self._bucket, prefix=self._prefix + prefix, retry=_retry())
        return sorted(blob.name[len(self._prefix):] for blob in blobs)

    def delete(self, key: str, if_generation: int | None = None) -> None:
        self._check_fence()
        if if_generation is not None:
            self._delete_if(key, if_generation)
        else:
            self._delete(key, None)

    # -- lock ---------------------------------------------------------------------------------------
    def _lease_of(self, data: dict[str, Any], generation: int) -> Lease:
        """The lease in a lock object: its token is the acquisition's generation (``token`` once renewed)."""
        try:
            return Lease(holder=str(data["holder"]), expires_at=float(data["expires_at"]),
                         token=str(data.get("token", generation)), generation=generation)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptState(self._location(LOCK_KEY), f"lock without holder/expires_at ({exc})") from None

    def read_lock(self) -> Lease | None:
        current = self._read_raw(LOCK_KEY)
        return self._lease_of(*current) if current else None

    def _lock_payload(self, holder: str, lease_seconds: float, token: str | None = None) -> bytes:
        """A fresh lock (no token: its generation will be it) or a renewal carrying the acquisition's token."""
        lock = {"holder": holder, "expires_at": time.time() + lease_seconds, "nonce": uuid.uuid4().hex}
        return dumps(lock if token is None else {**lock, "token": token})

    def acquire_lock(self, holder: str, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        payload = self._lock_payload(holder, lease_seconds)
        for _ in range(_TAKEOVER_ATTEMPTS):
            try:
                generation = self._write(LOCK_KEY, payload, if_generation=0)
                return self._lease_of(json.loads(payload), generation)
            except PreconditionFailed:
                pass
            current = self._read_raw(LOCK_KEY)
            if current is None:
                continue  # released between our attempt and our read: try creating again
            if dumps(current[0]) == payload:
                return self._lease_of(*current)  # our first attempt landed; its retry saw 412
            lease = self._lease_of(*current)
            if lease.expires_at > time.time():
                raise LockHeld(lease)
            try:  # expired: take over, but only the exact generation we judged expired
                generation = self._write(LOCK_KEY, payload, if_generation=current[1])
                return self._lease_of(json.loads(payload), generation)
            except PreconditionFailed:
                continue
        held = self.read_lock()
        raise LockHeld(held or Lease(holder="(contended)", expires_at=time.time(), token="0"))

    def renew_lock(self, lease: Lease, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        payload = self._lock_payload(lease.holder, lease_seconds, token=lease.token)
        try:
            generation = self._write(LOCK_KEY, payload, if_generation=lease.generation)
        except PreconditionFailed:
            current = self.read_lock()
            if current is not None and current.token == lease.token:
                return current  # an earlier renewal of ours landed though its answer was lost: still ours
            raise LockLost(lease, current) from None
        return self._lease_of(json.loads(payload), generation)

    def release_lock(self, lease: Lease) -> None:
        try:
            self._delete_if(LOCK_KEY, lease.generation)
        except PreconditionFailed:
            pass  # taken over by someone else: theirs now, leave it

    def force_unlock(self) -> Lease | None:
        try:
            current = self.read_lock()
        except CorruptState:  # the escape hatch works on a garbage lock too
            current = UNREADABLE_LOCK
        if current is not None:
            self._delete(LOCK_KEY, None)
        return current
