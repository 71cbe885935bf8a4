"""Load YAML into plain data while remembering the line of every mapping key and list item.

PyYAML's node graph carries start marks; composing nodes ourselves (instead of letting the
constructor throw them away) gives a `{path: line}` map, where a path is a tuple of keys and
list indexes, e.g. ("engagement", "rules", 3, "pointz") -> 42. Duplicate keys are refused,
since YAML silently keeping the last one hides typos in a scoring model.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

Path = tuple[str | int, ...]


class _Yaml12BoolLoader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans (YAML 1.2), not yes/no/on/off.

    Under YAML 1.1 rules `on: web.page_view` would be the key True and the country code
    `NO` would be False; a rules file must mean what it says.
    """


_Yaml12BoolLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12BoolLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class YamlProblem(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    try:
        node = yaml.compose(text, Loader=_Yaml12BoolLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlProblem(line, f"YAML syntax error: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(None, f"YAML error: {exc}") from exc
    lines: dict[Path, int] = {}
    if node is None:
        return None, lines
    lines[()] = node.start_mark.line + 1
    return _build(node, (), lines), lines


def _build(node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem(key_node.start_mark.line + 1, "mapping keys must be scalars")
            # Keys are names: keep their text as written (`1`, `on`, `no` stay strings).
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                raise YamlProblem(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            lines[child] = key_node.start_mark.line + 1
            result[key] = _build(value_node, child, lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item_node in enumerate(node.value):
            child = (*path, i)
            lines[child] = item_node.start_mark.line + 1
            items.append(_build(item_node, child, lines))
        return items
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        loader = _Yaml12BoolLoader("")
        try:
            return loader.construct_object(node, deep=True)
        finally:
            loader.dispose()
    raise YamlProblem(node.start_mark.line + 1, "mapping keys must be scalars")


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of `path`, or of its nearest ancestor that has one."""
    probe = path
    while True:
        if probe in lines:
            return lines[probe]
        if not probe:
            return None
        probe = probe[:-1]
