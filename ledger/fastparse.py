"""msgspec twins of pydantic models: the same validation at about half the cost.

A twin is derived from its model, never written by hand, so the pydantic model stays
the single source of truth. It must never accept what the model refuses, so it is at
least as strict: msgspec's own types refuse every coercion (a bool for an int, a float
for cents, a string for a number), patterns match ASCII only and `$` is the very end,
a UUID must be in its canonical form, floats must be finite, and the model's after
validators (field and model) run on the twin's values. Where the twin refuses, the
caller asks the model, which names the bad fields. A field type with no known twin
fails at import, so a newcomer adding one is told at once.
"""

from __future__ import annotations

import sys
import types
import typing
import uuid
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

import annotated_types as at
import msgspec
from pydantic import AfterValidator, BaseModel, Strict, StringConstraints
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

# str(uuid.UUID(x)) == x exactly for these; braces, URNs and capitals go to pydantic.
_CANONICAL_UUID = r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
_BOUNDS = {at.Ge: "ge", at.Gt: "gt", at.Le: "le", at.Lt: "lt", at.MinLen: "min_length", at.MaxLen: "max_length"}
# Config that changes no accepted value; any other (str_strip_whitespace, strict, ...) has no twin.
_NEUTRAL_CONFIG = {"extra", "frozen", "title"}
Check = Callable[[Any], Any]


class Unsupported(TypeError):
    """A model uses something its twin cannot mirror exactly."""


class Twin:
    """A model's msgspec struct, plus the after validators msgspec cannot run."""

    def __init__(self, model: type[BaseModel], *, skip: Iterable[str] = (), extra: Iterable[tuple[Any, ...]] = (),
                 name: str | None = None, **options: Any):
        _check_model(model)
        skip = set(skip)
        fields: list[tuple[Any, ...]] = []
        checks: list[tuple[str, tuple[Check, ...]]] = []
        for field_name, info in model.model_fields.items():
            if field_name in skip:
                continue
            tp, field_checks = _field_type(field_name, info)
            fields.append((field_name, tp, _default(info)) if not info.is_required() else (field_name, tp))
            if field_checks:
                checks.append((field_name, tuple(field_checks)))
        extra = list(extra)
        self.extra = tuple(f[0] for f in extra)
        self.checks = tuple(checks)
        self.validators = tuple(d.func for d in model.__pydantic_decorators__.model_validators.values())
        self.struct: type[msgspec.Struct] = msgspec.defstruct(
            name or model.__name__, [*fields, *extra], kw_only=True,
            forbid_unknown_fields=model.model_config.get("extra") == "forbid", **options)

    def dump(self, obj: msgspec.Struct) -> dict[str, Any] | None:
        """`model_dump(mode="json", exclude_none=True)` of what the model would have
        built, without the `extra` fields; None where an after validator refuses (the
        model then says why). Model validators see the twin's values: a UUID as text."""
        out = {k: v for k, v in msgspec.structs.asdict(obj).items() if v is not None}
        for field_name in self.extra:
            del out[field_name]
        try:
            for field_name, checks in self.checks:
                if field_name in out:
                    for check in checks:
                        out[field_name] = check(out[field_name])
            for validator in self.validators:
                validator(obj)
        except (ValueError, AssertionError):
            return None
        return out


def _check_model(model: type[BaseModel]) -> None:
    decorators = model.__pydantic_decorators__
    if model.model_config.get("extra") == "allow" or set(model.model_config) - _NEUTRAL_CONFIG:
        raise Unsupported(f"{model.__name__}: a config with no twin: {model.model_config}")
    if decorators.field_validators or decorators.field_serializers or decorators.model_serializers \
            or decorators.computed_fields or any(d.info.mode != "after" for d in decorators.model_validators.values()):
        raise Unsupported(f"{model.__name__}: only 'after' model validators have a twin")


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return msgspec.field(default_factory=info.default_factory)  # type: ignore[arg-type]
    if info.default is PydanticUndefined:
        raise Unsupported("a default that is neither a value nor a factory")
    return info.default


def _field_type(field_name: str, info: FieldInfo) -> tuple[Any, list[Check]]:
    if info.alias or info.validation_alias:
        raise Unsupported(f"{field_name}: an alias")
    checks: list[Check] = []
    tp = _twin_type(info.annotation, _constraints(info.metadata, checks), checks)
    return tp, checks


def _constraints(metadata: Iterable[Any], checks: list[Check]) -> dict[str, Any]:
    """msgspec.Meta keywords for pydantic metadata; after validators go to `checks`."""
    out: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            out |= _constraints(item.metadata, checks)
        elif isinstance(item, StringConstraints):
            if any(getattr(item, a) for a in ("strip_whitespace", "to_upper", "to_lower", "ascii_only")):
                raise Unsupported(f"StringConstraints that change the value: {item}")
            out |= {k: v for k, v in (("min_length", item.min_length), ("max_length", item.max_length)) if v is not None}
            if item.pattern is not None:
                out["pattern"] = _python_pattern(str(item.pattern))
        elif type(item) in _BOUNDS:
            key = _BOUNDS[type(item)]
            out[key] = getattr(item, key)
        elif isinstance(item, AfterValidator):
            checks.append(item.func)  # type: ignore[arg-type]
        elif not isinstance(item, Strict):  # msgspec's scalars are always strict
            raise Unsupported(f"no twin for the constraint {item!r}")
    return out


def _python_pattern(pattern: str) -> str:
    """pydantic matches with Rust's regex, where `$` is the end of the text; in
    Python it also matches before a final newline, so it becomes `\\Z`, and `\\d`
    is kept to ASCII digits."""
    if not (pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")):
        raise Unsupported(f"a pattern not anchored with ^...$: {pattern!r}")
    return "(?a)" + pattern[:-1] + r"\Z"


def _twin_type(tp: Any, meta: dict[str, Any], checks: list[Check]) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        return _twin_type(args[0], meta | _constraints(tp.__metadata__, checks), checks)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        twins = [_twin_type(a, meta, checks) for a in members]
        if checks and len(members) > 1:
            raise Unsupported(f"an after validator on one member of {tp}")
        return typing.Union[tuple(twins + [None] * (len(members) < len(args)))]  # noqa: UP007
    if origin is Literal:
        return tp
    if origin in (list, dict):
        inner: list[Check] = []
        twin = origin[tuple(_twin_type(a, {}, inner) for a in args)]
        if inner:
            raise Unsupported(f"an after validator inside {tp}")
        return Annotated[twin, msgspec.Meta(**meta)] if meta else twin
    if tp is uuid.UUID and not meta:
        return Annotated[str, msgspec.Meta(pattern=_CANONICAL_UUID)]
    if tp is float:  # finite only, as JSON is
        meta = ({} if {"ge", "gt"} & set(meta) else {"ge": -sys.float_info.max}) | meta
        meta = ({} if {"le", "lt"} & set(meta) else {"le": sys.float_info.max}) | meta
    if tp in (str, int, float, bool):
        return Annotated[tp, msgspec.Meta(**meta)] if meta else tp
    raise Unsupported(f"no msgspec twin for {tp!r}")

