"""The transport-agnostic emulator core: `handle(method, path, query, headers, body)`."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from agentkit.testing._behaviour import EchoToolsBehaviour
from agentkit.testing._files import FileStore
from agentkit.testing._history import (
    Signer,
    check_calls,
    count_tokens,
    normalize_input,
    parse_body,
    trailing_client_steps,
    validate_create,
)
from agentkit.testing._outcomes import build_outcome, fingerprint, take_hop
from agentkit.testing._records import (
    Hop,
    Outcome,
    Record,
    RecordedRequest,
    new_record,
    status_event,
)
from agentkit.testing._replies import (
    CLIENT_STEP_TYPES,
    Behaviour,
    ModelRequest,
    StepDict,
    to_reply,
)
from agentkit.testing._sse import Event, frame, step_events
from agentkit.testing._wire import (
    EmuError,
    EmuResponse,
    as_dict,
    as_list,
    clone,
    error_response,
    json_response,
    stream_chunks,
)

__all__ = ["EmulatorCore", "Fault"]


# Credentials a request may carry, hidden from `emulator.requests` (a `key` query parameter too).
_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization", "proxy-authorization"})


@dataclass(frozen=True)
class Fault:
    status: int
    headers: list[tuple[str, str]]
    body: Any


class EmulatorCore:
    """State and request handling of the emulator, with no HTTP library involved.

    Thread-safe: one re-entrant lock guards all state (a behaviour may read the emulator).
    """

    def __init__(
        self,
        behaviour: Behaviour | None,
        *,
        background_polls: int,
        background_delay: float,
        clock: Callable[[], float],
        api_key: str | None,
        signing_key: bytes,
        file_processing_polls: int = 0,
        upload_chunk_granularity: int | None = None,
    ) -> None:
        self.behaviour: Behaviour = behaviour if behaviour is not None else EchoToolsBehaviour()
        self.background_polls = background_polls
        self.background_delay = background_delay
        self.clock = clock
        self.api_key = api_key
        self.file_processing_polls = file_processing_polls
        self.upload_chunk_granularity = upload_chunk_granularity
        self._lock = threading.RLock()
        self._signer = Signer(signing_key)
        self._clear()

    def _clear(self) -> None:
        self._records: dict[str, Record] = {}
        self._requests: list[RecordedRequest] = []
        self._calls: list[StepDict] = []
        self._results: list[StepDict] = []
        self._faults: deque[Fault] = deque()
        self._drop_after: int | None = None
        self._end_after: tuple[int, bool] | None = None
        self._error_after: tuple[int, dict[str, str]] | None = None
        self._pause_after: tuple[int, threading.Event, float] | None = None
        self._counters: dict[str, int] = {}
        self._tokens: dict[str, Hop] = {}
        self._turns = 0
        self._signer.reset()
        self._files = FileStore(
            next_id=self._next,
            clock=self.clock,
            processing_polls=self.file_processing_polls,
            granularity=self.upload_chunk_granularity,
        )
        self._origin = "http://emulator.invalid"

    def _next(self, kind: str) -> int:
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return self._counters[kind]

    def _now(self) -> str:
        moment = datetime.fromtimestamp(self.clock(), timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- entry point -------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> EmuResponse:
        """Answer one HTTP request (thread-safe).

        Args:
            method: The HTTP method.
            path: The URL path (any prefix before the version segment is accepted).
            query: The query parameters.
            headers: The request headers (any case); `host` makes the URLs of files.
            body: The raw request body.

        Raises:
            ConnectionDropped: An injected fault broke an upload's connection: no answer.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self._record_request(method.upper(), path, dict(query), lowered, body)
            if self._faults:
                fault = self._faults.popleft()
                return error_response(
                    fault.status, "Injected fault.", headers=fault.headers, body=fault.body
                )
            try:
                # An upload session's URL is its credential, as with the API (the SDK sends
                # its chunks without the key).
                session = "upload_id" in query and "/upload/" in path
                self._authenticate(lowered, optional=session)
                self._origin = f"http://{lowered.get('host') or 'emulator.invalid'}"
                return self._route(method.upper(), path, query, lowered, body)
            except EmuError as error:
                return error.response()

    def _record_request(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> None:
        parsed: Any = None
        if body and "upload_id" in query:
            parsed = body  # the bytes of an upload chunk, JSON or not
        elif body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body.decode(errors="replace")
        headers = {k: "***" if k in _SECRET_HEADERS else v for k, v in headers.items()}
        query = {k: "***" if k == "key" else v for k, v in query.items()}
        self._requests.append(RecordedRequest(method, path, query, headers, parsed))

    def _authenticate(self, headers: Mapping[str, str], *, optional: bool = False) -> None:
        key = headers.get("x-goog-api-key")
        if not key and optional:
            return
        if not key:
            raise EmuError(401, "Missing API key: send it in the x-goog-api-key header.")
        if self.api_key is not None and key != self.api_key:
            raise EmuError(401, "API key not valid.")

    def _route(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> EmuResponse:
        parts = [p for p in path.split("/") if p]
        if "files" in parts[1:] and "interactions" not in parts:
            # Attributes users may change between requests.
            self._files.processing_polls = self.file_processing_polls
            self._files.granularity = self.upload_chunk_granularity
            return self._files.handle(method, parts, query, headers, body, self._origin)
        if "interactions" not in parts[1:]:
            raise EmuError(404, f"No such endpoint: {path}")
        rest = parts[parts.index("interactions", 1) + 1 :]
        if not rest and method == "POST":
            return self._create(parse_body(body))
        if len(rest) == 1 and method == "GET":
            return self._get(rest[0], query)
        if len(rest) == 1 and method == "DELETE":
            self._stored(rest[0])
            del self._records[rest[0]]
            return EmuResponse(200, [("content-type", "application/json")], b"{}")
        if len(rest) == 2 and rest[1] == "cancel" and method == "POST":
            return json_response(self._cancel(rest[0]))
        if len(rest) <= 2:
            raise EmuError(405, f"{method} is not allowed on {path}")
        raise EmuError(404, f"No such endpoint: {path}")

    # -- create ------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> EmuResponse:
        validate_create(body)
        new_input = normalize_input(body.get("input"))
        self._signer.verify(new_input)
        self._files.check_uris(new_input, self._origin)
        if body.get("continuation_token") is not None:
            interaction_id, outcome = self._continue(body, new_input)
        else:
            interaction_id, outcome = self._turn(body, new_input)
        record = self._new_record(interaction_id, body, new_input)
        if record.background:
            record.pending = outcome
        else:
            self._finish(record, outcome)
        if record.stored:
            self._records[record.id] = record
        if body.get("stream") is True:
            return self._stream(record.events)
        return json_response(record.snapshot(copy=False))

    def _new_id(self) -> str:
        # Taken only once a request passed its checks, so rejected requests leave no gaps.
        return f"v1_emu_{self._next('interaction'):04d}"

    def _turn(self, body: dict[str, Any], new_input: list[StepDict]) -> tuple[str, Outcome]:
        stored = body.get("store", True) is not False
        chain, pending = self._chain(body.get("previous_interaction_id"))
        if stored:
            check_calls(new_input, pending)
            history, fresh = [*chain, *new_input], new_input
        else:
            check_calls(new_input, {})
            history, fresh = new_input, trailing_client_steps(new_input)
        if not any(s.get("type") in CLIENT_STEP_TYPES for s in fresh):
            raise EmuError(400, "input must end with user_input or function_result steps.")
        results = [s for s in fresh if s.get("type") == "function_result"]
        self._results.extend(clone(results))
        request = ModelRequest(
            body=clone(body),
            history=clone(history),
            new_input=clone(fresh),
            tools=[as_dict(t) for t in as_list(clone(body.get("tools")))],
            function_results=clone(results),
            interaction_id=self._new_id(),
            turn=self._turns,
        )
        self._turns += 1
        reply = to_reply(self.behaviour(request))
        outcome, rest = build_outcome(
            reply,
            next_id=self._next,
            signer=self._signer,
            input_tokens=count_tokens(body.get("system_instruction")) + count_tokens(history),
            issuer=request.interaction_id,
            stored=stored,
            input_fingerprint=fingerprint(body),
        )
        self._keep_hop(outcome, rest)
        return request.interaction_id, outcome

    def _chain(self, previous_id: Any) -> tuple[list[StepDict], dict[str, str]]:
        if previous_id is None:
            return [], {}
        previous = self._stored(previous_id)
        if previous.pending is not None:
            raise EmuError(
                400, f"Interaction {previous_id} is still in progress.", code="failed_precondition"
            )
        history: list[StepDict] = []
        record: Record | None = previous
        while record is not None:
            history[:0] = [*record.input_steps, *record.view.get("steps", [])]
            record = self._records.get(record.previous_id) if record.previous_id else None
        return history, previous.pending_calls()

    def _new_record(
        self, interaction_id: str, body: dict[str, Any], steps: list[StepDict]
    ) -> Record:
        record = new_record(interaction_id, body, steps, self._now(), self.clock(), self._next)
        self._add_event(
            record, {"event_type": "interaction.created", "interaction": record.lifecycle()}
        )
        return record

    def _continue(self, body: dict[str, Any], new_input: list[StepDict]) -> tuple[str, Outcome]:
        token, previous_id = body.get("continuation_token"), body.get("previous_interaction_id")
        hop = self._tokens.get(token) if isinstance(token, str) else None
        if hop is None:
            raise EmuError(400, "Unknown continuation_token.")
        if hop.stored and (previous_id != hop.issuer or new_input):
            raise EmuError(
                400,
                f"Continue with previous_interaction_id={hop.issuer!r}, the interaction that"
                " issued the continuation_token, and no input.",
            )
        if not hop.stored and (previous_id is not None or fingerprint(body) != hop.fingerprint):
            raise EmuError(
                400, "With store=false, re-send the original input with the continuation_token."
            )
        interaction_id = self._new_id()
        outcome, rest = take_hop(hop, self._next, interaction_id)
        self._keep_hop(outcome, rest)
        return interaction_id, outcome

    def _keep_hop(self, outcome: Outcome, rest: Hop | None) -> None:
        if outcome.continuation_token is not None and rest is not None:
            self._tokens[outcome.continuation_token] = rest

    def _finish(self, record: Record, outcome: Outcome) -> None:
        record.pending = None
        record.calls = dict(outcome.calls)
        steps = clone(outcome.steps)
        record.view.update(status=outcome.status, updated=self._now(), steps=steps)
        record.view["usage"] = clone(outcome.usage)
        if outcome.continuation_token is not None:
            record.view["continuation_token"] = outcome.continuation_token
        if outcome.errors:
            record.view["errors"] = clone(outcome.errors)
        self._calls.extend(clone([s for s in steps if s.get("type") == "function_call"]))
        for index, step in enumerate(steps):
            # Events share the stored steps: neither is ever changed once finished.
            for event in step_events(index, step):
                self._add_event(record, event)
        if record.background or outcome.continuation_token is not None:
            self._add_event(record, status_event(record))
        self._add_event(
            record, {"event_type": "interaction.completed", "interaction": record.lifecycle()}
        )

    # -- get / cancel ------------------------------------------------------------------

    def _stored(self, interaction_id: Any) -> Record:
        record = self._records.get(interaction_id) if isinstance(interaction_id, str) else None
        if record is None:
            raise EmuError(404, f"Interaction {interaction_id} not found.")
        return record

    def _get(self, interaction_id: str, query: Mapping[str, str]) -> EmuResponse:
        record = self._stored(interaction_id)
        if _flag(query, "stream"):
            if record.pending is not None:
                # A stream waits for the end, and emulated work ends at once.
                self._finish(record, record.pending)
            events = record.events
            last = query.get("last_event_id")
            if last:
                ids = [e["event_id"] for e in events]
                if last not in ids:
                    raise EmuError(400, f"Unknown last_event_id {last!r}.")
                events = events[ids.index(last) + 1 :]
            return self._stream(events)
        if record.pending is not None:
            record.polls += 1
            elapsed = self.clock() - record.started
            if record.polls > self.background_polls and elapsed >= self.background_delay:
                self._finish(record, record.pending)
        include_input = _flag(query, "include_input")
        return json_response(record.snapshot(include_input=include_input, copy=False))

    def _cancel(self, interaction_id: str) -> dict[str, Any]:
        record = self._stored(interaction_id)
        if not record.background:
            raise EmuError(
                400, "Only background interactions can be cancelled.", code="failed_precondition"
            )
        if record.pending is None:
            raise EmuError(
                400,
                f"Interaction {interaction_id} is already {record.status}.",
                code="failed_precondition",
            )
        record.pending = None
        record.view.update(status="cancelled", updated=self._now())
        self._add_event(record, status_event(record))
        self._add_event(
            record, {"event_type": "interaction.completed", "interaction": record.lifecycle()}
        )
        return record.snapshot()

    def complete(self, interaction_id: str) -> dict[str, Any]:
        """Finish a background interaction now (no-op when it already finished).

        Returns:
            The interaction, as a GET would now return it.

        Raises:
            KeyError: No stored interaction has this id.
        """
        with self._lock:
            record = self._records.get(interaction_id)
            if record is None:
                raise KeyError(interaction_id)
            if record.pending is not None:
                self._finish(record, record.pending)
            return record.snapshot()

    # -- events ------------------------------------------------------------------------

    def _add_event(self, record: Record, event: Event) -> None:
        event_id = f"evt_{self._next('event'):06d}"
        record.events.append({"event_type": event.pop("event_type"), "event_id": event_id, **event})

    def _stream(self, events: list[Event]) -> EmuResponse:
        chunks = [frame(e) for e in events]
        drop, end, error = self._drop_after, self._end_after, self._error_after
        pause, self._pause_after = self._pause_after, None
        self._drop_after = self._end_after = self._error_after = None
        if error is not None:
            after, detail = error
            event_id = f"evt_{self._next('event'):06d}"
            error_event = {"event_type": "error", "event_id": event_id, "error": detail}
            chunks = [*chunks[:after], frame(error_event)]
        if end is not None:
            after, mid_event = end
            if mid_event and after < len(chunks):
                # Half an event: the blank line that would close it is in the other half.
                chunks = [*chunks[:after], chunks[after][: len(chunks[after]) // 2]]
            else:
                chunks = chunks[:after]
        headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
        return EmuResponse(200, headers, stream_chunks(chunks, drop, pause))


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")
