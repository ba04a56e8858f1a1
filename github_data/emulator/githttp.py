"""Git smart HTTP through `git http-backend` (CGI), so clones and pushes are real git."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# /{owner}/{repo}.git/info/refs, /{owner}/{repo}.git/git-upload-pack, ...
GIT_PATH = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)\.git"
    r"(?P<rest>/(?:info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.*))$"
)


@dataclass
class CgiResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def run_http_backend(
    project_root: Path,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    remote_user: str,
) -> CgiResponse:
    """Run one request through `git http-backend` and parse its CGI answer.

    The whole response is buffered: the emulator's repositories are small, and a buffered
    body lets the server send an exact Content-Length.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        # receive-pack is refused to anonymous users unless a user is named.
        "REMOTE_USER": remote_user,
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(project_root),
    }
    # Git sends gzip-encoded upload-pack requests and protocol v2 negotiation in headers;
    # http-backend reads both from the CGI environment.
    if "content-encoding" in headers:
        env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
    if "git-protocol" in headers:
        env["GIT_PROTOCOL"] = headers["git-protocol"]
    proc = subprocess.run(
        ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
    )
    if proc.returncode != 0 and not proc.stdout:
        return CgiResponse(
            500, [("Content-Type", "text/plain")], b"git http-backend failed: " + proc.stderr
        )
    return _parse_cgi(proc.stdout)


def _parse_cgi(output: bytes) -> CgiResponse:
    head, sep, body = output.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = output.partition(b"\n\n")
    if not sep:
        raise ValueError("git http-backend answered without a CGI header block")
    status = 200
    headers: list[tuple[str, str]] = []
    for line in head.decode("latin-1").splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((key, value))
    return CgiResponse(status, headers, body)
