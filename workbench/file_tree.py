"""The repository's files as a tree (directories first, then files, each
sorted by name) from the flat paths ``git ls-files`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TreeNode:
    name: str
    path: str
    children: dict[str, TreeNode] = field(default_factory=dict)
    is_file: bool = False

    @property
    def dirs(self) -> list[TreeNode]:
        return sorted((c for c in self.children.values() if not c.is_file), key=lambda c: c.name)

    @property
    def files(self) -> list[TreeNode]:
        return sorted((c for c in self.children.values() if c.is_file), key=lambda c: c.name)


def build_tree(paths: list[str]) -> TreeNode:
    root = TreeNode("", "")
    for path in paths:
        node = root
        parts = path.split("/")
        for depth, part in enumerate(parts):
            leaf = depth == len(parts) - 1
            child = node.children.get(part)
            if child is None:
                child = TreeNode(part, "/".join(parts[: depth + 1]), is_file=leaf)
                node.children[part] = child
            node = child
    return root
