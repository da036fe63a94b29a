"""When live previews are made, and at what latent size (core.preview_pacing)."""

from __future__ import annotations

import pytest

from hires_studio.core.preview_pacing import PreviewPacer, every_step, preview_latent_size


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def preview(pacer: PreviewPacer, clock: FakeClock, cost: float) -> None:
    began = clock()
    clock.now += cost
    pacer.record(began)


def test_the_first_preview_is_always_allowed() -> None:
    clock = FakeClock()
    pacer = PreviewPacer(share=0.02, min_interval=0.25, clock=clock)
    assert pacer.due()


def test_previews_stay_within_their_share_of_the_pass() -> None:
    clock = FakeClock()
    pacer = PreviewPacer(share=0.02, min_interval=0.0, clock=clock)
    for _ in range(2000):  # a model call of 10 ms, a preview that costs 5 ms when due
        clock.now += 0.010
        if pacer.due():
            preview(pacer, clock, 0.005)
    elapsed = clock.now - 100.0
    assert pacer.spent / elapsed <= 0.02 + 0.005 / elapsed
    # ... and as many as the share allows: one 5 ms preview per 250 ms of pass
    assert pacer.shown >= int(0.02 * elapsed / 0.005) - 1


def test_a_cheap_preview_is_made_after_every_slow_step() -> None:
    clock = FakeClock()
    pacer = PreviewPacer(share=0.02, min_interval=0.25, clock=clock)
    for _ in range(10):  # a step of 2 s, a preview of 10 ms: 0.5%
        clock.now += 2.0
        assert pacer.due()
        preview(pacer, clock, 0.010)
    assert pacer.shown == 10


def test_no_two_previews_closer_than_the_interval() -> None:
    clock = FakeClock()
    pacer = PreviewPacer(share=1.0, min_interval=0.25, clock=clock)
    preview(pacer, clock, 0.0)
    clock.now += 0.2
    assert not pacer.due()
    clock.now += 0.06
    assert pacer.due()


def test_an_expensive_preview_waits_until_the_pass_has_earned_it() -> None:
    clock = FakeClock()
    pacer = PreviewPacer(share=0.02, min_interval=0.25, clock=clock)
    clock.now += 1.0
    preview(pacer, clock, 1.0)  # a 1 s preview (TAESD on a slow CPU): the next after 100 s of pass
    clock.now += 50.0
    assert not pacer.due()
    clock.now += 50.0
    assert pacer.due()


def test_every_step_previews_each_step_however_fast() -> None:
    clock = FakeClock()
    pacer = every_step(clock)
    for _ in range(20):  # a step of 30 ms (a GPU), a preview of 3 ms
        clock.now += 0.030
        assert pacer.due()
        preview(pacer, clock, 0.003)


@pytest.mark.parametrize(("size", "max_side", "expected"), [
    ((256, 256), 512, (256, 256)),     # 2048² canvas, previews up to 512 px: decoded whole
    ((1024, 512), 512, (512, 256)),    # 8192 x 4096 px canvas: halved on both sides
    ((300, 1000), 512, (154, 512)),    # aspect kept to a latent pixel
    ((300, 1000), 0, (300, 1000)),     # no limit
    ((3, 5000), 512, (1, 512)),        # never below one pixel
])
def test_preview_latent_size(size, max_side, expected) -> None:
    assert preview_latent_size(*size, max_side) == expected
