"""A loopback HTTP server implementing the subset of the Vertex AI v1 REST API that nasctl uses.

CustomJobs and NasJobs: create, get, list (with ``labels.k="v"`` filters joined by AND), cancel;
NAS trial details: list. Every request is recorded (method, path, query, JSON body) so tests can
assert exactly what the real ``JobServiceClient`` (REST transport) sent. Tests move jobs between
states and add trial details through the server object, the way Vertex would over time.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_COLLECTION = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+)/(customJobs|nasJobs)$")
_ITEM = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/(?:customJobs|nasJobs)/\d+)(:cancel|/nasTrialDetails)?$")
_FILTER_TERM = re.compile(r'^labels\.([\w-]+)\s*=\s*"?([\w-]*)"?$')


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any] | None


class VertexServer:
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}  # full resource name → resource JSON
        self.trial_details: dict[str, list[dict[str, Any]]] = {}  # NasJob name → nasTrialDetails
        self.requests: list[Request] = []
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "VertexServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what tests use -------------------------------------------------------------------------------
    def creates(self, collection: str) -> list[dict[str, Any]]:
        """Bodies of the create requests for 'customJobs' or 'nasJobs', in order."""
        return [r.body or {} for r in self.requests if r.method == "POST" and r.path.endswith(f"/{collection}")]

    def set_state(self, name: str, state: str, error: str | None = None, **fields: Any) -> None:
        """Move a job to `state` (Vertex's JobState name); `fields` (e.g. startTime) are set as given."""
        with self._lock:
            self.jobs[name].update(state=state, **fields)
            if error:
                self.jobs[name]["error"] = {"code": 13, "message": error}

    # -- the API --------------------------------------------------------------------------------------
    def _create(self, parent: str, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            name = f"{parent}/{collection}/{next(self._ids)}"
            job = {**body, "name": name, "state": "JOB_STATE_PENDING", "createTime": "2026-01-01T00:00:00Z"}
            self.jobs[name] = job
            return job

    def _list(self, parent: str, collection: str, filter_: str) -> dict[str, Any]:
        terms = [t.strip() for t in filter_.split(" AND ")] if filter_ else []
        wanted = []
        for term in terms:
            match = _FILTER_TERM.match(term)
            if not match:
                raise ValueError(f"unsupported filter term {term!r}")
            wanted.append(match.groups())
        with self._lock:
            jobs = [job for name, job in self.jobs.items() if name.startswith(f"{parent}/{collection}/")
                    and all(job.get("labels", {}).get(k) == v for k, v in wanted)]
        return {"customJobs" if collection == "customJobs" else "nasJobs": jobs}

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any] | None
               ) -> tuple[int, dict[str, Any]]:
        if match := _COLLECTION.match(path):
            parent, collection = match.groups()
            if method == "POST":
                return 200, self._create(parent, collection, body or {})
            if method == "GET":
                return 200, self._list(parent, collection, query.get("filter", [""])[0])
        if match := _ITEM.match(path):
            name, suffix = match.groups()
            if name not in self.jobs:
                return 404, {"error": {"code": 404, "message": f"{name} not found", "status": "NOT_FOUND"}}
            if suffix == ":cancel" and method == "POST":
                with self._lock:
                    if self.jobs[name]["state"] not in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"):
                        self.jobs[name]["state"] = "JOB_STATE_CANCELLED"
                return 200, {}
            if suffix == "/nasTrialDetails" and method == "GET":
                return 200, {"nasTrialDetails": self.trial_details.get(name, [])}
            if suffix is None and method == "GET":
                return 200, self.jobs[name]
        return 404, {"error": {"code": 404, "message": f"no route {method} {path}", "status": "NOT_FOUND"}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw else None
                query = parse_qs(url.query)
                server.requests.append(Request(self.command, url.path, query, body))
                status, payload = server._route(self.command, url.path, query, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        return Handler
