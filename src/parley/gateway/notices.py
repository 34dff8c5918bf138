"""What the gateway tells people in words: ban statements and notices."""

from __future__ import annotations

from parley.protocol import Banned
from parley.store import Ban

CONTACT_MASKED = (
    "Contact details and invitations to other apps are hidden in teen chats, to keep you safe."
)
APPEAL_LIFTED = "Your appeal was accepted and the ban has been lifted. Welcome back."
APPEAL_UPHELD = "Your appeal was reviewed and the ban stays in place."
SAFETY_PROMPT = (
    "This conversation has some warning signs: questions about where you live or who is home, "
    "requests for pictures, secrets or gifts. You can leave at any time, and you can report "
    "this stranger with one click."
)
BUSY = "service busy, please try again"


def banned_notice(ban: Ban) -> Banned:
    return Banned(
        reason=ban.reason,
        category=ban.category,
        ends_at=ban.ends_at.timestamp() if ban.ends_at else None,
        ban=ban.id,
        appeal_url="/appeal",  # parley.moderation.APPEAL_PATH: the ban's owner appeals there
    )
