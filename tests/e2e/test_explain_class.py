"""Why this class? in the served app: a click on a class in the Classify tab explains it with every chosen model;
/explain_class under concurrent load answers what a lone user gets; a real-size timm DeiT (random weights from the
pre-filled hub cache) explains its distillation head."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from vtdemo.examples import example_files
from vtdemo.explain.explanation import explain_class


@pytest.fixture(scope="module")
def golf() -> str:
    return str(next(p for p in example_files() if p.stem == "golf-ball"))


def _numbers(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "seconds"}


def test_concurrent_explanations_equal_a_lone_users(app_url, golf):
    from gradio_client import Client, handle_file

    asks = [("vit-demo", "", "auto"), ("deit-demo", "tench", "chefer-distill"), ("swin-demo", "golf ball", "ig"),
            ("pvt-demo", "church", "gradcam"), ("pervit-demo", "", "layercam"), ("vit-demo", "parachute", "ig")]
    lone = [_numbers(explain_class(golf, m, t or None, how, sanity=False).summary()) for m, t, how in asks]

    def ask(args):  # a client of its own per request: separate sessions
        return Client(app_url, verbose=False).predict(handle_file(golf), *args, api_name="/explain_class")

    with ThreadPoolExecutor(len(asks)) as pool:
        answers = list(pool.map(ask, asks))
    for (picture, numbers), expected in zip(answers, lone):
        assert _numbers(numbers) == expected
        assert Image.open(picture).width > 400


def test_a_real_size_distilled_deit_explains_either_head(client, golf):
    from gradio_client import handle_file

    cls_map, cls = client.predict(handle_file(golf), "deit-ti16-distilled", "golf ball", "chefer-cls",
                                  api_name="/explain_class")
    dist_map, dist = client.predict(handle_file(golf), "deit-ti16-distilled", "golf ball", "chefer-distill",
                                    api_name="/explain_class")
    assert cls["class"] == dist["class"] == "golf ball" and cls["index"] == 574
    assert cls["method"] == "chefer-cls" and dist["method"] == "chefer-distill"
    # two tokens, two maps (random weights give every class ~1/1000 whatever is deleted: the AUCs cannot differ)
    a, b = (np.asarray(Image.open(p).convert("RGB"), dtype=np.int16) for p in (cls_map, dist_map))
    assert a.shape == b.shape and np.abs(a - b).mean() > 1


@pytest.mark.browser
def test_a_click_on_a_class_explains_it_with_every_model(page, golf, artifacts):
    page.get_by_role("tab", name="Classify").click()
    page.locator("#cls-input input[type=file]").set_input_files(golf)
    page.locator("#cls-input img").first.wait_for(timeout=15_000)
    page.locator("#cls-run").click()
    page.locator("#cls-caption-0").get_by_text("ms").wait_for(timeout=60_000)
    shown = sum(page.locator(f"#cls-label-{i}").is_visible() for i in range(4))
    # the second class of the first model's list: not its top-1
    page.locator("#cls-label-0 button.confidence-set").nth(1).click()
    page.wait_for_function(f"() => document.querySelectorAll('#why-maps img').length >= {shown}", timeout=120_000)
    table = page.locator("#why-table").inner_text()
    picked = page.locator("#why-class input").input_value()
    assert picked and picked in table and "each model's top-1" not in picked
    page.locator("#why-plot .js-plotly-plot").wait_for(timeout=15_000)  # plotly draws after the data arrives
    assert page.locator("#why-plot .js-plotly-plot").count() == 1
    page.screenshot(path=str(artifacts / "classify-why.png"), full_page=True)
    assert page.console_errors == []
