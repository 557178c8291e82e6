"""The API session: the SDK client with our error mapping, retries and exponential back-off.

The only module of the package that imports ``label_studio_sdk``'s client; a :class:`_Session`
never leaves the package.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..errors import LabelStudioError
from .connection import Connection

_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
FIRST_CONTACT_RETRIES = 2
"""Retries of the first request of a session: a server never reached is reported quickly."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: wait ``min(base * 2**k, cap)`` seconds before retry ``k + 1``."""

    retries: int = 6
    base: float = 0.5
    cap: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"The 'retries' parameter of RetryPolicy must be an int >= 0. Got {self.retries!r} instead.")
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"RetryPolicy base and cap must be >= 0. Got {self.base!r}, {self.cap!r} instead.")

    def delay(self, attempt: int) -> float:
        return min(self.base * (2**attempt), self.cap)


class _Transient(Exception):
    """A failure worth retrying; ``sent`` says whether the request may have reached the server."""

    def __init__(self, message: str, *, sent: bool):
        super().__init__(message)
        self.sent = sent


class _Session:
    """The SDK client plus the error mapping and retry loop. Never leaves this package."""

    def __init__(self, conn: Connection, *, retry: RetryPolicy | None = None, timeout: float = 300.0,
                 sleep: Callable[[float], None] = time.sleep):
        import httpx
        from label_studio_sdk import LabelStudio

        self.conn = conn
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._httpx = httpx
        self.client = LabelStudio(base_url=conn.url, api_key=conn.api_key, timeout=timeout)
        self._download_http = None
        # Our own retry loop decides what is safe to resend, so the SDK must not resend by itself.
        self.opts: dict[str, Any] = {"max_retries": 0}
        self.reached = False

    def download_client(self):
        """A client whose read timeout is unlimited: a large export may take long to stream."""
        from label_studio_sdk import LabelStudio

        if self._download_http is None:
            http = self._httpx.Client(timeout=self._httpx.Timeout(30.0, read=None), follow_redirects=True)
            self._download_http = LabelStudio(base_url=self.conn.url, api_key=self.conn.api_key, httpx_client=http)
        return self._download_http

    def import_json(self, project_id: int, body: bytes) -> list[int] | None:
        """POST ``body`` (a JSON list of tasks, already serialised) to the project's import endpoint,
        as ``projects.import_tasks(..., return_task_ids=True)`` does but without encoding the tasks
        again; returns the new tasks' ids (None when the server did not say them).

        Raises the SDK's ``ApiError`` on an HTTP error and httpx's errors on a transport failure
        (:meth:`classify` maps both), like the SDK call; nothing is resent here.
        """
        from label_studio_sdk.core.api_error import ApiError

        response = self.client._client_wrapper.httpx_client.request(
            f"api/projects/{int(project_id)}/import", method="POST",
            params={"commit_to_project": True, "return_task_ids": True}, content=body,
            headers={"content-type": "application/json"}, request_options=self.opts)
        try:
            answer = response.json()
        except ValueError:
            raise ApiError(status_code=response.status_code, headers=dict(response.headers), body=response.text) from None
        if not 200 <= response.status_code < 300:
            raise ApiError(status_code=response.status_code, headers=dict(response.headers), body=answer)
        ids = answer.get("task_ids") if isinstance(answer, dict) else None
        return [int(i) for i in ids] if isinstance(ids, list) else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client._client_wrapper.httpx_client.httpx_client.close()
        if self._download_http is not None:
            with contextlib.suppress(Exception):
                self._download_http._client_wrapper.httpx_client.httpx_client.close()

    def classify(self, exc: BaseException, what: str) -> BaseException:
        """Map an SDK/httpx exception to :class:`_Transient` or a one-line :class:`LabelStudioError`."""
        from label_studio_sdk.core.api_error import ApiError

        httpx = self._httpx
        url = self.conn.safe_url
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return _Transient(f"cannot connect to Label Studio at {url} ({what}: {type(exc).__name__})", sent=False)
        if isinstance(exc, httpx.TransportError):
            return _Transient(f"connection to Label Studio at {url} broke ({what}: {type(exc).__name__})", sent=True)
        if isinstance(exc, ApiError):
            code = exc.status_code
            if code in (401, 403):
                return LabelStudioError(
                    f"Label Studio at {url} rejected the API key (HTTP {code} on {what}); set LABEL_STUDIO_API_KEY "
                    "to a valid token (Account & Settings > Access Token, or the api_token file of `dataset-builder serve`)."
                )
            if code is not None and code in _TRANSIENT_STATUS:
                return _Transient(f"Label Studio at {url} answered HTTP {code} ({what})", sent=True)
            body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body, ensure_ascii=False, default=str)
            body = " ".join(str(body).split())[:240]
            if code == 404:
                return LabelStudioError(
                    f"Label Studio at {url} answered HTTP 404 on {what}; check that LABEL_STUDIO_URL is the "
                    f"Label Studio base URL (answer: {body})."
                )
            return LabelStudioError(f"Label Studio at {url} answered HTTP {code} on {what}: {body}")
        # pydantic / JSON errors: the URL answers, but not like Label Studio.
        name = type(exc).__name__
        if name in ("ValidationError", "JSONDecodeError", "ParsingError"):
            return LabelStudioError(
                f"the server at {url} did not answer like Label Studio on {what} ({name}); check LABEL_STUDIO_URL."
            )
        return exc

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` with retries on transient failures; safe only for idempotent calls."""
        attempt = 0
        while True:
            try:
                out = fn(*args, request_options=self.opts, **kwargs)
                self.reached = True
                return out
            except Exception as exc:  # noqa: BLE001 (classified just below)
                mapped = self.classify(exc, what)
                if not isinstance(mapped, _Transient):
                    if mapped is exc:
                        raise
                    raise mapped from None
                # A server never reached in this session is most likely down or the URL wrong:
                # say so after a few seconds, not after the full back-off.
                limit = self.retry.retries if self.reached else min(self.retry.retries, FIRST_CONTACT_RETRIES)
                if attempt >= limit:
                    raise _give_up(mapped, attempt) from None
                self.sleep(self.retry.delay(attempt))
                attempt += 1

    def call_once(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` once, never resent: for calls that are not idempotent (a resend could create twice).

        A transient failure gives up at once (running the command again resumes); others are
        mapped as :meth:`call` maps them.
        """
        try:
            return fn(*args, request_options=self.opts, **kwargs)
        except Exception as exc:  # noqa: BLE001
            mapped = self.classify(exc, what)
            if isinstance(mapped, _Transient):
                raise _give_up(mapped, 0) from None
            if mapped is exc:
                raise
            raise mapped from None


def _give_up(exc: _Transient, attempt: int) -> LabelStudioError:
    return LabelStudioError(
        f"{exc} after {attempt + 1} attempt(s); check that Label Studio is running (`dataset-builder serve`) "
        "and LABEL_STUDIO_URL is right. Nothing is lost: run the same command again to resume."
    )


@contextlib.contextmanager
def _session(conn: Connection, **kwargs: Any) -> Iterator[_Session]:
    s = _Session(conn, **kwargs)
    try:
        yield s
    finally:
        s.close()


def check_connection(conn: Connection) -> dict[str, Any]:
    """Ask the server who we are; returns ``{"url", "user_email", "projects"}``.

    Raises
    ------
    LabelStudioError
        Server down or wrong URL, or wrong key: one clear line.
    """
    with _session(conn, retry=RetryPolicy(retries=1, base=0.2)) as s:
        me = s.call("whoami", s.client.users.whoami)
        n = sum(1 for _ in s.call("list projects", s.client.projects.list, page_size=100))
        return {"url": conn.safe_url, "user_email": getattr(me, "email", None), "projects": n}
