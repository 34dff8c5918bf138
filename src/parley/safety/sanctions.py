"""Automatic sanctions: bans on connect, mass reports, and escalation of persistent abuse.

Machines make the cheap, clear-cut calls (many trusted reporters on distinct addresses, repeated
flooding) with short temporary bans and a statement of reasons; everything else waits for a human
in the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from parley.config import Settings
from parley.pool import Pool
from parley.quotas.base import Quotas
from parley.safety.trust import report_weight
from parley.store import (
    Ban,
    BanCategory,
    DeviceHash,
    FlagKind,
    KeyedIpHash,
    Store,
    TranscriptLine,
)

MASS_REPORT_REASON = (
    "Several people reported you in a short time. You cannot chat until the ban ends; a moderator "
    "will review the reports."
)
VISION_REASON = (
    "An automatic check found nudity in your video (reference {ref}). Showing nudity to strangers "
    "is not allowed here. You cannot chat until the ban ends; a moderator will review the still, "
    "and you can appeal."
)
HASH_MATCH_REASON = (
    "An automatic check found that your video showed an image that is not allowed here "
    "(reference {ref}). You cannot chat until the ban ends; a moderator will review it, and you "
    "can appeal."
)
ABUSE_REASON = (
    "Your connection repeatedly sent too much, too fast, or broken data. You cannot chat until the "
    "ban ends."
)


class Sanctions:
    def __init__(self, settings: Settings, store: Store, quotas: Quotas) -> None:
        self.settings = settings
        self.store = store
        # Abuse closes are counted per device across every node (``redis://``): a device that
        # spreads its connections over nodes adds up all the same.
        self._quotas = quotas

    async def may_report(self, ips: Sequence[KeyedIpHash]) -> bool:
        """The per-address report budget (shared by every device there, on every node)."""
        if not ips:
            return True
        s = self.settings
        key = f"report-ip:{ips[0].digest}"
        return await self._quotas.take(key, s.report_address_rate, s.report_address_burst)

    async def weigh(self, reporter: DeviceHash, transcript: Sequence[TranscriptLine]) -> float:
        """How far a report from ``reporter`` about this conversation counts (safety/trust.py)."""
        device = await self.store.get_device(reporter)
        return report_weight(
            self.settings,
            device_first_seen=device.created_at if device is not None else None,
            now=datetime.now(UTC),
            transcript=transcript,
        )

    async def after_report(
        self, reported: DeviceHash, ip: KeyedIpHash | None, ref: str, pair: str, pool: Pool
    ) -> Ban | None:
        """Trusted reports from N distinct addresses within the window: a temporary ban and
        priority review. Each address counts once, at most 1 (its heaviest report's weight), so
        one attacker on one address never bans anyone, however many device tokens they mint."""
        s = self.settings
        window = timedelta(seconds=s.mass_report_window)
        score, addresses = await self.store.mass_report_score(reported, window=window)
        if score < s.mass_report_threshold or await self.store.active_ban(reported):
            return None
        count = await self.store.count_recent_reports_against(reported, window=window)
        ban = await self._ban(
            reported,
            ip,
            MASS_REPORT_REASON,
            BanCategory.MASS_REPORT,
            "system:mass-report",
            s.mass_report_ban_seconds,
            ref,
            pool=pool,
        )
        await self.store.add_flag(
            kind=FlagKind.MASS_REPORT,
            device=reported,
            pair_id=pair,
            pool=pool,
            details={
                "reports": count,
                "addresses": addresses,
                "score": round(score, 2),
                "window_seconds": s.mass_report_window,
                "ban": ban.id,
            },
        )
        return ban

    async def after_vision(
        self, device: DeviceHash, ip: KeyedIpHash | None, ref: str | None, pool: Pool
    ) -> Ban:
        """A positive still: a temporary ban whose reasons name the queued flag ``ref`` (None:
        the flag could not be stored)."""
        return await self._ban(
            device,
            ip,
            VISION_REASON.format(ref=ref or "pending"),
            BanCategory.NUDITY,
            "system:vision",
            self.settings.vision_ban_seconds,
            flag=ref,
            pool=pool,
        )

    async def after_hash_match(
        self, device: DeviceHash, ip: KeyedIpHash | None, ref: str | None, category: str, pool: Pool
    ) -> Ban:
        """A still matched a known-image list: a ban in the list's category (what it holds),
        whose reasons name the queued flag ``ref`` (None when it could not be stored), and
        which records that flag, so that its statement of reasons says it was a hash match."""
        return await self._ban(
            device,
            ip,
            HASH_MATCH_REASON.format(ref=ref or "pending"),
            BanCategory(category),
            "system:hash-match",
            self.settings.hash_ban_seconds,
            flag=ref,
            pool=pool,
        )

    async def after_abuse_close(self, device: DeviceHash, ip: KeyedIpHash | None) -> Ban | None:
        """Warning (error frames), then a close, then after repeated closes a temporary ban.

        The count is not reset by the ban: a device still banned (its other tabs closing, on
        any node) is not banned again, but one that floods again as soon as a ban shorter than
        the window ends is banned at its next abuse close."""
        s = self.settings
        closes = await self._quotas.count(f"abuse:{device}", s.abuse_window)
        by_address = 0
        if ip is not None:  # per address too: fresh device tokens do not start the count over
            by_address = await self._quotas.count(f"abuse-ip:{ip.digest}", s.abuse_window)
        if (
            closes < s.abuse_ban_after and by_address < s.abuse_address_ban_after
        ) or await self.store.active_ban(device, [ip] if ip else []):
            return None
        return await self._ban(
            device, ip, ABUSE_REASON, BanCategory.FLOOD, "system:flood", s.abuse_ban_seconds
        )

    async def _ban(
        self,
        device: DeviceHash,
        ip: KeyedIpHash | None,
        reason: str,
        category: BanCategory,
        actor: str,
        seconds: float,
        ref: str | None = None,
        *,
        flag: str | None = None,
        pool: Pool | None = None,
    ) -> Ban:
        """A device ban, plus a shorter ban of the address hash (shared addresses are common).
        ``ref`` is the report it answers, ``flag`` the flag; ``pool`` where it happened."""
        now = datetime.now(UTC)
        ban = await self.store.add_ban(
            device=device,
            reason=reason,
            category=category,
            actor=actor,
            ends_at=now + timedelta(seconds=seconds),
            source_ref=ref,
            flag_ref=flag,
            pool=pool,
            now=now,
        )
        ip_seconds = min(seconds, self.settings.auto_ip_ban_seconds)
        if ip is not None and ip_seconds > 0:
            await self.store.add_ban(
                ip=ip,
                reason=reason,
                category=category,
                actor=actor,
                ends_at=now + timedelta(seconds=ip_seconds),
                source_ref=ref,
                now=now,  # the same moment: lifting the device ban lifts this one too
            )
        return ban
