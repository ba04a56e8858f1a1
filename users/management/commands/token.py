"""``manage.py token create|list|revoke``: personal access tokens by hand.

``token create LOGIN`` prints the new token alone on its last line (scripts
take ``| tail -1``); it is shown this once.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from users.tokens import DEFAULT_DAYS, TokenError, create_token, revoke_token, tokens_of


def _person(login: str) -> User:
    user = User.objects.filter(username=login).first()
    if user is None:
        raise CommandError(f"no person with the login {login!r} (they must sign in first)")
    return user


class Command(BaseCommand):
    help = "Create, list or revoke a person's personal access tokens for the REST API."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token; prints it alone on the last line")
        create.add_argument("login")
        create.add_argument("--name", default="command line")
        create.add_argument("--days", type=int, default=DEFAULT_DAYS)
        listing = sub.add_parser("list", help="a person's tokens")
        listing.add_argument("login")
        revoke = sub.add_parser("revoke", help="revoke a token by its id")
        revoke.add_argument("login")
        revoke.add_argument("token_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        user = _person(options["login"])
        try:
            if options["action"] == "create":
                new = create_token(user, options["name"], options["days"])
                self.stderr.write(
                    f"token {new.record.pk} {new.record.name!r} for {user.username}, expires"
                    f" {new.record.expires_at:%Y-%m-%d}; it is shown this once:"
                )
                self.stdout.write(new.secret)
            elif options["action"] == "list":
                for token in tokens_of(user):
                    state = (
                        "revoked" if token.revoked_at else
                        f"expires {token.expires_at:%Y-%m-%d}"
                    )
                    used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
                    self.stdout.write(
                        f"{token.pk:>5}  {token.prefix}…  {token.name:<24} {state:<20}"
                        f" last used {used}"
                    )
            else:
                token = revoke_token(user, options["token_id"])
                self.stdout.write(f"revoked token {token.pk} ({token.prefix}…)")
        except TokenError as exc:
            raise CommandError(str(exc)) from exc
