"""schemathesis against the schema the running server serves (uvicorn on
the test database, real HTTP): for every operation, generated requests —
valid and invalid — never get a 500, and every response conforms to the
schema (status, content type, body). Fixed seed, bounded examples; run on
PostgreSQL (the production database), as the API issue asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.db import connection
from hypothesis import HealthCheck, given, settings

from orgs.models import Organization
from tests.browser.conftest import web_server  # noqa: F401  (the served app)
from users.models import Membership
from users.tokens import create_token

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="schemathesis runs on PostgreSQL (see docstring)"
)


@pytest.fixture
def member_token(transactional_db: None) -> Iterator[str]:
    Organization.objects.create(org_id="acme", login="acme", installation_id=1)
    alice = User.objects.create(username="alice", is_staff=True)
    Membership.objects.create(user=alice, org="acme")
    yield create_token(alice, "schemathesis").secret


def test_api_conforms_to_its_schema(web_server: str, member_token: str) -> None:  # noqa: F811
    schema = schemathesis.openapi.from_url(f"{web_server}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {member_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, derandomize=True, deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers)

        try:
            check()
        except Exception as exc:  # every operation is tried; all failures are reported
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
