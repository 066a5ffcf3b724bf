"""Domain errors raised by services and stores.

Handlers turn them into HTTP errors through one map (``handlers/base.py``); nothing
below the handlers knows about HTTP.
"""

from __future__ import annotations


class OuiError(Exception):
    """Base class: ``message`` is safe to show to the user."""

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message or self.__class__.__doc__ or self.__class__.__name__
        self.reason = reason
        #: response headers and extra body fields an error answers with (``RateLimited``)
        self.headers: dict[str, str] = {}
        self.fields: dict[str, str] = {}


class InvalidInput(OuiError):
    """The request is well-formed but its fields are invalid."""


class MalformedRequest(OuiError):
    """The request body cannot be parsed."""


class NotFound(OuiError):
    """The thing does not exist, or is not yours."""


class Forbidden(OuiError):
    """You may not do this."""


class Conflict(OuiError):
    """The request conflicts with the current state."""


class PayloadTooLarge(OuiError):
    """The request body or upload is over the configured limit."""


class ProviderError(OuiError):
    """An upstream LLM or embedding provider failed."""


class ProviderTimeout(ProviderError):
    """An upstream LLM or embedding provider did not answer in time."""


class NotReady(OuiError):
    """A component is not available yet or not installed."""


class RateLimited(OuiError):
    """A limit on use is reached: try again later (``retry_after`` seconds)."""

    def __init__(self, message: str = "", *, retry_after: int, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = max(1, int(retry_after))
        self.headers = {"Retry-After": str(self.retry_after)}
        # Open WebUI's clients read an error's ``detail``.
        self.fields = {"detail": self.message}
