"""ImageUpload / FileUpload: gr.Image's and gr.File's front-end and props, but a handler only ever gets a file that
was uploaded to this server — a client-chosen path (no matter whether it exists) gets one generic message."""
import base64
import io
import os

import gradio as gr
import pytest
from gradio.data_classes import FileData
from gradio.components.image import ImageData
from PIL import Image

from vtdemo.ui.components import NOT_UPLOADED, FileUpload, ImageUpload


@pytest.fixture
def upload_folder(tmp_path, monkeypatch):
    folder = tmp_path / "gradio-uploads"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


def test_same_front_end_and_props_as_gradio():
    with gr.Blocks() as demo:
        plain = gr.Image(type="filepath", image_mode=None, label="x")
        ours = ImageUpload(type="filepath", image_mode=None, label="x")
        plain_file = gr.File(type="filepath", label="f")
        our_file = FileUpload(type="filepath", label="f")
    config = {c["id"]: c for c in demo.get_config_file()["components"]}
    for a, b in ((config[plain._id], config[ours._id]), (config[plain_file._id], config[our_file._id])):
        assert b["type"] == a["type"]
        assert b["component_class_id"] == a["component_class_id"]
        assert {k: v for k, v in b["props"].items() if k != "name"} == \
            {k: v for k, v in a["props"].items() if k != "name"}


def test_upload_is_passed_through_undecoded(upload_folder):
    page = upload_folder / "abc" / "page.png"
    page.parent.mkdir()
    page.write_text("<html>not an image</html>")
    assert ImageUpload(type="filepath", image_mode=None).preprocess(FileData(path=str(page))) == str(page)
    assert FileUpload(type="filepath").preprocess(FileData(path=str(page))) == str(page)


def test_paths_outside_the_upload_folder_get_one_generic_message(upload_folder, tmp_path):
    private = tmp_path / "private.png"
    Image.new("RGB", (4, 4), "red").save(private)
    link = upload_folder / "link.png"
    os.symlink(private, link)  # inside by name, outside in fact
    probes = [str(private), str(tmp_path / "missing.png"), "/etc/passwd", str(upload_folder / ".." / "private.png"),
              str(link), str(upload_folder), str(upload_folder / "nothing-here.png")]
    for component in (ImageUpload(type="filepath", image_mode=None), FileUpload(type="filepath")):
        for path in probes:
            with pytest.raises(gr.Error) as err:
                component.preprocess(FileData(path=path))
            assert err.value.message == NOT_UPLOADED, path


def _data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_data_urls_are_size_checked_and_land_in_the_upload_folder(upload_folder, monkeypatch):
    from vtdemo.imaging import ImageError, decode_image

    component = ImageUpload(type="filepath", image_mode=None)
    small = Image.new("RGB", (5, 3), "blue")
    path = component.preprocess(ImageData(url=_data_url(small)))
    assert os.path.realpath(path).startswith(os.path.realpath(upload_folder))
    assert decode_image(path).rgb.tobytes() == small.tobytes()
    # 20000² of one colour: ~0.5 MB of data URL (1.2 GB decoded); refused from its header by the decoder, never expanded
    huge = _data_url(Image.new("L", (20000, 20000)))
    assert len(huge) < 600_000
    with pytest.raises(ImageError, match="megapixels"):
        decode_image(component.preprocess(ImageData(url=huge)))
    monkeypatch.setenv("VTDEMO_MAX_UPLOAD_BYTES", "100")
    with pytest.raises(gr.Error, match="VTDEMO_MAX_UPLOAD_BYTES"):
        component.preprocess(ImageData(url=_data_url(Image.new("RGB", (64, 64), "red"))))


def test_pasted_images_get_random_names_and_stale_uploads_are_pruned(upload_folder, monkeypatch):
    import time

    from vtdemo.ui.files import prune_uploads

    component = ImageUpload(type="filepath", image_mode=None)
    url = _data_url(Image.new("RGB", (4, 4), "red"))
    first, second = component.preprocess(ImageData(url=url)), component.preprocess(ImageData(url=url))
    assert first != second  # the same image twice: no name tells that it was pasted before
    aborted = upload_folder / "tmpabc123"  # what an aborted multipart upload leaves behind
    aborted.write_bytes(b"x" * 100)
    old = time.time() - 7200
    for path in (first, aborted):
        os.utime(path, (old, old))
    monkeypatch.setenv("VTDEMO_FILE_MAX_AGE_S", "3600")
    prune_uploads()
    assert not os.path.exists(first) and not aborted.exists() and os.path.exists(second)


def test_scales_without_a_usable_model_say_only_bicubic_runs_there(monkeypatch):
    from vtdemo.ui import choices

    here = {2: ["hat-demo-x2"], 3: [], 4: ["hat-demo-x4"]}
    monkeypatch.setattr(choices, "usable", lambda task, scale=None: here[scale])
    assert choices.scale_choices((2, 3, 4)) == [("×2", 2), ("×3 (bicubic only here)", 3), ("×4", 4)]
    here[3] = ["hat-s-x3"]  # a ×3 checkpoint placed or cached: the note goes
    assert choices.scale_choices((2, 3, 4))[1] == ("×3", 3)
