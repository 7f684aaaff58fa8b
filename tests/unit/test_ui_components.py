"""ImageUpload: gr.Image's front-end and props, but the upload reaches the handler undecoded."""
import gradio as gr
from gradio.data_classes import FileData

from vtdemo.ui.components import ImageUpload


def test_same_front_end_and_props_as_gr_image():
    with gr.Blocks() as demo:
        plain = gr.Image(type="filepath", image_mode=None, label="x")
        ours = ImageUpload(type="filepath", image_mode=None, label="x")
    config = {c["id"]: c for c in demo.get_config_file()["components"]}
    a, b = config[plain._id], config[ours._id]
    assert b["type"] == a["type"] == "image"
    assert b["component_class_id"] == a["component_class_id"]
    assert {k: v for k, v in b["props"].items() if k != "name"} == {k: v for k, v in a["props"].items() if k != "name"}


def test_upload_is_passed_through_undecoded(tmp_path):
    page = tmp_path / "page.png"
    page.write_text("<html>not an image</html>")
    assert ImageUpload(type="filepath", image_mode=None).preprocess(FileData(path=str(page))) == str(page)
