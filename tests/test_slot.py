import gc
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np

from perform.capture import CaptureStage
from perform.pipeline import Frame, ProcessStage, Slot, Stats
from tests.fakes import FakeCamera


@dataclass(frozen=True)
class Item:
    seq: int
    t_capture: float


def test_reader_gets_newest_and_counts_what_it_skipped():
    slot: Slot[Item] = Slot("s")
    reader = slot.reader("r")
    for i in range(1, 5):
        slot.publish(Item(i, 0.0))
    assert reader.get(0).seq == 4
    assert reader.dropped == 3
    assert reader.get(0) is None  # nothing new: a reader never sees an item twice
    slot.publish(Item(5, 0.0))
    assert reader.get(0).seq == 5
    assert (reader.received, reader.dropped) == (2, 3)


def test_readers_are_independent():
    slot: Slot[Item] = Slot("s")
    fast, slow = slot.reader("fast"), slot.reader("slow")
    for i in range(3):
        slot.publish(Item(i, 0.0))
        assert fast.get(0).seq == i
    assert slow.get(0).seq == 2
    assert (fast.dropped, slow.dropped) == (0, 2)


def test_a_reader_starts_after_what_was_published_before_it():
    slot: Slot[Item] = Slot("s")
    slot.publish(Item(0, 0.0))
    reader = slot.reader("late")
    assert reader.get(0) is None
    assert slot.latest().seq == 0


def test_slot_holds_only_the_newest_item():
    slot: Slot[Frame] = Slot("frames")
    refs = []
    for i in range(50):
        image = np.full((4, 4, 3), i, np.uint8)
        refs.append(weakref.ref(image))
        slot.publish(Frame(image, i, 0.0))
        del image
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert [int(a[0, 0, 0]) for a in alive] == [49]


def test_get_wakes_on_publish_and_on_close():
    slot: Slot[Item] = Slot("s")
    reader = slot.reader("r")
    threading.Timer(0.05, slot.publish, args=(Item(7, 0.0),)).start()
    t0 = time.monotonic()
    assert reader.get(2.0).seq == 7
    assert time.monotonic() - t0 < 1.0
    threading.Timer(0.05, slot.close).start()
    t0 = time.monotonic()
    assert reader.get(2.0) is None
    assert time.monotonic() - t0 < 1.0


class SlowConsumer(ProcessStage[Frame, Frame]):
    """Takes 1/15 s per frame and records, for each frame it gets, the newest seq published."""

    def __init__(self, stats, source):
        super().__init__("slow", stats, source)
        self.got: list[tuple[int, int]] = []

    def process(self, item):
        self.got.append((item.seq, self.input.slot.latest().seq))
        time.sleep(1 / 15)
        return item


def test_60fps_source_into_15fps_consumer_gets_newest_frames_and_counts_drops_exactly():
    stats = Stats()
    frames: Slot[Frame] = Slot("frames")
    consumer = SlowConsumer(stats, frames)
    capture = CaptureStage(stats, lambda: FakeCamera(fps=60), frames)
    consumer.start()
    capture.start()
    time.sleep(2.0)
    capture.stop()
    capture.join(1.0)
    consumer.stop()
    consumer.join(1.0)

    published = frames.published
    seqs = [seq for seq, _ in consumer.got]
    assert 60 <= published <= 130  # 60 fps for 2 s; fewer when another job on the machine costs frames
    assert 12 <= len(seqs) <= 34  # 15 fps for 2 s; the same
    # every frame the consumer got was the newest one at the moment it took it
    assert all(seq == newest for seq, newest in consumer.got)
    assert seqs == sorted(set(seqs))
    # exact accounting: everything published was either received, dropped, or is still waiting
    reader = consumer.input
    waiting = published - 1 - seqs[-1]
    assert reader.received == len(seqs)
    assert reader.received + reader.dropped + waiting == published
    assert stats.stage("slow").dropped == reader.dropped > 0


def test_virtual_source_draws_only_when_someone_shows_the_image():
    from perform.pipeline import Stats
    from perform.vision.config import PoseConfig, VirtualSource
    from perform.vision.sources import VirtualSourceStage

    for watched in (False, True):
        frames: Slot = Slot("frames")
        poses: Slot = Slot("poses")
        if watched:
            frames.reader("preview")
        source = VirtualSource(kind="virtual", fast=True)
        stage = VirtualSourceStage(Stats(), frames, poses, source, PoseConfig())
        out = poses.reader("test")
        stage.step()
        assert (out.get(0).frame is not None) is watched
        assert (frames.published == 1) is watched
