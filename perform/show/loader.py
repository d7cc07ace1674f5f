"""Reading a show file: YAML with line numbers, validated by the models, one clear message."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from perform.errors import ConfigError
from perform.show.models import Show

M = TypeVar("M", bound=BaseModel)


def load_show(path: str | Path) -> Show:
    """Read and validate a show file; raises :class:`ConfigError` naming file, line and field."""
    return load_model(path, Show)


def load_model(path: str | Path, model: type[M]) -> M:
    """Read a YAML file and validate it against ``model``, mapping errors to file lines."""
    path = Path(path)
    node = read_yaml(path)
    data = yaml.SafeLoader("").construct_document(node)
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of options at the top, got {_kind(data)}", path, node.start_mark.line + 1
        )
    try:
        return model.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        raise _config_error(exc, node, path, model) from None


def read_yaml(path: Path) -> yaml.Node:
    """Compose a YAML file into nodes (which keep line numbers), rejecting duplicate keys."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", path) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, expected a YAML file", path) from None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"is not UTF-8 text (byte {raw[exc.start]:#04x}); save it as UTF-8", path, line
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        context = exc.context_mark
        if exc.problem and exc.context and context is not None and context.line + 1 != line:
            problem += f" ({exc.context} on line {context.line + 1})"
        raise ConfigError(f"YAML syntax: {problem}", path, line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML: {exc}", path) from None
    if node is None:
        raise ConfigError("the file is empty", path)
    _reject_duplicates(node, path)
    return node


def _reject_duplicates(node: yaml.Node, path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise ConfigError(
                        f"'{key.value}' appears twice (first on line {seen[key.value]})",
                        path,
                        key.start_mark.line + 1,
                    )
                seen[key.value] = key.start_mark.line + 1
            _reject_duplicates(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicates(item, path)


def _config_error(exc: ValidationError, root: yaml.Node, path: Path, model: type[BaseModel]) -> ConfigError:
    errors = exc.errors(include_url=False)
    suggested = {(tuple(e["loc"][:-1]), _suggest(e, model)) for e in errors if e["type"] == "extra_forbidden"}
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "missing" and (loc[:-1], loc[-1]) in suggested:
            continue  # "did you mean 'source'?" already says it
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc += ("kind",)  # point at the tag itself, not the mapping holding it
        groups.setdefault(locate(root, loc), []).append(error)
    # a union member that fits the shape but not the value is the better explanation
    fields = {field for _, field in groups}

    def superseded(field: str, group: list[dict[str, Any]]) -> bool:
        inner = any(f.startswith((f"{field}[", f"{field}.")) for f in fields)
        return inner and all(map(_is_type_error, group))

    groups = {key: group for key, group in groups.items() if not superseded(key[1], group)}
    found = []
    for (line, field), group in groups.items():
        missing = all(e["type"] == "missing" for e in group)
        found.append((missing, line, f"{field or '(top)'}: {_describe_union(group, model)}"))
    found.sort(key=lambda item: (item[0], item[1]))
    _, head_line, head = found[0]
    more = "".join(f"\n{path}:{line}: {text}" for _, line, text in found[1:])
    return ConfigError(head + more, path, head_line)


def _suggest(error: dict[str, Any], model: type[BaseModel]) -> str | None:
    options = _field_names(model, error["loc"][:-1])
    close = difflib.get_close_matches(str(error["loc"][-1]), options, n=1)
    return close[0] if close else None


def locate(root: yaml.Node, loc: Sequence[int | str]) -> tuple[int, str]:
    """The line of the deepest node along a pydantic error location, and the dotted field name.

    Union tags that pydantic puts into locations (``source.camera.fps``) are not keys of the
    file; they are skipped, so the field reads as the user wrote it (``source.fps``).
    """
    node = root
    line = root.start_mark.line + 1
    names: list[str] = []
    tagged: yaml.Node | None = None  # the mapping whose union tag has been passed
    for n, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            if node is not tagged and _is_union_tag(node, part):
                tagged = node
                continue
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    names.append(str(part))
                    break
            else:
                if n + 1 < len(loc) or not _is_field(part):
                    continue  # a union member's label (float, Binding): not part of the file
                names.append(str(part))  # a missing field: report the enclosing mapping's line
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
            names.append(f"[{part}]")
        elif isinstance(part, str):
            continue  # a union member's label, such as "constrained-int": not part of the file
        else:
            names.append(f"[{part}]")
            break
    return line, ".".join(names).replace(".[", "[")


def _is_union_tag(node: yaml.MappingNode, part: int | str) -> bool:
    return any(
        isinstance(k, yaml.ScalarNode)
        and isinstance(v, yaml.ScalarNode)
        and k.value == "kind"
        and v.value == part
        for k, v in node.value
    )


def _is_type_error(error: dict[str, Any]) -> bool:
    kind = str(error["type"])
    return kind.endswith(("_type", "_parsing")) or kind == "literal_error"


def _describe_union(group: list[dict[str, Any]], model: type[BaseModel]) -> str:
    """One message for the errors pydantic gives at one place (one per member of a union)."""
    if len(group) == 1:
        return _describe(group[0], model)
    specific = [e for e in group if not _is_type_error(e)]
    if specific:
        return _describe(specific[0], model)
    forms = " or ".join(str(e["msg"]).removeprefix("Input should be ") for e in group)
    got = f" (got {group[0]['input']!r})" if "input" in group[0] else ""
    return f"Input should be {forms}{got}"


def _describe(error: dict[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        close = _suggest(error, model)
        if close:
            return f"unknown option; did you mean '{close}'?"
        options = _field_names(model, error["loc"][:-1])
        return f"unknown option; expected one of: {', '.join(options)}" if options else "unknown option"
    if kind == "missing":
        return "is required but missing"
    if (
        "input" in error
        and kind not in ("union_tag_invalid", "union_tag_not_found")
        and not isinstance(error["input"], dict | list)
    ):
        return f"{message} (got {error['input']!r})"
    return message


def _field_names(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Option names valid at ``loc`` (following nested models and union tags)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        if not _is_model(current):  # a union: the part is its tag
            current = next((m for m in _union_members(current) if _tag(m) == part), None)
        elif part in current.model_fields:
            current = _model_of(current.model_fields[part].annotation)
        else:
            return []
    return sorted(current.model_fields) if _is_model(current) else []


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _model_of(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    return annotation if _union_members(annotation) else None


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    args = getattr(annotation, "__args__", ())
    found: list[type[BaseModel]] = []
    for arg in args:
        if _is_model(arg):
            found.append(arg)
        else:
            found.extend(_union_members(arg))
    return found


def _tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    args = getattr(field.annotation, "__args__", ()) if field else ()
    return str(args[0]) if args else None


def _kind(data: object) -> str:
    return "nothing" if data is None else type(data).__name__


def _is_field(part: int | str) -> bool:
    return (
        isinstance(part, str)
        and part.isidentifier()
        and not part[:1].isupper()
        and part not in ("float", "int", "str", "bool")
    )
