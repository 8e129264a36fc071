"""Typed settings of the `retrieval` server tool, one per retrieval type (`TypedDict`s)."""

from typing import Any

from typing_extensions import Required, TypedDict

__all__ = [
    "ExaAISearchConfig",
    "HybridSearch",
    "ParallelAISearchConfig",
    "RagFilter",
    "RagResource",
    "RagRetrievalConfig",
    "RagStoreConfig",
    "VertexAISearchConfig",
]


class VertexAISearchConfig(TypedDict, total=False):
    """Which Vertex AI Search engine or data stores to search."""

    engine: str
    datastores: list[str]


class RagResource(TypedDict, total=False):
    """A RAG corpus, optionally only some of its files."""

    rag_corpus: str
    """The corpus resource name."""
    rag_file_ids: list[str]
    """Files of that corpus."""


class RagFilter(TypedDict, total=False):
    """Which retrieved contexts to keep."""

    metadata_filter: str
    vector_distance_threshold: float
    """Keep contexts closer than this."""
    vector_similarity_threshold: float
    """Keep contexts more similar than this."""


class HybridSearch(TypedDict, total=False):
    """The balance of dense and sparse vector search."""

    alpha: float


class RagRetrievalConfig(TypedDict, total=False):
    """How contexts are retrieved from the RAG store."""

    top_k: int
    filter: RagFilter
    hybrid_search: HybridSearch
    ranking: dict[str, Any]
    """Reranking, e.g. `{"rank_service": {"model_name": ...}}`."""


class RagStoreConfig(TypedDict, total=False):
    """Which RAG corpora to search, and how."""

    rag_resources: list[RagResource]
    rag_retrieval_config: RagRetrievalConfig
    similarity_top_k: int
    vector_distance_threshold: float


class ExaAISearchConfig(TypedDict, total=False):
    """Search with Exa; `api_key` is required (and never shown in a repr)."""

    api_key: Required[str]
    custom_config: dict[str, Any]
    """Any parameter of the Exa search API."""


class ParallelAISearchConfig(TypedDict, total=False):
    """Search with Parallel; its `api_key` is never shown in a repr."""

    api_key: str
    custom_config: dict[str, Any]
    """Any parameter of the Parallel search API."""
