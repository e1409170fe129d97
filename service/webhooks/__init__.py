"""Webhooks: decisions pushed to the calling systems, signed after Standard Webhooks.

``outbox.queue_decision`` queues a decision in the transaction that stores
it; ``sender.Sender`` (one thread per worker) claims due deliveries, sends
them and records every attempt, retrying on the Standard Webhooks schedule.
"""

from __future__ import annotations

from service.webhooks.outbox import queue_decision

__all__ = ["queue_decision"]
