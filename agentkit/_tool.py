"""`@tool`: a Python function becomes a validated function-tool declaration.

`FunctionTool.invoke` turns a `function_call` step into a `function_result` step: arguments
are validated by the tool's pydantic model, the function runs (sync ones in a worker thread),
and whatever happens — a return value, invalid arguments, an exception it raises, a timeout —
comes back as a result the model can read. A failure of agentkit's own code propagates, and so
does a function that refuses the arguments its own signature declares (before its body runs).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import copy
import functools
import inspect
import logging
import re
import sys
import threading
import time
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, Protocol, overload

import anyio
import anyio.to_thread
import pydantic
import pydantic_core
import sniffio
from typing_extensions import ParamSpec, Self, TypeVar

from agentkit._content import result_content
from agentkit._context import RunContext, changed
from agentkit._docstrings import parse_docstring
from agentkit._exceptions import UsageError
from agentkit._schema import (
    FunctionSchema,
    UnresolvedHintsError,
    describe_validation_error,
    resolve_hints,
    unwrap,
    without_partials,
)
from agentkit._tool_error import error_result
from agentkit.types import FunctionCallStep, FunctionResultStep

__all__ = [
    "FunctionTool",
    "NeedsApproval",
    "SyncCall",
    "ToolDecorator",
    "describe_exception",
    "tool",
]

P = ParamSpec("P", default=...)
R = TypeVar("R", default=Any)

NeedsApproval = bool | Callable[[dict[str, Any]], bool]
"""Whether a call waits for a person's approval: always, never, or per call (its arguments)."""

logger = logging.getLogger("agentkit.tool")

_Outcome = tuple[Any] | BaseException
"""How a call of the function ended: what it returned (boxed), or the exception it raised."""

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_Binding = Literal["none", "static", "method", "classmethod"]


class _Unbound:
    """The `self` of a tool that is not bound to an instance or class."""


_UNBOUND = _Unbound()


class FunctionTool(Generic[P, R]):
    """A Python function the model can call, made by `@tool`.

    Calling it calls the function (sync or async, as written). `declaration` is what the model
    is sent and `invoke()` answers a `function_call` step.
    """

    name: str
    """The name the model calls the tool by."""
    description: str
    """What the tool does, for the model (the docstring without its sections)."""
    timeout: float | None
    """Seconds a call may take before it ends with an error result (None: no limit).

    An async tool is cancelled; a sync tool's worker thread cannot be stopped, so it is left to
    finish in the background and its outcome goes to `invoke()`'s `on_late`.
    """
    needs_approval: NeedsApproval
    """Whether a call waits for a person's approval first."""
    idempotent: bool
    """Whether a call whose outcome is unknown may simply run again."""
    retries: int | None
    """Calls in a row with invalid arguments the model is told about and may correct before
    the run stops with `ToolRetriesExceeded` (None: the agent's `tool_retries`)."""

    def __init__(
        self,
        function: Callable[P, R] | staticmethod[P, R] | classmethod[Any, P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        needs_approval: NeedsApproval = False,
        idempotent: bool = False,
        retries: int | None = None,
        _namespace: Mapping[str, Any] | None = None,
    ) -> None:
        """Describe `function` as a tool; see `tool()` for the arguments.

        Raises:
            UsageError: The function cannot be a tool (see `tool()`).
        """
        raw, self._binding = _unwrap_descriptor(function)
        self._function: Callable[..., Any] = raw
        self._bound_to: object = _UNBOUND
        source = unwrap(raw)
        self.name = _checked_name(raw, source, name)
        if timeout is not None and not timeout > 0:
            raise UsageError(f"Tool {self.name!r}: timeout must be a positive number of seconds.")
        docstring = _docstring(raw, source)
        self._doc = parse_docstring(docstring)
        self.description = self._doc.description if description is None else description
        self.timeout = timeout
        self.needs_approval = needs_approval
        self.idempotent = idempotent
        if retries is not None and (
            isinstance(retries, bool) or not isinstance(retries, int) or retries < 0  # pyright: ignore[reportUnnecessaryIsInstance]
        ):
            raise UsageError(f"Tool {self.name!r}: retries must be a whole number >= 0.")
        self.retries = retries
        self._is_async = inspect.iscoroutinefunction(source)
        self._source = source
        # Where the tool was made: resolves string annotations naming a function's locals.
        self._namespace = _namespace if _namespace is not None else _caller_namespace()
        self._built: FunctionSchema | None = None
        self._hints: dict[str, Any] | None = None
        # A forward reference to a name defined further down: built on first use instead.
        with contextlib.suppress(UnresolvedHintsError):
            self._built = self._build()
        # Look like the function to introspection (help(), inspect.signature, doc tools).
        functools.update_wrapper(
            self, raw, assigned=("__module__", "__name__", "__qualname__"), updated=()
        )
        self.__doc__ = docstring

    def _build(self) -> FunctionSchema:
        if self._hints is None:
            self._hints = resolve_hints(
                self._source, tool_name=self.name, namespace=self._namespace
            )
            self._namespace = None  # not needed any more; may hold a function's locals
        signature = _signature(self._function, skip_first=self._is_method, tool_name=self.name)
        # In a class body, `self` is still a parameter: __set_name__ builds the schema again.
        maybe_self = self._binding == "none" and inspect.isfunction(self._function)
        return FunctionSchema.build(
            signature, self._hints, self._doc, tool_name=self.name, maybe_self=maybe_self
        )

    @property
    def _is_method(self) -> bool:
        """Whether the function's first parameter is the instance or class it is bound to."""
        return self._binding in ("method", "classmethod")

    @property
    def _schema(self) -> FunctionSchema:
        if self._built is None:
            self._built = self._build()
        return self._built

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (do not mutate it).

        Raises:
            UsageError: A type hint names something that still does not exist.
        """
        return self._schema.parameters

    @property
    def declaration(self) -> dict[str, Any]:
        """The function tool declaration sent in `tools` (a fresh dict on every access)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": copy.deepcopy(self.parameters),
        }

    @property
    def function(self) -> Callable[P, R]:
        """The original function (bound to its instance or class, if it is a method)."""
        if self._bound_to is _UNBOUND:
            return self._function
        return types.MethodType(self._function, self._bound_to)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.function(*args, **kwargs)

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (else it runs in a worker thread)."""
        return self._is_async

    def requires_approval(self, arguments: dict[str, Any]) -> bool:
        """Whether a call with these arguments waits for a person's approval.

        A `needs_approval` function sees them as sent, with the defaults of those left out:
        what the call would run with.
        """
        if not callable(self.needs_approval):
            return self.needs_approval
        try:
            filled = self._schema.model.model_validate(arguments)
        except pydantic.ValidationError:  # answered with its error: such a call never runs
            return bool(self.needs_approval(arguments))
        defaults = filled.model_dump(mode="json", by_alias=True)
        return bool(self.needs_approval({**defaults, **arguments}))

    async def invoke(
        self,
        call: FunctionCallStep,
        ctx: RunContext[Any] | None = None,
        *,
        raise_errors: bool = False,
        limiter: anyio.CapacityLimiter | None = None,
        on_late: Callable[[FunctionResultStep | None], None] | None = None,
    ) -> FunctionResultStep:
        """Run the tool for a `function_call` step and return its `function_result` step.

        Invalid arguments, an exception in the tool and a timeout all give a result with
        `is_error: true` whose text tells the model what happened.

        Args:
            call: The step to answer.
            ctx: The run's context, for a `RunContext` parameter (default: an empty one).
            raise_errors: Let an exception raised by the tool propagate instead.
            limiter: Bounds the worker threads of sync tools (default: anyio's).
            on_late: Receives the result of a sync tool whose call was cancelled or timed out
                while its thread went on running, once it ends (in the worker thread), or
                None when it was cancelled before its thread started (it never ran).

        Raises:
            UsageError: The tool is a method taken from its class instead of an instance, or
                its function refused arguments that fit its signature (before its body ran).
        """
        bound = self._arguments(call, ctx)
        if isinstance(bound, FunctionResultStep):
            return bound
        args, kwargs = bound
        late = None if on_late is None else functools.partial(self._late, call, on_late)
        if self.timeout is None:  # no scope to pay for, once per call
            outcome = await self._run(args, kwargs, limiter, late)
            return self._answer(call, outcome, raise_errors=raise_errors)
        with anyio.move_on_after(self.timeout):
            outcome = await self._run(args, kwargs, limiter, late)
            return self._answer(call, outcome, raise_errors=raise_errors)
        return self._timed_out(call)  # reached only when the timeout's scope ended the call

    def start_sync(
        self,
        call: FunctionCallStep,
        ctx: RunContext[Any] | None = None,
        *,
        on_late: Callable[[FunctionResultStep | None], None] | None = None,
        here: bool = False,
    ) -> FunctionResultStep | SyncCall:
        """Start a sync tool's call in a shared worker thread; no event loop is involved.

        Invalid arguments give their error result at once.

        The caller's thread only waits (`SyncCall.result`), so Ctrl-C interrupts the wait,
        never the tool: the call goes on and its outcome goes to `on_late`, as for a
        cancelled `invoke`.

        `here` runs the call in the caller's thread instead, before this returns, unless the
        tool has a timeout (only a thread can be given up on): that saves two thread switches,
        but nothing can stop waiting for the call, and Ctrl-C interrupts the tool itself. Then
        `on_late(None)` says that its outcome is unknown, and the interruption is raised.

        Raises:
            UsageError: The tool is async, or a method taken from its class.
        """
        if self._is_async:
            raise UsageError(f"Tool {self.name!r} is async: run it with invoke().")
        bound = self._arguments(call, ctx)
        if isinstance(bound, FunctionResultStep):
            return bound
        late = None if on_late is None else functools.partial(self._late, call, on_late)
        worker = _Worker(self.function, *bound, late, name=self.name, settle=True)
        # In a copy of the caller's context, as anyio's worker threads do for async runs:
        # what the tool reads there (the current span...) is the same in both worlds. Like
        # them, without the async library of a loop running in the caller's thread: there is
        # none in the tool's, which may start one.
        context = contextvars.copy_context()
        context.run(sniffio.current_async_library_cvar.set, None)
        run = functools.partial(context.run, worker.run)
        if here and self.timeout is None:
            try:
                return SyncCall(self, call, worker, _ran(run))
            except BaseException:  # Ctrl-C stopped the tool midway: its outcome is unknown
                if on_late is not None:
                    on_late(None)
                raise
        try:
            future = tool_threads().submit(run)
        except BaseException:  # Ctrl-C while its thread starts: it runs, or says it never did
            worker.abandon()
            raise
        return SyncCall(self, call, worker, future)

    def _arguments(
        self, call: FunctionCallStep, ctx: RunContext[Any] | None
    ) -> tuple[list[Any], dict[str, Any]] | FunctionResultStep:
        """The function's arguments for `call`, or the error result of invalid ones."""
        self.check_callable()
        context = _context(call, ctx) if self._schema.takes_context else None
        try:
            return self._schema.bind(call.arguments, context)
        except pydantic.ValidationError as exc:
            return error_result(call, self._describe(call, exc))

    def check_callable(self) -> None:
        """Raise unless agentkit can call the function: a method needs its instance.

        Raises:
            UsageError: The tool is a method taken from its class (`Bank.pay`).
        """
        if self._is_method and self._bound_to is _UNBOUND:
            raise UsageError(
                f"Tool {self.name!r} is a method: use it through an instance "
                f"(obj.{self.name}), not through its class."
            )

    def check_arguments(self, call: FunctionCallStep) -> str | None:
        """What is wrong with `call`'s arguments, field by field; None when they fit."""
        try:
            self._schema.model.model_validate(call.arguments)
        except pydantic.ValidationError as exc:
            return self._describe(call, exc)
        return None

    def _describe(self, call: FunctionCallStep, exc: pydantic.ValidationError) -> str:
        return describe_validation_error(self.name, exc, call.arguments, self.parameters)

    def _answer(
        self, call: FunctionCallStep, outcome: _Outcome, *, raise_errors: bool
    ) -> FunctionResultStep:
        """The result of a call that ended: what the function returned, or what it raised."""
        if isinstance(outcome, BaseException):
            return self._failed(call, outcome, raise_errors=raise_errors)
        return self._result(call, outcome[0], raise_errors=raise_errors)

    def _failed(
        self, call: FunctionCallStep, exc: BaseException, *, raise_errors: bool
    ) -> FunctionResultStep:
        if raise_errors:
            raise exc
        # WARNING, with the traceback: the model is told and may cope, but an exception in a
        # tool is most often a bug in it, which its author must get to see.
        logger.warning("Tool %r raised; the model gets an error result.", self.name, exc_info=exc)
        return error_result(call, describe_exception(exc))

    def _timed_out(self, call: FunctionCallStep) -> FunctionResultStep:
        message = f"TimeoutError: tool {self.name!r} did not finish within {self.timeout:g} s."
        # As for an exception: the model is told, and the tool's author must see it too.
        logger.warning("%s The model gets an error result.", message)
        return error_result(call, message)

    def _result(
        self, call: FunctionCallStep, value: Any, *, raise_errors: bool
    ) -> FunctionResultStep:
        try:
            content = result_content(value)
        except pydantic_core.PydanticSerializationError as exc:
            message = (
                f"Tool {self.name!r} returned a {type(value).__name__}, which cannot be turned "
                f"into JSON ({exc}). Return a str, a dict, a list, a pydantic model or a "
                "dataclass."
            )
            if raise_errors:
                raise UsageError(message) from exc
            logger.warning("%s", message)
            return error_result(call, f"TypeError: {message}")
        return FunctionResultStep(call_id=call.id or "", name=call.name, result=content)

    def _late(
        self,
        call: FunctionCallStep,
        receive: Callable[[FunctionResultStep | None], None],
        outcome: _Outcome | None,
    ) -> None:
        """Hand on the outcome of a sync call whose caller stopped waiting for it."""
        result = None if outcome is None else self._answer(call, outcome, raise_errors=False)
        try:
            receive(result)
        except Exception:  # a worker thread has no one to raise to
            logger.exception("could not record the late result of tool %r", self.name)

    async def _run(
        self,
        args: list[Any],
        kwargs: dict[str, Any],
        limiter: anyio.CapacityLimiter | None,
        late: Callable[[_Outcome | None], None] | None,
    ) -> _Outcome:
        """Call the function: what it returned, or the exception it raised.

        Only the function's own exceptions are caught (in `_settled` and `_Worker.run`): one
        raised by agentkit's code around the call is a bug, not a tool error, and propagates.
        So does a call the function refuses before its body runs (`_refused`).

        Raises:
            UsageError: The function does not take the arguments its signature declares.
        """
        function: Callable[..., Any] = self.function  # arguments known only at runtime
        if self._is_async:
            try:
                # Calling a coroutine function only binds the arguments; the body runs when
                # awaited. So a TypeError here always means the arguments did not fit.
                awaitable = function(*args, **kwargs)
            except TypeError as exc:
                raise _refused(self.name, exc) from exc
            return await _settled(awaitable)
        worker = _Worker(function, args, kwargs, late, name=self.name)
        try:
            outcome = await anyio.to_thread.run_sync(
                worker.run, limiter=limiter, abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            worker.abandon()
            raise
        if isinstance(outcome, tuple) and inspect.isawaitable(outcome[0]):
            return await _settled(outcome[0])  # a sync wrapper around a coroutine function
        return outcome

    def __set_name__(self, owner: type[Any], name: str) -> None:
        # A plain function in a class body is a method: `self` is not an argument the model
        # gives. Known only now, so the schema is built again without it.
        if self._binding == "none" and inspect.isfunction(self._function):
            self._binding = "method"
            if self._built is not None:
                self._built = self._build()

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> FunctionTool[..., R]: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> FunctionTool[..., R]:
        if self._binding == "method" and instance is not None:
            return self._bind(instance)
        if self._binding == "classmethod":
            return self._bind(owner if owner is not None else type(instance))
        return self

    def _bind(self, target: object) -> FunctionTool[..., R]:
        bound = copy.copy(self)
        bound._bound_to = target
        return bound

    def __repr__(self) -> str:
        return f"<FunctionTool {self.name!r}>"


class ToolDecorator(Protocol):
    """What `@tool(...)` with options returns: it makes a `FunctionTool` of a function."""

    @overload
    def __call__(self, function: staticmethod[P, R], /) -> FunctionTool[P, R]: ...
    @overload
    def __call__(self, function: classmethod[Any, P, R], /) -> FunctionTool[P, R]: ...
    @overload
    def __call__(self, function: Callable[P, R], /) -> FunctionTool[P, R]: ...


@overload
def tool(
    function: staticmethod[P, R],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    needs_approval: NeedsApproval = False,
    idempotent: bool = False,
    retries: int | None = None,
) -> FunctionTool[P, R]: ...
@overload
def tool(
    function: classmethod[Any, P, R],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    needs_approval: NeedsApproval = False,
    idempotent: bool = False,
    retries: int | None = None,
) -> FunctionTool[P, R]: ...
@overload
def tool(
    function: Callable[P, R],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    needs_approval: NeedsApproval = False,
    idempotent: bool = False,
    retries: int | None = None,
) -> FunctionTool[P, R]: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    needs_approval: NeedsApproval = False,
    idempotent: bool = False,
    retries: int | None = None,
) -> ToolDecorator: ...
def tool(
    function: Any = None,  # any callable, staticmethod or classmethod
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    needs_approval: NeedsApproval = False,
    idempotent: bool = False,
    retries: int | None = None,
) -> Any:  # FunctionTool, or the decorator that makes one
    """Make a function a tool the model can call: `@tool`, `@tool(...)` or `tool(fn)`.

    Works on sync and async functions, methods (also `@tool` above `@staticmethod` or
    `@classmethod`), bound methods, callable instances and `functools.partial` objects. The
    parameters' type hints give the JSON schema, the docstring the descriptions; a parameter
    annotated `RunContext[...]` is injected, not part of the schema.

    Every other parameter needs a type annotation (`x: Any` accepts any JSON value, with the
    schema `{}`), and `*args` and `**kwargs` are refused: the model sends one object of named
    arguments, so take a `list[...]` or `dict[str, ...]` parameter instead.

    An exception raised by the function is sent to the model as an error result
    (`is_error: true`, `"TypeName: message"`) and logged with its traceback at WARNING on the
    `agentkit.tool` logger.

    Args:
        function: The function (when used as `@tool` or `tool(fn)`).
        name: The name the model sees (default: the function's name).
        description: What the tool does (default: the docstring's summary and body).
        timeout: Seconds a call may take before it ends with an error result.
        needs_approval: Whether a call waits for a person's approval: True, or a function of
            the call's arguments.
        idempotent: Whether running a call twice is harmless. A call that started and never
            recorded its outcome (a crash, a kill, an abandoned worker thread) runs again only
            for an idempotent tool; otherwise the model is told its outcome is unknown.
        retries: How many calls in a row with invalid arguments the model is told about (with
            the fields at fault) and may correct; one more stops the run with
            `ToolRetriesExceeded`. Default: the agent's `tool_retries`.

    Raises:
        UsageError: The function is a generator, its name is not a valid tool name (pass
            `name=`), it takes `*args` or `**kwargs`, or a parameter has no type annotation or
            a type with no JSON schema.
    """
    namespace = _caller_namespace()  # @tool and @tool(...) are both called where fn is defined

    def decorate(function: Any) -> FunctionTool[..., Any]:
        if isinstance(function, FunctionTool):
            existing = typing.cast("FunctionTool[..., Any]", function)
            options = (name, description, timeout, needs_approval, idempotent, retries)
            if options == (None, None, None, False, False, None):
                return existing
            function = existing.function
        return FunctionTool(
            function,
            name=name,
            description=description,
            timeout=timeout,
            needs_approval=needs_approval,
            idempotent=idempotent,
            retries=retries,
            _namespace=namespace,
        )

    return decorate if function is None else decorate(function)


def _caller_namespace() -> Mapping[str, Any] | None:
    """The local names of the caller's caller (a snapshot, inside a function)."""
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    return caller.f_locals if caller is not None else None


def _unwrap_descriptor(function: object) -> tuple[Callable[..., Any], _Binding]:
    """The function inside a staticmethod or classmethod object, and how it binds."""
    if isinstance(function, staticmethod):
        return typing.cast("staticmethod[..., Any]", function).__func__, "static"
    if isinstance(function, classmethod):
        return typing.cast("classmethod[Any, ..., Any]", function).__func__, "classmethod"
    if inspect.isclass(function):
        # Calling a class builds an instance: the model would get a repr, not a result.
        raise UsageError(
            f"tool() takes a function, not the class {function.__qualname__}: decorate one of "
            "its methods, or a function that creates and uses it."
        )
    if not callable(function):
        raise UsageError(f"tool() takes a function, not {function!r}.")
    return function, "none"


def _checked_name(function: object, source: Callable[..., Any], name: str | None) -> str:
    """The tool's name, once sure the function can be a tool under it."""
    label = getattr(source, "__qualname__", repr(function))
    if inspect.isgeneratorfunction(source) or inspect.isasyncgenfunction(source):
        raise UsageError(
            f"{label} is a generator function, which cannot be a tool: a tool returns its "
            "whole result at once. Collect the items into a list and return that."
        )
    name = _default_name(function) if name is None else name
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"{name!r} (from {label}) is not a valid tool name: use 1 to 64 ASCII letters, "
            "digits, '_' or '-'. Give the tool a name with @tool(name=...)."
        )
    return name


def _default_name(function: object) -> str:
    function = without_partials(function)
    name = getattr(function, "__name__", None)
    return name if isinstance(name, str) else type(function).__name__


def _docstring(function: object, source: Callable[..., Any]) -> str | None:
    # __doc__ itself, not inspect.getdoc: that one inherits texts such as object's docstring.
    doc = source.__doc__
    function = without_partials(function)
    if doc is None and not inspect.isroutine(function):
        doc = type(function).__doc__  # a callable instance: its class says what it does
    return inspect.cleandoc(doc) if doc else None


def _signature(
    function: Callable[..., Any], *, skip_first: bool, tool_name: str
) -> inspect.Signature:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"Tool {tool_name!r}: cannot read the signature ({exc}).") from exc
    parameters = list(signature.parameters.values())
    if skip_first:
        parameters = parameters[1:]
    if isinstance(function, functools.partial):
        # inspect lists the partial's keywords as keyword-only parameters with defaults; they
        # are fixed, not for the model to choose.
        parameters = [p for p in parameters if p.name not in function.keywords]
    return signature.replace(parameters=parameters)


def _context(call: FunctionCallStep, ctx: RunContext[Any] | None) -> RunContext[Any]:
    if ctx is None:
        return RunContext(deps=None, call_id=call.id, tool_name=call.name)
    if ctx.call_id != call.id or ctx.tool_name != call.name:
        return changed(ctx, call_id=call.id, tool_name=call.name)
    return ctx


class _Worker:
    """A sync call in a worker thread, whose outcome still counts if its caller leaves.

    The thread cannot be stopped: when the awaiting task is cancelled (Ctrl-C, a timeout), the
    call goes on, and its outcome, whenever it comes, goes to `late` instead of being lost;
    `late(None)` says the call never started (it was still waiting for a thread). With
    `settle`, a coroutine the function returns is awaited in the thread too, for a caller
    without an event loop.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        args: list[Any],
        kwargs: dict[str, Any],
        late: Callable[[_Outcome | None], None] | None,
        *,
        name: str,
        settle: bool = False,
    ) -> None:
        self._call = functools.partial(function, *args, **kwargs)
        self._late = late
        self._name = name
        self._settle = settle
        self._lock = threading.Lock()
        self._outcome: _Outcome | None = None
        self._started = False
        self._refused = False
        self._abandoned = False

    def run(self) -> _Outcome:
        """Call the function in this thread: what it returned, or the exception it raised.

        The value is boxed: trio refuses a worker function that returns a coroutine.

        Raises:
            UsageError: The function refused the arguments before its body ran.
        """
        with self._lock:
            if self._abandoned:  # cancelled before the thread got to it: never run it
                raise RuntimeError("abandoned before it started")
            self._started = True
        outcome: _Outcome
        try:
            outcome = (self._call(),)
            if self._settle:  # the caller has no event loop to await a coroutine on
                outcome = _awaited(outcome)
        except BaseException as exc:
            if not _body_ran(exc):
                self._never_ran()
                raise _refused(self._name, exc) from exc
            outcome = exc
        with self._lock:
            self._outcome = outcome
            abandoned = self._abandoned
        if abandoned and self._late is not None:
            self._late(_awaited(outcome))  # no caller is left to await a coroutine either
        if not isinstance(outcome, tuple | Exception):  # KeyboardInterrupt, SystemExit...
            raise outcome
        return outcome

    def _never_ran(self) -> None:
        """The function refused the arguments: a caller who left hears that it never ran."""
        with self._lock:
            self._refused = True
            abandoned = self._abandoned
        if abandoned and self._late is not None:
            self._late(None)

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            outcome, started, refused = self._outcome, self._started, self._refused
        # Finished just before the cancellation arrived (its outcome would be dropped), never
        # started, or refused its arguments (it never ran, `outcome` is None): else the thread
        # hands its outcome on when it ends.
        if self._late is not None and (outcome is not None or not started or refused):
            self._late(_unawaited(outcome))


class SyncCall:
    """A sync tool's call for a caller without an event loop, running in a worker thread.

    A call run in the caller's thread (`start_sync(here=True)`) is one that ended already.
    """

    def __init__(
        self,
        tool: FunctionTool[..., Any],
        call: FunctionCallStep,
        worker: _Worker,
        future: concurrent.futures.Future[_Outcome],
    ) -> None:
        self._tool, self._call, self._worker = tool, call, worker
        self.future = future
        self.deadline: float | None = (
            None if tool.timeout is None else time.monotonic() + tool.timeout
        )
        """When the tool's timeout ends (`time.monotonic()`), if it has one."""

    def result(self, *, raise_errors: bool = False) -> FunctionResultStep:
        """Wait for the call (at most until its deadline) and return its result.

        A timeout, or an interruption of the wait (Ctrl-C), abandons the call: its thread
        goes on and hands its outcome to `on_late`.

        Raises:
            UsageError: The function refused arguments that fit its signature (before its
                body ran).
        """
        tool, call = self._tool, self._call
        wait = None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)
        try:
            outcome = self.future.result(wait)
        except concurrent.futures.TimeoutError:  # the wait's, never the tool's: see _Worker.run
            self.abandon()
            return tool._timed_out(call)  # pyright: ignore[reportPrivateUsage]
        except BaseException:
            self.abandon()
            raise
        return tool._answer(call, outcome, raise_errors=raise_errors)  # pyright: ignore[reportPrivateUsage]

    def abandon(self) -> None:
        """Stop waiting: a call still queued never runs; a running one reports late."""
        self.future.cancel()
        self._worker.abandon()


TOOL_THREADS = 40
"""Worker threads shared by the sync tools of every sync run in the process (as many as
anyio gives the sync tools of async runs by default)."""

_threads: concurrent.futures.ThreadPoolExecutor | None = None
_threads_lock = threading.Lock()


def tool_threads() -> concurrent.futures.ThreadPoolExecutor:
    """The process's pool of worker threads for sync tools in sync runs (made on first use)."""
    global _threads  # one pool per process, made only if a sync run needs it
    if _threads is None:
        with _threads_lock:
            if _threads is None:
                _threads = concurrent.futures.ThreadPoolExecutor(
                    TOOL_THREADS, thread_name_prefix="agentkit-tool"
                )
    return _threads


def _ran(function: Callable[[], _Outcome]) -> concurrent.futures.Future[_Outcome]:
    """A call made in this thread, as the future of one made in a worker thread."""
    future: concurrent.futures.Future[_Outcome] = concurrent.futures.Future()
    try:
        future.set_result(function())
    except Exception as exc:  # NeverRan: `SyncCall.result` raises it, as from a thread
        future.set_exception(exc)
    return future


async def _settled(awaitable: typing.Awaitable[Any]) -> _Outcome:
    """Await a tool's coroutine: what it returned, or the exception it raised."""
    try:
        return (await awaitable,)
    except Exception as exc:  # the tool's failure, for the model; agentkit's own code is outside
        return exc
    except anyio.get_cancelled_exc_class() as exc:
        if _cancelled_by_another(exc):
            return exc
        raise


def _cancelled_by_another(exc: BaseException) -> bool:
    """Whether `exc`, asyncio's `CancelledError`, is a tool's own failure, not a cancellation.

    A future the tool awaited was cancelled by someone else (a library shutting its pool
    down) while nothing asked to cancel the task running the tool. Python 3.10 cannot tell.
    """
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return callable(cancelling) and cancelling() == 0


def _awaited(outcome: _Outcome) -> _Outcome:
    """`outcome`, but a coroutine it holds awaited to its end, on a loop of its own.

    That is what a sync wrapper around a coroutine function returns. Only for a thread where
    no event loop runs.
    """
    if isinstance(outcome, tuple) and inspect.isawaitable(outcome[0]):
        return anyio.run(_settled, outcome[0])
    return outcome


def _unawaited(outcome: _Outcome | None) -> _Outcome | None:
    """`outcome`, but None (it never ran) for a coroutine its caller left without awaiting."""
    if isinstance(outcome, tuple) and inspect.isawaitable(outcome[0]):
        close = getattr(outcome[0], "close", None)
        if callable(close):
            close()  # the coroutine never started: no warning that it was never awaited
        return None
    return outcome


def _body_ran(exc: BaseException) -> bool:
    """Whether `exc` was raised inside the called function, not by the call itself.

    Arguments that do not fit a function raise TypeError before its frame exists, so the
    traceback ends in the frame that made the call.
    """
    traceback = exc.__traceback__
    return not isinstance(exc, TypeError) or (
        traceback is not None and traceback.tb_next is not None
    )


class NeverRan(UsageError):
    """A function that refused its validated arguments: its body never ran."""


def _refused(tool_name: str, exc: BaseException) -> NeverRan:
    """The error of a function that refused its validated arguments before its body ran.

    Its signature, which the schema comes from, promised it takes them: neither the model,
    which sent valid arguments, nor the tool's code can fix that, so it is not an error result.
    """
    return NeverRan(
        f"Tool {tool_name!r}: the function refused its arguments before its body ran "
        f"({describe_exception(exc)}), so it does not take what its signature says. A "
        "wrapper made with functools.wraps must take the parameters of the function it "
        "wraps, and a __signature__ must match the function."
    )


def describe_exception(exc: BaseException) -> str:
    """How an exception reads in an error result: `TypeName: message`."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
