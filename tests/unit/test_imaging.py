"""Every odd image a person might upload, generated here (no binary fixtures)."""
import io

import numpy as np
import pytest
from PIL import Image

from vtdemo import imaging
from vtdemo.bench._files import bomb_png
from vtdemo.imaging import ImageError, decode_image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient(w=24, h=16) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 10 % 256, y * 15 % 256, (x + y) * 7 % 256], -1).astype(np.uint8)


def test_rgb_png_is_exact(tmp_path):
    arr = _gradient()
    path = tmp_path / "a.png"
    Image.fromarray(arr).save(path)
    out = decode_image(path)
    assert out.rgb.mode == "RGB" and out.alpha is None and not out.grayscale
    assert np.array_equal(np.asarray(out.rgb), arr)


def test_exif_orientation_is_applied():
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    arr[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = np.asarray(decode_image(_encode(Image.fromarray(arr), "JPEG", quality=95, exif=exif)).rgb).astype(int)
    expected = np.rot90(arr, k=-1).astype(int)  # clockwise: the left half goes to the top
    assert out.shape == expected.shape == (40, 20, 3)
    assert np.abs(out - expected)[2:-2].mean() < 6


def test_grayscale_l():
    arr = np.arange(0, 240, 10, dtype=np.uint8).reshape(4, 6)
    out = decode_image(_encode(Image.fromarray(arr, "L"), "PNG"))
    assert out.grayscale and np.array_equal(np.asarray(out.rgb), np.repeat(arr[..., None], 3, -1))


def test_la_keeps_alpha_aside():
    gray = np.full((5, 7), 100, np.uint8)
    alpha = np.tile(np.arange(7, dtype=np.uint8) * 40, (5, 1))
    out = decode_image(_encode(Image.fromarray(np.stack([gray, alpha], -1), "LA"), "PNG"))
    assert out.grayscale
    assert np.array_equal(np.asarray(out.alpha), alpha)
    assert np.array_equal(np.asarray(out.rgb), np.full((5, 7, 3), 100))


def test_rgba_keeps_alpha_and_unpremultiplied_colour():
    rgba = np.dstack([_gradient(), np.tile(np.arange(24, dtype=np.uint8) * 10, (16, 1))])
    out = decode_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.array_equal(np.asarray(out.rgb), rgba[..., :3])
    assert np.array_equal(np.asarray(out.alpha), rgba[..., 3])


def test_opaque_rgba_drops_the_alpha():
    rgba = np.dstack([_gradient(), np.full((16, 24), 255, np.uint8)])
    assert decode_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG")).alpha is None


def test_palette_with_transparency():
    pal = Image.new("P", (6, 4))
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    pixels = np.array([[0, 1, 2, 1, 0, 2]] * 4, np.uint8)
    pal.putdata(pixels.flatten().tolist())
    out = decode_image(_encode(pal, "PNG", transparency=0))
    assert np.array_equal(np.asarray(out.alpha), np.where(pixels == 0, 0, 255))
    colours = {1: (255, 0, 0), 2: (0, 255, 0)}
    rgb = np.asarray(out.rgb)
    for index, colour in colours.items():
        assert (rgb[pixels == index] == colour).all()
    assert not out.grayscale


def test_sixteen_bit_png_scales_to_eight_bits():
    arr = np.array([[0, 257, 32896, 65535]], np.uint16)
    out = decode_image(_encode(Image.fromarray(arr, "I;16"), "PNG"))
    assert out.grayscale
    assert np.array_equal(np.asarray(out.rgb)[0, :, 0], [0, 1, 128, 255])


def test_cmyk_jpeg():
    cmyk = np.zeros((8, 24, 4), np.uint8)
    cmyk[:, 8:16] = (255, 0, 0, 0)  # cyan
    cmyk[:, 16:] = (0, 0, 0, 255)  # black
    rgb = np.asarray(decode_image(_encode(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95)).rgb).astype(int)
    expected = {0: (255, 255, 255), 1: (0, 255, 255), 2: (0, 0, 0)}
    for block, colour in expected.items():
        assert np.abs(rgb[2:-2, block * 8 + 2: block * 8 + 6] - colour).max() <= 8, block


def test_float_tiff():
    arr = np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)
    out = decode_image(_encode(Image.fromarray(arr, "F"), "TIFF"))
    assert out.grayscale
    assert np.array_equal(np.asarray(out.rgb)[0, :, 1], np.round(arr[0] * 255).astype(np.uint8))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_gives_its_first_frame(fmt):
    frames = [Image.new("RGB", (10, 10), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    kw = {"lossless": True} if fmt == "WEBP" else {}
    data = _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **kw)
    rgb = np.asarray(decode_image(data).rgb).astype(int)
    assert np.abs(rgb - (255, 0, 0)).max() <= 2


def test_numpy_and_pil_inputs():
    arr = _gradient()
    assert np.array_equal(np.asarray(decode_image(arr).rgb), arr)
    assert np.array_equal(np.asarray(decode_image(Image.fromarray(arr)).rgb), arr)


# --- bad files --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>', "SVG"),
    (b"just some words", "text file"),
    (bomb_png(30000, 30000), "megapixels"),
])
def test_bad_files_get_clear_errors(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(fmt):
    rng = np.random.default_rng(0)
    data = _encode(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)), fmt)
    with pytest.raises(ImageError, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


def test_limits_are_configurable(monkeypatch, tmp_path):
    data = _encode(Image.new("RGB", (20, 20)), "PNG")
    monkeypatch.setenv("VTDEMO_MAX_INPUT_PIXELS", "100")
    with pytest.raises(ImageError, match="VTDEMO_MAX_INPUT_PIXELS"):
        decode_image(data)
    monkeypatch.delenv("VTDEMO_MAX_INPUT_PIXELS")
    monkeypatch.setenv("VTDEMO_MAX_UPLOAD_BYTES", "50")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match="VTDEMO_MAX_UPLOAD_BYTES"):
        decode_image(path)


# --- helpers ----------------------------------------------------------------------------------------------------

def test_rgb_to_y_matches_scikit_image():
    from skimage.color import rgb2ycbcr

    arr = _gradient()
    assert np.allclose(imaging.rgb_to_y(arr), rgb2ycbcr(arr)[..., 0], atol=1e-9)


def test_tensor_round_trip_and_alpha_reattach():
    arr = _gradient()
    img = Image.fromarray(arr)
    t = imaging.pil_to_tensor(img)
    assert t.shape == (1, 3, 16, 24) and float(t.max()) <= 1.0
    assert np.array_equal(np.asarray(imaging.tensor_to_pil(t)), arr)
    big = img.resize((48, 32))
    out = imaging.reattach_alpha(big, Image.new("L", (24, 16), 77))
    assert out.mode == "RGBA" and out.size == (48, 32) and out.getchannel("A").getextrema() == (77, 77)


def test_formats_that_can_hide_a_larger_image_are_refused():
    """ICO (and IPTC, PSD, ...) embed images that Pillow decodes while opening, past the header's size."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, format="ICO", sizes=[(64, 64)])
    with pytest.raises(ImageError, match="not PNG, JPEG"):
        decode_image(buf.getvalue())
