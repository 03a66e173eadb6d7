"""Reading catalog YAML while keeping what validation needs: line numbers and float-ness.

PyYAML turns `49.00` into the float 49.0 and forgets where it came from. The catalog needs
to refuse floats wherever money is written and to point at the line of every problem, so
nodes are converted here by hand: floats stay recognisable (`YamlFloat`) and the line of
every node is recorded under its path (for a mapping entry, the line of its key).

Two departures from PyYAML's YAML 1.1 defaults, both to avoid silent surprises in a price
list: `yes`/`no`/`on`/`off` stay strings (as in YAML 1.2; only `true`/`false` are bools, so
a filter on country `NO` means "NO"), and a key repeated in one mapping is a problem rather
than the last one silently winning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

YamlPath = tuple[str | int, ...]
#: (line, printable text): problems are listed in the order of the file.
Problem = tuple[int, str]

_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


class YamlFloat(str):
    """An unquoted YAML float, kept as its text so it can be named in an error."""


class YamlError(Exception):
    """The file cannot be read as YAML at all; `problems` are ready to print."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class YamlDoc:
    file: str
    data: Any = None
    lines: dict[YamlPath, int] = field(default_factory=dict)
    #: Problems found while reading: duplicate keys, unknown tags.
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: YamlPath) -> int:
        """The line of `path`, or of its nearest ancestor present in the file."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: YamlPath, message: str) -> Problem:
        """One problem, printed `<file>:<line>: <path>: <message>`."""
        line = self.line(path)
        return line, f"{self.file}:{line}: {format_path(path)}: {message}"


def load_yaml(file: str | Path) -> YamlDoc:
    """Parse one YAML document; raises `YamlError` only when there is nothing to validate."""
    try:
        text = Path(file).read_bytes()
    except OSError as error:
        raise YamlError([f"{file}:1: (document): cannot read the file: {error.strerror}"]) from None
    try:
        root = _compose(text)
    except yaml.YAMLError as error:
        line, problem = _describe(error)
        raise YamlError([f"{file}:{line}: (document): not valid YAML: {problem}"]) from None
    doc = YamlDoc(str(file))
    if root is None:
        return doc
    extra = _alias_expansion(root)
    if extra > MAX_ALIAS_EXPANSION:
        raise YamlError(
            [
                f"{file}:1: (document): its aliases (*name) expand to more than "
                f"{MAX_ALIAS_EXPANSION:,} repeated values; write the values out, or use fewer "
                f"aliases"
            ]
        )
    try:
        doc.data = _Converter(doc).convert(root, ())
    except RecursionError:
        raise YamlError([f"{file}:1: (document): nested too deeply to be a catalog"]) from None
    return doc


#: Values that aliases may add beyond the nodes written in the file: far more than any
#: catalog repeats, far less than an "alias bomb" of a few hundred bytes expands to.
MAX_ALIAS_EXPANSION = 100_000


def _alias_expansion(root: yaml.Node) -> int:
    """How many nodes aliases add when expanded: the expanded size less the written nodes,
    computed on the composed graph (where an alias is a shared node) without expanding it."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)] - len(sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _compose(text: bytes) -> yaml.Node | None:
    """The node tree, composed by libyaml: PyYAML's own composer is ten times slower on a
    large catalog. Both resolve tags with the same `Resolver`. Where libyaml refuses the text,
    PyYAML decides, so every file it reads is still read and a broken one is described in its
    words; libyaml is laxer in a few places (tabs as separators, `?` inside flow scalars)."""
    try:
        return yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


def _describe(error: yaml.YAMLError) -> tuple[int, str]:
    """The line and one-line text of a parse error, with where the broken part starts."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return 1, str(error).splitlines()[0]
    line = error.problem_mark.line + 1
    text = error.problem or "invalid YAML"
    if error.context and error.context_mark and error.context_mark.line + 1 != line:
        text += f" ({error.context} that starts on line {error.context_mark.line + 1})"
    return line, text


class _Converter:
    """Turns composed nodes into plain values, recording lines and reading problems."""

    def __init__(self, doc: YamlDoc):
        self.doc = doc
        self.constructor = yaml.SafeLoader("")  # only its scalar constructors are used

    def convert(self, node: yaml.Node, path: YamlPath) -> Any:
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        """Keys become text; `<<` merges are expanded, the mapping's own keys winning."""
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged = {**self.merge_sources(value_node, path), **merged}
        own: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.key(key_node, path)
            self.doc.lines[(*path, key)] = key_node.start_mark.line + 1
            if key in own:
                self.doc.problems.append(
                    self.doc.problem((*path, key), "duplicate key; write each key once")
                )
            own[key] = self.convert(value_node, (*path, key))
        return {**merged, **own}

    def merge_sources(self, node: yaml.Node, path: YamlPath) -> dict[str, Any]:
        """What `<<: *a` or `<<: [*a, *b]` brings in; earlier sources win, as in PyYAML."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.doc.problems.append(self.doc.problem(path, "<< can only merge mappings"))
                continue
            result.update(self.mapping(source, path))
        return result

    def key(self, node: yaml.Node, path: YamlPath) -> str:
        """A key as text, written the way JSON writes the value (`true`, `200`)."""
        if not isinstance(node, yaml.ScalarNode):
            self.doc.problems.append(self.doc.problem(path, "keys must be plain text"))
            return f"<key on line {node.start_mark.line + 1}>"
        value = self.scalar(node, path)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "null" if value is None else str(value)

    def scalar(self, node: yaml.ScalarNode, path: YamlPath) -> Any:
        if node.tag == _STR:  # most scalars: their text, without the constructor's bookkeeping
            return node.value
        if node.tag == _FLOAT:
            return YamlFloat(node.value)
        if node.tag == _BOOL and node.value.lower() not in ("true", "false"):
            return node.value
        try:
            return self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError:
            self.doc.problems.append(
                self.doc.problem(path, f"unsupported tag {node.tag!r}; remove it")
            )
            return node.value
        except ValueError:  # looks like a date but is not one (2026-13-01): validation says so
            return node.value


def format_path(path: YamlPath) -> str:
    """("plans", 0, "versions") -> "plans[0].versions"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"
