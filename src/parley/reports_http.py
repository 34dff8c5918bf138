"""``POST /api/reports/{ref}/frame``: the still frame a reporter's page attaches to its report.

A report travels over the WebSocket, whose frames are capped at 16 KiB, so in video mode the page
captures one still of the stranger's video when the report is submitted, waits for ``reported``,
then uploads the JPEG here. Only the reporter (proved by its signed device token) may attach it,
only once, and only within ``report_grace`` of the report (docs/protocol.md, "Still frame").
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from parley.problem import Problem
from parley.safety.devices import DeviceTokens
from parley.safety.known_images import KnownImages
from parley.store import InvalidInput, Store, device_hash

MAX_UPLOAD_BYTES = 64 * 1024
DEVICE_HEADER = "X-Parley-Device"


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or invalid device token"},
    404: {
        "model": Problem,
        "description": "No such report of this device, too late, or it has a still already",
    },
    413: {"model": Problem, "description": f"Body over {MAX_UPLOAD_BYTES} bytes"},
    415: {"model": Problem, "description": "The body is not a JPEG image"},
}

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "image/jpeg": {
                "schema": {"type": "string", "format": "binary", "maxLength": MAX_UPLOAD_BYTES}
            }
        },
    }
}


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():  # ClientDisconnect: see attach_frame
        body += chunk
        if len(body) > cap:
            raise _TooLarge
    return bytes(body)


def build_reports_router(
    store: Store, devices: DeviceTokens, report_grace: float, known: KnownImages
) -> APIRouter:
    """The router; ``report_grace`` (seconds) is how long after a report its still is taken.
    Each still is matched against the known-image lists (``known``) once it is stored."""
    router = APIRouter(prefix="/api/reports", tags=["public"])
    within = timedelta(seconds=report_grace)

    @router.post(
        "/{ref}/frame",
        status_code=204,
        response_class=Response,
        responses=_ERRORS,
        openapi_extra=_BODY_DOC,
    )
    async def attach_frame(
        ref: Annotated[str, Path(max_length=32)],
        request: Request,
        x_parley_device: Annotated[
            str | None,
            Header(alias=DEVICE_HEADER, description="This browser's device token"),
        ] = None,
    ) -> Response:
        """Attach one still of the stranger's video (a JPEG of at most 64 KiB) to your report
        ``ref``, within ``report_grace`` (120 s) of it. Once only."""
        if not devices.verify(x_parley_device):
            return _problem(401, "this browser's identity is not valid")
        assert x_parley_device is not None
        try:
            frame = await _read_capped(request, MAX_UPLOAD_BYTES)
        except _TooLarge:
            return _problem(413, f"a still is at most {MAX_UPLOAD_BYTES} bytes")
        except ClientDisconnect:  # the page went away mid-upload: nothing to store, no 500
            return _problem(400, "the upload ended early")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "image/jpeg":
            return _problem(415, "a still must be a JPEG image (Content-Type: image/jpeg)")
        try:
            attached = await store.attach_still(
                ref, device_hash(x_parley_device), frame, within=within
            )
        except InvalidInput:  # the store decodes the whole file (parley.jpeg.reencode)
            return _problem(415, "a still must be a JPEG image")
        if not attached:
            return _problem(404, "no such report of yours, too late, or it has a still already")
        # A known abuse image: the reported person is banned at once (the reporter is told
        # nothing more than for any still).
        await known.check_report(ref)
        return Response(status_code=204)

    return router
