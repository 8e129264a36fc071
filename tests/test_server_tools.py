"""Server tool factories (`agentkit/_server_tools.py`): wire shapes, argument checks, secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from _agent_helpers import MODEL, Driver, bodies

import agentkit
from agentkit import (
    Agent,
    UsageError,
    code_execution,
    computer_use,
    file_search,
    google_maps,
    google_search,
    mcp_server,
    retrieval,
    url_context,
)
from agentkit.testing import Emulator, Script
from agentkit.types import (
    ComputerUse,
    FileSearch,
    GoogleMaps,
    Interaction,
    McpServer,
    Retrieval,
    WireModel,
)

pytestmark = pytest.mark.anyio

SECRET = "Bearer sk-live-0123456789"
EXA_KEY = "exa-key-0123456789"


@pytest.fixture(params=["async", "sync"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


# --- wire shapes -------------------------------------------------------------------------------


WIRE: list[tuple[Callable[[], WireModel], dict[str, Any]]] = [
    (
        lambda: file_search(["fileSearchStores/manuals"]),
        {"type": "file_search", "file_search_store_names": ["fileSearchStores/manuals"]},
    ),
    (
        lambda: file_search(
            ("fileSearchStores/a", "fileSearchStores/b"), metadata_filter='author = "Ada"', top_k=5
        ),
        {
            "type": "file_search",
            "file_search_store_names": ["fileSearchStores/a", "fileSearchStores/b"],
            "metadata_filter": 'author = "Ada"',
            "top_k": 5,
        },
    ),
    (lambda: google_maps(), {"type": "google_maps"}),
    (
        lambda: google_maps(latitude=48.8566, longitude=2, enable_widget=True),
        {"type": "google_maps", "latitude": 48.8566, "longitude": 2, "enable_widget": True},
    ),
    (lambda: google_maps(enable_widget=False), {"type": "google_maps", "enable_widget": False}),
    (
        lambda: mcp_server("docs", "https://api.example.com/mcp"),
        {"type": "mcp_server", "name": "docs", "url": "https://api.example.com/mcp"},
    ),
    (
        lambda: mcp_server(
            "docs",
            "https://api.example.com/mcp",
            headers={"Authorization": SECRET},
            allowed_tools=["search", "read_page"],
        ),
        {
            "type": "mcp_server",
            "name": "docs",
            "url": "https://api.example.com/mcp",
            "headers": {"Authorization": SECRET},
            "allowed_tools": [{"tools": ["search", "read_page"]}],
        },
    ),
    (
        lambda: mcp_server(
            "docs",
            "http://localhost:8080/mcp",
            allowed_tools=[{"mode": "validated", "tools": ["search"]}, {"mode": "none"}],
        ),
        {
            "type": "mcp_server",
            "name": "docs",
            "url": "http://localhost:8080/mcp",
            "allowed_tools": [{"mode": "validated", "tools": ["search"]}, {"mode": "none"}],
        },
    ),
    (
        lambda: computer_use("browser"),
        {"type": "computer_use", "environment": "browser"},
    ),
    (
        lambda: computer_use(
            "desktop",
            excluded_predefined_functions=["drag_and_drop"],
            disabled_safety_policies=["financial_transactions", "account_creation"],
            enable_prompt_injection_detection=True,
        ),
        {
            "type": "computer_use",
            "environment": "desktop",
            "excluded_predefined_functions": ["drag_and_drop"],
            "disabled_safety_policies": ["financial_transactions", "account_creation"],
            "enable_prompt_injection_detection": True,
        },
    ),
    (
        lambda: retrieval(vertex_ai_search={"engine": "projects/p/engines/e"}),
        {
            "type": "retrieval",
            "retrieval_types": ["vertex_ai_search"],
            "vertex_ai_search_config": {"engine": "projects/p/engines/e"},
        },
    ),
    (
        lambda: retrieval(
            parallel_ai_search={},
            rag_store={
                "rag_resources": [{"rag_corpus": "projects/p/ragCorpora/c", "rag_file_ids": ["f"]}],
                "rag_retrieval_config": {
                    "top_k": 4,
                    "filter": {"vector_distance_threshold": 0.5},
                    "hybrid_search": {"alpha": 0.3},
                },
            },
            exa_ai_search={"api_key": EXA_KEY, "custom_config": {"numResults": 3}},
        ),
        {
            "type": "retrieval",
            # The documented order, whatever the order of the arguments.
            "retrieval_types": ["rag_store", "exa_ai_search", "parallel_ai_search"],
            "rag_store_config": {
                "rag_resources": [{"rag_corpus": "projects/p/ragCorpora/c", "rag_file_ids": ["f"]}],
                "rag_retrieval_config": {
                    "top_k": 4,
                    "filter": {"vector_distance_threshold": 0.5},
                    "hybrid_search": {"alpha": 0.3},
                },
            },
            "exa_ai_search_config": {"api_key": EXA_KEY, "custom_config": {"numResults": 3}},
        },
    ),
]


@pytest.mark.parametrize(("make", "wire"), WIRE)
def test_each_factory_makes_the_documented_wire_shape(
    make: Callable[[], WireModel], wire: dict[str, Any]
) -> None:
    declaration = make()
    assert declaration.to_wire() == wire
    # The typed model the open `Tool` union parses the shape back into, unchanged.
    echoed = Interaction.model_validate({"id": "i", "status": "completed", "tools": [wire]})
    assert echoed.tools is not None
    assert type(echoed.tools[0]) is type(declaration)
    assert echoed.tools[0].to_wire() == wire


def test_factories_return_typed_declarations() -> None:
    assert isinstance(file_search(["fileSearchStores/x"]), FileSearch)
    assert isinstance(google_maps(), GoogleMaps)
    assert isinstance(mcp_server("n", "https://h/mcp"), McpServer)
    assert isinstance(computer_use("mobile"), ComputerUse)
    assert isinstance(retrieval(parallel_ai_search={}), Retrieval)


async def test_server_tools_are_declared_with_every_request_and_never_run_locally(
    run: Driver,
) -> None:
    tools = [
        google_search(),
        url_context(),
        code_execution(),
        file_search(["fileSearchStores/manuals"], top_k=3),
        google_maps(latitude=1.5, longitude=-2.25),
        mcp_server("docs", "https://api.example.com/mcp", headers={"Authorization": SECRET}),
        computer_use("browser"),
        retrieval(vertex_ai_search={"datastores": ["d1"]}),
    ]
    emulator = Emulator(Script(["Looked it up."]))
    agent = Agent(MODEL, tools=tools, client=emulator.async_client())

    result = await run(agent, "Find it")

    (body,) = bodies(emulator)
    assert body["tools"] == [tool.to_wire() for tool in tools]
    assert body["tools"][5]["headers"] == {"Authorization": SECRET}  # sent, only never shown
    assert emulator.function_results == []
    assert result.output_text == "Looked it up."


# --- argument checks ---------------------------------------------------------------------------


def wrong(value: object) -> Any:
    """A value of the wrong type, which type checkers let through to the runtime check."""
    return value


BAD: list[tuple[Callable[[], object], str]] = [
    (lambda: file_search([]), "at least one File Search store name"),
    (
        lambda: file_search("fileSearchStores/x"),
        r'takes a list of strings, e\.g\. \["fileSearchStores/x"\]',
    ),
    (lambda: file_search(["fileSearchStores/x", ""]), "non-empty strings"),
    (lambda: file_search(["fileSearchStores/x"], top_k=0), r"top_k=\.\.\.\) takes an int >= 1"),
    (lambda: file_search(["fileSearchStores/x"], top_k=True), "takes an int >= 1"),
    (lambda: file_search(["s"], metadata_filter=""), "non-empty string as metadata_filter"),
    (lambda: google_maps(latitude=48.8), "latitude and longitude together"),
    (lambda: google_maps(longitude=2.3), "latitude and longitude together"),
    (lambda: google_maps(latitude=91, longitude=0), r"latitude=\.\.\.\) must be within ±90"),
    (lambda: google_maps(latitude=0, longitude=-180.5), "must be within ±180"),
    (lambda: google_maps(latitude=float("nan"), longitude=0), "a number of degrees"),
    (lambda: google_maps(latitude=wrong("48.8"), longitude=2), "a number of degrees"),
    (lambda: google_maps(enable_widget=wrong("yes")), "takes True or False"),
    (lambda: mcp_server("", "https://h/mcp"), "non-empty string as name"),
    (lambda: mcp_server("n", "api.example.com/mcp"), r"full http\(s\) endpoint URL"),
    (lambda: mcp_server("n", "ftp://h/mcp"), r"full http\(s\) endpoint URL"),
    (lambda: mcp_server("n", "http://[::1/mcp"), r"full http\(s\) endpoint URL"),
    (lambda: mcp_server("n", wrong(None)), r"full http\(s\) endpoint URL"),
    (lambda: mcp_server("n", "https://h", headers=wrong([("A", "b")])), "takes a dict"),
    (lambda: mcp_server("n", "https://h", headers=wrong({1: "b"})), "must be a string"),
    (lambda: mcp_server("n", "https://h", allowed_tools="search"), "a list of tool names"),
    (lambda: mcp_server("n", "https://h", allowed_tools=[]), "allows no tool"),
    (lambda: mcp_server("n", "https://h", allowed_tools=["a", {"tools": ["b"]}]), "not a mix"),
    (lambda: mcp_server("n", "https://h", allowed_tools=["a", ""]), "non-empty strings"),
    (
        lambda: mcp_server("n", "https://h", allowed_tools=[{"mode": wrong("sometimes")}]),
        "unknown mode 'sometimes', expected one of auto, any, none, validated",
    ),
    (
        lambda: computer_use(wrong("tv")),
        "Unknown computer_use environment 'tv': expected one of browser, mobile, desktop",
    ),
    (
        lambda: computer_use("browser", disabled_safety_policies=[wrong("everything")]),
        "Unknown computer_use safety policy 'everything'",
    ),
    (
        lambda: computer_use("browser", excluded_predefined_functions="drag_and_drop"),
        "a list of strings",
    ),
    (
        lambda: computer_use("browser", enable_prompt_injection_detection=wrong(1)),
        "True or False",
    ),
    (lambda: retrieval(), "at least one retrieval type"),
    (
        lambda: retrieval(rag_store=wrong(["corpus"])),
        r"rag_store=\.\.\.\) takes a dict of settings, not list",
    ),
    (lambda: retrieval(exa_ai_search=wrong({"custom_config": {}})), "needs your Exa key"),
    (lambda: retrieval(exa_ai_search={"api_key": ""}), "needs your Exa key"),
]


@pytest.mark.parametrize(("make", "says"), BAD)
def test_bad_arguments_are_a_usage_error_that_says_what_to_fix(
    make: Callable[[], object], says: str
) -> None:
    with pytest.raises(UsageError, match=says):
        make()


def test_an_unknown_value_names_the_raw_dict_escape_hatch_which_still_works() -> None:
    with pytest.raises(
        UsageError, match=r'give the declaration as a dict: \{"type": "computer_use"'
    ):
        computer_use(wrong("vr_headset"))
    raw = {"type": "computer_use", "environment": "vr_headset"}
    agent = Agent(MODEL, tools=[raw], client=Emulator().async_client())
    assert agent.toolset.declarations == (raw,)


# --- secrets -----------------------------------------------------------------------------------


def test_mcp_server_headers_are_masked_in_every_repr() -> None:
    server = mcp_server("docs", "https://api.example.com/mcp", headers={"Authorization": SECRET})
    agent = Agent(MODEL, tools=[server], client=Emulator().async_client())
    echoed = Interaction.model_validate(
        {"id": "i", "status": "completed", "tools": [server.to_wire()]}
    )
    for shown in (repr(server), str(server), repr(agent), repr(echoed), str(echoed)):
        assert SECRET not in shown
    assert "'Authorization': '***'" in repr(server)  # the names help debugging
    assert server.headers == {"Authorization": SECRET}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:tok3n@docs.example/mcp", "https://u:***@docs.example/mcp"),
        ("https://tok3n@docs.example/mcp", "https://***@docs.example/mcp"),
        ("https://docs.example/mcp?key=tok3n", "https://docs.example/mcp?***"),
        ("https://docs.example/mcp", "https://docs.example/mcp"),
    ],
)
def test_a_token_in_an_mcp_server_url_is_masked_in_its_repr(url: str, shown: str) -> None:
    server = mcp_server("docs", url)

    assert f"url={shown!r}" in repr(server)
    assert server.url == url  # sent as given


def test_a_bad_header_value_is_named_never_shown() -> None:
    with pytest.raises(UsageError) as caught:
        mcp_server("docs", "https://h/mcp", headers={"Authorization": wrong(SECRET.encode())})
    message = str(caught.value)
    assert "'Authorization' must be a string (not bytes)" in message
    assert "sk-live" not in message


def test_a_bad_url_is_not_shown_as_it_may_carry_a_token() -> None:
    with pytest.raises(UsageError) as caught:
        mcp_server("docs", "ftp://user:tok3n@h/mcp?key=tok3n")
    assert "tok3n" not in str(caught.value)


def test_wire_models_hide_credentials_from_validation_errors() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        McpServer.model_validate({"headers": {"Authorization": [SECRET]}})
    assert "sk-live" not in str(caught.value)
    with pytest.raises(pydantic.ValidationError) as caught:
        Retrieval.model_validate({"exa_ai_search_config": [EXA_KEY]})
    assert EXA_KEY not in str(caught.value)


def test_search_provider_keys_are_masked_in_the_retrieval_repr() -> None:
    tool = retrieval(
        exa_ai_search={"api_key": EXA_KEY},
        parallel_ai_search={"api_key": EXA_KEY, "custom_config": {"mode": "fast"}},
    )
    assert EXA_KEY not in repr(tool)
    assert "'custom_config': {'mode': 'fast'}" in repr(tool)
    assert tool.to_wire()["exa_ai_search_config"] == {"api_key": EXA_KEY}


def test_the_server_side_mcp_tool_is_told_apart_from_the_local_client() -> None:
    doc = mcp_server.__doc__ or ""
    assert "Google's side" in doc
    assert "agentkit.mcp" in doc
    assert agentkit.mcp_server is mcp_server
