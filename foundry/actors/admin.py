"""The admin as the workflow-history inspector: read-only views of actor
instances, their commands and steps, plus two operator actions.

Promises: nothing here writes the runtime's tables through the ORM. The
retry and cancel actions filter the selection to commands in a valid state,
then call ``foundry.actors.operator``, whose conditional updates leave alone
a command that changed state meanwhile; each change is logged as a LogEntry
naming the operator. Instance status is derived by query at read time (a
lease, the head command, the backlog), never stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import Case, Count, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from foundry.actors.models import (
    OPEN_STATUSES,
    ActorInstance,
    Command,
    CommandStatus,
    Step,
    WorkerPresence,
)
from foundry.actors.operator import (
    cancel_queued_command,
    release_lease,
    retry_failed_command,
)
from foundry.actors.presence import stale_after
from foundry.actors.registry import all_actor_types
from foundry.actors.retention import RetentionPolicy
from foundry.admin import ReadOnlyPermissions

if TYPE_CHECKING:
    InstanceAdminBase = admin.ModelAdmin[ActorInstance]
    CommandAdminBase = admin.ModelAdmin[Command]
    StepAdminBase = admin.ModelAdmin[Step]
    PresenceAdminBase = admin.ModelAdmin[WorkerPresence]
else:  # ModelAdmin is only generic in django-stubs
    InstanceAdminBase = CommandAdminBase = StepAdminBase = admin.ModelAdmin
    PresenceAdminBase = admin.ModelAdmin

COLOURS = {
    "queued": "#777", "running": "#1565c0", "waiting": "#8e24aa", "backlog": "#ef6c00",
    "succeeded": "#2e7d32", "failed": "#c62828", "cancelled": "#555", "idle": "#999",
}
# An instance page lists at most this many commands, a command page this many
# steps and children; past that, a link to the filtered changelist.
ROWS_SHOWN = 50


def _status(value: str) -> SafeString:
    return format_html('<b style="color:{}">{}</b>', COLOURS.get(value, "inherit"), value)


def _json(value: Any) -> SafeString:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _seconds(value: timedelta | None) -> str:
    return f"{value.total_seconds():.3f}s" if value is not None else "—"


def _link(obj: ActorInstance | Command | Step, text: str | None = None) -> SafeString:
    url = reverse(f"admin:actors_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> SafeString:
    # format_html_join escapes plain strings and keeps SafeStrings (links,
    # badges, <pre>), so payloads and errors can never inject markup.
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join("", "<tr>{}</tr>", (
        (format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows
    ))
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def _more(shown: int, total: int, changelist: str, query: str) -> SafeString:
    url = f"{reverse(f'admin:actors_{changelist}_changelist')}?{query}"
    return format_html('<p>Showing {} of {}. <a href="{}">See all</a></p>', shown, total, url)


def _error(obj: Command | Step) -> str:
    return f"{obj.error_type}: {obj.error_message}" if obj.error_type else ""


def _column(
    description: str, render: Callable[[Any], Any], ordering: str | None = None
) -> Callable[[Any, Any], Any]:
    """A list_display / readonly_fields column computed from the row."""

    @admin.display(description=description, ordering=ordering)
    def column(self: Any, obj: Any) -> Any:
        # Read-only fields would print a bare None as "None".
        value = render(obj)
        return self.get_empty_value_display() if value is None else value

    return column


def _link_to(attr: str, description: str, ordering: str | None = None) -> Any:
    return _column(description, lambda o: _link(r) if (r := getattr(o, attr)) else None, ordering)


class ReadOnlyAdmin(ReadOnlyPermissions):
    """Inspectors, not editors: the runtime is the tables' only writer."""

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # has_change_permission is always False here (read-only), so ask the
        # auth backend: the model's change permission grants operating.
        opts: Any = getattr(self, "opts")  # noqa: B009  # set by ModelAdmin
        codename = get_permission_codename("change", opts)
        user = request.user
        return bool(user.is_superuser or user.has_perm(f"{opts.app_label}.{codename}"))

    status_badge = _column("status", lambda o: _status(o.status), "status")
    duration_shown = _column("duration", lambda o: _seconds(o.duration))
    traceback_shown = _column(
        "traceback", lambda o: format_html("<pre>{}</pre>", o.traceback) if o.traceback else None
    )


def _commands_counted(**filters: Any) -> Coalesce:
    # A correlated count rather than a JOIN + GROUP BY: one index probe per
    # listed instance, and no instance columns in a GROUP BY.
    counted = (
        Command.objects.filter(instance=OuterRef("pk"), **filters)
        .order_by().values("instance").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counted), 0)


def _command_name_filter(field: str) -> type[admin.SimpleListFilter]:
    """Filter by command name, offering the names the actor types declare:
    listing the names in the table would read all of it (there is no index
    on names: every claim and outcome would have to update one)."""

    class CommandNameFilter(admin.SimpleListFilter):
        title = "command"
        parameter_name = field

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            names = sorted(n for t in all_actor_types() for n in t.commands)
            return [(n, n) for n in names]

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    return CommandNameFilter


class InstanceStatusFilter(admin.SimpleListFilter):
    title = parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(s, s) for s in ("running", "waiting", "backlog", "idle")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(derived_status=self.value()) if self.value() else queryset


class BacklogFilter(admin.SimpleListFilter):
    title = parameter_name = "backlog"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "has backlog"), ("no", "empty")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        lookup = {"yes": "backlog_count__gt", "no": "backlog_count"}.get(self.value() or "")
        return queryset.filter(**{lookup: 0}) if lookup else queryset


@admin.register(ActorInstance)
class ActorInstanceAdmin(ReadOnlyAdmin, InstanceAdminBase):
    list_display = [
        "actor_type", "key", "status_badge", "backlog", "open_commands", "failed_commands",
        "lease_owner", "lease_taken_at", "created_at",
    ]
    list_filter = ["actor_type", InstanceStatusFilter, BacklogFilter]
    search_fields = ["key"]
    ordering = ["actor_type", "key"]
    show_full_result_count = False
    actions = ["release_leases"]

    @admin.action(
        description="Release the lease (its worker is stuck for good)", permissions=["operate"]
    )
    def release_leases(self, request: HttpRequest, queryset: QuerySet[ActorInstance]) -> None:
        """For a worker that is alive but will never finish (a leased
        instance whose holder died is picked up by the sweeper without
        this). Whatever the stuck worker commits afterwards is refused."""
        done = 0
        for instance in queryset.exclude(lease_owner="").order_by("id"):
            if release_lease(instance.pk):
                done += 1
                self.log_change(request, instance, f"Released the lease of {instance.lease_owner}")
        self.message_user(
            request, f"Released {done} lease(s).", messages.SUCCESS if done else messages.WARNING
        )
    fields = readonly_fields = (
        "actor_type", "key", "status_badge", "created_json", "created_at",
        "lease_owner", "lease_taken_at", "commands_table",
    )

    status_badge = _column("status", lambda o: _status(o.derived_status), "derived_status")
    backlog = _column("backlog", lambda o: o.backlog_count, "backlog_count")
    open_commands = _column("open", lambda o: o.open_count, "open_count")
    failed_commands = _column("failed", lambda o: o.failed_count, "failed_count")
    created_json = _column("created input", lambda o: _json(o.created_input))

    def get_queryset(self, request: HttpRequest) -> QuerySet[ActorInstance]:
        head_status = (
            Command.objects.filter(instance=OuterRef("pk"), status__in=OPEN_STATUSES)
            .order_by("id").values("status")[:1]
        )
        # A lease in place means a drain holds the instance (or died holding
        # it: the sweeper notices within its period).
        live_lease = ~Q(lease_owner="")
        return super().get_queryset(request).annotate(
            backlog_count=_commands_counted(status=CommandStatus.QUEUED),
            open_count=_commands_counted(status__in=OPEN_STATUSES),
            failed_count=_commands_counted(status=CommandStatus.FAILED),
            head_status=Subquery(head_status),
        ).annotate(derived_status=Case(
            When(live_lease, then=Value("running")),
            When(head_status=CommandStatus.WAITING, then=Value("waiting")),
            When(backlog_count__gt=0, then=Value("backlog")),
            default=Value("idle"),
        ))

    @admin.display(description="commands")
    def commands_table(self, obj: ActorInstance) -> SafeString:
        total = obj.commands.count()
        # The latest page, shown oldest first: mailbox order.
        latest = reversed(obj.commands.order_by("-id")[:ROWS_SHOWN])
        table = _table(
            ["#", "name", "status", "attempts", "enqueued", "started", "duration", "error"],
            ((_link(c, f"#{c.pk}"), c.name, _status(c.status), c.attempts, _when(c.enqueued_at),
              _when(c.started_at), _seconds(c.duration), _error(c)) for c in latest),
        )
        more = _more(min(total, ROWS_SHOWN), total, "command", f"instance__id__exact={obj.pk}")
        return format_html("{}{}", more, table)


@admin.register(Command)
class CommandAdmin(ReadOnlyAdmin, CommandAdminBase):
    list_display = [
        "id", "instance_link", "name", "status_badge", "attempts", "enqueued_at",
        "started_at", "finished_at", "duration_shown", "caused_by_link",
    ]
    list_filter = ["status", _command_name_filter("name"), "instance__actor_type"]
    search_fields = ["name", "instance__key", "id__exact"]
    # The instance and cause links would otherwise cost two queries a row.
    list_select_related = ["instance", "caused_by"]
    # COUNT(*) over the whole mailbox on every page is the slow part.
    show_full_result_count = False
    ordering = ["id"]
    actions = ["retry_failed", "cancel_queued"]
    sections = {
        "": ("id", "instance_link", "name", "status_badge", "attempts"),
        "Timing": ("enqueued_at", "started_at", "finished_at", "duration_shown"),
        "Data": ("payload_json", "result_json"),
        "Error": ("error_type", "error_message", "traceback_shown"),
        "Wait": ("parent_waits", "waiting_for_link", "wait_deadline"),
        "Causation": ("causation",),
        "Steps": ("steps_table",),
    }
    fieldsets = [(title or None, {"fields": names}) for title, names in sections.items()]
    readonly_fields = [name for names in sections.values() for name in names]

    instance_link = _link_to("instance", "instance", "instance__key")
    caused_by_link = _link_to("caused_by", "caused by")
    waiting_for_link = _link_to("waiting_for", "waiting for")
    payload_json = _column("payload", lambda o: _json(o.payload))
    result_json = _column("result", lambda o: _json(o.result))

    @admin.display(description="causation chain")
    def causation(self, obj: Command) -> SafeString:
        ancestors: list[Command] = []
        parent = obj.caused_by
        # SET_NULL keeps chains acyclic; the check guards a hand-edited row.
        while parent is not None and parent.pk != obj.pk and parent not in ancestors:
            ancestors.insert(0, parent)
            parent = parent.caused_by
        children = list(obj.caused.select_related("instance").order_by("id")[:ROWS_SHOWN])

        def links(commands: list[Command], sep: str) -> SafeString:
            pairs = ((_link(c, f"{c} on {c.instance}"),) for c in commands)
            return format_html_join(sep, "{}", pairs)

        return format_html(
            "<p>Chain (root first): {}<b>{}</b></p><p>Caused: {}</p>",
            format_html("{} → ", links(ancestors, " → ")) if ancestors else "",
            obj, links(children, ", ") or "—",
        )

    @admin.display(description="steps")
    def steps_table(self, obj: Command) -> SafeString:
        steps = list(obj.steps.order_by("index")[:ROWS_SHOWN])
        table = _table(
            ["#", "name", "status", "attempt", "started", "duration", "input", "output", "error"],
            ((s.index, _link(s, s.name), _status(s.status), s.attempt, _when(s.started_at),
              _seconds(s.duration), _json(s.input), _json(s.output), _error(s)) for s in steps),
        )
        if len(steps) < ROWS_SHOWN:
            return table
        more = _more(len(steps), obj.steps.count(), "step", f"command__id__exact={obj.pk}")
        return format_html("{}{}", more, table)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Shown above the list (admin/actors/command/change_list.html): what
        # the history keeps, so nobody looks for a command that was pruned.
        retention = RetentionPolicy.from_settings().describe()
        return super().changelist_view(request, {**(extra_context or {}), "retention": retention})

    @admin.action(description="Retry failed commands", permissions=["operate"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Command]) -> None:
        self._operate(request, queryset, CommandStatus.FAILED, retry_failed_command, "Retried")

    @admin.action(description="Cancel queued commands", permissions=["operate"])
    def cancel_queued(self, request: HttpRequest, queryset: QuerySet[Command]) -> None:
        self._operate(request, queryset, CommandStatus.QUEUED, cancel_queued_command, "Cancelled")

    def _operate(
        self, request: HttpRequest, queryset: QuerySet[Command], valid: CommandStatus,
        operation: Callable[[int], bool], verb: str,
    ) -> None:
        selected, done = queryset.count(), 0
        for command in queryset.filter(status=valid).order_by("id"):
            # The operator's UPDATE is conditional: a command that left
            # `valid` since this read is skipped, and counted as such.
            if operation(command.pk):
                done += 1
                self.log_change(request, command, f"{verb} {valid} command via the admin")
        text = f"{verb} {done} command(s)."
        if selected > done:
            text += f" Skipped {selected - done} of {selected} selected: not {valid}."
        self.message_user(request, text, messages.SUCCESS if done else messages.WARNING)


@admin.register(Step)
class StepAdmin(ReadOnlyAdmin, StepAdminBase):
    list_display = [
        "id", "command_link", "index", "name", "status_badge", "attempt", "started_at",
        "duration_shown",
    ]
    list_filter = [
        "status", _command_name_filter("command__name"), "command__instance__actor_type"
    ]
    search_fields = ["name", "command__id__exact"]
    # The command link renders Command.__str__ for every row.
    list_select_related = ["command"]
    show_full_result_count = False
    ordering = ["command_id", "index"]
    fields = readonly_fields = (
        "command_link", "index", "name", "status_badge", "attempt", "started_at",
        "finished_at", "duration_shown", "input_json", "output_json", "error_type",
        "error_message", "traceback_shown",
    )

    command_link = _link_to("command", "command", "command_id")
    input_json = _column("input", lambda o: _json(o.input))
    output_json = _column("output", lambda o: _json(o.output))


@admin.register(WorkerPresence)
class WorkerPresenceAdmin(ReadOnlyPermissions, PresenceAdminBase):
    """The worker processes that said they consume actor queues."""

    list_display = ["hostname", "pid", "live", "queues_shown", "started_at", "last_seen_at"]
    ordering = ["hostname", "pid"]
    show_full_result_count = False
    fields = readonly_fields = ("hostname", "pid", "live", "queues_shown", "started_at",
                                "last_seen_at")

    queues_shown = _column("queues", lambda o: ", ".join(o.queues))

    @admin.display(description="live", boolean=True)
    def live(self, obj: WorkerPresence) -> bool:
        return obj.last_seen_at >= timezone.now() - stale_after()
