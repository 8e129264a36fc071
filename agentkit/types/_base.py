"""The wire model base class and the open-union discriminator."""

# No `from __future__ import annotations` in agentkit.types: pydantic would compile and
# evaluate each of the ~450 field annotations from its string when `import agentkit` runs.
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Discriminator, Tag

__all__ = ["UNKNOWN", "OpenTag", "WireModel", "build_models", "to_jsonable"]

UNKNOWN = "__unknown__"
"""The union tag of the `Unknown*` fallback models."""

_TAG_FIELDS = ("type", "event_type")


class WireModel(BaseModel):
    """A JSON object of the Interactions API that serialises back exactly as received.

    Unknown fields are kept (`extra="allow"`); `to_wire()` emits only the fields that were
    received or set, plus the `type` / `event_type` discriminator, which always counts as set.
    """

    # defer_build: a model's validator and serializer are built on its first use, not when
    # `import agentkit` defines the ~90 wire models (most programs use a handful of them).
    # model_rebuild() below builds the nested models first, so that every validator reuses
    # theirs instead of compiling a copy of each.
    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="allow", populate_by_name=True, defer_build=True
    )

    # Discriminators with a default value: filled per class by __pydantic_init_subclass__.
    _wire_tags: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.model_fields
        cls._wire_tags = tuple(
            name
            for name in _TAG_FIELDS
            if name in fields and isinstance(fields[name].default, str) and fields[name].default
        )

    @classmethod
    def model_rebuild(
        cls,
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Mapping[str, Any] | None = None,
    ) -> bool | None:
        """Build the model's validator and serializer, after those of the wire models it nests.

        pydantic calls this on a model's first use. Built in this order, each validator and
        serializer reuses the nested models' own instead of compiling copies of them, which
        pays off at the first parse of an `Interaction` or a stream event.
        """
        if not cls.__pydantic_complete__:
            _build_nested(cls)
        return super().model_rebuild(
            force=force,
            raise_errors=raise_errors,
            # One frame deeper than pydantic expects: this method's own.
            _parent_namespace_depth=_parent_namespace_depth + 1 if _parent_namespace_depth else 0,
            _types_namespace=_types_namespace,
        )

    def model_post_init(self, context: Any, /) -> None:
        # A model built in code leaves its defaulted discriminator unset, and
        # exclude_unset would then drop `type` from the wire form.
        if self._wire_tags:
            self.__pydantic_fields_set__.update(self._wire_tags)

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON object to send: set fields only, by wire name."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


def _collect(annotation: Any, found: dict[type[WireModel], None]) -> None:
    """Add the wire models that `annotation` holds, nested ones first (depth-first post-order)."""
    if isinstance(annotation, type) and get_origin(annotation) is None:
        if issubclass(annotation, WireModel) and annotation not in found:
            found[annotation] = None  # marks it visited: a model nesting itself ends here
            for field in annotation.model_fields.values():
                _collect(field.annotation, found)
            del found[annotation]
            found[annotation] = None  # after the models it nests
        return
    for arg in get_args(annotation):
        _collect(arg, found)


def _build_in_order(found: dict[type[WireModel], None], but: type[WireModel] | None) -> None:
    for model in found:
        if model is not but and not model.__pydantic_complete__:
            # pydantic's own model_rebuild: `found` is in build order already.
            super(WireModel, model).model_rebuild(raise_errors=False, _parent_namespace_depth=0)


def _build_nested(model: type[WireModel]) -> None:
    found: dict[type[WireModel], None] = {}
    for field in model.model_fields.values():
        _collect(field.annotation, found)
    _build_in_order(found, model)


def build_models(annotation: Any) -> None:
    """Build the wire models in `annotation` (nested ones first) before a `TypeAdapter` of it.

    The adapter then reuses their validators and serializers instead of compiling copies.
    """
    found: dict[type[WireModel], None] = {}
    _collect(annotation, found)
    _build_in_order(found, None)


class OpenTag:
    """The discriminator of an open union: a value's known tag, else `UNKNOWN`.

    Its callable reads the tag from a dict (parsing) or from a model instance (a model built
    in code). The known tags are learned from the union's `Tag` annotations by `learn()`.
    """

    def __init__(self, key: str) -> None:
        known: dict[Any, str] = {}

        def tag(value: Any) -> str:  # raw JSON object or a model instance
            # An unhashable tag (a JSON list or object) is unknown too. No typing.cast call:
            # this runs once per union member parsed.
            try:
                if isinstance(value, dict):
                    return known.get(value.get(key), UNKNOWN)  # pyright: ignore[reportUnknownMemberType]
                return known.get(getattr(value, key, None), UNKNOWN)
            except TypeError:
                return UNKNOWN

        tag.__name__ = f"open_{key}"  # pydantic names the union's schema after it
        self._known = known
        self.discriminator = Discriminator(tag)

    def learn(self, union: Any) -> None:
        """Record the tags of `union`, an `Annotated[Annotated[M, Tag(t)] | ..., ...]`."""
        for member in get_args(get_args(union)[0]):
            for meta in get_args(member)[1:]:
                if isinstance(meta, Tag) and meta.tag != UNKNOWN:
                    self._known[meta.tag] = meta.tag


def to_jsonable(value: Any) -> Any:  # arbitrary request values in, plain JSON values out
    """Turn wire models (via `to_wire()`), lists, tuples and dicts into plain JSON values."""
    if isinstance(value, WireModel):
        return value.to_wire()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in typing.cast("list[Any]", value)]
    if isinstance(value, dict):
        return {
            key: to_jsonable(item) for key, item in typing.cast("dict[str, Any]", value).items()
        }
    return value
