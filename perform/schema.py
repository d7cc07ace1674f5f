"""Base pieces of perform's configuration models, and reading a YAML file into one.

A YAML file is read with line numbers and validated by a model; a mistake is one clear
:class:`~perform.errors.ConfigError` naming file, line and field.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from perform.errors import ConfigError


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def ip_network(text: str) -> IPNetwork:
    """``192.168.1.20`` or ``192.168.1.0/24`` as a network (a single address is a /32)."""
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"expected an IP address or network such as 192.168.1.20 or 192.168.1.0/24, got {text!r}"
        ) from None


def _network(text: str) -> str:
    ip_network(text)
    return text


#: An IP address or network in a show file (``192.168.1.0/24``); host names are not accepted.
Network = Annotated[str, AfterValidator(_network)]


def allowed(host: str, networks: tuple[IPNetwork, ...]) -> bool:
    """Whether ``host`` (an address, as a socket gives it) is in one of ``networks``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks if network.version == address.version)


def resolve_path(path: Path | None, info: ValidationInfo) -> Path | None:
    """A field validator: relative paths in a show file are relative to the file's own folder."""
    if path is None:
        return None
    base = (info.context or {}).get("base_dir")
    if base is not None and not path.is_absolute():
        return (Path(base) / path).resolve()
    return path.expanduser()


class Crop(Model):
    """Fractions of the image cut away on each side, after mirror and rotate."""

    left: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the width cut from the left.")
    right: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the width cut from the right.")
    top: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the height cut from the top.")
    bottom: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the height cut from the bottom.")

    @model_validator(mode="after")
    def _leaves_something(self) -> Crop:
        if self.left + self.right >= 1.0 or self.top + self.bottom >= 1.0:
            raise ValueError("crop removes the whole image: left+right and top+bottom must stay below 1")
        return self

    @property
    def is_identity(self) -> bool:
        return self.left == self.right == self.top == self.bottom == 0.0


class SourceBase(Model):
    """Options every source has: how its image is turned before anything else sees it."""

    mirror: bool = Field(False, description="Flip left-right, so performers see themselves as in a mirror.")
    rotate: Literal[0, 90, 180, 270] = Field(0, description="Clockwise rotation in degrees.")
    crop: Crop = Field(default_factory=Crop, description="Margins cut away, as fractions of the image.")


class InputLoss(Model):
    """What the picture and OSC do when the camera or the tracking is lost."""

    hold_s: float = Field(1.0, ge=0, le=600, description="Camera lost: keep the last image this long ...")
    fade_s: float = Field(1.0, ge=0, le=60, description="... then fade to the fallback over this long.")
    fallback: str = Field(
        "black", min_length=1, description="`black`, or the name of a scene to show (an idle scene)."
    )
    stale_s: float = Field(
        0.2, gt=0, le=60, description="Poses older than this are stale: bodies and features start to fade."
    )
    neutral_s: float = Field(
        0.5, ge=0, le=60, description="Stale poses fade out and features fade to 0 over this long."
    )

    def keep(self, age: float) -> float | None:
        """How much of poses ``age`` seconds old to keep (1..0); None while they are not stale."""
        return None if age <= self.stale_s else fade(age, self.stale_s, self.neutral_s)


def fade(age: float, hold_s: float, fade_s: float) -> float:
    """How much of a value last seen ``age`` seconds ago to keep: 1 for ``hold_s``, then down to 0
    over ``fade_s``."""
    if age <= hold_s:
        return 1.0
    return 0.0 if fade_s == 0 else max(0.0, 1.0 - (age - hold_s) / fade_s)


M = TypeVar("M", bound=BaseModel)


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
        raise ConfigError(f"YAML syntax: {problem}{_quote_hint(text, line)}", path, line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML: {exc}", path) from None
    if node is None:
        raise ConfigError("the file is empty", path)
    _reject_duplicates(node, path)
    return node


def _quote_hint(text: str, line: int | None) -> str:
    """A hint for the commonest YAML slip: a value with a brace or a colon, not in quotes."""
    if line is None:
        return ""
    source = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    value = source.split("#", 1)[0].partition(": ")[2].strip()
    if not value or value[0] in "'\"" or not re.search(r"[{}]|: ", value):
        return ""
    example = next((v for v in re.findall(r"[\w/.-]*\{\w+\}[\w/.-]*", value)), "/td/cue/{event}")
    return f"; a value with {{ }} or ': ' in it must be in quotes, e.g. address: '{example}'"


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
    if kind == "model_type":  # name the section as the reference does (its title), not its class
        section = _model_at(model, error["loc"])
        if _is_model(section):
            message = message.replace(section.__name__, section.model_config.get("title") or section.__name__)
    if (
        "input" in error
        and kind not in ("union_tag_invalid", "union_tag_not_found")
        and not isinstance(error["input"], dict | list)
    ):
        return f"{message} (got {error['input']!r})"
    return message


def _field_names(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Option names valid at ``loc`` (following nested models and union tags)."""
    current = _model_at(model, loc)
    return sorted(current.model_fields) if _is_model(current) else []


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> Any:
    """The model (or union of models) that validates ``loc``, or None."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        if not _is_model(current):  # a union: the part is its tag
            current = next((m for m in _union_members(current) if _tag(m) == part), None)
        elif part in current.model_fields:
            current = _model_of(current.model_fields[part].annotation)
        else:
            return None
    return current


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
