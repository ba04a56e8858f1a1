"""Request/response values, the route table and GitHub-style pagination."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .auth import Token

DOCS = "https://docs.github.com/rest"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    request_id: str
    raw_query: str = ""
    params: dict[str, str] = field(default_factory=dict)
    route: str | None = None  # the template of the route that matched
    token: Token | None = None

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise HttpError(400, f"Problems parsing JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HttpError(400, "Problems parsing JSON: expected an object")
        return data

    def form(self) -> dict[str, str]:
        """Form or JSON body, plus query parameters (GitHub's OAuth endpoints take all three)."""
        values = dict(self.query)
        content_type = self.headers.get("content-type", "")
        if "json" in content_type:
            values.update({k: str(v) for k, v in self.json().items()})
        elif self.body:
            values.update(dict(parse_qsl(self.body.decode(), keep_blank_values=True)))
        return values

    def base_url(self) -> str:
        """The emulator as this client reached it (links must use the same host)."""
        return f"http://{self.headers.get('host', '127.0.0.1')}"


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, bytes, or None
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


class HttpError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: list[tuple[str, str]] | None = None,
        docs: str = DOCS,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or []
        self.docs = docs

    def response(self) -> Response:
        body: dict[str, Any] = {"message": self.message, "documentation_url": self.docs}
        if self.errors:
            body["errors"] = self.errors
        body["status"] = str(self.status)
        return Response(self.status, body, list(self.headers))


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/repos/{owner}/{repo}/branches/{branch+}"
    auth: str  # "none" | "optional" | "jwt" | "installation" | "token" | "user"
    handler: Handler
    regex: re.Pattern[str]

    @property
    def kind(self) -> str:
        return f"{self.method} {self.template.replace('+}', '}')}"


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, auth: str, handler: Handler) -> None:
        pattern = re.sub(
            r"\{(\w+)(\+?)\}",
            lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})",
            template,
        )
        self.routes.append(Route(method, template, auth, handler, re.compile(f"^{pattern}$")))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for (method, path); raises 404/405 semantics to the caller via None."""
        for route in self.routes:
            found = route.regex.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None


def paginate(req: Request, items: list[Any]) -> tuple[list[Any], list[tuple[str, str]]]:
    """Slice by `per_page` (default 30, max 100) and `page`; build GitHub's Link header."""
    try:
        per_page = min(100, max(1, int(req.query.get("per_page", "30"))))
        page = max(1, int(req.query.get("page", "1")))
    except ValueError:
        raise HttpError(422, "per_page and page must be integers") from None
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    if last == 1:
        return chunk, []

    def link(target: int, rel: str) -> str:
        params = {**req.query, "per_page": str(per_page), "page": str(target)}
        return f'<{req.base_url()}{req.path}?{urlencode(params)}>; rel="{rel}"'

    rels: list[str] = []
    if page > 1:
        rels += [link(min(page - 1, last), "prev")]
    if page < last:
        rels += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        rels += [link(1, "first")]
    return chunk, [("Link", ", ".join(rels))]
