"""BicubicClean's bar on real photos (deterministic): it must beat plain bicubic on JPEG-damaged photos and
leave clean photos (almost) alone. The numbers are bench/cleanup_quality.py's."""

from __future__ import annotations

import pytest

from hires_studio.bench.cleanup_quality import JPEG_QUALITY, Result, evaluate, mean_of
from hires_studio.bench.photos import load_photos


@pytest.fixture(scope="module")
def photos():
    photos = load_photos()
    assert len(photos) >= 6
    return photos


@pytest.fixture(scope="module")
def jpeg_results(photos) -> list[Result]:
    return evaluate(JPEG_QUALITY, photos)


@pytest.fixture(scope="module")
def clean_results(photos) -> list[Result]:
    return evaluate(None, photos)


def test_jpeg_q30_gains_at_least_0_3_db_and_ssim(jpeg_results):
    assert mean_of(jpeg_results, "gain_db") >= 0.3
    assert mean_of(jpeg_results, "ssim_clean") > mean_of(jpeg_results, "ssim_bicubic")
    for result in jpeg_results:
        assert result.level is not None, result
        assert result.gain_db > 0.1, result
        assert result.ssim_clean > result.ssim_bicubic, result


def test_clean_photos_lose_at_most_0_1_db(clean_results):
    assert mean_of(clean_results, "gain_db") >= -0.1
    for result in clean_results:
        assert result.gain_db >= -0.1, result
        assert result.ssim_clean >= result.ssim_bicubic - 0.002, result
