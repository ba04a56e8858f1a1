"""Membership and App installation mutations of the dataset (a mixin of `Dataset`).

Each names its organization or account by login; without one it acts on the first
organization, as the single-organization dataset did. As on GitHub:

- adding or removing a member emits `organization` member_added / member_removed;
- the App is installed at most once per account (organization or personal account);
  installing, uninstalling, suspending and unsuspending emit `installation` created /
  deleted / suspend / unsuspend, which are delivered whatever the installation's state
  (`webhooks.WebhookSender` holds back every other event of an account without a live
  installation).

Revoking an uninstalled installation's tokens is the caller's part (`TokenStore`); the
server refuses them anyway, as it finds no installation for them.
"""

from __future__ import annotations

import copy

from .core import now
from .models import Event, Installation, NotFound, Organization, User, ValidationFailed
from .pulls import PullRequestMutations


class AccountMutations(PullRequestMutations):
    def _org_or_first(self, org: str | None) -> Organization:
        return self.org_named(org) if org is not None else self.org

    # -- members --------------------------------------------------------------------------

    def add_member(
        self,
        login: str,
        name: str | None = None,
        role: str = "member",
        actor: str | None = None,
        org: str | None = None,
    ) -> User:
        """`login` joins `org` (a new user when the login is unknown)."""
        if role not in ("admin", "member"):
            raise ValidationFailed(f"role must be admin or member, not {role!r}")
        with self.lock:
            found = self._org_or_first(org)
            if any(m.lower() == login.lower() for m in found.members):
                raise ValidationFailed(f"{login} is already a member of {found.login}")
            if self.is_org(login):
                raise ValidationFailed(f"{login} is an organization and cannot be a member")
            sender = self._actor(actor, found)
            try:
                user = self.user(login)
            except NotFound:
                display = name or login.replace("-", " ").title()
                user = User(
                    login,
                    self._ids.next(),
                    display,
                    f"{login}@{found.login}.example.com",
                    now(),
                )
                self.users[login] = user
            found.members[user.login] = role
            event = Event(
                "organization",
                "member_added",
                sender,
                None,
                {"user": copy.copy(user), "role": role},
                account=found.login,
            )
        self._emit([event])
        return user

    def remove_member(self, login: str, actor: str | None = None, org: str | None = None) -> None:
        with self.lock:
            found = self._org_or_first(org)
            user = self.user(login)
            if user.login not in found.members:
                raise NotFound(f"{login} is not a member of {found.login}")
            sender = self._actor(actor, found)
            role = found.members.pop(user.login)
            event = Event(
                "organization",
                "member_removed",
                sender,
                None,
                {"user": copy.copy(user), "role": role},
                account=found.login,
            )
        self._emit([event])

    # -- installations ----------------------------------------------------------------------

    def _installer(self, actor: str | None, account: str) -> str:
        """Who installs on `account` by default: an admin of the organization, or the
        person whose personal account it is."""
        if actor is not None:
            return self.user(actor).login
        if self.is_org(account):
            return self._actor(None, self.org_named(account))
        return self.user(account).login

    def _installation_event(self, action: str, inst: Installation, sender: str) -> Event:
        return Event(
            "installation",
            action,
            sender,
            None,
            {
                "installation": copy.copy(inst),
                "repositories": [self._snapshot(r) for r in self.repos_of_account(inst.account)],
            },
            account=inst.account,
        )

    def _installed_on(self, account: str | None) -> Installation:
        login = account or self.org.login
        inst = self.installation_on(login)
        if inst is None:
            raise NotFound(f"the App is not installed on {login}")
        return inst

    def create_installation(
        self, actor: str | None = None, account: str | None = None
    ) -> Installation:
        """Install the App on `account`: an organization (default: the first one) or a
        user's personal account."""
        with self.lock:
            target = self.account(account or self.org.login)
            if self.installation_on(target.login) is not None:
                raise ValidationFailed(f"The app is already installed on {target.login}")
            kind = "Organization" if isinstance(target, Organization) else "User"
            inst = self._add_installation(target.login, kind, now())
            event = self._installation_event(
                "created", inst, self._installer(actor, target.login)
            )
        self._emit([event])
        return inst

    def delete_installation(
        self, actor: str | None = None, account: str | None = None
    ) -> Installation:
        """Uninstall the App from `account` (default: the first organization)."""
        with self.lock:
            gone = self._installed_on(account)
            sender = self._installer(actor, gone.account)
            del self.installations[gone.id]
            event = self._installation_event("deleted", gone, sender)
        self._emit([event])
        return gone

    def suspend_installation(
        self, actor: str | None = None, account: str | None = None
    ) -> Installation:
        """Suspend the App on `account`: its tokens are refused, its events held back."""
        with self.lock:
            inst = self._installed_on(account)
            if inst.suspended_at is not None:
                raise ValidationFailed(f"The installation on {inst.account} is already suspended")
            sender = self._installer(actor, inst.account)
            inst.suspended_at = inst.updated_at = now()
            inst.suspended_by = sender
            event = self._installation_event("suspend", inst, sender)
        self._emit([event])
        return inst

    def unsuspend_installation(
        self, actor: str | None = None, account: str | None = None
    ) -> Installation:
        with self.lock:
            inst = self._installed_on(account)
            if inst.suspended_at is None:
                raise ValidationFailed(f"The installation on {inst.account} is not suspended")
            sender = self._installer(actor, inst.account)
            inst.suspended_at = inst.suspended_by = None
            inst.updated_at = now()
            event = self._installation_event("unsuspend", inst, sender)
        self._emit([event])
        return inst
