"""Hypothesis state machine over the in-memory broker.

Thousands of random interleavings of start, next, stop, disconnect, block, reconnect and timer
firings, mixing two-person chat with question mode (askers and discussers, seated three to a
room). After every step the broker must satisfy the product invariants:

- a session is in at most one queue, pair or room, never two of them;
- both people in a pair come from the same pool, have different devices and no block between them;
- everyone in a room comes from one band and language, in the right seat for their side, with
  pairwise different devices and no block between any two of them;
- nobody detached is in any queue, pair or room (no ghosts);
- what each person was told (their mailbox) agrees with the broker's state;
- no two compatible people who both accept anyone are left waiting in the same pool, and no
  asker is left waiting beside two discussers it could sit with;
- the asker only watches: its relays are refused and reach nobody.

The rules and invariants live in tests/harness/broker_machine.py, shared with the two-node Redis
machine in tests/cluster/test_redis_broker.py; this file only plugs in one ``MemoryBroker``.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, settings

from harness.broker_machine import BrokerMachine, CheckedWaits, State
from parley.broker.base import Broker
from parley.broker.memory import MemoryBroker


class MemoryMachine(BrokerMachine):
    """One memory broker: every step is done when its coroutine returns."""

    # Fallback timers are due at once (interest_fallback=0): two loop turns let them run.
    TIMER_SLEEPS = (0.0, 0.0)

    def make_brokers(self) -> Sequence[Broker]:
        self.broker = MemoryBroker(
            interest_fallback=0.0, language_wait=0.0, observer=CheckedWaits()
        )
        return [self.broker]

    def state(self) -> State:
        # Read live: nothing runs between a step and the invariants.
        return State(*self.broker.snapshot(), *self.broker.room_snapshot())


MemoryMachine.TestCase.settings = settings(
    max_examples=1000,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBrokerInvariants = MemoryMachine.TestCase
