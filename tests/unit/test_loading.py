"""load_model end to end: a pre-filled Hugging Face cache (offline) -> timm architecture -> model, LRU-bounded."""
import pytest
import torch

from vtdemo.zoo import loading
from vtdemo.zoo.builders import BuildError
from vtdemo.zoo.cards import get_card


def test_load_model_from_a_prefilled_cache_offline(weights_home, prefill_hub, monkeypatch):
    import timm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    card = get_card("pvt-v2-b0")
    reference = timm.create_model(card.config["timm_name"], pretrained=False).eval()
    prefill_hub(card.source.repo_id, {k: v.contiguous() for k, v in reference.state_dict().items()})
    loading.clear_cache()
    model = loading.load_model("pvt-v2-b0", device="cpu")
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(model(x), reference(x))
    assert loading.load_model("pvt-v2-b0", device="cpu") is model  # served from the LRU


def test_wrong_architecture_weights_give_a_build_error(weights_home, prefill_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    card = get_card("pvt-v2-b0")
    prefill_hub(card.source.repo_id, {"head.weight": torch.zeros(10, 4)})
    loading.clear_cache()
    with pytest.raises(BuildError, match="do not fit"):
        loading.load_model("pvt-v2-b0", device="cpu")


def test_lru_is_bounded(monkeypatch):
    monkeypatch.setenv("VTDEMO_MODEL_CACHE", "2")
    loading.clear_cache()
    for i in range(4):
        loading._CACHE.get_or_compute((f"m{i}",), torch.nn.Identity)
    assert list(loading._CACHE._entries) == [("m2",), ("m3",)]
    loading.clear_cache()


def test_two_first_requests_load_a_model_once(monkeypatch):
    """Three first requests at once: the build is held until the two others are waiting on its flight (counted
    where they wait, not guessed with a timer), so the test fails if either of them builds or returns early."""
    import threading

    from vtdemo import cache
    from vtdemo.zoo import builders

    loading.clear_cache()
    waiting, changed = [], threading.Condition()

    class CountedEvent(threading.Event):
        def wait(self, timeout=None):
            with changed:
                waiting.append(1)
                changed.notify_all()
            return super().wait(timeout)

    class CountedFlight(cache._Flight):
        def __init__(self):
            super().__init__()
            self.done = CountedEvent()

    monkeypatch.setattr(cache, "_Flight", CountedFlight)
    built, real_build = [], builders.build

    def held_build(card, state_dict):
        built.append(card.id)
        with changed:  # the other two requests are inside get_or_compute, waiting for this build
            assert changed.wait_for(lambda: len(waiting) == 2, timeout=20), f"{len(waiting)} waiting"
        return real_build(card, state_dict)

    monkeypatch.setattr(builders, "build", held_build)
    models = []
    threads = [threading.Thread(target=lambda: models.append(loading.load_model("hat-demo-x4", device="cpu")))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == ["hat-demo-x4"] and len(models) == 3 and models[0] is models[1] is models[2]
    loading.clear_cache()
