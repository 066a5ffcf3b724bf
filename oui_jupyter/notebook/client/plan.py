"""How an API operation is described once and run by either client.

An operation is a *plan*: a generator that yields the steps it needs (a :class:`Call` to the
server, a :class:`Sleep` between polls) and is sent each step's result, then returns the
operation's value. It does no I/O itself, so the blocking client and the asyncio client run
the same plan, each with its own transport. A streamed turn is a :class:`Stream`: which
request to open; the client opens it and wraps the response in its kind of turn.

``@endpoint`` and ``@streaming`` make a plan a public method of both clients: with the plan's
signature and docstring, returning the value (blocking) or a coroutine of it (asyncio).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

if TYPE_CHECKING:
    from oui_jupyter.notebook.client.aio import AsyncOuiClient
    from oui_jupyter.notebook.client.sync import OuiClient
    from oui_jupyter.notebook.client.turns import AsyncTurn, SyncTurn

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")
A = TypeVar("A")


@dataclass(frozen=True)
class Call:
    """One request to ``oui/api/<path>``; the plan is sent its JSON answer (``None`` if empty),
    or with ``raw`` its bytes (a file's content)."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    raw: bool = False

    def options(self) -> dict[str, Any]:
        """The keyword arguments of the HTTP request (only those set)."""
        options: dict[str, Any] = {}
        if self.params is not None:
            options["params"] = self.params
        if self.json is not None:
            options["json"] = self.json
        return options


@dataclass(frozen=True)
class Sleep:
    """Wait this long (without blocking the event loop in the asyncio client)."""

    seconds: float


@dataclass(frozen=True)
class Stream:
    """A streamed turn: ``POST`` this JSON body to ``oui/api/<path>`` and read its events."""

    path: str
    body: dict[str, Any]


Step = Call | Sleep
Plan = Generator[Step, Any, T]


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


def advance(plan: Plan[T], result: Any = None) -> Step | Done[T]:
    """Send the plan the last step's result (``None`` to start it); its next step, or done."""
    try:
        return plan.send(result)
    except StopIteration as stop:
        return Done(stop.value)


def _value_type(plan: Callable[..., Any]) -> str:
    """``Plan[X]`` -> ``X``: what the operation returns to its caller."""
    annotation = str(plan.__annotations__.get("return", ""))
    return annotation.removeprefix("Plan[").removesuffix("]")


class Operation(Generic[P, S, A]):
    """An operation as a method of both clients: called on an :class:`OuiClient` it returns
    ``S``, on an :class:`AsyncOuiClient` a coroutine of ``A``. Made by ``@endpoint`` (a plan,
    run by the client's ``_run``) or ``@streaming`` (a :class:`Stream`, opened by ``_open``)."""

    def __init__(
        self, build: Callable[..., Any], *, streams: bool, returns: tuple[str, str]
    ) -> None:
        self.build = build
        self.streams = streams
        self.returns = returns  # shown in the signatures: (blocking, asyncio)
        self.name = build.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Operation[P, S, A]: ...
    @overload
    def __get__(self, instance: OuiClient, owner: type) -> Callable[P, S]: ...
    @overload
    def __get__(
        self, instance: AsyncOuiClient, owner: type
    ) -> Callable[P, Coroutine[Any, Any, A]]: ...
    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        return self._method(instance, instance._open if self.streams else instance._run)

    def _method(self, instance: Any, run: Callable[[Any], Any]) -> Any:
        """The operation run by ``run``, as a method of ``instance`` named, documented and
        signed like ``build`` (less its ``self``): a coroutine function on an asyncio client."""
        build = self.build
        method: Any
        if instance._asynchronous:

            async def method(*args: Any, **kwargs: Any) -> Any:
                return await run(build(instance, *args, **kwargs))

        else:

            def method(*args: Any, **kwargs: Any) -> Any:
                return run(build(instance, *args, **kwargs))

        method.__name__ = self.name
        method.__qualname__ = f"{type(instance).__name__}.{self.name}"
        method.__doc__ = build.__doc__
        method.__module__ = type(instance).__module__
        signature = inspect.signature(build)
        method.__signature__ = signature.replace(
            parameters=list(signature.parameters.values())[1:],
            return_annotation=self.returns[instance._asynchronous],
        )
        return method


def endpoint(plan: Callable[Concatenate[Any, P], Plan[T]]) -> Operation[P, T, T]:
    """A plan as a method of both clients: ``client.name(...)`` runs it."""
    value = _value_type(plan)
    return Operation(plan, streams=False, returns=(value, value))


def streaming(build: Callable[Concatenate[Any, P], Stream]) -> Operation[P, SyncTurn, AsyncTurn]:
    """A :class:`Stream` as a method of both clients: ``client.name(...)`` opens the stream
    and returns a :class:`SyncTurn` (blocking) or, awaited, an :class:`AsyncTurn`."""
    return Operation(build, streams=True, returns=("SyncTurn", "AsyncTurn"))


def unstreamed(
    turn: Operation[P, SyncTurn, AsyncTurn], doc: str
) -> Callable[Concatenate[Any, P], Plan[dict[str, Any]]]:
    """The plan of a ``@streaming`` turn, not streamed: its body with ``stream: false``, posted
    in one request; the answer's JSON. It takes the same parameters."""
    build = turn.build

    def plan(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> Plan[dict[str, Any]]:
        stream = build(self, *args, **kwargs)
        return dict((yield Call("POST", stream.path, json={**stream.body, "stream": False})))

    plan.__doc__ = doc
    functools.update_wrapper(plan, build, assigned=(), updated=())  # its signature
    return plan
