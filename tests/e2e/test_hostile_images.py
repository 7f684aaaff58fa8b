"""Every image endpoint against odd and hostile files: a correct result or a message that names the problem —
never a traceback or a generic error — and the server answers the next request."""
import pytest
from PIL import Image

from tests.support.hostile import BAD, corpus, photo

ENDPOINTS = {
    "/upscale": ("hat-demo-x4", 4),
    "/compare": (["bicubic", "hat-demo-x4"], "lr", 4, None),
    "/lam": ("bicubic", 4, 4, 5),
    "/hat_attention": ("hat-demo-x4", 0, 0, 0, 1, "mean"),
    "/classify": ("vit-demo", 3),
    "/attention": ("pervit-demo", 20, 20, -1, "mean", ""),
}
GENERIC = ("Could not preprocess", "Internal error", "Traceback", "Error raised")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    out = {}
    for name, (data, filename) in corpus().items():
        (folder / filename).write_bytes(data)
        out[name] = str(folder / filename)
    big = folder / "large.jpg"
    photo(4000, 3000).save(big, quality=85)
    out["large-photo"] = str(big)
    return out


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_endpoint_survives_the_corpus(client, files, endpoint):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    outcomes = {}
    for name, path in files.items():
        try:
            result = client.predict(handle_file(path), *ENDPOINTS[endpoint], api_name=endpoint)
            outcomes[name] = "ok"
        except AppError as exc:
            message = str(exc)
            assert not any(g in message for g in GENERIC), (name, message)
            outcomes[name] = message
            if name in BAD:
                assert BAD[name].lower() in message.lower(), (name, message)
            continue
        assert name not in BAD, f"{endpoint} accepted {name}"
        if endpoint == "/upscale":
            with Image.open(path) as src, Image.open(result) as out:
                w, h = src.size if name != "exif-rotated" else src.size[::-1]
                assert out.size == (w * 4, h * 4), name
                if name in ("rgba", "la", "palette-transparency"):
                    assert out.mode in ("RGBA", "LA"), (name, out.mode)
    # tiny images are fine for upscaling; only LAM (a 16×16 box) and the huge photo at ×4 may be refused
    refused = {n for n, o in outcomes.items() if o != "ok"} - set(BAD)
    # (and a click at (20, 20) lies outside a 1×1 or 3×3 image, and outside the centre crop of a 4:3 photo)
    allowed = {"/lam": {"1x1", "3x3"}, "/upscale": {"large-photo"}, "/compare": {"large-photo"},
               "/attention": {"1x1", "3x3", "large-photo"}}
    assert refused <= allowed.get(endpoint, set()), {n: outcomes[n] for n in refused}
    if "large-photo" in refused and endpoint != "/attention":
        assert "VTDEMO_MAX_OUTPUT_PIXELS" in outcomes["large-photo"]
    # and the server still answers
    assert client.predict(api_name="/models")["data"]
