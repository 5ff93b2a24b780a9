from __future__ import annotations

import asyncio

import pytest

from radio.broadcast import FAN_OUT_SLICE, STALL_SECONDS, Broadcast
from tests.dummies import DummyConnection
from tests.support import parse_icy, wait_until


async def test_burst_is_sent_on_join_from_a_chunk_boundary_about_a_burst_back() -> None:
    broadcast = Broadcast(burst=1000, queue_limit=5000)
    for n in range(10):
        broadcast.publish(bytes([n]) * 300)
    connection = DummyConnection()
    broadcast.join(connection, session="abcdefgh")
    # 900 bytes back: the chunk starts that fit in 1000.
    assert connection.received == bytes([7]) * 300 + bytes([8]) * 300 + bytes([9]) * 300
    assert broadcast.sessions["abcdefgh"] == 2100


async def test_a_burst_mid_stream_starts_with_that_streams_headers() -> None:
    broadcast = Broadcast(burst=650, queue_limit=10_000)
    broadcast.publish(b"H1" + b"a" * 298, headers=[(0, b"H1")])
    broadcast.publish(b"b" * 300)
    broadcast.publish(b"c" * 100 + b"H2" + b"d" * 198, headers=[(100, b"H2")])
    broadcast.publish(b"e" * 300)
    mid_second, at_second = DummyConnection(), DummyConnection()
    broadcast.join(mid_second)  # the burst starts in the first stream, before the second
    assert mid_second.received == b"H1" + b"c" * 100 + b"H2" + b"d" * 198 + b"e" * 300
    broadcast.publish(b"f" * 300)
    broadcast.join(at_second)  # inside the second, after its headers
    assert at_second.received == b"H2" + b"e" * 300 + b"f" * 300
    broadcast.publish(b"H3" + b"g" * 298, headers=[(0, b"H3")])
    broadcast.publish(b"h" * 300)
    at_third = DummyConnection()
    broadcast.join(at_third)  # right at the third's headers: sent once, in place
    assert at_third.received == b"H3" + b"g" * 298 + b"h" * 300


async def test_listeners_share_each_published_bytes_object() -> None:
    broadcast = Broadcast(burst=0, queue_limit=10_000)
    first, second = DummyConnection(), DummyConnection()
    broadcast.join(first), broadcast.join(second)
    for n in range(5):
        broadcast.publish(bytes([n]) * 100)
    assert first.received == b"".join(bytes([n]) * 100 for n in range(5))
    assert all(a is b for a, b in zip(first.writes, second.writes, strict=True))


async def test_icy_listeners_get_blocks_and_share_the_chunks_without_one() -> None:
    broadcast = Broadcast(burst=0)
    plain, icy = DummyConnection(), DummyConnection()
    broadcast.join(plain), broadcast.join(icy, icy=True, metaint=16000)
    for n in range(40):
        broadcast.publish(bytes([n]) * 1000, [(0, f"track {n // 20}")] if n % 20 == 0 else [])
    audio, blocks = parse_icy(icy.received, 16000)
    assert audio == plain.received
    assert blocks == [(16000, "track 0"), (32000, "track 1")]
    shared = sum(a is b for a, b in zip(plain.writes, icy.writes, strict=True))
    assert shared == 38  # all but the two chunks a block falls in


async def test_a_slow_listener_is_dropped_and_counted_without_affecting_others() -> None:
    broadcast = Broadcast(burst=0, queue_limit=1000)
    slow, fast = DummyConnection(), DummyConnection()
    slow_listener, _ = broadcast.join(slow), broadcast.join(fast)
    broadcast.publish(b"x" * 100)
    slow.unsent = 1001  # it stopped reading
    broadcast.publish(b"y" * 100)
    assert slow.aborted and slow_listener.gone.done()
    assert broadcast.slow_listeners == 1 and len(broadcast.listeners) == 1
    assert fast.received == b"x" * 100 + b"y" * 100 and not fast.aborted


async def test_a_listener_that_stopped_reading_is_dropped_in_seconds() -> None:
    now = [0.0]
    broadcast = Broadcast(burst=0, queue_limit=10**9, clock=lambda: now[0])
    stalled, reading = DummyConnection(), DummyConnection()
    broadcast.join(stalled), broadcast.join(reading)
    for step in range(int(STALL_SECONDS * 4) + 8):  # a publish every 0.25 s
        now[0] = step * 0.25
        stalled.unsent = 100 + step  # it only grows: nothing is read
        reading.unsent = 5000 if step % 8 else 0  # a reader: it drains now and then
        broadcast.publish(b"x")
        if stalled.aborted:
            break
    assert stalled.aborted and now[0] == pytest.approx(STALL_SECONDS + 0.25)
    assert not reading.aborted and broadcast.slow_listeners == 1


async def test_a_listener_that_hung_up_leaves_without_counting_as_slow() -> None:
    broadcast = Broadcast(burst=0)
    connection = DummyConnection()
    listener = broadcast.join(connection)
    connection.closing = True
    broadcast.publish(b"x")
    assert listener.gone.done() and not broadcast.listeners
    assert broadcast.slow_listeners == 0 and connection.writes == []


async def test_titles_follow_marks_by_byte_offset() -> None:
    broadcast = Broadcast()
    broadcast.publish(b"a" * 100, [(0, "one")])
    broadcast.publish(b"b" * 100, [(40, "two")])
    assert broadcast.title_at(0) == "one"
    assert broadcast.title_at(139) == "one"
    assert broadcast.title_at(140) == "two"
    assert broadcast.title == "two"


async def test_close_lets_every_listener_go() -> None:
    broadcast = Broadcast()
    listener = broadcast.join(DummyConnection())
    broadcast.close()
    assert listener.gone.done() and not broadcast.listeners
    assert broadcast.join(DummyConnection()).gone.done()  # a late joiner is let go too


async def test_a_large_mount_is_written_in_slices_with_the_loop_free_between() -> None:
    broadcast = Broadcast(burst=0)
    connections = [DummyConnection() for _ in range(FAN_OUT_SLICE * 3 + 10)]
    for connection in connections:
        broadcast.join(connection)
    served: list[int] = []  # how many listeners had the chunk when other work ran
    loop = asyncio.get_running_loop()
    broadcast.publish(b"a" * 100)
    loop.call_soon(lambda: served.append(sum(bool(c.writes) for c in connections)))
    assert sum(bool(c.writes) for c in connections) == FAN_OUT_SLICE
    await wait_until(lambda: all(c.writes for c in connections), 5, "the chunk everywhere")
    # A connect or request that came in during the fan-out was served within a slice.
    assert served == [FAN_OUT_SLICE * 2]
    assert all(c.received == b"a" * 100 for c in connections)


async def test_a_chunk_published_mid_fan_out_reaches_everyone_after_the_last() -> None:
    broadcast = Broadcast(burst=1000)
    connections = [DummyConnection() for _ in range(FAN_OUT_SLICE * 2 + 10)]
    for connection in connections:
        broadcast.join(connection)
    broadcast.publish(b"a" * 100)
    left = next(c for c in connections if not c.writes)  # in a later slice
    staying = [c for c in connections if c is not left]
    broadcast.leave(next(one for one in broadcast.listeners if one.connection is left))
    joined = DummyConnection()
    broadcast.join(joined)  # mid fan-out: its burst already holds the first chunk
    broadcast.publish(b"b" * 100)  # no turn of the loop in between
    await wait_until(lambda: all(len(c.writes) == 2 for c in staying), 5, "both chunks")
    assert all(c.received == b"a" * 100 + b"b" * 100 for c in staying)
    assert joined.received == b"a" * 100 + b"b" * 100  # once each, in order
    assert left.received == b""
