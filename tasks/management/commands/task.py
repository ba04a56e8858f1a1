"""Tasks from the command line: create, send, show, push, pr, stop.

``--as LOGIN`` acts as a person who signed in (they become the task's
owner); without it the GitHub App acts (git and the PR with an installation
token). ``--json`` ends with one summary line: task_id, branch, status,
session_id, events, files_changed, pr_number.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from foundry.actors import ActorError
from foundry.actors.presence import require_worker
from orgs.actor import organization
from sandboxes.actor import sandbox
from tasks import cli, cli_sessions
from tasks.actor import task as task_actor
from tasks.materialize import create_task

PUSH_TIMEOUT = 300.0


class Command(BaseCommand):
    help = "Create and drive tasks: create, send, show, push, pr, stop."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new task from a prompt")
        create.add_argument("org")
        create.add_argument("repo", help="the repository's name")
        create.add_argument("--prompt", required=True)
        create.add_argument("--agent")
        create.add_argument("--model")
        create.add_argument("--branch", default="", help="a branch name (sanitised)")
        send = sub.add_parser("send", help="a message to the task's newest session")
        send.add_argument("task", help="TASK or ORG/TASK")
        send.add_argument("text")
        for p in (create, send):
            p.add_argument("--follow", action="store_true", help="stream the turn")
            p.add_argument("--approve", action="store_true", help="allow every permission")
        show = sub.add_parser("show", help="the task, its git state and its PR")
        push = sub.add_parser("push", help="commit and push the task's branch")
        pr = sub.add_parser("pr", help="push and open the task's pull request")
        stop = sub.add_parser("stop", help="stop the running turn")
        for p in (show, push, pr, stop):
            p.add_argument("task", help="TASK or ORG/TASK")
        for p in (create, show, pr):
            p.add_argument("--json", dest="as_json", action="store_true",
                           help="end with a JSON summary line")
        for p in (create, send, show, push, pr, stop):
            p.add_argument("--as", dest="as_login", help="act as this person (a GitHub login)")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**options)
        # The runtime's errors (a failed or timed-out command) and the
        # sessions' (an unknown session, a turn followed past its timeout).
        except (ActorError, LookupError, TimeoutError) as exc:
            raise CommandError(str(exc)) from exc

    # -- actions ---------------------------------------------------------------------------

    def do_create(self, *, org: str, repo: str, prompt: str, agent: str | None,
                  model: str | None, branch: str, follow: bool, approve: bool,
                  as_json: bool, as_login: str | None, **_: Any) -> None:
        cli.require_org(org)
        full_name = cli.require_repo(org, repo)
        user = cli.person(org, as_login)
        require_worker(task_actor, organization, sandbox, within=5)
        record = create_task(org, full_name, prompt, branch_name=branch,
                             owner_login=as_login or "")
        task_id = record["task_id"]
        self.stderr.write(f"Created task {org}/{task_id} on branch {record['branch']}"
                          f" ({record['title']})")
        try:
            session_id = cli_sessions.create_session(
                org, task_id, agent=agent, model=model, user_id=user.pk if user else None)
        except CommandError as exc:
            raise CommandError(
                f"{exc}: task {org}/{task_id} was created without a session") from exc
        self._send(org, task_id, session_id, prompt, user, follow=follow, approve=approve)
        if as_json:
            if follow:
                # The turn changed files: count them in the sandbox before summing up.
                cli.materialized(org, task_id).send(
                    "task.command.refresh_git_state", {}, wait=True, timeout=120)
            self.stdout.write(cli.summary_line(org, task_id, session_id=session_id))

    def do_send(self, *, task: str, text: str, follow: bool, approve: bool,
                as_login: str | None, **_: Any) -> None:
        org, task_id = cli.task_ref(task)
        user = cli.person(org, as_login)
        require_worker(task_actor, sandbox, within=5)
        cli.materialized(org, task_id, wait=True)  # the sessions need the record
        session_id, _events = cli_sessions.latest_session(org, task_id)
        if not session_id:
            session_id = cli_sessions.create_session(
                org, task_id, agent=None, model=None, user_id=user.pk if user else None)
        self._send(org, task_id, session_id, text, user, follow=follow, approve=approve)

    def do_show(self, *, task: str, as_json: bool, as_login: str | None, **_: Any) -> None:
        org, task_id = cli.task_ref(task)
        cli.person(org, as_login)
        require_worker(task_actor, within=5)
        handle = cli.materialized(org, task_id, wait=True)
        detail = handle.read("task.read.detail")
        if as_json:
            self.stdout.write(cli.summary_line(
                org, task_id, files_changed=len(detail.files) if detail.git else None))
            return
        s = detail.summary
        lines = [
            f"{s.title}", f"  task     {org}/{task_id} ({s.status}"
            + (f": {s.archived_reason}" if s.archived_reason else "") + ")",
            f"  repo     {s.repo_full_name}  branch {s.branch} (base {detail.base_branch})",
            f"  owner    {s.owner_login or '(none: the GitHub App)'}",
            "  PR       " + (f"#{s.pr_number} {s.pr_state} {s.pr_url}" if s.pr_number else "none"),
            "  sandbox  " + (detail.sandbox.status if detail.sandbox else "none"),
        ]
        if detail.git is not None:
            lines.append(f"  git      {detail.git.ahead} ahead, {detail.git.behind} behind,"
                         f" +{detail.git.lines_added} -{detail.git.lines_removed}")
            lines += [f"    {f.status} {f.path} +{f.added} -{f.removed}" for f in detail.files]
        else:
            lines.append(f"  git      unavailable ({detail.git_unavailable})")
        self.stdout.write("\n".join(lines))

    def do_push(self, *, task: str, as_login: str | None, **_: Any) -> None:
        org, task_id = cli.task_ref(task)
        user = cli.person(org, as_login)
        require_worker(task_actor, organization, sandbox, within=5)
        handle = self._acting(org, task_id, user)
        out = handle.send("task.command.push", {"acting_login": as_login or ""}, wait=True,
                          timeout=PUSH_TIMEOUT)
        self.stdout.write(f"Pushed {out['branch']} ({out['head_sha'][:12]}) to"
                          f" {out['repo_full_name']} as {as_login or 'the GitHub App'}")

    def do_pr(self, *, task: str, as_json: bool, as_login: str | None, **_: Any) -> None:
        org, task_id = cli.task_ref(task)
        user = cli.person(org, as_login)
        require_worker(task_actor, organization, sandbox, within=5)
        handle = self._acting(org, task_id, user)
        out = handle.send("task.command.publish_pr", {"acting_login": as_login or ""},
                          wait=True, timeout=PUSH_TIMEOUT)
        if as_json:
            self.stdout.write(cli.summary_line(org, task_id))
        else:
            self.stdout.write(f"Pull request #{out['pr_number']}: {out['pr_url']}")

    def do_stop(self, *, task: str, as_login: str | None, **_: Any) -> None:
        org, task_id = cli.task_ref(task)
        cli.person(org, as_login)
        require_worker(task_actor, within=5)
        cli.materialized(org, task_id, wait=True)  # the sessions need the record
        session_id, _events = cli_sessions.latest_session(org, task_id)
        if not session_id:
            cli_sessions.sessions()  # says "not wired yet" before "no session"
            raise CommandError(f"task {org}/{task_id} has no session to stop")
        cli_sessions.stop(org, task_id, session_id)
        self.stdout.write(f"Stopped session {session_id} of {org}/{task_id}")

    # -- helpers ---------------------------------------------------------------------------

    def _acting(self, org: str, task_id: str, user: Any) -> Any:
        """The task's actor; ``--as`` makes that person the owner first."""
        handle = cli.materialized(org, task_id)
        if user is not None:
            handle.send("task.command.change_owner",
                        {"login": user.get_username(), "acting_login": user.get_username()})
        return handle

    def _send(self, org: str, task_id: str, session_id: str, text: str, user: Any, *,
              follow: bool, approve: bool) -> None:
        user_id = user.pk if user else None
        cli_sessions.send(org, task_id, session_id, text, user_id)
        if follow:
            cli_sessions.follow(org, task_id, session_id, user_id=user_id, approve=approve,
                                write=self.stdout.write, ask=input)

