"""The zoom inspector's crops: the same content at any size, nearest-neighbour magnification."""
import numpy as np
import pytest
from PIL import Image

from vtdemo.viz.zoom import zoom_box, zoom_crop


def test_zoom_box_is_centred_and_clamped():
    assert zoom_box((400, 300), (0.5, 0.5), 4, 256) == (168, 118, 232, 182)
    assert zoom_box((400, 300), (0.0, 1.0), 4, 256) == (0, 236, 64, 300)
    assert zoom_box((40, 30), (0.5, 0.5), 1, 256) == (0, 0, 40, 30)  # view larger than the image


@pytest.mark.parametrize("zoom, center", [(1, (0.3, 0.6)), (3, (0.3, 0.6)), (8, (0.3, 0.6)), (3, (0.0, 1.0)),
                                          (4, (0.97, 0.02))])
def test_zoom_crop_is_a_pixel_repeat_of_the_region_around_the_centre(zoom, center, zoom_of):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    zoom_of(zoom_crop(Image.fromarray(arr), center, zoom, view=96), arr, center, zoom, 96)


def test_the_definition_catches_an_off_centre_crop(zoom_of):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    shifted = arr[40:72, 60:92].repeat(3, 0).repeat(3, 1)  # centred at (76, 56), asked for (48, 72)
    with pytest.raises(AssertionError):
        zoom_of(shifted, arr, (0.3, 0.6), 3, 96)


def test_same_fractional_centre_selects_the_same_content_at_every_scale():
    rng = np.random.default_rng(1)
    lr = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    hr = lr.repeat(4, 0).repeat(4, 1)  # a nearest ×4 "result"
    a = np.asarray(zoom_crop(Image.fromarray(lr), (0.5, 0.5), 16, view=128))
    b = np.asarray(zoom_crop(Image.fromarray(hr), (0.5, 0.5), 4, view=128))
    assert np.array_equal(a, b)
