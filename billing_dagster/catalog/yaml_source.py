"""Reading catalog YAML while keeping what validation needs: line numbers and float-ness.

PyYAML turns `49.00` into the float 49.0 and forgets where it came from. The catalog needs
to refuse floats wherever money is written and to point at the line of every problem, so
nodes are converted here by hand: floats stay recognisable (`YamlFloat`) and every node's
line is recorded under its path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class YamlFloat(str):
    """An unquoted YAML float, kept as its text so it can be named in an error."""


class YamlError(Exception):
    """The file is not YAML the catalog can read; `problems` are ready to print."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class YamlDoc:
    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        """The line of `path`, or of its nearest ancestor present in the file."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


_constructor = yaml.SafeLoader("")  # only its scalar constructors are used


def load_yaml(file: str | Path) -> YamlDoc:
    text = Path(file).read_text()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(error, "problem", None) or str(error)
        raise YamlError([f"{file}:{line}: not valid YAML: {problem}"]) from None
    doc = YamlDoc(str(file), None)
    problems: list[str] = []
    doc.data = _convert(root, (), doc, problems) if root is not None else None
    if problems:
        raise YamlError(problems)
    return doc


def _convert(node: yaml.Node, path: Path_, doc: YamlDoc, problems: list[str]) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_convert(key_node, (*path, "<key>"), doc, problems))
            if key in result:
                problems.append(
                    f"{doc.file}:{key_node.start_mark.line + 1}: "
                    f"{format_path((*path, key))}: duplicate key"
                )
            result[key] = _convert(value_node, (*path, key), doc, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), doc, problems) for i, item in enumerate(node.value)]
    if node.tag == "tag:yaml.org,2002:float":
        return YamlFloat(node.value)
    try:
        return _constructor.construct_object(node, deep=True)
    except ValueError:  # looks like a date but is not one (2026-13-01): validation says so
        return node.value


def format_path(path: Path_) -> str:
    """("plans", 0, "versions") -> "plans[0].versions"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"
