from __future__ import annotations

import asyncio

import pytest

from radio.broadcast import Broadcast, Lagging


async def test_burst_starts_at_a_chunk_boundary_about_a_burst_back() -> None:
    broadcast = Broadcast(burst=1000, queue_limit=5000)
    for n in range(10):
        broadcast.publish(bytes([n]) * 300)
    listener = broadcast.join(lambda: None)
    assert listener.cursor == 2100  # 900 bytes back: the chunk starts that fit in 1000
    data = await broadcast.read(listener)
    assert data == bytes([7]) * 300 + bytes([8]) * 300 + bytes([9]) * 300


async def test_two_listeners_get_identical_bytes() -> None:
    broadcast = Broadcast(burst=0, queue_limit=10_000)
    first, second = broadcast.join(lambda: None), broadcast.join(lambda: None)

    async def take(listener: object, count: int) -> bytes:
        got = b""
        while len(got) < count:
            data = await broadcast.read(listener)  # type: ignore[arg-type]
            listener.cursor += len(data)  # type: ignore[attr-defined]
            got += data
        return got

    reading = asyncio.gather(take(first, 500), take(second, 500))
    for n in range(5):
        await asyncio.sleep(0)
        broadcast.publish(bytes([n]) * 100)
    a, b = await reading
    assert a == b == b"".join(bytes([n]) * 100 for n in range(5))


async def test_a_laggard_is_dropped_without_affecting_others() -> None:
    broadcast = Broadcast(burst=0, queue_limit=1000)
    dropped: list[str] = []
    slow = broadcast.join(lambda: dropped.append("slow"))
    fast = broadcast.join(lambda: dropped.append("fast"))
    for _ in range(12):
        broadcast.publish(b"x" * 100)
        fast.cursor = broadcast.head  # keeps up
    assert dropped == ["slow"]
    assert broadcast.listeners == {fast}
    assert broadcast.slow_listeners == 1  # what /metrics reports
    with pytest.raises(Lagging):
        await broadcast.read(slow)


async def test_titles_follow_marks_by_byte_offset() -> None:
    broadcast = Broadcast()
    broadcast.publish(b"a" * 100, [(0, "one")])
    broadcast.publish(b"b" * 100, [(40, "two")])
    assert broadcast.title_at(0) == "one"
    assert broadcast.title_at(139) == "one"
    assert broadcast.title_at(140) == "two"
    assert broadcast.title == "two"


async def test_close_ends_waiting_readers() -> None:
    broadcast = Broadcast()
    listener = broadcast.join(lambda: None)
    reading = asyncio.create_task(broadcast.read(listener))
    await asyncio.sleep(0)
    broadcast.close()
    assert await reading == b""
