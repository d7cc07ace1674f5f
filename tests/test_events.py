import threading

from perform.pipeline import EventLog


def test_every_event_reaches_every_cursor_in_order():
    log: EventLog[int] = EventLog(capacity=100)
    a = log.cursor()
    log.publish(1)
    b = log.cursor()  # starts after what was already published
    log.publish(2)
    log.publish(3)
    assert a.drain() == [1, 2, 3]
    assert b.drain() == [2, 3]
    assert a.drain() == []


def test_a_cursor_that_falls_behind_loses_the_oldest_and_counts_them():
    log: EventLog[int] = EventLog(capacity=10)
    cursor = log.cursor()
    for i in range(25):
        log.publish(i)
    assert cursor.drain() == list(range(15, 25))
    assert cursor.lost == 15
    assert len(log._events) == 10  # bounded


def test_concurrent_writers_lose_nothing():
    log: EventLog[tuple[int, int]] = EventLog(capacity=100_000)
    cursor = log.cursor()

    def write(w: int) -> None:
        for i in range(5000):
            log.publish((w, i))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    got = []
    while any(t.is_alive() for t in threads):
        got += cursor.drain()
    for t in threads:
        t.join()
    got += cursor.drain()
    assert len(got) == 20000 and cursor.lost == 0
    for w in range(4):
        assert [i for ww, i in got if ww == w] == list(range(5000))
