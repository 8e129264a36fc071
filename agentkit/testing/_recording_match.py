"""Which recorded exchange answers a replayed request (pure: no I/O).

The rule: a request is answered by the first exchange not played yet with the same method,
path, query (credentials left out) and body, compared as JSON values when both parse.
The host and the headers are not compared: a replay may use another base URL, another key
and another agentkit version (the `User-Agent`). A "[REDACTED]" in a recorded string
stands for any text, since the secret it replaced differs between recording and replay.
Fields given by `ignore` (dotted paths into the body) are not compared either. Requests
that are equal are answered in the order they were recorded, so the same request sent
twice (a poll) gets the two recorded answers in turn.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Final, cast

import httpx

from agentkit._http import REDACTED
from agentkit.testing._recording_file import SECRET_PARAMS, Exchange, RequestNotRecorded

__all__ = ["Matcher", "body_value", "first_difference", "query", "without"]

_SHOWN: Final = 80  # characters of a value shown in a message


def query(url: httpx.URL) -> dict[str, list[str]]:
    """The query parameters of `url` by name, credentials left out."""
    found: dict[str, list[str]] = {}
    for name, value in url.params.multi_items():
        if name not in SECRET_PARAMS:
            found.setdefault(name, []).append(value)
    return dict(sorted(found.items()))


def body_value(body: bytes) -> Any:  # the JSON value, or the text, or None when empty
    """A body as compared: its JSON value when it parses, else its text."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def without(value: Any, paths: Iterable[Sequence[str]]) -> Any:
    """Copy a JSON value without the fields at `paths`; a path goes through every list item."""
    for path in paths:
        value = _drop(value, path)
    return value


def _drop(value: Any, path: Sequence[str]) -> Any:
    if not path:
        return value
    if isinstance(value, list):
        return [_drop(item, path) for item in cast("list[object]", value)]
    if not isinstance(value, dict):
        return value
    fields = cast("dict[str, Any]", value)
    head, rest = path[0], path[1:]
    if head not in fields:
        return fields
    if not rest:
        return {key: item for key, item in fields.items() if key != head}
    return {key: _drop(item, rest) if key == head else item for key, item in fields.items()}


def first_difference(recorded: object, sent: object, where: str = "body") -> str | None:
    """Describe where `sent` first differs from `recorded` (None when they match)."""
    scalar: object = recorded  # before the narrowing below, which would leave it Unknown
    if isinstance(recorded, str) and isinstance(sent, str):
        return None if _same_text(recorded, sent) else _differs(where, recorded, sent)
    if isinstance(recorded, dict) and isinstance(sent, dict):
        return _dict_difference(
            cast("dict[str, Any]", recorded), cast("dict[str, Any]", sent), where
        )
    if isinstance(recorded, list) and isinstance(sent, list):
        return _list_difference(cast("list[object]", recorded), cast("list[object]", sent), where)
    return _scalar_difference(scalar, sent, where)


def _scalar_difference(recorded: object, sent: object, where: str) -> str | None:
    # `True == 1` in Python, not in JSON: the types must agree as well.
    if type(recorded) is type(sent) and recorded == sent:
        return None
    if _number(recorded) and _number(sent) and recorded == sent:
        return None  # 1 and 1.0 are the same JSON number
    return _differs(where, recorded, sent)


def _list_difference(recorded: list[object], sent: list[object], where: str) -> str | None:
    for index, (left, right) in enumerate(zip(recorded, sent, strict=False)):
        found = first_difference(left, right, f"{where}[{index}]")
        if found is not None:
            return found
    if len(recorded) != len(sent):
        return f"{where}: recorded {len(recorded)} items, sent {len(sent)}"
    return None


def _dict_difference(recorded: dict[str, Any], sent: dict[str, Any], where: str) -> str | None:
    for key, value in recorded.items():
        if key not in sent:
            return f"{where}.{key}: recorded {_show(value)}, not sent"
        found = first_difference(value, sent[key], f"{where}.{key}")
        if found is not None:
            return found
    for key, value in sent.items():
        if key not in recorded:
            return f"{where}.{key}: not recorded, sent {_show(value)}"
    return None


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_text(recorded: str, sent: str) -> bool:
    if REDACTED not in recorded:
        return recorded == sent
    pattern = ".+?".join(re.escape(part) for part in recorded.split(REDACTED))
    return re.fullmatch(pattern, sent, re.DOTALL) is not None


def _differs(where: str, recorded: object, sent: object) -> str:
    return f"{where}: recorded {_show(recorded)}, sent {_show(sent)}"


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else "nothing"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


class Matcher:
    """Hands out the recorded exchanges to the requests of a replay (thread-safe)."""

    def __init__(
        self, exchanges: Sequence[Exchange], *, ignore: Iterable[str] = (), source: str
    ) -> None:
        self.exchanges = tuple(exchanges)
        self.played = [False] * len(self.exchanges)
        self._ignore = tuple(tuple(path.split(".")) for path in ignore)
        self._source = source
        self._sent: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def take(self, method: str, url: httpx.URL, body: bytes) -> Exchange:
        """Return the exchange that answers this request, and mark it played.

        `body` must already be scrubbed of the replaying client's own credentials.

        Raises:
            RequestNotRecorded: No unplayed exchange matches.
        """
        sent_query, sent_body = query(url), without(body_value(body), self._ignore)
        with self._lock:
            self._sent[method, url.path] += 1
            nearest: str | None = None
            for index, exchange in enumerate(self.exchanges):
                if self.played[index] or (exchange.method, exchange.path) != (method, url.path):
                    continue
                recorded = without(body_value(exchange.request_body), self._ignore)
                difference = first_difference(query(httpx.URL(exchange.url)), sent_query, "query")
                difference = difference or first_difference(recorded, sent_body)
                if difference is None:
                    self.played[index] = True
                    return exchange
                nearest = nearest or f"exchange {index + 1}, at {difference}"
            raise self._not_recorded(method, url.path, nearest)

    def unplayed(self) -> list[Exchange]:
        """The exchanges no request has taken yet, in recorded order."""
        with self._lock:
            return [
                ex for ex, played in zip(self.exchanges, self.played, strict=True) if not played
            ]

    def _not_recorded(self, method: str, path: str, nearest: str | None) -> RequestNotRecorded:
        ordinal = self._sent[method, path]
        lines = [
            f"{self._source} holds no answer for {method} {path} "
            f"(request {ordinal} to it in this replay)."
        ]
        if nearest is not None:
            lines.append(f"The closest unplayed recording differs: {nearest}.")
        lines.append(f"The recording holds: {self.summary()}.")
        lines.append("Record it again (mode='record') if the agent's requests changed on purpose.")
        return RequestNotRecorded(" ".join(lines), method=method, path=path)

    def summary(self) -> str:
        """What the recording holds, per method and path, with how much of it was played."""
        counts: dict[tuple[str, str], list[int]] = {}
        for exchange, played in zip(self.exchanges, self.played, strict=True):
            count = counts.setdefault((exchange.method, exchange.path), [0, 0])
            count[0] += 1
            count[1] += played
        if not counts:
            return "no exchanges"
        return ", ".join(
            f"{method} {path} x{total} ({done} played)"
            for (method, path), (total, done) in counts.items()
        )
