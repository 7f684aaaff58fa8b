"""The Attention tab's controls follow the model one request later: a view asked for while the model is switched
carries the previous model's layer, head and mode, and gets the nearest view of the new model, not an error."""
from vtdemo.explain.registry import layer_infos, probe_for
from vtdemo.ui.attention_tab import fit_controls
from vtdemo.zoo.cards import get_card


def test_the_previous_models_controls_fit_the_new_model():
    infos = layer_infos(get_card("swin-demo"))
    last, modes = len(infos) - 1, list(probe_for("Swin").modes)
    assert "cls" not in modes  # ViT's mode, which Swin lacks
    layer, head, mode = fit_controls("swin-demo", 99, "17", "cls")
    assert (layer, head, mode) == (last, "mean", modes[0])


def test_controls_that_fit_are_kept():
    infos = layer_infos(get_card("vit-demo"))
    modes = list(probe_for("ViT").modes)
    assert fit_controls("vit-demo", 0, "1", modes[-1]) == (0, "1", modes[-1])
    assert fit_controls("vit-demo", -1, "mean", modes[0]) == (-1, "mean", modes[0])
    assert infos[0].heads > 1
