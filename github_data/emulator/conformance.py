"""Checks the emulator's responses against GitHub's published REST description.

The description is `api.github.com.json` of the npm package `@octokit/openapi`
(OpenAPI 3.0.3), which `scripts/bootstrap` fetches into `.cache/`. For one
`recording.Exchange` the checker

- skips, by name, the areas GitHub's REST description does not cover
  (`UNDOCUMENTED_AREAS`: control routes, git smart HTTP, the OAuth web flow,
  avatar images);
- finds the documented operation: the emulator route's template (parameters
  ignored, `{branch+}` matching `{branch}`), or, when no route matched, the
  concrete path against the description's templates. A route the description
  does not have is a violation;
- requires the status to be documented for that operation, or to be one of
  `ANY_OPERATION_STATUSES` (errors GitHub may answer anywhere), which are
  checked against `basic-error`;
- validates a JSON body against the documented schema (OpenAPI 3.0 rules, from
  openapi-schema-validator, with `nullable` also applied to schemas without a
  `type`, as GitHub's description uses it on `oneOf`s); other bodies are
  checked for their status only;
- for `ONLY_DOCUMENTED_PROPERTIES` operations, also reports every property the
  schema does not name (the description leaves most objects open, so plain
  validation accepts extras).

A violation names the method, path, status, operation and the JSON path of the
problem. The checker is thread-safe after construction (validators are built
under a lock and only read afterwards).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_schema_validator import _keywords as oas_keywords
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from .recording import Exchange

DEFAULT_DESCRIPTION = (
    Path(__file__).resolve().parents[2] / ".cache" / "octokit-openapi" / "api.github.com.json"
)
_DOCUMENT_URI = "urn:github-rest-description"

# Areas of the emulator that are not GitHub's REST API, so the description
# says nothing about them.
UNDOCUMENTED_AREAS: dict[str, str] = {
    "control": "the emulator's own /_emulator/ control routes",
    "git": "git smart HTTP (/{owner}/{repo}.git/...)",
    "oauth": "the OAuth web flow pages (/login/oauth/...)",
    "avatar": "avatar images (avatars.githubusercontent.com on GitHub)",
}

# Statuses GitHub may answer on any operation, documented there or not: bad
# credentials, rate limits (primary and secondary), a resource that is missing
# or hidden from the caller (GitHub answers 404, not 403, for private ones) and
# server errors. Their bodies must still be GitHub's `basic-error`.
ANY_OPERATION_STATUSES: dict[int, str] = {
    401: "bad or missing credentials",
    403: "rate limit exceeded, or no permission",
    404: "missing, or hidden from this caller",
    429: "secondary rate limit",
    500: "server error",
    502: "server error",
    503: "service unavailable",
}

# Operations whose responses must carry only properties the description
# documents (method, description path template).
ONLY_DOCUMENTED_PROPERTIES: frozenset[tuple[str, str]] = frozenset({("GET", "/user")})

MAX_ERRORS_PER_RESPONSE = 8
# Objects smaller than this are validated again rather than looked up: hashing them
# would cost about what validating them does.
MEMOIZED_MIN_PROPERTIES = 8


class DescriptionMissing(RuntimeError):
    """The description file is not there: `scripts/bootstrap` fetches it."""


@dataclass(frozen=True)
class Violation:
    exchange: Exchange
    operation: str  # "repos/get (GET /repos/{owner}/{repo})", or "-" when none matched
    json_path: str  # "$" when the problem is the response as a whole
    message: str

    def __str__(self) -> str:
        return (
            f"{self.exchange.describe()} [{self.operation}] at {self.json_path}: {self.message}"
        )


@dataclass(frozen=True)
class Documented:
    """A documented response of an operation."""

    schema_pointer: str | None  # `#/...` to its JSON schema; None: no JSON body documented


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    responses: Mapping[str, Any]
    pattern: re.Pattern[str]

    @property
    def label(self) -> str:
        return f"{self.operation_id} ({self.method} {self.template})"


def _normalized(template: str) -> str:
    """A template with every parameter as `{}`: `/pulls/{number}` ~ `/pulls/{pull_number}`."""
    return re.sub(r"\{[^}]*\}", "{}", template)


def _template_pattern(template: str, multi_segment: set[str]) -> re.Pattern[str]:
    """A regex for concrete paths; `x-multi-segment` parameters may contain slashes."""
    parts = re.split(r"(\{[^}]*\})", template)
    regex = "".join(
        (".+" if p[1:-1] in multi_segment else "[^/]+") if p.startswith("{") else re.escape(p)
        for p in parts
    )
    return re.compile(f"^{regex}$")


def _nullable_aware(keyword: Callable[..., Iterator[ValidationError]]) -> Any:
    """OpenAPI 3.0.3 reads `nullable` only beside `type`; GitHub's description also puts
    it beside `oneOf`/`anyOf`/`allOf`/`enum` (commit `author`: a user, or null), and
    octokit's generated types read it as "or null". Follow the description's intent."""

    def check(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
        if instance is None and schema.get("nullable") is True:
            return
        yield from keyword(validator, value, instance, schema)

    return check


def _type(validator: Any, data_type: str, instance: Any, schema: Mapping[str, Any]) -> Any:
    """openapi-schema-validator reports a forbidden null twice (not nullable, not of the
    type); say it once, in the words that point at the fix."""
    if instance is None and schema.get("nullable") is not True:
        yield ValidationError(f"null, but the description says {data_type!r} (not nullable)")
        return
    yield from oas_keywords.type(validator, data_type, instance, schema)


def _memoized_ref(valid: set[tuple[str, bytes]]) -> Any:
    """`$ref` that remembers the objects it found valid. A pull request list repeats the
    same repository object twice per pull request, and tests fetch the same objects
    again and again; validation is deterministic, so an object once valid against a
    schema is valid again, and this halves the suite's checking time. Invalid objects
    are validated every time, so their errors keep their paths."""
    ref_keyword = OAS30Validator.VALIDATORS["$ref"]

    def ref(validator: Any, reference: str, instance: Any, schema: Mapping[str, Any]) -> Any:
        if not isinstance(instance, dict) or len(instance) < MEMOIZED_MIN_PROPERTIES:
            yield from ref_keyword(validator, reference, instance, schema)
            return
        digest = hashlib.blake2b(
            json.dumps(instance, sort_keys=True).encode(), digest_size=16
        ).digest()
        if (reference, digest) in valid:
            return
        errors = list(ref_keyword(validator, reference, instance, schema))
        if not errors:
            valid.add((reference, digest))
        yield from errors

    return ref


def _description_validator_class(valid: set[tuple[str, bytes]]) -> Any:
    base = OAS30Validator.VALIDATORS
    return extend(
        OAS30Validator,
        {
            "$ref": _memoized_ref(valid),
            "type": _type,
            "oneOf": _nullable_aware(oas_keywords.oneOf),
            "anyOf": _nullable_aware(oas_keywords.anyOf),
            "allOf": _nullable_aware(oas_keywords.allOf),
            "enum": _nullable_aware(base["enum"]),
        },
    )


class RestDescription:
    """GitHub's REST description: its operations and a validator per documented response."""

    def __init__(self, document: Mapping[str, Any], source: str) -> None:
        self.document = document
        self.source = source
        self.version = str(document.get("info", {}).get("version", "?"))
        self._by_template: dict[tuple[str, str], Operation] = {}
        self._operations: list[Operation] = []
        for template, item in document["paths"].items():
            for method, op in item.items():
                if method not in ("get", "post", "put", "patch", "delete", "head"):
                    continue
                parameters = [
                    self.pointer(p["$ref"]) if "$ref" in p else p
                    for p in [*item.get("parameters", []), *op.get("parameters", [])]
                ]
                multi_segment = {
                    p["name"]
                    for p in parameters
                    if p.get("in") == "path" and p.get("x-multi-segment")
                }
                operation = Operation(
                    method.upper(),
                    template,
                    str(op.get("operationId", "?")),
                    op.get("responses", {}),
                    _template_pattern(template, multi_segment),
                )
                self._operations.append(operation)
                # Templates differing only in parameter names would normalize alike:
                # the first one listed wins, as a router would pick it.
                self._by_template.setdefault((operation.method, _normalized(template)), operation)
        resource: Resource[Any] = DRAFT4.create_resource(document)
        self._registry: Registry[Any] = Registry().with_resource(_DOCUMENT_URI, resource)
        self._validators: dict[str, Any] = {}
        self._validator_class = _description_validator_class(set())
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = DEFAULT_DESCRIPTION) -> RestDescription:
        if not path.is_file():
            raise DescriptionMissing(
                f"GitHub's REST description is not at {path}: run scripts/bootstrap, which "
                "fetches it from the npm package @octokit/openapi"
            )
        with path.open("rb") as handle:
            return cls(json.load(handle), str(path))

    # -- finding the operation ----------------------------------------------------------

    def operation_for_route(self, method: str, route: str) -> Operation | None:
        return self._by_template.get((method, _normalized(route)))

    def operation_for_path(self, method: str, path: str) -> Operation | None:
        """The documented operation a concrete path falls under; literal segments win over
        parameters (`/user/orgs` is not `/users/{username}`'s sibling `/user/{x}`)."""
        candidates = [
            op for op in self._operations if op.method == method and op.pattern.match(path)
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda op: len(re.sub(r"\{[^}]*\}", "", op.template)))

    # -- the documented response --------------------------------------------------------

    def pointer(self, reference: str) -> Any:
        """Follow a local `#/...` JSON pointer inside the description."""
        if not reference.startswith("#/"):
            raise ValueError(f"only local references are expected, got {reference!r}")
        node: Any = self.document
        for part in reference[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def documented_response(self, operation: Operation, status: int) -> Documented | None:
        """What the description says `operation` answers with `status`; None: nothing."""
        key = str(status)
        responses = operation.responses
        if key in responses:
            pointer = self._response_pointer(operation, key)
        elif f"{key[0]}XX" in responses:
            pointer = self._response_pointer(operation, f"{key[0]}XX")
        elif status in ANY_OPERATION_STATUSES:
            return Documented("#/components/schemas/basic-error")
        else:
            return None
        response = self.pointer(pointer)
        while "$ref" in response:
            pointer = response["$ref"]
            response = self.pointer(pointer)
        for media_type in response.get("content", {}):
            if media_type == "application/json" or media_type.endswith("+json"):
                return Documented(f"{pointer}/content/{media_type.replace('/', '~1')}/schema")
        return Documented(None)

    def _response_pointer(self, operation: Operation, key: str) -> str:
        path = operation.template.replace("~", "~0").replace("/", "~1")
        return f"#/paths/{path}/{operation.method.lower()}/responses/{key}"

    def validator(self, schema_pointer: str) -> Any:
        with self._lock:
            found = self._validators.get(schema_pointer)
            if found is None:
                found = self._validator_class(
                    {"$ref": f"{_DOCUMENT_URI}{schema_pointer}"},
                    registry=self._registry,
                    format_checker=oas30_format_checker,
                )
                self._validators[schema_pointer] = found
            return found


class ConformanceChecker:
    """Checks exchanges one by one; counts what it validated and what it skipped."""

    def __init__(self, description: RestDescription) -> None:
        self.description = description
        self._lock = threading.Lock()
        self.validated = 0
        self.status_only = 0
        self.excluded: dict[str, int] = {}

    def check(self, exchange: Exchange) -> list[Violation]:
        if exchange.area in UNDOCUMENTED_AREAS:
            with self._lock:
                self.excluded[exchange.area] = self.excluded.get(exchange.area, 0) + 1
            return []
        if exchange.area != "api":
            raise ValueError(f"unknown emulator area {exchange.area!r} for {exchange.describe()}")
        desc = self.description
        if exchange.route is not None:
            operation = desc.operation_for_route(exchange.method, exchange.route)
            if operation is None:
                return [
                    Violation(
                        exchange, "-", "$",
                        f"the emulator serves {exchange.method} {exchange.route}, which "
                        f"GitHub's REST description (@octokit/openapi {desc.version}) "
                        "does not document",
                    )
                ]
        else:
            operation = desc.operation_for_path(exchange.method, exchange.path)
            if operation is None:
                if exchange.status == 404:
                    # An unknown path answered 404, as GitHub answers it; nothing to match.
                    return self._check_body(exchange, "-", "#/components/schemas/basic-error")
                return [
                    Violation(
                        exchange, "-", "$",
                        f"no route matched, yet the status is {exchange.status} (GitHub "
                        "answers 404 for paths it does not serve)",
                    )
                ]
        documented = desc.documented_response(operation, exchange.status)
        if documented is None:
            listed = ", ".join(sorted(operation.responses))
            return [
                Violation(
                    exchange, operation.label, "$",
                    f"status {exchange.status} is not documented for this operation "
                    f"(documented: {listed})",
                )
            ]
        schema_pointer = documented.schema_pointer
        if schema_pointer is None or not _is_json(exchange):
            with self._lock:
                self.status_only += 1
            if schema_pointer is None and exchange.body and _is_json(exchange):
                return [
                    Violation(
                        exchange, operation.label, "$",
                        "a JSON body where the description documents none",
                    )
                ]
            return []
        violations = self._check_body(exchange, operation.label, schema_pointer)
        if (operation.method, operation.template) in ONLY_DOCUMENTED_PROPERTIES and not violations:
            body = json.loads(exchange.body)
            violations += [
                Violation(exchange, operation.label, path, "a property the description "
                          "does not document for this operation")
                for path in undocumented_properties(desc, body, {"$ref": schema_pointer})
            ]
        return violations

    def _check_body(self, exchange: Exchange, label: str, schema_pointer: str) -> list[Violation]:
        with self._lock:
            self.validated += 1
        try:
            body = json.loads(exchange.body)
        except ValueError as exc:
            return [Violation(exchange, label, "$", f"the body is not JSON: {exc}")]
        errors = sorted(
            self.description.validator(schema_pointer).iter_errors(body),
            key=lambda e: list(map(str, e.absolute_path)),
        )
        return [
            Violation(exchange, label, error.json_path, _explain(error))
            for error in errors[:MAX_ERRORS_PER_RESPONSE]
        ]


def _is_json(exchange: Exchange) -> bool:
    return "json" in exchange.content_type.split(";")[0]


def _explain(error: ValidationError) -> str:
    message = _short(error.message)
    if error.context:  # oneOf/anyOf: say why the closest branch failed
        deepest = best_match(error.context)
        if deepest is not None:
            message += f" (closest: at {deepest.json_path}: {_short(deepest.message)})"
    return message


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def undocumented_properties(
    description: RestDescription, instance: Any, schema: Mapping[str, Any], path: str = "$"
) -> Iterator[str]:
    """JSON paths of object properties no applicable schema names.

    Applicable: the schema and, through `$ref`, `allOf`, `anyOf` and `oneOf`, every
    branch (the discriminated one only, when a discriminator picks one). A schema
    with `additionalProperties` other than false leaves its object open.
    """
    branches = list(_branches(description, schema, instance))
    if isinstance(instance, dict):
        open_object = any(
            b.get("additionalProperties") not in (None, False) for b in branches
        ) or not any("properties" in b for b in branches)
        for key, value in instance.items():
            named = [b["properties"][key] for b in branches if key in b.get("properties", {})]
            if not named:
                if not open_object:
                    yield f"{path}.{key}"
                continue
            yield from undocumented_properties(
                description, value, {"anyOf": named}, f"{path}.{key}"
            )
    elif isinstance(instance, list):
        items = [b["items"] for b in branches if "items" in b]
        if items:
            for index, item in enumerate(instance):
                yield from undocumented_properties(
                    description, item, {"anyOf": items}, f"{path}[{index}]"
                )


def _branches(
    description: RestDescription, schema: Mapping[str, Any], instance: Any
) -> Iterator[Mapping[str, Any]]:
    while "$ref" in schema:
        schema = description.pointer(schema["$ref"])
    yield schema
    discriminator = schema.get("discriminator")
    for keyword in ("allOf", "anyOf", "oneOf"):
        options = schema.get(keyword, [])
        if discriminator and keyword != "allOf" and isinstance(instance, dict):
            picked = discriminator.get("mapping", {}).get(
                instance.get(discriminator["propertyName"])
            )
            if picked is not None:
                options = [{"$ref": picked}]
        for option in options:
            yield from _branches(description, option, instance)
