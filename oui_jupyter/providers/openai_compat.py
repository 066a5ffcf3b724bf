"""The one code path to any OpenAI-compatible upstream, through ``openai.AsyncOpenAI``.

``openai`` is imported lazily (it costs ~0.3 s and ~25 MB): the first client is made after
:func:`preload` ran in a thread, so neither start-up nor the event loop pays for it.

The clients use the ``openai`` package's own aiohttp transport (``openai[aiohttp]``,
``DefaultAioHttpClient``): with 200 answers streaming, the default httpx transport spent
most of the server's time in its connection pool (a scan of every connection per request)
and in per-read bookkeeping; aiohttp parses in C. Streams are read line by line from the
client's streaming response and each SSE ``data:`` payload is handed on as
``(raw_bytes, decoded)``: the HTTP path relays the raw bytes unchanged, the persistence path
reads the decoded delta. Closing the stream
(``aclose`` on the generator, or cancelling the task that reads it) closes the upstream HTTP
response, which makes servers such as llama.cpp stop generating.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Any

import msgspec

from oui_jupyter.errors import ProviderError, ProviderTimeout
from oui_jupyter.heap import freeze_long_lived
from oui_jupyter.providers.connections import Connection

log = logging.getLogger(__name__)

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
# The openai client's header for "give me the HTTP response itself" ("stream": unread).
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
Chunk = tuple[bytes, dict[str, Any]]


def preload() -> None:
    """Import ``openai`` and its aiohttp transport now (call it off the event loop)."""
    import aiohttp  # noqa: F401
    import openai  # noqa: F401

    freeze_long_lived()


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:500]
        return str(error)[:500]
    return str(body)[:500] if body else ""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _wire_failure(exc: BaseException) -> str | None:
    """What went wrong on the wire, read from the aiohttp error under the wrappers (the
    transport maps every aiohttp connection error to a connect *timeout*)."""
    import aiohttp

    for cause in _causes(exc):
        if isinstance(cause, aiohttp.ClientConnectorError):
            return "unreachable"
        if isinstance(cause, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
            return "timeout"
        if isinstance(
            cause,
            (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError),
        ):
            return "cut"
    return None


def _is_http_error(exc: BaseException, name: str) -> bool:
    """``exc`` is an ``httpx``/``httpx2`` error of class ``name`` (the ``openai`` client uses
    either, by version)."""
    for module_name in ("httpx2", "httpx"):
        module = sys.modules.get(module_name)
        kind = getattr(module, name, None) if module is not None else None
        if isinstance(kind, type) and isinstance(exc, kind):
            return True
    return False


def map_error(exc: BaseException, label: str) -> ProviderError:
    """An ``openai``/transport failure as a domain error whose message is safe to show."""
    import openai

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        detail = _detail(exc.body) or exc.message
        return ProviderError(
            f"The model server at {label} answered {exc.status_code}: {detail}",
            reason=f"upstream_{exc.status_code}",
        )
    wire = _wire_failure(exc)
    if wire == "timeout" or (
        wire is None
        and (isinstance(exc, openai.APITimeoutError) or _is_http_error(exc, "TimeoutException"))
    ):
        return ProviderTimeout(f"The model server at {label} did not answer in time")
    if wire == "unreachable" or isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            f"Cannot reach the model server at {label}", reason="upstream_unreachable"
        )
    if wire == "cut" or _is_http_error(exc, "TransportError") or _is_http_error(exc, "StreamError"):
        return ProviderError(
            f"The connection to the model server at {label} broke mid-answer",
            reason="upstream_stream_cut",
        )
    return ProviderError(f"The model server at {label} failed: {exc}", reason="upstream_error")


class OpenAICompatProvider:
    """A client for one connection. ``base_url`` may be resolved at call time
    (the embedded llama.cpp server starts on first use)."""

    def __init__(
        self,
        connection: Connection,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        resolve_base_url: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.connection = connection
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._resolve = resolve_base_url
        self._client: Any = None
        self._client_url: str | None = None

    @property
    def label(self) -> str:
        return self.connection.label

    async def client(self) -> Any:
        base_url = await self._resolve() if self._resolve else self.connection.base_url
        if self._client is None or self._client_url != base_url:
            if "aiohttp" not in sys.modules:  # the first use pays the ~0.4 s import, off the loop
                await asyncio.to_thread(preload)
            import openai

            if self._client is not None:
                await self._client.close()
            timeout = openai.Timeout(self.timeout, connect=self.connect_timeout)
            self._client = openai.AsyncOpenAI(
                base_url=base_url,
                api_key=self.connection.key or "none",
                timeout=timeout,
                max_retries=0,
                # up to 1,000 connections, 100 kept alive: the openai client's defaults
                http_client=openai.DefaultAioHttpClient(timeout=timeout),
            )
            self._client_url = base_url
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def list_models(self, timeout: float) -> list[dict[str, Any]]:
        client = await self.client()
        try:
            page = await client.models.list(timeout=timeout)
        except Exception as exc:
            raise map_error(exc, self.label) from None
        return [model.to_dict() for model in page.data]

    async def _post(self, body: dict[str, Any], *, stream: bool) -> Any:
        """``POST /chat/completions`` with ``body`` as it is; the HTTP response, unread when
        ``stream`` (4xx/5xx raise the client's ``APIStatusError``, as ``create`` does).

        The body is already OpenAI-shaped JSON: it goes through the client's own way to send a
        request of any shape (``client.post``), not ``chat.completions.create``, which walks
        every argument against its TypedDicts first (~0.15 ms a message: 30 ms for a
        200-message history) and, for the rest, costs a sixth of the time to the upstream's
        response headers.
        """
        import httpx2

        client = await self.client()
        return await client.post(
            "/chat/completions",
            cast_to=httpx2.Response,
            # Encoded here, sent as they are: the client's json.dumps is ~30 times slower,
            # which shows with images inlined as data: URLs.
            content=_encode({**body, "stream": stream}),
            options={"headers": {RAW_RESPONSE_HEADER: "stream" if stream else "raw"}},
        )

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed ``chat.completion``, as the upstream answered it."""
        try:
            response = await self._post(body, stream=False)
            return _decode(response.content)
        except msgspec.DecodeError:
            raise ProviderError(f"The model server at {self.label} answered invalid JSON") from None
        except Exception as exc:
            raise map_error(exc, self.label) from None

    async def stream(self, body: dict[str, Any]) -> AsyncGenerator[Chunk, None]:
        """Yield each streamed chunk as ``(raw JSON bytes, decoded dict)``.

        Errors before the first chunk (refused, 4xx/5xx, timeout) and during the stream
        (cut, timeout, an ``error`` payload) raise ``ProviderError``/``ProviderTimeout``.
        A stream that ends without a ``finish_reason`` or ``[DONE]`` counts as cut.
        """
        try:
            response = await self._post(body, stream=True)
        except Exception as exc:
            raise map_error(exc, self.label) from None
        finished = done = False
        try:
            async for line in response.aiter_lines():
                # After [DONE], read on to the body's end: a response read to its end gives
                # its connection back to the pool (breaking off closes it: a new TCP connection
                # for every request).
                if done or not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    finished = done = True
                    continue
                raw = payload.encode()
                try:
                    data = _decode(raw)
                except msgspec.DecodeError:
                    raise ProviderError(
                        f"The model server at {self.label} sent an invalid chunk",
                        reason="upstream_bad_chunk",
                    ) from None
                if not isinstance(data, dict):
                    continue
                if data.get("error"):
                    raise ProviderError(
                        f"The model server at {self.label} failed mid-answer: {_detail(data)}",
                        reason="upstream_error",
                    )
                choices = data.get("choices") or ()
                if choices and isinstance(choices[0], dict) and choices[0].get("finish_reason"):
                    finished = True
                yield raw, data
        except ProviderError:
            raise
        except Exception as exc:
            if not done:  # a failure after [DONE] loses nothing
                raise map_error(exc, self.label) from None
        finally:
            await response.aclose()
        if not finished:
            raise ProviderError(
                f"The model server at {self.label} closed the stream before the answer ended",
                reason="upstream_stream_cut",
            )
