"""`python manage.py github_emulator`: run the local GitHub emulator until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from github_data.emulator import EmulatorConfig, GitHubEmulator, demo_people


class Command(BaseCommand):
    help = (
        "Serve a local GitHub (REST API, OAuth, git over HTTP, webhooks) with demo "
        "organizations."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument(
            "--org",
            action="append",
            dest="orgs",
            metavar="LOGIN",
            help="an organization with the App installed; repeat for several (default: acme). "
            "The first one owns the App",
        )
        parser.add_argument(
            "--org-without-app",
            action="append",
            dest="orgs_without_app",
            default=[],
            metavar="LOGIN",
            help="an organization where the App is not installed; may be repeated",
        )
        parser.add_argument(
            "--people",
            choices=["none", "demo"],
            default="none",
            help="demo: alice, bob, carol, dave, erin and frank around the organizations "
            "(see github_data/emulator/README.md)",
        )
        parser.add_argument("--repos", type=int, default=6)
        parser.add_argument("--branches-per-repo", type=int, default=4, help="including main")
        parser.add_argument("--prs-per-repo", type=int, default=2)
        parser.add_argument(
            "--members", type=int, default=5, help="generated members per organization"
        )
        parser.add_argument(
            "--second-base-prs-per-repo",
            type=int,
            default=0,
            help="PRs opening an existing PR's head branch against a second base",
        )
        parser.add_argument(
            "--fork-prs-per-repo",
            type=int,
            default=0,
            help="PRs from members' forks, on branches named like the repository's PR heads",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--webhook-url", default=None, help="where to deliver signed webhooks")
        parser.add_argument("--webhook-secret", default="emulator-webhook-secret")
        parser.add_argument(
            "--oauth-user",
            default=None,
            help="login the OAuth flow signs in as at once (default: a page asks)",
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="git repositories and the app's private key (default: a temp dir). The key "
            "found there is reused, so the app's credentials survive restarts.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir: Path | None = options["data_dir"]
        key_pem = None
        if data_dir is not None and (data_dir / "app-private-key.pem").is_file():
            key_pem = (data_dir / "app-private-key.pem").read_text()
        with_app = options["orgs"] or ["acme"]
        without_app = options["orgs_without_app"]
        both = sorted(set(with_app) & set(without_app))
        if both:
            raise CommandError(f"{both}: an organization is given --org or --org-without-app")
        orgs = with_app + without_app
        people = demo_people(orgs, without_app) if options["people"] == "demo" else ()
        config = EmulatorConfig(
            org=orgs[0],
            more_orgs=tuple(orgs[1:]),
            orgs_without_app=tuple(without_app),
            people=people,
            repos=options["repos"],
            branches_per_repo=options["branches_per_repo"],
            prs_per_repo=options["prs_per_repo"],
            members=options["members"],
            second_base_prs_per_repo=options["second_base_prs_per_repo"],
            fork_prs_per_repo=options["fork_prs_per_repo"],
            seed=options["seed"],
            host=options["host"],
            port=options["port"],
            data_dir=data_dir,
            webhook_url=options["webhook_url"],
            webhook_secret=options["webhook_secret"],
            oauth_user=options["oauth_user"],
            private_key_pem=key_pem,
        )
        try:
            config.validate()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        emulator = GitHubEmulator(config).start()
        key_path = emulator.write_private_key()
        out = self.stdout.write
        out(self.style.SUCCESS(f"GitHub emulator listening on {emulator.base_url}"))
        for org in emulator.orgs:
            counts = emulator.dataset.counts(org)
            installed = emulator.installation_id_for(org)
            out(
                f"  organization      {org}: {counts['repos']} repos, "
                f"{counts['branches']} branches, {counts['open_pulls']} open PRs, "
                f"{counts['members']} members, {counts['forks']} forks; "
                + (f"installation {installed}" if installed else "App not installed")
            )
        for login in emulator.dataset.people:
            out(f"  person            {_describe_person(emulator, login)}")
        out(f"  app id            {emulator.app_id}")
        out(f"  private key       {key_path}")
        out(f"  oauth client      {emulator.oauth_client_id} / {emulator.oauth_client_secret}")
        out(f"  webhook secret    {emulator.webhook_secret}")
        out(f"  webhooks to       {emulator.webhooks.url or '(none; set --webhook-url)'}")
        out(f"  git clone         {emulator.git_url('repo-001')}")
        out(f"  control           {emulator.base_url}/_emulator/state")
        if data_dir is None:
            out(
                self.style.WARNING(
                    "  data dir is temporary: pass --data-dir to keep the key across restarts"
                )
            )
        out("Ctrl-C to stop.")
        if threading.current_thread() is threading.main_thread():
            # A supervisor's SIGTERM should clean up (temp dir, socket) like Ctrl-C does.
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            emulator.serve_forever()
        except KeyboardInterrupt:
            out("stopped")


def _describe_person(emulator: GitHubEmulator, login: str) -> str:
    orgs = [
        f"{org.login} ({role})" for org, role in emulator.dataset.memberships(login)
    ] or ["no organization"]
    personal = emulator.installation_id_for(login)
    app = f"; App on the personal account: installation {personal}" if personal else ""
    return f"{login}: {', '.join(orgs)}{app}"


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
