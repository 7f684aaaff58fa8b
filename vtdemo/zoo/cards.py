"""Every model vtdemo knows, as one table of frozen cards.

Adding a model is adding one entry to ``CARDS``: the Models tab, ``python -m vtdemo models`` and every
dropdown are generated from it. Cards are plain data: no torch, no network, cheap to import.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Mapping

from vtdemo.models.sizes import PERVIT_SIZES

Task = Literal["sr", "classify"]
SourceKind = Literal["embedded", "hub", "url", "local"]


@dataclass(frozen=True)
class WeightSource:
    """Where the bytes of a checkpoint come from.

    kind:
      - ``embedded``: committed in the repo's ``weights/`` folder;
      - ``hub``: a file of a Hugging Face Hub repo (``repo_id`` + ``filename``), cached by huggingface_hub;
      - ``url``: a plain HTTPS file, downloaded into ``weights/cache/``;
      - ``local``: no automatic download exists; the user places ``filename`` in ``weights/`` (``page`` says where
        to get it).
    ``sha256`` is the full published hex digest, or None when none is published (then the first download's is
    recorded and later changes refused); ``revision`` pins a Hub file to a commit.
    """

    kind: SourceKind
    filename: str
    repo_id: str | None = None
    revision: str | None = None
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    page: str | None = None
    local_name: str | None = None  # its name in weights/ when the remote name is shared (every timm file is
    #                                model.safetensors)

    @property
    def basename(self) -> str:
        """The file's name on disk (hub filenames may contain folders)."""
        return self.filename.rsplit("/", 1)[-1]

    @property
    def local_basename(self) -> str:
        """The name vtdemo looks for in weights/: unique per model."""
        return self.local_name or self.basename

    @property
    def download_url(self) -> str | None:
        if self.kind == "url":
            return self.url
        if self.kind == "hub":  # HF_ENDPOINT: a mirror (huggingface_hub honours it too)
            endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
            return f"{endpoint}/{self.repo_id}/resolve/{self.revision or 'main'}/{self.filename}"
        return None


@dataclass(frozen=True)
class Preprocess:
    """Classifier input pipeline: resize the short side to size/crop_pct, centre-crop ``size``, normalise."""

    size: int = 224
    crop_pct: float = 0.875
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


PERVIT = Preprocess(crop_pct=224 / 256)


@dataclass(frozen=True)
class ModelCard:
    id: str
    task: Task
    family: str
    name: str
    paper: str
    paper_url: str
    builder: str  # key into vtdemo.zoo.builders.BUILDERS
    sources: tuple[WeightSource, ...]
    licence: str
    params: int | None = None  # number of parameters of the architecture
    config: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    scale: int | None = None  # SR models
    labels: str | None = None  # classifiers: "imagenet-1k" or the name of an embedded label set
    preprocess: Preprocess | None = None
    reported: str = ""  # the number the authors report, for the table
    notes: str = ""

    @property
    def source(self) -> WeightSource:
        """The primary weight source."""
        return self.sources[0]


def _cfg(**kw) -> Mapping[str, object]:
    return MappingProxyType(kw)


# --- super-resolution -------------------------------------------------------------------------------------------

HAT_PAPER = "Chen et al., Activating More Pixels in Image Super-Resolution Transformer (CVPR 2023)"
HAT_URL = "https://arxiv.org/abs/2205.04437"
HAT_DRIVE = "https://drive.google.com/drive/folders/1HpmReFfoUqUbnAOQ7rvOeNU3uf_m69w0"
OMDB_HAT = "https://github.com/OpenModelDB/model-hub/releases/download/hat/"
ACLY_HAT_COMMIT = "8403819bcbf5959d54c72383f0725f2525472d30"  # the Hub mirror of the official HAT files, pinned

_HAT_COMMON = dict(img_size=64, patch_size=1, in_chans=3, window_size=16, conv_scale=0.01, overlap_ratio=0.5,
                   mlp_ratio=2, upsampler="pixelshuffle", resi_connection="1conv", img_range=1.0)
_HAT_SIZES = {
    # variant: (embed_dim, depths, compress_ratio, squeeze_factor, {scale: params})
    "HAT-S": (144, 6, 24, 24, {2: 9_473_471, 3: 9_658_111, 4: 9_621_183}),
    "HAT": (180, 6, 3, 30, {2: 20_624_795, 3: 20_809_435, 4: 20_772_507}),
    "HAT-L": (180, 12, 3, 30, {2: 40_698_863, 3: 40_883_503, 4: 40_846_575}),
}
# Published Set5 / Set14 PSNR-Y (HAT paper, Table 6).
_HAT_REPORTED = {
    ("HAT-S", 2): "38.58 / 34.70", ("HAT-S", 3): "34.92 / 30.96", ("HAT-S", 4): "32.92 / 29.15",
    ("HAT", 2): "38.63 / 34.86", ("HAT", 3): "35.07 / 31.08", ("HAT", 4): "33.18 / 29.38 (HAT†, ImageNet pre-train)",
    ("HAT-L", 2): "38.91 / 35.29", ("HAT-L", 3): "35.28 / 31.47", ("HAT-L", 4): "33.30 / 29.47",
}


def hat_config(variant: str, scale: int) -> Mapping[str, object]:
    """The official constructor keywords of a published HAT variant."""
    dim, groups, compress, squeeze, _ = _HAT_SIZES[variant]
    return _cfg(**_HAT_COMMON, embed_dim=dim, depths=[6] * groups, num_heads=[6] * groups,
                compress_ratio=compress, squeeze_factor=squeeze, upscale=scale)


def _hat_source(variant: str, scale: int) -> WeightSource:
    if variant == "HAT" and scale == 4:
        return WeightSource("hub", "HAT_SRx4_ImageNet-pretrain.pth", repo_id="Acly/hat", revision=ACLY_HAT_COMMIT,
                            size=85_137_601,
                            sha256="4ee053c42461187846dc0e93aa5abd34591c0725a8e044a59000e92ee215e833")
    if variant == "HAT-L" and scale == 4:
        return WeightSource("url", "4x-HAT-L_SR_ImageNet-pretrain.pth",
                            url=OMDB_HAT + "4x-HAT-L_SR_ImageNet-pretrain.pth", size=165_774_123,
                            sha256="5992bd38522f2b8faf11ea4bd8ee08de92465bb66892166576999afc36d60043")
    if variant == "HAT-S" or (variant == "HAT" and scale == 3):
        name = f"{scale}x-{variant}_SR.pth"  # no published hash: recorded on first download (trust on first use)
        return WeightSource("url", name, url=OMDB_HAT + name)
    # No mirror with a stable URL: the official Google Drive folder only.
    suffix = "_ImageNet-pretrain" if variant == "HAT-L" else ""
    return WeightSource("local", f"{variant}_SRx{scale}{suffix}.pth", page=HAT_DRIVE)


def _hat_cards() -> list[ModelCard]:
    cards = []
    for variant, (_, _, _, _, params) in _HAT_SIZES.items():
        for scale in (2, 3, 4):
            source = _hat_source(variant, scale)
            pretrained = " (ImageNet pre-trained)" if source.basename.endswith("ImageNet-pretrain.pth") else ""
            cards.append(ModelCard(
                id=f"{variant.lower()}-x{scale}", task="sr", family="HAT", name=f"{variant} ×{scale}{pretrained}",
                paper=HAT_PAPER, paper_url=HAT_URL, builder="hat", sources=(source,),
                licence="Apache-2.0", params=params[scale], config=hat_config(variant, scale), scale=scale,
                reported=_HAT_REPORTED[(variant, scale)],
            ))
    return cards


SWINIR_URL = "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/"
SWINIR_PAPER = "Liang et al., SwinIR: Image Restoration Using Swin Transformer (ICCVW 2021)"


def _swinir_card(scale: int, sha256: str | None, size: int | None, params: int) -> ModelCard:
    name = f"001_classicalSR_DF2K_s64w8_SwinIR-M_x{scale}.pth"
    return ModelCard(
        id=f"swinir-m-x{scale}", task="sr", family="SwinIR", name=f"SwinIR-M ×{scale} (DF2K)",
        paper=SWINIR_PAPER, paper_url="https://arxiv.org/abs/2108.10257", builder="spandrel",
        sources=(WeightSource("url", name, url=SWINIR_URL + name, sha256=sha256, size=size),
                 WeightSource("hub", f"SwinIR/{name}", repo_id="uwg/upscaler", sha256=sha256, size=size)),
        licence="Apache-2.0", params=params, scale=scale,
        # the architecture as the official test script builds it (spandrel's port): random weights without the file
        config=_cfg(arch="SwinIR", upscale=scale, in_chans=3, img_size=64, window_size=8, img_range=1.0,
                    depths=[6] * 6, embed_dim=180, num_heads=[6] * 6, mlp_ratio=2, upsampler="pixelshuffle",
                    resi_connection="1conv"),
        reported={2: "38.42 / 34.46", 4: "32.92 / 29.09"}[scale],
    )


REALESRGAN_PAPER = "Wang et al., Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data (ICCVW 2021)"

# The project's own small HAT: every HAT ingredient (W-MSA/SW-MSA, CAB, OCAB, RHAG, pixel shuffle) at demo size;
# `python -m vtdemo.train sr` trains this architecture (the JSON card beside each file says how it was made).
HAT_DEMO_CONFIG = dict(img_size=64, patch_size=1, in_chans=3, embed_dim=48, depths=[2, 2, 2], num_heads=[4, 4, 4],
                       window_size=8, compress_ratio=3, squeeze_factor=16, conv_scale=0.01, overlap_ratio=0.5,
                       mlp_ratio=2.0, upsampler="pixelshuffle", resi_connection="1conv", img_range=1.0, num_feat=48)


# The same budget in the two other families the HAT paper compares (its Fig. 1/LAM): SwinIR's architecture with
# hat-demo's trunk (embed 48, 3 groups of 2 blocks, 4 heads, window 8, MLP ×2) and its classical pixel-shuffle tail,
# 528,699 parameters at ×4; and Real-ESRGAN's compact SRVGG CNN (64 channels, 14 body convs), 547,440 at ×4.
SWINIR_DEMO_CONFIG = dict(arch="SwinIR", img_size=64, in_chans=3, embed_dim=48, depths=[2, 2, 2],
                          num_heads=[4, 4, 4], window_size=8, mlp_ratio=2.0, upsampler="pixelshuffle",
                          resi_connection="1conv", img_range=1.0)
CNN_DEMO_CONFIG = dict(arch="SRVGGNetCompact", num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=14,
                       act_type="prelu")


def _hat_demo_card(scale: int, real: bool = False) -> ModelCard:
    """Parameters and measured scores from the file's own record (``weights/<id>.json``); ``real``: the same small
    HAT fine-tuned on real-world degradations (``vtdemo.sr.degradations``), scored on its held-out degraded sets."""
    from vtdemo.zoo.demo_records import record, sr_scores

    model_id = f"hat-demo-real-x{scale}" if real else f"hat-demo-x{scale}"
    name, notes = (f"HAT-demo-real ×{scale} (real-world degradations, by vtdemo)",
                   f"hat-demo-x{scale} fine-tuned on Real-ESRGAN's second-order degradations and web JPEG/noise, "
                   "for phone photos and web JPEGs; loses on clean bicubic inputs (its record has both)") if real else \
        (f"HAT-demo ×{scale} (small, trained by vtdemo)",
         "a small demo model trained on BSDS400 + T91 on a CPU, not the paper's HAT; measured, not reported")
    return ModelCard(
        id=model_id, task="sr", family="HAT", name=name, paper=HAT_PAPER, paper_url=HAT_URL, builder="hat",
        sources=(WeightSource("embedded", f"{model_id}.safetensors"),), licence="Apache-2.0",
        params=record(model_id).get("parameters", 0), config=_cfg(**HAT_DEMO_CONFIG, upscale=scale), scale=scale,
        reported=sr_scores(model_id, inputs="degraded" if real else None), notes=notes,
    )


# what each SR model was trained on: the inspector's recommendations and the compare defaults read it
REAL_WORLD = frozenset({"hat-demo-real-x4", "hat-demo-real-x2", "real-hat-gan-x4", "realesrgan-x4plus",
                        "realesr-general-x4v3"})


def _comparison_demo_card(model_id: str, family: str, name: str, paper: str, paper_url: str, config: dict,
                          licence: str, scale: int = 4) -> ModelCard:
    """A demo model trained with exactly hat-demo's data, recipe and budget in another family (the HAT paper's
    comparison, offline): scores from its record, spandrel's architecture."""
    from vtdemo.zoo.demo_records import record, sr_scores

    return ModelCard(
        id=model_id, task="sr", family=family, name=name, paper=paper, paper_url=paper_url, builder="spandrel",
        sources=(WeightSource("embedded", f"{model_id}.safetensors"),), licence=licence,
        params=record(model_id).get("parameters", 0), config=_cfg(**config, upscale=scale), scale=scale,
        reported=sr_scores(model_id),
        notes="trained by vtdemo with hat-demo's data, schedule and parameter budget, for the papers' comparison",
    )


# the HAT paper's comparison offline: a CNN, SwinIR and HAT at one budget (the LAM tab's default, `bench lam --di`)
COMPARISON_DEMOS = ("cnn-demo-x4", "swinir-demo-x4", "hat-demo-x4")

SR_CARDS: list[ModelCard] = [
    _hat_demo_card(4),
    _hat_demo_card(2),
    _hat_demo_card(4, real=True),
    _hat_demo_card(2, real=True),
    _comparison_demo_card("swinir-demo-x4", "SwinIR", "SwinIR-demo ×4 (hat-demo's size, trained by vtdemo)",
                          SWINIR_PAPER, "https://arxiv.org/abs/2108.10257", SWINIR_DEMO_CONFIG, "Apache-2.0"),
    _comparison_demo_card("cnn-demo-x4", "Real-ESRGAN", "CNN-demo ×4 (compact SRVGG, hat-demo's size, trained by "
                          "vtdemo)", REALESRGAN_PAPER, "https://arxiv.org/abs/2107.10833", CNN_DEMO_CONFIG,
                          "BSD-3-Clause"),
    *_hat_cards(),
    ModelCard(
        id="real-hat-gan-x4", task="sr", family="HAT", name="Real-HAT-GAN ×4 (sharper)", paper=HAT_PAPER,
        paper_url=HAT_URL, builder="hat",
        sources=(WeightSource("hub", "Real_HAT_GAN_sharper.pth", repo_id="Acly/hat", revision=ACLY_HAT_COMMIT,
                              size=170_277_017,
                              sha256="5800b67136006eb8cab3b4ed7c8d73b6a195bb18e6cc709b674f9aa069c00271"),),
        licence="Apache-2.0", params=_HAT_SIZES["HAT"][4][4], config=hat_config("HAT", 4), scale=4,
        reported="real-world (no PSNR)", notes="GAN fine-tuned for real-world degradations",
    ),
    # the DF2K_s64w8 files of the official v0.0 release (the DIV2K_s48w8 ×4 file is 59,611,499 B, 129dc773…)
    _swinir_card(2, "2032ebf8f401dd3ce2fae5f3852117cb72101ec6ed8358faa64c2a3fa09ed4ac", 67_277_475, 11_752_487),
    _swinir_card(4, "4e78e33f22c1aa8a773db0cf4a7381bae97c2362c717f155439ebc690cbd9215", 67_869_037, 11_900_199),
    ModelCard(
        id="realesrgan-x4plus", task="sr", family="Real-ESRGAN", name="Real-ESRGAN x4plus (RRDB)",
        paper=REALESRGAN_PAPER, paper_url="https://arxiv.org/abs/2107.10833", builder="spandrel",
        sources=(WeightSource("url", "RealESRGAN_x4plus.pth",
                              url="https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
                              size=67_040_989,
                              sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1"),),
        licence="BSD-3-Clause", params=16_697_987, scale=4, reported="real-world (no PSNR)",
    ),
    ModelCard(
        id="realesr-general-x4v3", task="sr", family="Real-ESRGAN", name="realesr-general-x4v3 (compact)",
        paper=REALESRGAN_PAPER, paper_url="https://arxiv.org/abs/2107.10833", builder="spandrel",
        sources=(WeightSource("url", "realesr-general-x4v3.pth",
                              url="https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.5.0/realesr-general-x4v3.pth",
                              size=4_885_111,
                              sha256="8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292"),),
        licence="BSD-3-Clause", params=1_213_296, scale=4, reported="real-world (no PSNR)",
    ),
]

# --- classification ---------------------------------------------------------------------------------------------

VIT_PAPER = "Dosovitskiy et al., An Image is Worth 16x16 Words (ICLR 2021)"
DEIT_PAPER = "Touvron et al., Training data-efficient image transformers & distillation through attention (ICML 2021)"
SWIN_PAPER = "Liu et al., Swin Transformer: Hierarchical Vision Transformer using Shifted Windows (ICCV 2021)"
PVT_PAPER = "Wang et al., PVT v2: Improved Baselines with Pyramid Vision Transformer (CVMJ 2022)"
PERVIT_PAPER = "Min et al., Peripheral Vision Transformer (NeurIPS 2022)"


class TimmCard(ModelCard):
    """A card of a timm pretrained tag (``config["tag"]``): its input pipeline is read from timm's pretrained
    configuration on first use, not written here. Its parameter count is written on the card (the table must not
    import timm and torch; tests/unit/test_zoo.py checks each against the architecture timm builds)."""

    @property
    def preprocess(self) -> Preprocess:
        from vtdemo.zoo import timm_config

        return Preprocess(**timm_config.pipeline(self.config["tag"]))

    @preprocess.setter
    def preprocess(self, value) -> None:  # the dataclass __init__ sets None: derived instead
        pass


def _timm_card(id: str, family: str, name: str, paper: str, paper_url: str, tag: str, licence: str,
               reported: str, params: int) -> ModelCard:
    """A timm card: the Hub repo is timm's convention (timm/<tag>); the rest comes from timm's configuration."""
    return TimmCard(
        id=id, task="classify", family=family, name=name, paper=paper, paper_url=paper_url, builder="timm",
        sources=(WeightSource("hub", "model.safetensors", repo_id=f"timm/{tag}", local_name=f"{id}.safetensors"),),
        licence=licence, config=_cfg(timm_name=tag.split(".")[0], tag=tag), labels="imagenet-1k", reported=reported,
        params=params,
    )


_VIT_URL = "https://arxiv.org/abs/2010.11929"
_DEIT_URL = "https://arxiv.org/abs/2012.12877"

CLASSIFY_CARDS: list[ModelCard] = [
    _timm_card("vit-ti16", "ViT", "ViT-Ti/16 (AugReg, in21k→in1k)", VIT_PAPER, _VIT_URL,
               "vit_tiny_patch16_224.augreg_in21k_ft_in1k", "Apache-2.0", "75.5 top-1", 5_717_416),
    _timm_card("vit-s16", "ViT", "ViT-S/16 (AugReg, in21k→in1k)", VIT_PAPER, _VIT_URL,
               "vit_small_patch16_224.augreg_in21k_ft_in1k", "Apache-2.0", "81.4 top-1", 22_050_664),
    _timm_card("deit-ti16", "DeiT", "DeiT-Ti/16", DEIT_PAPER, _DEIT_URL,
               "deit_tiny_patch16_224.fb_in1k", "Apache-2.0", "72.2 top-1", 5_717_416),
    _timm_card("deit-s16", "DeiT", "DeiT-S/16", DEIT_PAPER, _DEIT_URL,
               "deit_small_patch16_224.fb_in1k", "Apache-2.0", "79.9 top-1", 22_050_664),
    _timm_card("deit-ti16-distilled", "DeiT", "DeiT-Ti/16 ⚗ (distilled)", DEIT_PAPER, _DEIT_URL,
               "deit_tiny_distilled_patch16_224.fb_in1k", "Apache-2.0", "74.5 top-1", 5_910_800),
    _timm_card("deit-s16-distilled", "DeiT", "DeiT-S/16 ⚗ (distilled)", DEIT_PAPER, _DEIT_URL,
               "deit_small_distilled_patch16_224.fb_in1k", "Apache-2.0", "81.2 top-1", 22_436_432),
    _timm_card("swin-t", "Swin", "Swin-T (window 7)", SWIN_PAPER, "https://arxiv.org/abs/2103.14030",
               "swin_tiny_patch4_window7_224.ms_in1k", "MIT", "81.4 top-1", 28_288_354),
    _timm_card("pvt-v2-b0", "PVT-v2", "PVT-v2-b0", PVT_PAPER, "https://arxiv.org/abs/2106.13797",
               "pvt_v2_b0.in1k", "Apache-2.0", "70.7 top-1", 3_666_760),
    _timm_card("pvt-v2-b2", "PVT-v2", "PVT-v2-b2", PVT_PAPER, "https://arxiv.org/abs/2106.13797",
               "pvt_v2_b2.in1k", "Apache-2.0", "82.1 top-1", 25_362_856),
]

PERVIT_DRIVE = "https://drive.google.com/drive/folders/1VJuZKuflgvZF2lS_6dT6Mx_S5RPZGPjD"
_PERVIT_PUBLISHED = {
    # size: (parameters, reported top-1) — the paper's table
    "tiny": (7_591_000, "78.8 top-1"),
    "small": (21_317_672, "82.1 top-1"),
    "medium": (43_723_936, "82.9 top-1"),
}

for _size, (_heads, _dims, _stem) in PERVIT_SIZES.items():
    _suffix, _name, (_params, _top1) = _size[0], _size.capitalize(), _PERVIT_PUBLISHED[_size]
    CLASSIFY_CARDS.append(ModelCard(
        id=f"pervit-{_suffix}", task="classify", family="PerViT", name=f"PerViT-{_name}", paper=PERVIT_PAPER,
        paper_url="https://arxiv.org/abs/2206.06243", builder="pervit",
        sources=(WeightSource("local", f"pervit_{_name.lower()}.pth", page=PERVIT_DRIVE),),
        licence="Apache-2.0", params=_params,
        config=_cfg(num_heads=_heads, emb_dims=_dims, convstem_dims=_stem, num_classes=1000),
        labels="imagenet-1k", preprocess=PERVIT, reported=_top1,
        notes="official weights are on Google Drive only: download and place the file in weights/",
    ))

# --- embedded demo classifiers: 10 Imagenette classes, trained by `python -m vtdemo.train classify` on a CPU ------

# Parameters, measured Imagenette val top-1 and the input size of each committed file come from its record
# (weights/<id>.json). ViT, DeiT and PerViT were trained at 64 px and run at 96, PVT-v2 trained at 96 and run at 128:
# objects then look as large as in the random-resized training crops (FixRes).
_DEMO_CLASSIFIERS = {
    # id: (DEMO_ARCHS key, name, paper, paper url)
    "vit-demo": ("vit", "ViT demo (10 classes, trained by vtdemo)", VIT_PAPER, _VIT_URL),
    "deit-demo": ("deit", "DeiT ⚗ demo (10 classes, distilled from pvt-demo)", DEIT_PAPER, _DEIT_URL),
    "swin-demo": ("swin", "Swin demo (10 classes, trained by vtdemo)", SWIN_PAPER, "https://arxiv.org/abs/2103.14030"),
    "pvt-demo": ("pvt", "PVT-v2 demo (10 classes, trained by vtdemo)", PVT_PAPER, "https://arxiv.org/abs/2106.13797"),
    "pervit-demo": ("pervit", "PerViT demo (10 classes, trained by vtdemo)", PERVIT_PAPER,
                    "https://arxiv.org/abs/2206.06243"),
}


def _demo_classifier_card(model_id: str) -> ModelCard:
    from vtdemo.zoo.demo_archs import DEMO_ARCHS, at_size
    from vtdemo.zoo.demo_records import record

    key, name, paper, url = _DEMO_CLASSIFIERS[model_id]
    info = record(model_id)  # empty when the checkout lost it: the card still exists, its status says "missing"
    params, size = info.get("parameters", 0), info.get("input_size", DEMO_ARCHS[key]["size"])
    top1 = 100 * info["val_top1"] if "val_top1" in info else None
    arch = at_size(DEMO_ARCHS[key], size)
    if arch["family"] == "PerViT":
        builder, config = "pervit", _cfg(**arch["config"], num_classes=10)
    else:
        builder, config = "timm", _cfg(timm_name=arch["timm_name"], num_classes=10,
                                       kwargs=MappingProxyType(arch["kwargs"]))
    trained = DEMO_ARCHS[key]["size"]
    at = f"at {size} px" if size == trained else f"at {trained} px (run at {size} px)"
    return ModelCard(
        id=model_id, task="classify", family=arch["family"], name=name, paper=paper, paper_url=url, builder=builder,
        sources=(WeightSource("embedded", f"{model_id}.safetensors"),), licence="Apache-2.0", params=params,
        config=config, labels="imagenette", preprocess=Preprocess(size=size, crop_pct=0.875),
        reported=f"{top1:.1f} top-1, Imagenette val (10 classes)" if top1 is not None else "",
        notes=f"a 10-class demo model trained by vtdemo on Imagenette {at} on a CPU: "
              "measured, not reported; not comparable to ImageNet-1k numbers",
    )


CLASSIFY_CARDS[:0] = [_demo_classifier_card(i) for i in _DEMO_CLASSIFIERS]

CARDS: tuple[ModelCard, ...] = (*SR_CARDS, *CLASSIFY_CARDS)
_BY_ID = {card.id: card for card in CARDS}


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; say it plainly
        return self.args[0]


def get_card(model_id: str) -> ModelCard:
    """The card of ``model_id``; a clear error listing close ids when there is none."""
    try:
        return _BY_ID[model_id]
    except (KeyError, TypeError):  # TypeError: an unhashable value from a client
        import difflib

        shown = str(model_id)[:40]  # never echo a client's megabyte back
        close = difflib.get_close_matches(shown, _BY_ID, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"Unknown model id {shown!r}{'…' if len(str(model_id)) > 40 else ''}.{hint} Run `python -m vtdemo "
            "models` to list them.") from None


def cards(task: Task | None = None) -> list[ModelCard]:
    return [c for c in CARDS if task is None or c.task == task]


def demo_ids(task: Task | None = None) -> list[str]:
    """The models whose weights ship with vtdemo (they work offline), in the zoo's order."""
    return [c.id for c in cards(task) if c.source.kind == "embedded"]
