"""The wire model base class and the open-union discriminator."""

from __future__ import annotations

import typing
from typing import Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Tag

__all__ = ["UNKNOWN", "OpenTag", "WireModel", "to_jsonable"]

UNKNOWN = "__unknown__"
"""The union tag of the `Unknown*` fallback models."""

_TAG_FIELDS = ("type", "event_type")


class WireModel(BaseModel):
    """A JSON object of the Interactions API that serialises back exactly as received.

    Unknown fields are kept (`extra="allow"`); `to_wire()` emits only the fields that were
    received or set, plus the `type` / `event_type` discriminator, which always counts as set.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow", populate_by_name=True)

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

    def model_post_init(self, context: Any, /) -> None:
        # A model built in code leaves its defaulted discriminator unset, and
        # exclude_unset would then drop `type` from the wire form.
        if self._wire_tags:
            self.__pydantic_fields_set__.update(self._wire_tags)

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON object to send: set fields only, by wire name."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


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
