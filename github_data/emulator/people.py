"""People with chosen logins, and the multi-organization demo they belong to.

Generated members have random names (`ada-lovelace`), one set per organization.
Sign-in and access control need people whose memberships are known in advance:
a `Person` has a fixed login, joins the organizations it names, and may have the
App installed on its personal account. `demo_people` places six of them around
the dataset's organizations; `DEMO_ORGS` is the demo the embedded run serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Person:
    """A user with a chosen login, added after the generated members.

    `member_of` and `admin_of` name organizations of the dataset (the role is
    `admin` for the latter); `app_installed`: the App is installed on the
    person's personal account.
    """

    login: str
    name: str
    member_of: tuple[str, ...] = ()
    admin_of: tuple[str, ...] = ()
    app_installed: bool = False

    def roles(self) -> dict[str, str]:
        """Organization login -> role, in the order given (admin wins)."""
        roles = dict.fromkeys(self.member_of, "member")
        roles.update(dict.fromkeys(self.admin_of, "admin"))
        return roles

    def email(self) -> str:
        return f"{self.login}@example.com"


def demo_people(orgs: Sequence[str], orgs_without_app: Sequence[str] = ()) -> tuple[Person, ...]:
    """Six people around `orgs`, by position, so that every case of access
    control has someone to sign in as:

    - alice: admin of the first organization with the App;
    - bob: member of the first, admin of the second (of the first only when
      there is one);
    - carol: member of the second (of none when there is one);
    - dave: member of no organization;
    - erin: member of the first organization without the App (of none when
      the App is everywhere);
    - frank: member of no organization, the App installed on his personal
      account.
    """
    with_app = [o for o in orgs if o not in orgs_without_app]
    without_app = [o for o in orgs if o in orgs_without_app]
    first = tuple(with_app[:1])
    second = tuple(with_app[1:2])
    return (
        Person("alice", "Alice Archer", admin_of=first),
        Person("bob", "Bob Baker", member_of=first, admin_of=second),
        Person("carol", "Carol Chen", member_of=second),
        Person("dave", "Dave Dunn"),
        Person("erin", "Erin Evans", member_of=tuple(without_app[:1])),
        Person("frank", "Frank Fischer", app_installed=True),
    )


# acme and initech with the App, globex without it, and the six demo people:
# `GitHubEmulator(EmulatorConfig(**DEMO_ORGS, repos=2))`.
DEMO_ORGS: Mapping[str, Any] = MappingProxyType(
    {
        "org": "acme",
        "more_orgs": ("initech", "globex"),
        "orgs_without_app": ("globex",),
        "people": demo_people(("acme", "initech", "globex"), ("globex",)),
    }
)
