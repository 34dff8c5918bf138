"""Static files as a browser expects them: versioned URLs cached for a year, pages revalidated
by ETag, public text compressed.

At start-up one content hash is taken over a directory of files; they are served under
``<mount>/<hash>/...`` with ``Cache-Control: public, max-age=31536000, immutable``, and the
pages that name them (index.html) are rendered once with that prefix. A deploy that changes any
file changes the hash, so a browser never runs yesterday's code from its cache. ES modules import
each other by relative path, so they stay under the same prefix.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
from pathlib import Path

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

VERSION_LENGTH = 16  # hex digits of sha256: 64 bits, no collision between two releases
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # the browser may keep it but asks (If-None-Match) before each use
# Below about one packet, gzip's framing and CPU cost more than the bytes they save.
MIN_COMPRESSED_SIZE = 1024
# Compressed: public text only. Pages that put a secret (the console's CSRF token) next to text
# an attacker can influence (reported chat lines) stay plain, so that the length of a compressed
# response cannot be used to guess the secret (BREACH).
COMPRESSED_PREFIXES = ("/static/", "/mod/static/")
COMPRESSED_PATHS = frozenset({"/", "/api/openapi.json", "/api/docs"})

# The web app manifest's type (Chromium wants a JSON type for it). Python's own table lacks it;
# some systems' /etc/mime.types have it, so it is registered here rather than left to the host.
mimetypes.add_type("application/manifest+json", ".webmanifest")

_VERSION = re.compile(rf"[0-9a-f]{{{VERSION_LENGTH}}}")


def content_hash(directory: Path) -> str:
    """One hash over every file's relative path and bytes (no mtimes: every node that runs the
    same release computes the same hash, so a page from one node finds its assets on another)."""
    digest = hashlib.sha256()
    files = sorted(
        (p.relative_to(directory).as_posix(), p) for p in directory.rglob("*") if p.is_file()
    )
    for name, path in files:
        data = path.read_bytes()
        for part in (name.encode(), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()[:VERSION_LENGTH]


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2), as revalidating a cached page uses."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))


class VersionedFiles(StaticFiles):
    """StaticFiles that also answers ``<version>/<path>``.

    The current version is immutable. Another version (an old page, or a page from a node already
    on the next release during a rolling deploy) gets the file this node has, with ``no-cache``:
    the page works, and the browser does not keep this node's file for a year under a URL that
    names other content. A plain ``<path>`` (links from outside) is ``no-cache`` too.
    """

    def __init__(self, directory: Path, version: str) -> None:
        super().__init__(directory=directory)
        self.version = version

    def _split(self, scope: Scope) -> tuple[str | None, str]:
        path = super().get_path(scope)  # normalised: no "..", no "."
        head, sep, rest = path.partition(os.sep)
        if sep and _VERSION.fullmatch(head):
            return head, rest
        return None, path

    def get_path(self, scope: Scope) -> str:
        return self._split(scope)[1]

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        version, _ = self._split(scope)
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        response.headers["Cache-Control"] = IMMUTABLE if version == self.version else REVALIDATE
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)  # keeps Cache-Control and ETag
        return response


class Page:
    """An HTML page rendered once at start-up, served ``no-cache`` with an ETag."""

    def __init__(self, html: str) -> None:
        self.body = html.encode()
        self.etag = f'W/"{hashlib.sha256(self.body).hexdigest()[:VERSION_LENGTH]}"'

    def response(self, request: Request) -> Response:
        headers = {"Cache-Control": REVALIDATE, "ETag": self.etag}
        if etag_matches(request.headers.get("if-none-match"), self.etag):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type="text/html; charset=utf-8", headers=headers)


class Assets:
    """The files of one directory, mounted at ``mount_path``, and the pages that name them."""

    def __init__(self, directory: Path, mount_path: str) -> None:
        self.directory = directory
        self.mount_path = mount_path
        self.version = content_hash(directory)
        self.prefix = f"{mount_path}/{self.version}"
        self.files = VersionedFiles(directory, self.version)
        self._reference = re.compile(rf'(\s(?:href|src)="){re.escape(mount_path)}/')

    def render(self, name: str) -> str:
        """The page ``name`` of the directory with every ``href``/``src`` under the mount path
        moved under the versioned prefix (the source keeps plain paths, so it works as is)."""
        html = (self.directory / name).read_text(encoding="utf-8")
        return self._reference.sub(lambda m: f"{m.group(1)}{self.prefix}/", html)

    def page(self, name: str) -> Page:
        return Page(self.render(name))


def compressed(path: str) -> bool:
    return path in COMPRESSED_PATHS or path.startswith(COMPRESSED_PREFIXES)


class PublicCompression:
    """Starlette's GZipMiddleware, for the public text paths above only. It acts on HTTP alone:
    the WebSocket at /ws passes through untouched."""

    def __init__(self, app: ASGIApp, minimum_size: int = MIN_COMPRESSED_SIZE) -> None:
        self._app = app
        self._gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and compressed(scope["path"]):
            await self._gzip(scope, receive, send)
        else:
            await self._app(scope, receive, send)
