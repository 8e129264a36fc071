"""Server-side tools: declarations that go in `Agent(tools=[...])`, run by Google, not here.

Each factory returns the typed declaration (`agentkit.types`) and checks its arguments, so a
mistake is a `UsageError` when the agent is defined, not a 400 at its first request. A value
newer than agentkit (a new environment, retrieval type...) can still be sent as a raw
declaration dict. Their call/result steps come back in `result.steps`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from agentkit._exceptions import UsageError
from agentkit.types import (
    AllowedTools,
    CodeExecution,
    ComputerUse,
    ExaAISearchConfig,
    FileSearch,
    GoogleMaps,
    GoogleSearch,
    McpServer,
    ParallelAISearchConfig,
    RagStoreConfig,
    Retrieval,
    UrlContext,
    VertexAISearchConfig,
)

__all__ = [
    "code_execution",
    "computer_use",
    "file_search",
    "google_maps",
    "google_search",
    "mcp_server",
    "retrieval",
    "url_context",
]

ComputerEnvironment = Literal["browser", "mobile", "desktop"]
SafetyPolicy = Literal[
    "financial_transactions",
    "sensitive_data_modification",
    "communication_tool",
    "account_creation",
    "data_modification",
    "user_consent_management",
    "legal_terms_and_agreements",
]
_TOOL_CHOICE_MODES = ("auto", "any", "none", "validated")


def google_search(*, search_types: Sequence[str] | None = None) -> GoogleSearch:
    """The server-side Google Search tool; answers come back with `url_citation` annotations.

    Args:
        search_types: Any of `web_search`, `image_search`, `enterprise_web_search`.
    """
    if search_types is None:
        return GoogleSearch()
    return GoogleSearch(search_types=list(search_types))


def url_context() -> UrlContext:
    """The server-side URL context tool: the model may read the URLs in the prompt."""
    return UrlContext()


def code_execution() -> CodeExecution:
    """The server-side code execution tool: the model may run Python in a sandbox."""
    return CodeExecution()


def file_search(
    store_names: Sequence[str], *, metadata_filter: str | None = None, top_k: int | None = None
) -> FileSearch:
    """The server-side File Search tool; answers come back with `file_citation` annotations.

    Args:
        store_names: The File Search stores to search, e.g. `["fileSearchStores/manuals"]`.
        metadata_filter: Searches only the documents whose metadata match, e.g.
            `'author = "Ada"'`.
        top_k: How many chunks to retrieve.

    Raises:
        UsageError: No store name, or a `top_k` that is not a positive int.
    """
    names = _strings("file_search", "store_names", store_names, example='["fileSearchStores/x"]')
    if not names:
        raise UsageError("file_search() needs at least one File Search store name.")
    fields: dict[str, Any] = {"file_search_store_names": names}
    if metadata_filter is not None:
        fields["metadata_filter"] = _text("file_search", "metadata_filter", metadata_filter)
    if top_k is not None:
        fields["top_k"] = _positive("file_search", "top_k", top_k)
    return FileSearch(**fields)


def google_maps(
    *,
    latitude: float | None = None,
    longitude: float | None = None,
    enable_widget: bool | None = None,
) -> GoogleMaps:
    """The server-side Google Maps tool; answers come back with `place_citation` annotations.

    Args:
        latitude: The user's location, which places are looked up around (with `longitude`).
        longitude: The user's location (with `latitude`).
        enable_widget: Return a `widget_context_token` in the tool's result steps, to
            render a Google Maps widget.

    Raises:
        UsageError: One coordinate without the other, or one out of range.
    """
    if (latitude is None) != (longitude is None):
        raise UsageError(
            "google_maps() takes latitude and longitude together (a location), or neither."
        )
    fields: dict[str, Any] = {}
    if latitude is not None and longitude is not None:
        fields["latitude"] = _coordinate("latitude", latitude, 90)
        fields["longitude"] = _coordinate("longitude", longitude, 180)
    if enable_widget is not None:
        fields["enable_widget"] = _flag("google_maps", "enable_widget", enable_widget)
    return GoogleMaps(**fields)


def mcp_server(
    name: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    allowed_tools: Sequence[str | AllowedTools] | None = None,
) -> McpServer:
    """A remote MCP server that *Google's side* calls during the interaction.

    The API server connects to `url` itself: it must be reachable from the internet, and
    its tool calls come back as `mcp_server_tool_call` / `mcp_server_tool_result` steps,
    never run here. To run an MCP server's tools from this process instead (a local
    subprocess, a private network, approval, the journal), use `agentkit.mcp`.

    Args:
        name: Names the server in its steps (`server_name`).
        url: The full endpoint URL, e.g. `https://api.example.com/mcp`.
        headers: Sent with each of the server's requests, e.g. `Authorization`. Their
            values never appear in a repr or an error message.
        allowed_tools: The tool names the model may call (all when not given), or
            `AllowedTools` entries, e.g. `[{"mode": "validated", "tools": ["search"]}]`.

    Raises:
        UsageError: An empty name, a URL that is not http(s), a header that is not text, or
            a malformed `allowed_tools`.
    """
    fields: dict[str, Any] = {
        "name": _text("mcp_server", "name", name),
        "url": _http_url(url),
    }
    if headers is not None:
        fields["headers"] = _headers(headers)
    if allowed_tools is not None:
        fields["allowed_tools"] = _allowed_tools(allowed_tools)
    return McpServer(**fields)


def computer_use(
    environment: ComputerEnvironment,
    *,
    excluded_predefined_functions: Sequence[str] | None = None,
    disabled_safety_policies: Sequence[SafetyPolicy] | None = None,
    enable_prompt_injection_detection: bool | None = None,
) -> ComputerUse:
    """The computer use tool: the model operates a screen that *your* code drives.

    Its actions (click, type, scroll...) arrive as `function_call` steps for predefined
    functions: give the agent function tools of those names that carry them out.

    Args:
        environment: `browser`, `mobile` or `desktop`.
        excluded_predefined_functions: Predefined actions the model must not use.
        disabled_safety_policies: Safety checks to turn off, e.g.
            `["financial_transactions"]`.
        enable_prompt_injection_detection: Check the screen for prompt injections.

    Raises:
        UsageError: An unknown environment or safety policy.
    """
    fields: dict[str, Any] = {
        "environment": _one_of("environment", environment, ComputerEnvironment)
    }
    if excluded_predefined_functions is not None:
        fields["excluded_predefined_functions"] = _strings(
            "computer_use",
            "excluded_predefined_functions",
            excluded_predefined_functions,
            example='["drag_and_drop"]',
        )
    if disabled_safety_policies is not None:
        policies = _strings(
            "computer_use",
            "disabled_safety_policies",
            disabled_safety_policies,
            example='["financial_transactions"]',
        )
        fields["disabled_safety_policies"] = [
            _one_of("safety policy", policy, SafetyPolicy) for policy in policies
        ]
    if enable_prompt_injection_detection is not None:
        fields["enable_prompt_injection_detection"] = _flag(
            "computer_use", "enable_prompt_injection_detection", enable_prompt_injection_detection
        )
    return ComputerUse(**fields)


def retrieval(
    *,
    vertex_ai_search: VertexAISearchConfig | None = None,
    rag_store: RagStoreConfig | None = None,
    exa_ai_search: ExaAISearchConfig | None = None,
    parallel_ai_search: ParallelAISearchConfig | None = None,
) -> Retrieval:
    """The server-side retrieval tool: search the sources given, each with its settings.

    Each argument given enables that retrieval type (an empty dict: with its defaults).
    Answers may come back with `file_citation` annotations.

    Example:
        ```python
        retrieval(vertex_ai_search={"datastores": [DATASTORE]}, parallel_ai_search={})
        ```

    Args:
        vertex_ai_search: Vertex AI Search: an `engine` or `datastores`.
        rag_store: Vertex AI RAG Engine corpora (`rag_resources`) and retrieval settings.
        exa_ai_search: Exa search; needs your Exa `api_key` (never shown in a repr).
        parallel_ai_search: Parallel search; optionally your Parallel `api_key`.

    Raises:
        UsageError: No retrieval type, a setting that is not a dict, or Exa without a key.
    """
    configs: dict[str, Mapping[str, Any] | None] = {
        "vertex_ai_search": vertex_ai_search,
        "rag_store": rag_store,
        "exa_ai_search": exa_ai_search,
        "parallel_ai_search": parallel_ai_search,
    }
    given = {kind: config for kind, config in configs.items() if config is not None}
    if not given:
        raise UsageError(
            "retrieval() needs at least one retrieval type: vertex_ai_search=, rag_store=, "
            "exa_ai_search= or parallel_ai_search= (a dict of its settings, {} for none)."
        )
    fields: dict[str, Any] = {"retrieval_types": list(given)}
    for kind, config in given.items():
        if not isinstance(config, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(
                f"retrieval({kind}=...) takes a dict of settings, not {type(config).__name__}."
            )
        if config:
            fields[f"{kind}_config"] = dict(config)
    exa = given.get("exa_ai_search")
    if exa is not None and not (isinstance(exa.get("api_key"), str) and exa["api_key"]):
        raise UsageError('retrieval(exa_ai_search=...) needs your Exa key: {"api_key": ...}.')
    return Retrieval(**fields)


# -- argument checks ----------------------------------------------------------------------------


def _strings(tool: str, param: str, value: object, *, example: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise UsageError(f"{tool}({param}=...) takes a list of strings, e.g. {example}.")
    items = list(cast("Sequence[object]", value))
    names = [item for item in items if isinstance(item, str) and item]
    if len(names) != len(items):
        raise UsageError(f"{tool}({param}=...) takes non-empty strings, e.g. {example}.")
    return names


def _text(tool: str, param: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{tool}() needs a non-empty string as {param}, not {value!r}.")
    return value


def _flag(tool: str, param: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{tool}({param}=...) takes True or False, not {value!r}.")
    return value


def _positive(tool: str, param: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{tool}({param}=...) takes an int >= 1, not {value!r}.")
    return value


def _coordinate(param: str, value: object, bound: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"google_maps({param}=...) takes a number of degrees, not {value!r}.")
    if not -bound <= value <= bound:
        raise UsageError(f"google_maps({param}=...) must be within ±{bound} degrees, not {value}.")
    return value


def _one_of(what: str, value: object, options: Any) -> str:
    known: tuple[str, ...] = get_args(options)
    if not isinstance(value, str) or value not in known:
        raise UsageError(
            f"Unknown computer_use {what} {value!r}: expected one of {', '.join(known)}. For a "
            "value newer than agentkit, give the declaration as a dict: "
            '{"type": "computer_use", ...}.'
        )
    return value


def _http_url(url: object) -> str:
    if isinstance(url, str):
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = None
        if parts is not None and parts.scheme in ("https", "http") and parts.netloc:
            return url
    # The URL is not shown: it may hold a token in its query or user info.
    raise UsageError(
        "mcp_server() needs the server's full http(s) endpoint URL, e.g. "
        '"https://api.example.com/mcp" (Google\'s side connects to it).'
    )


def _headers(headers: object) -> dict[str, str]:
    if not isinstance(headers, Mapping):
        raise UsageError('mcp_server(headers=...) takes a dict, e.g. {"Authorization": ...}.')
    checked: dict[str, str] = {}
    for name, value in cast("Mapping[object, object]", headers).items():
        if not isinstance(name, str) or not name:
            raise UsageError("mcp_server(headers=...): every header name must be a string.")
        if not isinstance(value, str):
            # Named, never shown: the value may be a credential.
            raise UsageError(
                f"mcp_server(headers=...): the value of header {name!r} must be a string "
                f"(not {type(value).__name__})."
            )
        checked[name] = value
    return checked


def _allowed_tools(value: object) -> list[dict[str, Any]]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise UsageError(
            'mcp_server(allowed_tools=...) takes a list of tool names, e.g. ["search"].'
        )
    items = list(cast("Sequence[object]", value))
    if not items:
        raise UsageError(
            "mcp_server(allowed_tools=[]) allows no tool: name some, or leave the server out."
        )
    if all(isinstance(item, str) for item in items):
        return [{"tools": _strings("mcp_server", "allowed_tools", items, example='["search"]')}]
    return [_allowed_entry(item) for item in items]


def _allowed_entry(item: object) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise UsageError(
            "mcp_server(allowed_tools=...) takes tool names, or AllowedTools dicts such as "
            '{"mode": "validated", "tools": ["search"]}, not a mix of both.'
        )
    entry: dict[str, Any] = {}
    for key, field in cast("Mapping[object, object]", item).items():
        entry[str(key)] = field
    mode = entry.get("mode")
    if mode is not None and mode not in _TOOL_CHOICE_MODES:
        raise UsageError(
            f"mcp_server(allowed_tools=...): unknown mode {mode!r}, expected one of "
            f"{', '.join(_TOOL_CHOICE_MODES)}."
        )
    return entry
