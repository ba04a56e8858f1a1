"""The check of emulator responses against GitHub's REST description finds real faults.

Each test takes real exchanges (recorded from an emulator over HTTP), breaks one the way
the emulator once was broken, and shows the violation named by method, path, status,
operation and JSON path. The last one breaks the emulator itself and shows the suite's
own per-test check (tests/emulator_conformance.py) catching it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from github_data.emulator import GitHubEmulator, recording, repo_shapes
from github_data.emulator.conformance import ConformanceChecker
from tests.emulator_conformance import EmulatorConformance, report


@pytest.fixture
def exchanges() -> Iterator[list[recording.Exchange]]:
    """What emulators serve during the test, in order."""
    seen: list[recording.Exchange] = []
    recording.add_listener(seen.append)
    yield seen
    recording.remove_listener(seen.append)


@pytest.fixture
def checker(emulator_conformance: EmulatorConformance) -> ConformanceChecker:
    """A fresh checker (own counters) on the session's loaded description."""
    return ConformanceChecker(emulator_conformance.checker().description)


def fetch(
    emulator: GitHubEmulator, exchanges: list[recording.Exchange], path: str, token: str
) -> recording.Exchange:
    with httpx.Client(base_url=emulator.base_url) as client:
        response = client.get(path, headers={"Authorization": f"token {token}"})
    assert response.status_code == 200, response.text
    return next(e for e in reversed(exchanges) if e.path == path.split("?")[0])


def with_body(exchange: recording.Exchange, change: Callable[[Any], None]) -> recording.Exchange:
    body = json.loads(exchange.body)
    change(body)
    return replace(exchange, body=json.dumps(body).encode())


def test_a_null_the_description_forbids_is_named_with_its_json_path(
    emulator: GitHubEmulator, exchanges: list[recording.Exchange], checker: ConformanceChecker
) -> None:
    token = emulator.installation_token()
    repos = fetch(emulator, exchanges, "/installation/repositories", token)
    org = fetch(emulator, exchanges, "/orgs/acme", token)
    branch = fetch(emulator, exchanges, "/repos/acme/repo-001/branches/main", token)
    assert checker.check(repos) == checker.check(org) == checker.check(branch) == []

    def null_token(body: Any) -> None:
        body["repositories"][1]["temp_clone_token"] = None

    [violation] = checker.check(with_body(repos, null_token))
    assert str(violation) == (
        "GET /installation/repositories -> 200 [apps/list-repos-accessible-to-installation "
        "(GET /installation/repositories)] at $.repositories[1].temp_clone_token: "
        "null, but the description says 'string' (not nullable)"
    )
    [location] = checker.check(with_body(org, lambda body: body.update(location=None)))
    assert (location.json_path, location.operation) == ("$.location", "orgs/get (GET /orgs/{org})")

    def no_status_checks(body: Any) -> None:
        body["protection"]["required_status_checks"] = None

    [checks] = checker.check(with_body(branch, no_status_checks))
    assert checks.json_path == "$.protection.required_status_checks"
    assert checks.exchange.describe() == "GET /repos/acme/repo-001/branches/main -> 200"


def test_get_user_may_carry_only_documented_properties(
    emulator: GitHubEmulator, exchanges: list[recording.Exchange], checker: ConformanceChecker
) -> None:
    member = next(iter(emulator.dataset.org.members))
    me = fetch(emulator, exchanges, "/user", emulator.user_token(member))
    assert checker.check(me) == []

    def extras(body: Any) -> None:
        body["favourite_colour"] = "blue"
        body["plan"]["seats_left"] = 3

    violations = checker.check(with_body(me, extras))
    assert [(v.json_path, v.message) for v in violations] == [
        ("$.plan.seats_left", "a property the description does not document for this operation"),
        ("$.favourite_colour", "a property the description does not document for this operation"),
    ]
    # Other operations leave objects open, as the description does.
    repo = fetch(emulator, exchanges, "/repos/acme/repo-001", emulator.installation_token())
    assert checker.check(with_body(repo, lambda body: body.update(extra=1))) == []


def test_routes_statuses_and_areas_the_description_does_not_cover(
    emulator: GitHubEmulator, exchanges: list[recording.Exchange], checker: ConformanceChecker
) -> None:
    org = fetch(emulator, exchanges, "/orgs/acme", emulator.installation_token())
    [undocumented_route] = checker.check(replace(org, route="/orgs/{org}/frobnicate"))
    assert "does not document" in undocumented_route.message
    [teapot] = checker.check(replace(org, status=418))
    assert teapot.message == (
        "status 418 is not documented for this operation (documented: 200, 404)"
    )
    [not_json] = checker.check(replace(org, body=b"<html>"))
    assert not_json.message.startswith("the body is not JSON")
    # Errors GitHub may answer anywhere are checked against its error shape.
    limited = replace(org, status=403, body=b'{"message": "API rate limit exceeded"}')
    assert checker.check(limited) == []
    [bad_error] = checker.check(replace(limited, body=b'{"message": 403}'))
    assert bad_error.json_path == "$.message"
    # A 204 without a body is checked for its status only.
    member = replace(
        org, path="/orgs/acme/members/x", route="/orgs/{org}/members/{username}", status=204,
        body=b"", content_type="text/plain",
    )
    assert checker.check(member) == [] and checker.status_only == 1

    for area in ("control", "git", "oauth", "avatar"):
        assert checker.check(replace(org, area=area, route=None, status=599, body=b"?")) == []
    assert checker.excluded == {"control": 1, "git": 1, "oauth": 1, "avatar": 1}
    with pytest.raises(ValueError, match="unknown emulator area 'ftp'"):
        checker.check(replace(org, area="ftp"))


def test_the_suite_fails_a_test_whose_emulator_breaks_the_description(
    emulator: GitHubEmulator,
    emulator_conformance: EmulatorConformance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reintroduce the old null `temp_clone_token` into the emulator: the per-test check
    (which fails the test at teardown) reports it. This test takes the report itself."""
    assert emulator_conformance.check_pending() == []
    original = repo_shapes.repo

    def old_repo_shape(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**original(*args, **kwargs), "temp_clone_token": None}

    monkeypatch.setattr(repo_shapes, "repo", old_repo_shape)
    headers = {"Authorization": f"token {emulator.installation_token()}"}
    with httpx.Client(base_url=emulator.base_url, headers=headers) as client:
        assert client.get("/installation/repositories").status_code == 200

    violations = emulator_conformance.check_pending()
    assert len(violations) == 6  # one per repository of the default dataset
    assert report(violations).splitlines() == [
        "6 emulator response violation(s) of GitHub's REST description (1 distinct):",
        "  GET /installation/repositories -> 200 [apps/list-repos-accessible-to-installation "
        "(GET /installation/repositories)] at $.repositories[0].temp_clone_token: null, but "
        "the description says 'string' (not nullable) (and 5 more like it)",
    ]
