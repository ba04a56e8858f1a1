"""The admin as a read-only inspector of actor instances, commands and steps.

Rows come from the real API (create, send); the history a worker would write
(finished, failed, waiting, steps, leases) is fabricated with ORM updates,
since only rendering and the operator actions are under test here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from foundry.actors.handles import ActorHandle
from foundry.actors.models import ActorInstance, Command, CommandStatus, Step, StepStatus
from tests.actor_types import probe

TRACEBACK = 'Traceback (most recent call last):\n  File "probe.py"\nValueError: boom <b>'


@dataclass
class History:
    root: Command  # alpha, succeeded, caused `middle`
    failed: Command  # alpha, failed with steps and a traceback
    queued: Command  # alpha, queued: alpha has a backlog
    middle: Command  # beta, waiting on `leaf`
    leaf: Command  # gamma, running under a live lease


def send(handle: ActorHandle, n: int, **history: object) -> Command:
    ref = handle.send("probe.command.double", {"n": n})
    if history:
        Command.objects.filter(pk=ref.id).update(**history)
    return Command.objects.get(pk=ref.id)


@pytest.fixture
def history(db: None) -> History:
    now = timezone.now()
    done = {
        "enqueued_at": now - timedelta(seconds=4), "started_at": now - timedelta(seconds=3),
        "attempts": 1,
    }
    alpha, beta = probe.create(name="alpha"), probe.create(name="beta")
    gamma = probe.create(name="gamma")
    probe.create(name="delta")  # no commands: idle
    root = send(alpha, 1, status=CommandStatus.SUCCEEDED, result=2, finished_at=now, **done)
    failed = send(
        alpha, 2, status=CommandStatus.FAILED, finished_at=now, error_type="ValueError",
        error_message="boom", traceback=TRACEBACK,
        result={"html": "<script>alert(1)</script>"}, **done,
    )
    for index, (name, status) in enumerate([("fetch", "succeeded"), ("explode", "failed")]):
        Step.objects.create(
            command=failed, index=index, name=name, status=status, input={"page": index},
            output={"rows": 7} if status == StepStatus.SUCCEEDED else None,
            error_type="ValueError" if status == StepStatus.FAILED else "",
            started_at=now - timedelta(seconds=2), finished_at=now - timedelta(seconds=1),
        )
    queued = send(alpha, 3)
    leaf = send(gamma, 5, status=CommandStatus.RUNNING, **done)
    middle = send(
        beta, 4, status=CommandStatus.WAITING, caused_by=root, waiting_for=leaf,
        parent_waits=True, wait_deadline=now + timedelta(minutes=1), **done,
    )
    Command.objects.filter(pk=leaf.pk).update(caused_by=middle, parent_waits=True)
    ActorInstance.objects.filter(pk=gamma.instance_id).update(
        lease_owner="worker-1", lease_taken_at=now
    )
    return History(root, failed, queued, middle, Command.objects.get(pk=leaf.pk))


def url(name: str, *args: object) -> str:
    return reverse(f"admin:actors_{name}", args=args)


def listed(client: Client, name: str, query: str = "") -> list[object]:
    response = client.get(f"{url(name + '_changelist')}?{query}")
    assert response.status_code == 200, query
    return list(response.context["cl"].result_list)


def test_index_and_instance_changelist_filters(admin_client: Client, history: History) -> None:
    """The instance list derives status from leases, heads and backlogs, and
    each filter value selects the matching instances."""
    assert admin_client.get(reverse("admin:index")).status_code == 200
    keys = lambda query: {i.key for i in listed(admin_client, "actorinstance", query)}  # noqa: E731
    assert keys("") == {"alpha", "beta", "gamma", "delta"}
    assert keys("status=running") == {"gamma"}
    assert keys("status=waiting") == {"beta"}
    assert keys("status=backlog") == {"alpha"}
    assert keys("status=idle") == {"delta"}
    assert keys("backlog=yes") == {"alpha"}
    assert keys("backlog=no") == {"beta", "gamma", "delta"}
    assert keys("actor_type=probe") == keys("")
    assert keys("q=gam") == {"gamma"}
    for column in range(1, 10):  # every sortable column, annotations included
        listed(admin_client, "actorinstance", f"o={column}")
    alpha = next(i for i in listed(admin_client, "actorinstance", "q=alpha"))
    assert (alpha.backlog_count, alpha.open_count, alpha.failed_count) == (1, 1, 1)


def test_instance_page_lists_commands_in_order(admin_client: Client, history: History) -> None:
    """The instance page shows its commands by id with links, and links to
    the command list filtered to the instance."""
    page = admin_client.get(url("actorinstance_change", history.root.instance_id))
    assert page.status_code == 200
    html = page.content.decode()
    links = [url("command_change", c.pk) for c in (history.root, history.failed, history.queued)]
    assert all(link in html for link in links)
    assert html.index(links[0]) < html.index(links[1]) < html.index(links[2])
    assert f"instance__id__exact={history.root.instance_id}" in html
    assert 'name="_save"' not in html
    by_instance = listed(admin_client, "command", f"instance__id__exact={history.root.instance_id}")
    assert [c.pk for c in by_instance] == [history.root.pk, history.failed.pk, history.queued.pk]


def test_command_changelist_filters_and_search(admin_client: Client, history: History) -> None:
    """Status, name and actor type filters and the search by name, instance
    key and id each narrow the command list."""
    ids = lambda query: [c.pk for c in listed(admin_client, "command", query)]  # noqa: E731
    h = history
    assert ids("") == sorted([h.root.pk, h.failed.pk, h.queued.pk, h.middle.pk, h.leaf.pk])
    assert ids("status__exact=failed") == [h.failed.pk]
    assert ids("status__exact=waiting") == [h.middle.pk]
    assert len(ids("name=probe.command.double")) == 5
    assert len(ids("instance__actor_type=probe")) == 5
    assert ids("q=beta") == [h.middle.pk]
    assert ids(f"q={h.leaf.pk}") == [h.leaf.pk]
    assert len(ids("q=probe.command.double")) == 5
    assert ids("o=4") == [h.failed.pk, h.queued.pk, h.leaf.pk, h.root.pk, h.middle.pk]


def test_command_changelist_queries_do_not_grow_with_rows(
    admin_client: Client, history: History
) -> None:
    """The instance and cause links are joined, not fetched per row."""
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            listed(admin_client, "command")
        return len(captured)

    before = queries()
    handle = probe.get(name="delta")
    for n in range(1, 6):
        send(handle, n, caused_by=history.root)
    assert queries() == before


def test_command_page_shows_history(admin_client: Client, history: History) -> None:
    """A failed command's page shows payload, escaped result, error,
    traceback and its steps; a chained one shows root, parent and children."""
    html = admin_client.get(url("command_change", history.failed.pk)).content.decode()
    assert "&quot;n&quot;: 2" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "ValueError: boom &lt;b&gt;" in html and "<pre>Traceback" in html
    assert "fetch" in html and "explode" in html and "&quot;rows&quot;: 7" in html
    assert 'name="_save"' not in html
    assert "None" not in html.split('id="content-main"')[1]

    response = admin_client.get(url("command_change", history.middle.pk))
    assert response.status_code == 200
    html = response.content.decode()
    for linked in (history.root, history.leaf):  # the root and the child it caused
        assert f'href="{url("command_change", linked.pk)}"' in html
    assert html.index(url("command_change", history.root.pk)) < html.index("Caused:")
    leaf = admin_client.get(url("command_change", history.leaf.pk)).content.decode()
    chain = leaf[leaf.index("Chain (root first)"):leaf.index("Caused:")]
    root_link, middle_link = (url("command_change", c.pk) for c in (history.root, history.middle))
    assert chain.index(root_link) < chain.index(middle_link)


def test_step_changelist_and_page(admin_client: Client, history: History) -> None:
    """Steps are listed, filtered by status and command, and viewable."""
    assert [s.name for s in listed(admin_client, "step", "status__exact=failed")] == ["explode"]
    steps = listed(admin_client, "step", f"command__id__exact={history.failed.pk}")
    assert [s.name for s in steps] == ["fetch", "explode"]
    assert admin_client.get(url("step_change", steps[0].pk)).status_code == 200


def act(client: Client, action: str, *commands: Command) -> list[str]:
    response = client.post(
        url("command_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in commands]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def test_retry_failed_requeues_and_logs(
    admin_client: Client, admin_user: User, history: History
) -> None:
    """Retry requeues the failed command, drops its failed step, reports the
    skipped selection and records who did it."""
    messages = act(admin_client, "retry_failed", history.failed, history.queued)
    assert messages == ["Retried 1 command(s). Skipped 1 of 2 selected: not failed."]
    failed = Command.objects.get(pk=history.failed.pk)
    assert (failed.status, failed.traceback) == (CommandStatus.QUEUED, "")
    assert [s.name for s in failed.steps.all()] == ["fetch"]
    entry = LogEntry.objects.get(object_id=str(failed.pk))
    assert (entry.user, entry.action_flag) == (admin_user, CHANGE)


def test_retry_on_succeeded_changes_nothing(admin_client: Client, history: History) -> None:
    """Retry on a succeeded command leaves it alone and says so."""
    messages = act(admin_client, "retry_failed", history.root)
    assert messages == ["Retried 0 command(s). Skipped 1 of 1 selected: not failed."]
    assert Command.objects.get(pk=history.root.pk).status == CommandStatus.SUCCEEDED
    assert not LogEntry.objects.exists()


def test_cancel_queued(admin_client: Client, history: History) -> None:
    """Cancel finishes a queued command as cancelled and skips others."""
    messages = act(admin_client, "cancel_queued", history.queued, history.leaf)
    assert messages == ["Cancelled 1 command(s). Skipped 1 of 2 selected: not queued."]
    assert Command.objects.get(pk=history.queued.pk).status == CommandStatus.CANCELLED
    assert Command.objects.get(pk=history.leaf.pk).status == CommandStatus.RUNNING
    assert LogEntry.objects.filter(object_id=str(history.queued.pk)).exists()


def test_nothing_is_editable(admin_client: Client, history: History) -> None:
    """No add, change or delete anywhere; no bulk delete action."""
    for name, pk in [("actorinstance", history.root.instance_id),
                     ("command", history.root.pk),
                     ("step", history.failed.steps.get(index=0).pk)]:
        assert admin_client.get(url(f"{name}_add")).status_code == 403
        assert admin_client.get(url(f"{name}_delete", pk)).status_code == 403
        page = admin_client.post(url(f"{name}_change", pk), {"name": "edited"})
        assert page.status_code == 403
    choices = admin_client.get(url("command_changelist")).context["action_form"]
    names = [value for value, _ in choices.fields["action"].choices]
    assert "delete_selected" not in names
    assert {"retry_failed", "cancel_queued"} <= set(names)


@pytest.mark.parametrize("codenames, can_operate", [
    (["view_command"], False),
    (["view_command", "change_command"], True),
])
def test_actions_need_the_change_permission(
    client: Client, history: History, codenames: list[str], can_operate: bool
) -> None:
    """Viewers inspect; only holders of the change permission operate."""
    user = User.objects.create_user("operator", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    response = client.get(url("command_changelist"))
    assert response.status_code == 200
    assert action_offered(response, "retry_failed") is can_operate
    assert client.get(url("command_change", history.failed.pk)).status_code == 200


def action_offered(response: HttpResponse, action: str) -> bool:
    form = response.context["action_form"]
    return form is not None and action in [v for v, _ in form.fields["action"].choices]


def test_release_lease_frees_the_instance_and_logs(
    admin_client: Client, admin_user: User, history: History
) -> None:
    """The operator releases the lease of a stuck worker from the instance
    list: the lease is gone, the change is logged; an instance without a
    lease is skipped."""
    gamma = ActorInstance.objects.get(pk=history.leaf.instance_id)
    assert gamma.lease_owner == "worker-1"
    response = admin_client.post(url("actorinstance_changelist"), {
        "action": "release_leases",
        "_selected_action": [gamma.pk, history.root.instance_id],
    }, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Released 1 lease(s)."]
    gamma.refresh_from_db()
    assert (gamma.lease_owner, gamma.lease_taken_at) == ("", None)
    entry = LogEntry.objects.get(object_id=str(gamma.pk))
    assert (entry.user, "worker-1" in entry.change_message) == (admin_user, True)
