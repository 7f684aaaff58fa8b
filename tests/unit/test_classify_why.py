"""The Classify tab's "Why this class?" handlers on the embedded demo classifiers."""
import gradio as gr
import pytest

from vtdemo.examples import example_files
from vtdemo.explain.explanation import explain_class
from vtdemo.ui import classify_why


@pytest.fixture(scope="module")
def golf():
    return str(next(p for p in example_files() if p.stem == "golf-ball"))


def test_one_class_by_several_models_with_a_note_where_the_method_does_not_apply(golf):
    items, figure, table = classify_why.explain_models(golf, ["vit-demo", "swin-demo"], "golf ball", "chefer",
                                                       False)
    assert len(items) == 2 and all(img.size[0] > 400 for img, _ in items)
    assert "gradient-weighted rollout" in items[0][1] and "Integrated Gradients" in items[1][1]
    assert "rollout does not apply" in table and "windows" in table  # Swin ran its default and says why
    lone = explain_class(golf, "vit-demo", "golf ball", "chefer")
    assert f"{lone.scores.map.deletion_auc:.3f} / {lone.scores.random.deletion_auc:.3f}" in table
    curves = [t for t in figure.data if "vit-demo · chefer" in t.name]
    assert len(curves) == 2 and list(curves[0].y) == pytest.approx(list(lone.scores.map.deletion))


def test_a_class_one_model_lacks_is_a_row_and_the_others_still_run(golf):
    items, _, table = classify_why.explain_models(golf, ["vit-demo", "deit-demo"], "tench", "auto", False)
    assert len(items) == 2 and "tench" in items[0][1]
    with pytest.raises(gr.Error, match="no class 'cat'"):
        classify_why.explain_api(golf, "vit-demo", "cat", "auto")


def test_the_endpoint_refuses_what_a_page_cannot_send(golf):
    for args, match in (((golf, "vit-demo", "x" * 500, "auto"), "short text"),
                        ((golf, "vit-demo", "", "rm -rf"), "method must be one of"),
                        ((golf, "hat-demo-x4", "", "auto"), "not a classifier")):
        with pytest.raises(gr.Error, match=match):
            classify_why.explain_api(*args)
    with pytest.raises(gr.Error, match="at most 4"):
        classify_why.explain_models(golf, ["vit-demo"] * 5, "", "auto", False)


def test_the_endpoint_gives_a_lone_users_numbers(golf):
    picture, numbers = classify_why.explain_api(golf, "pervit-demo", "", "gradcam")
    lone = explain_class(golf, "pervit-demo", None, "gradcam").summary()
    assert {k: v for k, v in numbers.items() if k != "seconds"} == {k: v for k, v in lone.items() if k != "seconds"}
    assert picture.size[0] > 400
