"""Tool declarations sent in `tools[]`."""

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Union, cast
from urllib.parse import urlsplit, urlunsplit

from pydantic import ConfigDict, Tag

from agentkit.types._base import UNKNOWN, OpenTag, WireModel

__all__ = [
    "CodeExecution",
    "ComputerUse",
    "FileSearch",
    "FunctionDeclaration",
    "GoogleMaps",
    "GoogleSearch",
    "McpServer",
    "Retrieval",
    "Tool",
    "UnknownTool",
    "UrlContext",
]


class FunctionDeclaration(WireModel):
    """A client-side function the model may call; `parameters` is a JSON Schema object."""

    type: Literal["function"] = "function"
    name: str = ""
    description: str | None = None
    parameters: dict[str, Any] | None = None


class GoogleSearch(WireModel):
    """Server-side Google search; `search_types` among web/image/enterprise_web_search."""

    type: Literal["google_search"] = "google_search"
    search_types: list[str] | None = None


class UrlContext(WireModel):
    """Server-side fetching of the URLs named in the prompt."""

    type: Literal["url_context"] = "url_context"


class CodeExecution(WireModel):
    """Server-side code execution."""

    type: Literal["code_execution"] = "code_execution"


class FileSearch(WireModel):
    """Server-side search over File Search stores."""

    type: Literal["file_search"] = "file_search"
    file_search_store_names: list[str] | None = None
    metadata_filter: str | None = None
    top_k: int | None = None


class GoogleMaps(WireModel):
    """Server-side Google Maps grounding."""

    type: Literal["google_maps"] = "google_maps"
    # int | float: an integer coordinate must go back out as an integer.
    latitude: int | float | None = None
    longitude: int | float | None = None
    enable_widget: bool | None = None


_MASK = "***"
"""What a repr shows instead of a credential."""

# A credential never reaches a repr, nor a validation error (pydantic quotes the input).
_HIDDEN: ConfigDict = {"hide_input_in_errors": True}


class McpServer(WireModel):
    """A remote MCP server that Google's side calls (not a connection from this process).

    `headers` often carry credentials: a repr shows their names, never their values.
    """

    model_config: ClassVar[ConfigDict] = _HIDDEN

    type: Literal["mcp_server"] = "mcp_server"
    name: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    allowed_tools: list[dict[str, Any]] | None = None
    """`[{"mode": "auto" | "any" | "none" | "validated", "tools": [names]}]`."""

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "headers":
                value = _masked(value)
            elif name == "url" and isinstance(value, str):
                value = _masked_url(value)
            yield name, value


def _masked_url(url: str) -> str:
    """The URL with a password and the query hidden: either may hold a token."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _MASK
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:{_MASK}@{netloc.rpartition('@')[2]}"
    elif parts.username is not None:
        netloc = f"{_MASK}@{netloc.rpartition('@')[2]}"
    query = _MASK if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class ComputerUse(WireModel):
    """Computer use: actions arrive as `function_call` steps."""

    type: Literal["computer_use"] = "computer_use"
    environment: str | None = None
    excluded_predefined_functions: list[str] | None = None
    disabled_safety_policies: list[str] | None = None
    enable_prompt_injection_detection: bool | None = None


class Retrieval(WireModel):
    """Server-side retrieval (Vertex AI Search, RAG stores, Exa, Parallel).

    The `api_key` of a search provider's config never appears in a repr.
    """

    model_config: ClassVar[ConfigDict] = _HIDDEN

    type: Literal["retrieval"] = "retrieval"
    retrieval_types: list[str] | None = None
    vertex_ai_search_config: dict[str, Any] | None = None
    rag_store_config: dict[str, Any] | None = None
    exa_ai_search_config: dict[str, Any] | None = None
    parallel_ai_search_config: dict[str, Any] | None = None

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in _KEYED_CONFIGS and isinstance(value, Mapping) and "api_key" in value:
                value = {**cast("Mapping[str, Any]", value), "api_key": _MASK}
            yield name, value


_KEYED_CONFIGS = frozenset({"exa_ai_search_config", "parallel_ai_search_config"})


def _masked(headers: Any) -> Any:
    """Header names kept, values hidden: the names help debugging, the values are secrets."""
    if isinstance(headers, Mapping):
        return dict.fromkeys(cast("Mapping[str, Any]", headers), _MASK)
    return headers if headers is None else _MASK


class UnknownTool(WireModel):
    """A tool type this version does not know; every field is kept."""

    type: str = ""


_TOOL_TAG = OpenTag("type")
Tool = Annotated[
    # Union[...], not `|`: chained `|` rebuilds the union at each member (slower import).
    Union[  # noqa: UP007
        Annotated[FunctionDeclaration, Tag("function")],
        Annotated[GoogleSearch, Tag("google_search")],
        Annotated[UrlContext, Tag("url_context")],
        Annotated[CodeExecution, Tag("code_execution")],
        Annotated[FileSearch, Tag("file_search")],
        Annotated[GoogleMaps, Tag("google_maps")],
        Annotated[McpServer, Tag("mcp_server")],
        Annotated[ComputerUse, Tag("computer_use")],
        Annotated[Retrieval, Tag("retrieval")],
        Annotated[UnknownTool, Tag(UNKNOWN)],
    ],
    _TOOL_TAG.discriminator,
]
"""A tool declaration (open union on `type`)."""
_TOOL_TAG.learn(Tool)
