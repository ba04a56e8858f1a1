"""Names of new tasks: the title from the prompt, the branch (generated or
sanitised). Pure functions: the command records what they chose."""

from __future__ import annotations

import re
import secrets
import string

TITLE_MAX = 62
BRANCH_MAX = 50
SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
# Readable words for generated branch names (``<word>-<4 of [a-z0-9]>``).
WORDS = (
    "amber", "birch", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
    "juniper", "kestrel", "lagoon", "maple", "nimbus", "orchid", "pepper", "quartz",
    "raven", "sierra", "tundra", "umber", "violet", "willow", "yarrow", "zephyr",
)


def title_from_prompt(prompt: str) -> str:
    """The first non-empty line of the prompt, cut to 62 characters."""
    for line in prompt.splitlines():
        line = " ".join(line.split())
        if line:
            return line[:TITLE_MAX].rstrip()
    raise ValueError("the prompt is empty")


def random_suffix() -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(4))


def generated_branch() -> str:
    return f"{secrets.choice(WORDS)}-{random_suffix()}"


def sanitize_branch(name: str) -> str:
    """A person's branch name made valid for git (``check-ref-format``) and
    at most 50 characters: lower case, runs of other characters become one
    ``-``, no ``..``, no leading or trailing ``-./``, no ``.lock`` end."""
    name = name.strip().lower()
    name = re.sub(r"[^a-z0-9._/-]+", "-", name)
    name = re.sub(r"\.{2,}", ".", name)
    name = re.sub(r"/{2,}", "/", name)
    name = re.sub(r"-{2,}", "-", name)
    parts = [p.strip("-.") for p in name.split("/")]
    name = "/".join(p for p in parts if p)[:BRANCH_MAX].strip("-./")
    while name.endswith(".lock"):
        name = name[: -len(".lock")].strip("-./")
    if not name:
        raise ValueError("the branch name has no usable character")
    return name


def branch_candidate(explicit: str, attempt: int) -> str:
    """The branch to try at ``attempt`` (0 first): a generated name, or the
    person's sanitised name, with a random suffix after a conflict."""
    if not explicit:
        return generated_branch()
    base = sanitize_branch(explicit)
    if attempt == 0:
        return base
    return f"{base[: BRANCH_MAX - 5].rstrip('-./')}-{random_suffix()}"
