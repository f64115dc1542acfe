"""Whether a new JSON Schema of an event version can replace the published one without breaking a consumer.

Services are deployed one at a time. For a while, consumers built on the published schema read events
written to the new one, and consumers built on the new one read events written to the old one (still
on the topic, or replayed from the dead letters). Either side rejects, and dead-letters, what it was
not built for, so a change breaks a consumer when:

  - a field is removed or renamed: its readers lose it (a rename is a removal and a new field);
  - a field's type changes, or its format, allowed values or constraints (in either direction:
    widened, the old readers reject the new values; narrowed, the new readers reject the old events);
  - a new field is required (the events already written lack it), or a field changes between
    required and optional, or becomes nullable.

Not breaking: a new optional field (tolerant readers ignore it, new readers default it), titles,
descriptions, examples and defaults, the order of fields, and the names of nested models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Keywords that decide what validates. Everything else (title, description, examples, default, x-…) is
# documentation.
CONSTRAINTS = (
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)
Schema = Mapping[str, Any]


@dataclass(frozen=True, order=True)
class Break:
    """One incompatible change, at a field of the payload (`product.serial_no`, `lines[].amount`)."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where or '(the payload)'}: {self.what}"


def breaking_changes(published: Schema, new: Schema) -> list[Break]:
    """Every change from `published` to `new` that a consumer on either side could not read."""
    return sorted(set(_Comparison(published, new).node(published, new, "")))


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root, self.new_root = old_root, new_root
        self.inside: set[tuple[str, str]] = set()  # the model pairs being compared: a recursive model ends

    def node(self, old: Schema, new: Schema, where: str) -> Iterator[Break]:
        pair = (str(old.get("$ref")), str(new.get("$ref")))
        if "$ref" not in old or "$ref" not in new:
            yield from self.unfolded(old, new, where)
        elif pair not in self.inside:
            self.inside.add(pair)
            try:
                yield from self.unfolded(old, new, where)
            finally:
                self.inside.discard(pair)

    def unfolded(self, old: Schema, new: Schema, where: str) -> Iterator[Break]:
        old_alts, new_alts = (
            _alternatives(_resolve(old, self.old_root)),
            _alternatives(_resolve(new, self.new_root)),
        )
        old_kinds, new_kinds = _kinds(old_alts, self.old_root), _kinds(new_alts, self.new_root)
        if set(old_kinds) != set(new_kinds):
            yield Break(where, _kind_change(set(old_kinds), set(new_kinds)))
        for kind in sorted(set(old_kinds) & set(new_kinds)):
            for o, n in zip(old_kinds[kind], new_kinds[kind], strict=False):
                yield from self.same_kind(o, n, where)

    def same_kind(self, old: Schema, new: Schema, where: str) -> Iterator[Break]:
        old_values, new_values = _values(old), _values(new)
        if old_values is not None or new_values is not None:
            if old_values is None:
                yield Break(
                    where, f"now only {_show(new_values)}: events already published may carry other values"
                )
            elif new_values is None:
                yield Break(
                    where,
                    f"no longer only {_show(old_values)}: consumers on the published schema reject others",
                )
            else:
                if added := new_values - old_values:
                    yield Break(
                        where, f"value {_show(added)} added: consumers on the published schema reject it"
                    )
                if removed := old_values - new_values:
                    yield Break(
                        where, f"value {_show(removed)} removed: events already published may carry it"
                    )
        for keyword in CONSTRAINTS:
            if old.get(keyword) != new.get(keyword):
                yield Break(
                    where,
                    f"{keyword} changed: {_constraint(old.get(keyword))} → {_constraint(new.get(keyword))}",
                )
        if "properties" in old or "properties" in new:
            yield from self.fields(old, new, where)
        if _open_to_more(old) != _open_to_more(new):
            yield Break(
                where,
                "additional fields now refused"
                if not _open_to_more(new)
                else "additional fields now accepted",
            )
        elif isinstance(old.get("additionalProperties"), Mapping) and isinstance(
            new.get("additionalProperties"), Mapping
        ):
            yield from self.node(old["additionalProperties"], new["additionalProperties"], f"{where}{{*}}")
        if "items" in old or "items" in new:
            yield from self.node(old.get("items", {}), new.get("items", {}), f"{where}[]")

    def fields(self, old: Schema, new: Schema, where: str) -> Iterator[Break]:
        old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name in old_fields.keys() - new_fields.keys():
            yield Break(_at(where, name), "removed: its readers lose it (a rename is a removal)")
        for name in new_fields.keys() - old_fields.keys():
            if name in new_required:
                yield Break(_at(where, name), "new required field: events already published lack it")
        for name in old_fields.keys() & new_fields.keys():
            if name in old_required and name not in new_required:
                yield Break(_at(where, name), "no longer required: consumers on the published schema need it")
            elif name in new_required and name not in old_required:
                yield Break(_at(where, name), "now required: events already published may lack it")
            yield from self.node(old_fields[name], new_fields[name], _at(where, name))


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _resolve(node: Schema, root: Schema) -> Schema:
    """Follow $ref (and a lone allOf wrapper) to the schema itself; sibling keywords are kept."""
    while True:
        if "$ref" in node:
            target: Any = root
            for part in str(node["$ref"]).removeprefix("#/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            node = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
        else:
            return node


def _alternatives(node: Schema) -> list[Schema]:
    """The shapes a value may take: anyOf/oneOf branches, and one per type of a type list."""
    branches = node.get("anyOf") or node.get("oneOf")
    if branches:
        shared = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        return [alt for b in branches for alt in _alternatives({**shared, **b})]
    if isinstance(node.get("type"), list):
        return [{**node, "type": t} for t in node["type"]]
    return [node]


def _kinds(alternatives: list[Schema], root: Schema) -> dict[str, list[Schema]]:
    kinds: dict[str, list[Schema]] = {}
    for alt in alternatives:
        alt = _resolve(alt, root)
        kinds.setdefault(_kind(alt), []).append(alt)
    return kinds


def _kind(node: Schema) -> str:
    if "type" in node:
        return str(node["type"])
    if "properties" in node:
        return "object"
    values = _values(node)
    if values:
        return " | ".join(sorted({type(v).__name__ for v in values}))
    return "anything"


def _kind_change(old: set[str], new: set[str]) -> str:
    if new == old | {"null"}:
        return "now nullable: consumers on the published schema reject null"
    if old == new | {"null"}:
        return "no longer nullable: events already published may carry null"
    return f"type changed: {' | '.join(sorted(old))} → {' | '.join(sorted(new))}"


def _values(node: Schema) -> frozenset[Any] | None:
    if "const" in node:
        return frozenset([_hashable(node["const"])])
    if "enum" in node:
        return frozenset(_hashable(v) for v in node["enum"])
    return None


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (dict, list)) else value


def _show(values: frozenset[Any] | None) -> str:
    return ", ".join(repr(v) for v in sorted(values or (), key=repr))


def _constraint(value: Any) -> str:
    return "none" if value is None else repr(value)


def _open_to_more(node: Schema) -> bool:
    """Whether fields beyond the listed ones validate (JSON Schema's default: they do)."""
    return node.get("additionalProperties", True) is not False
