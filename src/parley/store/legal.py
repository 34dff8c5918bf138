"""Legal holds: items escalated for a report to the authorities (e.g. NCMEC's CyberTipline).

A hold is one-way: it keeps the item and its evidence for at least a year from when it was placed
(:mod:`parley.store.retention`). The export is a self-describing JSON bundle with the evidence,
timestamps, hashed identifiers, the actions taken, and a SHA-256 of every piece of evidence and of
the bundle itself, so that a recipient can check that nothing changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from parley.store.audit import plain, write_audit
from parley.store.errors import NotFound, NotOnLegalHold
from parley.store.models import AuditRow, BanRow, FlagRow, ReportRow
from parley.store.queue import AuditedItems, item_model, model_kind
from parley.store.records import AuditEntry, Ban, Item
from parley.store.values import MAX_REASON_CHARS, moment

BUNDLE_FORMAT = "parley.legal-hold/1"
HASHING = {
    "device": "SHA-256 (hex) of the device token the browser held; the token is not stored",
    "ip": "HMAC-SHA256 (hex) of the IPv4 address or IPv6 /64 prefix under a rotating key",
}


def canonical(value: Any) -> bytes:
    """The bytes a digest is taken over: JSON with sorted keys and no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


class LegalHolds(AuditedItems):
    async def set_legal_hold(
        self, ref: str, *, actor: str, reason: str, now: datetime | None = None
    ) -> bool:
        """Put a report or flag under legal hold; True if it was not held already. Writes the
        audit log. A hold cannot be removed: it ends by time (see retention)."""
        model = item_model(ref)
        reason = plain(reason, MAX_REASON_CHARS, "reason")
        now = moment(now)
        return await self._audited_update(
            model,
            ref,
            at=now,
            actor=actor,
            where=model.legal_hold.is_(False),
            values={"legal_hold": True, "legal_hold_at": now},
            action="item.legal_hold",
            reason=reason,
        )

    async def export_legal_hold(
        self, ref: str, *, actor: str, with_frame: bool = True, now: datetime | None = None
    ) -> dict[str, Any]:
        """The JSON bundle of an item under legal hold (NotOnLegalHold otherwise). Without
        ``with_frame`` the still is described (size, SHA-256) but its bytes are left out. The
        export is recorded in the audit log as what it holds: ``item.legal_export_still`` when
        the still's bytes are in it, ``item.legal_export`` otherwise."""
        model = item_model(ref)
        now = moment(now)
        async with self._write() as session:
            row = await session.scalar(select(model).where(model.ref == ref))
            if row is None:
                raise NotFound(f"no item {ref!r}")
            if isinstance(row, ReportRow):
                item = Item.of_report(row)
            else:
                assert isinstance(row, FlagRow)
                item = Item.of_flag(row)
            if not item.legal_hold:
                raise NotOnLegalHold(f"{ref} is not under legal hold")
            if isinstance(row, ReportRow):
                source = BanRow.source_report_id == row.id
            else:  # an automatic ban quotes its flag's reference in its statement of reasons
                source = BanRow.reason.contains(ref, autoescape=True)
            bans = [
                Ban.of(b, ref if isinstance(row, ReportRow) else None)
                for b in await session.scalars(select(BanRow).where(source).order_by(BanRow.id))
            ]
            actions = [
                AuditEntry.of(a)
                for a in await session.scalars(
                    select(AuditRow)
                    .where(AuditRow.item_type == model_kind(model), AuditRow.item_id == ref)
                    .order_by(AuditRow.at, AuditRow.id)
                )
            ]
            bundle = build_bundle(
                item, bans, actions, exported_by=actor, exported_at=now, with_frame=with_frame
            )
            still = (
                bundle["evidence"]["frame"] is not None and "base64" in bundle["evidence"]["frame"]
            )
            details: dict[str, Any] = {"bundle_sha256": bundle["bundle_sha256"]}
            if item.frame_sha256 is not None:
                details["frame_sha256"] = item.frame_sha256
            write_audit(
                session,
                at=now,
                actor=actor,
                action="item.legal_export_still" if still else "item.legal_export",
                item_type=model_kind(model),
                item_id=ref,
                details=details,
            )
        return bundle


#: What a bundle's ``cybertipline`` section is (docs/moderation.md, "CyberTipline").
CYBERTIPLINE_ABOUT = (
    "Values for a report to NCMEC's CyberTipline, under the element names of its Reporting API. "
    "The reporter's own elements (reporter, contact person, legalURL) are the operator's to add; "
    "the still to upload is evidence.frame. Parley keeps no IP address, so ipCaptureEvent cannot "
    "be filled."
)
CHILD_PORNOGRAPHY = "Child Pornography (possession, manufacture, and distribution)"


def cybertipline(item: Item, bans: list[Ban], actions: list[AuditEntry]) -> dict[str, Any]:
    """The CyberTipline fields this item fills (docs/moderation.md lists them)."""
    details = item.details or {}
    about_a_child = (
        item.pool.startswith("minor:")
        or item.category == "minor_in_danger"
        or details.get("list_category") == "minor_in_danger"
    )
    summary: dict[str, Any] = {"incidentDateTime": _iso(item.created_at)}
    if about_a_child:
        summary["incidentType"] = CHILD_PORNOGRAPHY
    device_bans = [b for b in bans if b.device_hash == item.reported]
    reported: dict[str, Any] = {
        "espIdentifier": item.reported,
        "accountTemporarilyDisabled": any(b.ends_at is not None for b in device_bans),
        "accountPermanentlyDisabled": any(b.ends_at is None for b in device_bans),
    }
    out: dict[str, Any] = {
        "about": CYBERTIPLINE_ABOUT,
        "incidentSummary": summary,
        "personOrUserReported": reported,
    }
    if item.frame is not None:
        file_details: list[dict[str, str]] = []
        if "pdq" in details:
            file_details.append({"name": "PDQ", "value": str(details["pdq"])})
        if "list" in details:
            file_details.append({"name": "matched hash list", "value": str(details["list"])})
            file_details.append({"name": "PDQ distance", "value": str(details["distance"])})
        if "list_ref" in details:
            file_details.append({"name": "hash list entry", "value": str(details["list_ref"])})
        out["fileDetails"] = {
            "originalFileName": f"{item.ref}.jpg",
            "uploadedToEspTimestamp": _iso(item.created_at),
            # Whether a person at the service looked at the still before the report: the audit
            # log records every view.
            "fileViewedByEsp": any(a.action == "item.still_viewed" for a in actions),
            "exifViewedByEsp": False,  # stills are re-encoded: no EXIF is ever stored
            "publiclyAvailable": False,
            "fileRelevance": "Reported",
            "originalFileHash": [
                {
                    "hashType": "MD5",
                    "value": hashlib.md5(item.frame, usedforsecurity=False).hexdigest(),
                },
                {"hashType": "SHA256", "value": sha256(item.frame)},
            ],
            "details": file_details,
        }
    return out


def build_bundle(
    item: Item,
    bans: list[Ban],
    actions: list[AuditEntry],
    *,
    exported_by: str,
    exported_at: datetime,
    with_frame: bool = True,
) -> dict[str, Any]:
    lines = []
    for line in item.transcript:
        entry = {
            "t": line["t"],
            "at": datetime.fromtimestamp(line["t"], UTC).isoformat(),
            "from": line["from"],
            "text": line["text"],
        }
        lines.append({**entry, "sha256": sha256(canonical(entry))})
    frame: dict[str, Any] | None = None
    if item.frame is not None:
        frame = {
            "media_type": "image/jpeg",
            "bytes": len(item.frame),
            "sha256": sha256(item.frame),
        }
        if with_frame:
            frame["base64"] = base64.b64encode(item.frame).decode()
        else:
            frame["withheld"] = "restricted: not exported to this moderator"
    transcript_plain = [{k: v for k, v in x.items() if k != "sha256"} for x in lines]
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "exported_at": _iso(exported_at),
        "exported_by": exported_by,
        "item": {
            "kind": item.kind.value,
            "ref": item.ref,
            "category": item.category,
            "priority": item.priority,
            "created_at": _iso(item.created_at),
            "status": item.status.value,
            "resolution": item.resolution,
            "legal_hold_at": _iso(item.legal_hold_at),
            "pair_id": item.pair_id,
            "pool": item.pool,
            "comment": item.comment,
            "details": item.details,
        },
        "identifiers": {
            "hashing": HASHING,
            "reporter_device_sha256": item.reporter,
            "reported_device_sha256": item.reported,
            "reported_ip_hmac": (
                {"key_id": item.reported_ip.key_id, "hmac_sha256": item.reported_ip.digest}
                if item.reported_ip
                else None
            ),
        },
        "evidence": {"transcript": lines, "frame": frame},
        "bans": [
            {
                "id": b.id,
                "device_sha256": b.device_hash,
                "ip_hmac_sha256": b.ip_hash,
                "category": b.category,
                "reason": b.reason,
                "starts_at": _iso(b.starts_at),
                "ends_at": _iso(b.ends_at),
                "created_by": b.created_by,
                "lifted_at": _iso(b.lifted_at),
            }
            for b in bans
        ],
        "actions": [
            {
                "at": _iso(a.at),
                "actor": a.actor,
                "action": a.action,
                "reason": a.reason,
                "details": a.details,
            }
            for a in actions
        ],
    }
    bundle["cybertipline"] = cybertipline(item, bans, actions)
    bundle["digests"] = {
        "comment_sha256": sha256(item.comment.encode()),
        "transcript_sha256": sha256(canonical(transcript_plain)),
        "transcript_lines_sha256": [x["sha256"] for x in lines],
        "frame_sha256": frame["sha256"] if frame else None,
        "item_sha256": sha256(canonical(bundle["item"])),
        "identifiers_sha256": sha256(canonical(bundle["identifiers"])),
    }
    bundle["bundle_sha256"] = sha256(canonical(bundle))
    return bundle
