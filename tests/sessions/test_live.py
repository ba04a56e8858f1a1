"""The embedded run's channel layer: a message sent from another thread's
event loop reaches a receiver waiting in its own loop (channels' in-memory
layer never woke it)."""

from __future__ import annotations

import asyncio
import threading
import time

from foundry.live import InProcessChannelLayer


def test_a_message_from_another_threads_loop_reaches_the_receiver() -> None:
    layer = InProcessChannelLayer()
    received: list[float] = []
    ready = threading.Event()

    async def receive() -> None:
        channel = await layer.new_channel()
        await layer.group_add("session.acme.t.s", channel)
        ready.set()
        for _ in range(3):
            message = await asyncio.wait_for(layer.receive(channel), timeout=5)
            received.append(time.monotonic() - message["sent"])

    receiver = threading.Thread(target=lambda: asyncio.run(receive()))
    receiver.start()
    assert ready.wait(timeout=5)

    async def send() -> None:
        for _ in range(3):
            await layer.group_send("session.acme.t.s",
                                   {"type": "live.event", "sent": time.monotonic()})
            await asyncio.sleep(0.05)

    asyncio.run(send())
    receiver.join(timeout=10)
    assert len(received) == 3
    assert max(received) < 0.5
