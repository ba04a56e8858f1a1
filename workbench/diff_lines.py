"""A unified diff as lines the panel can show and attach: each added or
context line knows its line number in the new file, so a click attaches
``path:line`` to the next prompt (a removed line: its old number)."""

from __future__ import annotations

import re
from dataclasses import dataclass

HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add | del | ctx | hunk | meta
    text: str
    line: int | None  # the line to attach (None: headers)


def parse_diff(text: str) -> list[DiffLine]:
    lines: list[DiffLine] = []
    old = new = 0
    in_hunk = False
    for raw in text.splitlines():
        match = HUNK.match(raw)
        if match:
            old, new = int(match.group(1)), int(match.group(2))
            in_hunk = True
            lines.append(DiffLine("hunk", raw, None))
        elif not in_hunk:
            lines.append(DiffLine("meta", raw, None))
        elif raw.startswith("+"):
            lines.append(DiffLine("add", raw, new))
            new += 1
        elif raw.startswith("-"):
            lines.append(DiffLine("del", raw, old))
            old += 1
        elif raw.startswith("\\"):
            lines.append(DiffLine("meta", raw, None))  # "\ No newline at end of file"
        else:
            lines.append(DiffLine("ctx", raw, new))
            old += 1
            new += 1
    return lines
