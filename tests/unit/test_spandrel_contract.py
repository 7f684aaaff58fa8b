"""spandrel's ImageModelDescriptor is the runtime contract: checkpoints of architectures with size requirements
(DRCT: a multiple of 16) and a call function of their own (MMRealSR returns a tuple), built with random weights and
saved as a user would upload them, upscale at odd sizes, tiled and untiled, as spandrel itself computes them."""
import numpy as np
import pytest
import torch
from PIL import Image

from vtdemo.sr.backends import SRNet
from vtdemo.sr.checkpoints import load_checkpoint
from vtdemo.sr.engine import resolve_net, upscale, upscale_tensor
from vtdemo.sr.metrics import psnr_y


def _drct():
    from spandrel.architectures.DRCT.__arch.drct_arch import DRCT

    return DRCT(upscale=2, upsampler="pixelshuffle", embed_dim=12, depths=(1,), num_heads=(2,), window_size=16, gc=8,
                mlp_ratio=1.0), {"params_ema": None}


def _mmrealsr():
    from spandrel.architectures.MMRealSR.__arch.mmrealsr_arch import MMRRDBNet_test

    return MMRRDBNet_test(num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=1, num_grow_ch=4,
                          num_feats=[8, 8, 8, 8], num_blocks=[1, 1, 1, 1]), {}


ARCHES = {"DRCT": _drct, "MMRealSR": _mmrealsr}


@pytest.fixture(scope="module", params=sorted(ARCHES))
def upload(request, tmp_path_factory):
    """(the checkpoint file, spandrel's own descriptor of the same weights: the reference)."""
    import spandrel

    torch.manual_seed(0)
    module, wrapper = ARCHES[request.param]()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.02 * torch.randn_like(p))
    state = module.state_dict()
    path = tmp_path_factory.mktemp("uploads") / f"{request.param.lower()}.pth"
    torch.save({next(iter(wrapper)): state} if wrapper else state, path)  # the layouts people publish
    reference = spandrel.ModelLoader().load_from_state_dict(state).eval()
    assert reference.architecture.name == request.param
    return path, reference


def _image(w=37, h=29) -> Image.Image:  # odd sides: no multiple of 16, of 2 or of anything
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)


def _tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255


def _pixels(t: torch.Tensor) -> np.ndarray:
    return np.rint(t[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)


def test_an_upload_upscales_at_odd_sizes_as_spandrel_computes_it(upload):
    path, reference = upload
    image = _image()
    expected = _pixels(reference(_tensor(image)))  # spandrel pads, calls its way, crops
    for model in (load_checkpoint(path), load_checkpoint(path).model):  # a descriptor, or its module alone
        out = np.asarray(upscale(image, model, precision="fp32", backend="torch"))
        assert out.shape == expected.shape == (29 * reference.scale, 37 * reference.scale, 3)
        assert np.abs(out.astype(int) - expected).max() <= 1  # rounding of the last bit only


def test_tiles_of_an_upload_are_padded_to_its_requirements_and_blend_without_seams(upload):
    path, reference = upload
    net = resolve_net(load_checkpoint(path))
    assert net.descriptor is not None and net.descriptor.size_requirements == reference.size_requirements
    lr = _tensor(_image(75, 53))
    whole = upscale_tensor(net, lr, tile=128, device="cpu", precision="fp32")
    tiled = upscale_tensor(net, lr, tile=40, overlap=10, device="cpu", precision="fp32")  # 40: not a multiple of 16
    assert tiled.shape == whole.shape == (1, 3, 53 * net.scale, 75 * net.scale)
    assert psnr_y(_pixels(tiled), _pixels(whole)) >= 30


def test_int8_keeps_the_contract_of_a_quantized_copy(upload):
    path, reference = upload
    out = upscale(_image(), load_checkpoint(path), precision="int8", device="cpu")
    assert out.size == (37 * reference.scale, 29 * reference.scale)


def test_precision_obeys_the_descriptor_flags(upload, monkeypatch):
    path, reference = upload
    net = resolve_net(load_checkpoint(path))
    if not reference.supports_half:  # DRCT declares fp16 unsupported: asked for, it is refused by name
        with pytest.raises(ValueError, match="does not support fp16"):
            net.precision(torch.device("cpu"), "fp16")
    net.descriptor.supports_bfloat16 = False  # as AuraSR declares
    monkeypatch.setenv("VTDEMO_PRECISION", "bf16")
    assert net.precision(torch.device("cpu")) == "fp32"  # the default falls back to what the model supports
    with pytest.raises(ValueError, match="does not support bf16"):
        net.precision(torch.device("cpu"), "bf16")


def test_onnx_never_exports_a_model_called_through_its_descriptor(upload):
    from vtdemo.sr import onnx_backend

    net = resolve_net(load_checkpoint(upload[0]))
    assert not onnx_backend.exportable(net)
    with pytest.raises(ValueError, match="torch backend"):
        onnx_backend.ensure_exported(net, 32)
    assert SRNet(torch.nn.Identity(), 1, "bare").descriptor is None
