"""``Problem``: the JSON body of an HTTP error of Parley's APIs, ``{"detail": "..."}``.

One model for the public report API and the moderation API, so the OpenAPI document has one
``Problem`` schema.
"""

from __future__ import annotations

from pydantic import BaseModel


class Problem(BaseModel):
    detail: str
