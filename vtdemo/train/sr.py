"""Train a super-resolution model (the demo HAT, or SwinIR or a compact CNN at the same budget for the papers'
comparison): L1, Adam, random HR crops with bicubic LR, Set5 validation, resumable. Every family gets exactly the same
data, sampler, schedule and budget; only the architecture differs.

Degradation: each training image is cropped to a multiple of the scale and downscaled once with PIL's antialiased
bicubic (the benchmarks' degradation, MATLAB ``imresize``, up to its kernel details); LR/HR patches are then cut at
aligned random positions, so every crop sees exactly the LR the whole image would have. Augmentation: the 8 flips /
90° rotations. All randomness comes from one seeded ``torch.Generator`` whose state is checkpointed.

``--degradation realesrgan`` trains a real-world model instead: each HR crop is degraded on the fly
(:mod:`vtdemo.sr.degradations`: Real-ESRGAN's second-order model for half the samples, the web model of a noisy
JPEG for the other half) in a pool of worker processes; batch k is a pure function of
(seed, k), so batches are prefetched in parallel and a resumed run sees exactly the batches it would have. Validation
and the card's scores then use the benchmarks' HR images degraded the same way (one fixed seed per image).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vtdemo.imaging import IMAGE_SUFFIXES
from vtdemo.sr.engine import SCALES
from vtdemo.train.common import (Clock, command_line, device_description, export_weights, load_state, lr_factor,
                                 portable, save_state, write_card)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DEFAULT_TRAIN = [SHARED / "data/sr/train/bsds", SHARED / "data/sr/train/t91"]
DEFAULT_BENCHMARK = SHARED / "data/sr/benchmark"



def image_files(folders: list[Path]) -> list[Path]:
    files = sorted(p for f in folders for p in Path(f).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"no training images under {', '.join(map(str, folders))}")
    return files


def bicubic_pair(image: Image.Image, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) uint8 HxWx3 arrays: HR cropped to a multiple of ``scale``, LR its antialiased bicubic downscale."""
    w, h = image.size
    hr = image.convert("RGB").crop((0, 0, w - w % scale, h - h % scale))
    lr = hr.resize((hr.width // scale, hr.height // scale), Image.Resampling.BICUBIC)
    return np.asarray(lr), np.asarray(hr)


class PatchSampler:
    """Random aligned LR/HR patches from a folder of images, with the 8 dihedral augmentations."""

    def __init__(self, files: list[Path], scale: int, patch: int):
        self.scale, self.patch = scale, patch
        self.pairs = []
        for f in files:
            lr, hr = bicubic_pair(Image.open(f), scale)
            if min(lr.shape[:2]) >= patch:
                self.pairs.append((torch.from_numpy(lr.copy()).permute(2, 0, 1),
                                   torch.from_numpy(hr.copy()).permute(2, 0, 1)))
        if not self.pairs:
            raise SystemExit(f"no training image is at least {patch * scale} px on each side")

    def batch(self, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        lrs, hrs, s, p = [], [], self.scale, self.patch
        for _ in range(size):
            lr, hr = self.pairs[int(torch.randint(len(self.pairs), (1,), generator=gen))]
            y = int(torch.randint(lr.shape[1] - p + 1, (1,), generator=gen))
            x = int(torch.randint(lr.shape[2] - p + 1, (1,), generator=gen))
            lr, hr = lr[:, y:y + p, x:x + p], hr[:, y * s:(y + p) * s, x * s:(x + p) * s]
            k, flip = int(torch.randint(4, (1,), generator=gen)), bool(torch.randint(2, (1,), generator=gen))
            lr, hr = torch.rot90(lr, k, (1, 2)), torch.rot90(hr, k, (1, 2))
            if flip:
                lr, hr = lr.flip(2), hr.flip(2)
            lrs.append(lr)
            hrs.append(hr)
        return torch.stack(lrs).float() / 255, torch.stack(hrs).float() / 255


class RealSampler:
    """Random HR crops degraded with the real-world training degradation; batch ``k`` depends on (seed, k) alone."""

    def __init__(self, files: list[Path], scale: int, patch: int, seed: int, workers: int = 0, prefetch: int = 0):
        self.scale, self.patch, self.seed = scale, patch, seed
        self.crop = patch * scale * 3 // 2  # room for the aligned patch inside the degraded crop
        self.images = large_enough(files, self.crop)
        if not self.images:
            raise SystemExit(f"no training image is at least {self.crop} px on each side")
        self.pool, self.pending, self.prefetch = None, {}, max(prefetch, workers * 2)
        if workers:
            import multiprocessing as mp

            # spawn, not fork: a forked child can hang in a thread pool the parent already used; each worker
            # decodes the files itself (cheaper than pickling the decoded images to every worker)
            self.pool = mp.get_context("spawn").Pool(workers, _worker_init, (files, scale, patch, self.crop))

    def batch(self, k: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pool is None:
            return real_batch(self.images, self.scale, self.patch, self.crop, self.seed, k, size)
        for j in range(k, k + self.prefetch):
            if j not in self.pending:
                self.pending[j] = self.pool.apply_async(_worker_batch, (self.seed, j, size))
        for j in [j for j in self.pending if j < k]:
            del self.pending[j]
        return self.pending.pop(k).get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()


def real_batch(images: list[np.ndarray], scale: int, patch: int, crop: int, seed: int, k: int,
               size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from vtdemo.sr.degradations import degrade

    rng = np.random.default_rng([seed, k])
    lrs, hrs, s = [], [], scale
    for _ in range(size):
        img = images[int(rng.integers(len(images)))]
        y, x = int(rng.integers(img.shape[0] - crop + 1)), int(rng.integers(img.shape[1] - crop + 1))
        hr = torch.from_numpy(img[y:y + crop, x:x + crop].copy()).permute(2, 0, 1).float() / 255
        hr = torch.rot90(hr, int(rng.integers(4)), (1, 2))
        hr = hr.flip(2) if rng.integers(2) else hr
        lr = degrade(hr.contiguous(), scale, rng)
        py, px = int(rng.integers(lr.shape[1] - patch + 1)), int(rng.integers(lr.shape[2] - patch + 1))
        lrs.append(lr[:, py:py + patch, px:px + patch])
        hrs.append(hr[:, py * s:(py + patch) * s, px * s:(px + patch) * s])
    return torch.stack(lrs), torch.stack(hrs)


def large_enough(files: list[Path], crop: int) -> list[np.ndarray]:
    """The training images (HxWx3 uint8) at least ``crop`` px on each side."""
    images = (np.asarray(Image.open(f).convert("RGB")) for f in files)
    return [img for img in images if min(img.shape[:2]) >= crop]


_WORKER: dict = {}


def _worker_init(files, scale, patch, crop) -> None:
    torch.set_num_threads(1)
    _WORKER.update(images=large_enough(files, crop), scale=scale, patch=patch, crop=crop)


def _worker_batch(seed: int, k: int, size: int):
    w = _WORKER
    return real_batch(w["images"], w["scale"], w["patch"], w["crop"], seed, k, size)


@dataclass
class Score:
    psnr_y: float
    ssim_y: float
    piqe: float | None = None  # mean no-reference PIQE of the outputs (0 best … 100), when asked for


def benchmark_pairs(root: Path, scale: int):
    """(name, LR, HR) of a benchmark folder laid out as HR/*.png + LR_bicubic/X{scale}/*x{scale}.png."""
    from vtdemo.sr.metrics import crop_to_multiple

    for hr_path in sorted((root / "HR").glob("*.png")):
        lr_path = root / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png"
        hr = crop_to_multiple(Image.open(hr_path).convert("RGB"), scale)
        yield hr_path.stem, Image.open(lr_path).convert("RGB"), hr


DEGRADED_SEED = 2023  # the held-out degraded benchmarks: image i of a folder is degraded with seed (2023, i)


def degraded_pairs(root: Path, scale: int):
    """(name, LR, HR) of a benchmark's HR images, each degraded with the real-world model at a fixed seed."""
    from vtdemo.sr.degradations import degrade_image
    from vtdemo.sr.metrics import crop_to_multiple

    for i, hr_path in enumerate(sorted((root / "HR").glob("*.png"))):
        hr = crop_to_multiple(Image.open(hr_path).convert("RGB"), scale)
        yield hr_path.stem, degrade_image(hr, scale, [DEGRADED_SEED, i]), hr


def web_pairs(root: Path, scale: int, quality: int, sigma: float):
    """(name, LR, HR) at known levels: bicubic LR (the benchmark's files), Gaussian noise σ (0..255, seeded), JPEG."""
    import io

    rng = np.random.default_rng(DEGRADED_SEED)
    for name, lr, hr in benchmark_pairs(root, scale):
        noisy = np.asarray(lr, dtype=np.float64) + rng.normal(0, sigma, (lr.height, lr.width, 3))
        buf = io.BytesIO()
        Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(buf, "JPEG", quality=quality)
        yield name, Image.open(buf).convert("RGB"), hr


# the inputs a card scores on: the benchmark's bicubic files, the training degradation, and known web levels
INPUTS = {
    "bicubic": benchmark_pairs,
    "degraded": degraded_pairs,
    "JPEG q50": lambda root, scale: web_pairs(root, scale, 50, 0),
    "noise σ10 + JPEG q75": lambda root, scale: web_pairs(root, scale, 75, 10),
}


@torch.no_grad()
def evaluate(model: torch.nn.Module | str, root: Path, scale: int, device=None, inputs: str = "bicubic",
             no_reference: bool = False) -> Score:
    """Mean PSNR-Y / SSIM-Y over a benchmark (border of ``scale`` px removed), the papers' protocol; ``inputs`` (a
    key of :data:`INPUTS`) says which LR images: default its bicubic files; ``no_reference``: also the outputs'
    mean PIQE."""
    from vtdemo.sr.engine import upscale
    from vtdemo.sr.metrics import piqe, psnr_y, ssim_y

    psnrs, ssims, piqes = [], [], []
    for _, lr, hr in INPUTS[inputs](root, scale):
        sr = upscale(lr, model, scale=scale, device=device, backend="torch")
        psnrs.append(psnr_y(sr, hr, crop=scale))
        ssims.append(ssim_y(sr, hr, crop=scale))
        if no_reference:
            piqes.append(piqe(sr))
    return Score(float(np.mean(psnrs)), float(np.mean(ssims)), float(np.mean(piqes)) if piqes else None)


def card_results(model: torch.nn.Module, scale: int, real: bool, reference: str | None,
                 benchmarks: Path = DEFAULT_BENCHMARK) -> dict:
    """The card's ``results``: per benchmark (and, for a real-world model, per kind of input) PSNR-Y / SSIM-Y of
    ``model``, bicubic and ``reference``; a real-world model's rows also carry each one's mean PIQE and the HR
    images' own."""
    from vtdemo.sr.metrics import piqe

    results = {}
    for name in ("Set5", "Set14"):
        root = benchmarks / name if (benchmarks / name).exists() else DEFAULT_BENCHMARK / name
        if real:  # the originals' own level, once per benchmark (every kind of input shares the HR images)
            hr_piqe = round(float(np.mean([piqe(hr) for _, _, hr in benchmark_pairs(root, scale)])), 2)
        for inputs in (INPUTS if real else ("bicubic",)):
            key = name if inputs == "bicubic" else f"{name} {inputs}"
            ours, bicubic = (evaluate(m, root, scale, inputs=inputs, no_reference=real) for m in (model, "bicubic"))
            row = dict(psnr_y=round(ours.psnr_y, 3), ssim_y=round(ours.ssim_y, 4),
                       bicubic_psnr_y=round(bicubic.psnr_y, 3), bicubic_ssim_y=round(bicubic.ssim_y, 4),
                       gain_db=round(ours.psnr_y - bicubic.psnr_y, 3))
            if reference:
                ref = evaluate(reference, root, scale, inputs=inputs, no_reference=real)
                row.update({f"{reference}_psnr_y": round(ref.psnr_y, 3), f"{reference}_ssim_y": round(ref.ssim_y, 4)})
            if real:
                row.update(piqe=round(ours.piqe, 2), bicubic_piqe=round(bicubic.piqe, 2), hr_piqe=hr_piqe)
                if reference:
                    row[f"{reference}_piqe"] = round(ref.piqe, 2)
            results[key] = row
            print(f"{key} ×{scale}: PSNR-Y {ours.psnr_y:.3f} dB (bicubic {bicubic.psnr_y:.3f}), "
                  f"SSIM-Y {ours.ssim_y:.4f} (bicubic {bicubic.ssim_y:.4f})", flush=True)
    return results


EVALUATION = "PSNR-Y / SSIM-Y (BT.601 luma, border of `scale` px removed), LR = the benchmark's bicubic files"
REAL_EVALUATION = (
    f"; 'degraded': the HR images degraded with the training pipeline, image i with seed ({DEGRADED_SEED}, i); "
    f"'JPEG q50', 'noise σ10 + JPEG q75': the bicubic LR files with Gaussian noise (seed {DEGRADED_SEED}) and "
    "a Pillow JPEG at that quality; piqe: mean no-reference PIQE of the outputs (pyiqa; 0 best … 100), hr_piqe "
    "the HR images'")


def rescore(args) -> None:
    """Recompute a demo record's ``results`` from its weights (the rest of the record, training included, stays)."""
    from vtdemo.zoo.loading import load_model

    card = json.loads(args.record.read_text())
    real = isinstance(card.get("degradation"), dict)
    reference = next((k.removesuffix("_psnr_y") for k in card["results"]["Set5"]
                      if k.endswith("_psnr_y") and k not in ("psnr_y", "bicubic_psnr_y")), None)
    model = load_model(card["id"], device="cpu")
    card["results"] = card_results(model, card["scale"], real, reference)
    card["evaluation"] = EVALUATION + (REAL_EVALUATION if real else "")
    write_card(args.record, card)
    print(f"wrote {args.record}")


def init_from(model: torch.nn.Module, path: Path) -> str:
    """Copy every tensor of ``path`` whose name and shape match (e.g. a ×4 body into a ×2 model)."""
    from vtdemo.zoo.safe_loading import load_state_dict

    source, own = load_state_dict(path), model.state_dict()
    matched = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
    return f"{len(matched)}/{len(own)} tensors from {path}"


def build_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sr", help="train a super-resolution model (HAT, SwinIR or a compact CNN)",
                       description="Train an SR model with L1 + Adam on random HR crops and bicubic or "
                       "real-world-degraded LR.")
    p.add_argument("--model", choices=tuple(FAMILIES), default="hat",
                   help="architecture: the demo HAT, SwinIR at its size, or Real-ESRGAN's compact SRVGG CNN")
    p.add_argument("--scale", type=int, default=4, choices=SCALES)
    p.add_argument("--data", type=Path, nargs="+", default=DEFAULT_TRAIN, help="folders of HR training images")
    p.add_argument("--val", type=Path, default=DEFAULT_BENCHMARK / "Set5", help="benchmark folder for validation")
    p.add_argument("--arch", type=Path, help="JSON file of constructor keywords (default: the demo size)")
    p.add_argument("--embed-dim", type=int)
    p.add_argument("--depths", type=lambda s: [int(v) for v in s.split(",")], help="e.g. 2,2,2")
    p.add_argument("--heads", type=int, help="heads per group")
    p.add_argument("--window", type=int)
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch", type=int, default=32, help="LR patch size")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--schedule", choices=("cosine", "step", "constant"), default="cosine")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--init-from", type=Path, help="weights to start from (same-task pre-training; shapes that "
                   "match are copied, e.g. a ×4 body for a ×2 model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--degradation", choices=("bicubic", "realesrgan"), default="bicubic",
                   help="bicubic (the benchmarks') or Real-ESRGAN's second-order real-world model, applied on the fly")
    p.add_argument("--workers", type=int, default=0, help="processes that degrade batches (realesrgan)")
    p.add_argument("--minutes", type=float, help="time budget: after 200 iterations --iters is lowered to what "
                   "fits in this many minutes at the pace of iterations 100-200 (the schedule then runs to that total)")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--out", type=Path, default=Path("runs/sr"), help="run folder: state.pt, log.jsonl, best weights")
    p.add_argument("--export", type=Path, help="at the end, write the best weights here (.safetensors) with a "
                   "JSON card beside them, scored on Set5 and Set14")
    p.add_argument("--id", help="model id written in the card")
    p.add_argument("--reference", help="a model id scored beside ours in the card (e.g. hat-demo-x4)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int)
    p.set_defaults(run=train)
    q = sub.add_parser("sr-rescore", help="recompute a demo SR record's scores from its weights",
                       description="Score the embedded model a weights/*.json record describes again (Set5/Set14; a "
                       "real-world model also on its degraded inputs, with PIQE) and rewrite the record's results.")
    q.add_argument("record", type=Path, help="e.g. weights/hat-demo-real-x4.json")
    q.set_defaults(run=rescore)


@dataclass(frozen=True)
class Family:
    name: str  # as the card's "architecture" field says it
    config: str  # the name of its demo configuration in vtdemo.zoo.cards
    transformer: bool  # whether --embed-dim/--depths/--heads/--window apply


FAMILIES = {
    "hat": Family("HAT", "HAT_DEMO_CONFIG", True),
    "swinir": Family("SwinIR", "SWINIR_DEMO_CONFIG", True),
    "cnn": Family("SRVGGNetCompact", "CNN_DEMO_CONFIG", False),
}


def build_model(family: str, arch: dict) -> torch.nn.Module:
    """The untrained ``family`` model of constructor keywords ``arch`` (ours for HAT, spandrel's otherwise)."""
    if family == "hat":
        from vtdemo.models.hat import HAT

        return HAT(**arch)
    from vtdemo.zoo.builders import spandrel_class

    return spandrel_class(FAMILIES[family].name)(**arch)


def architecture(args) -> dict:
    import vtdemo.zoo.cards as cards  # the architectures of the embedded demo models

    family = FAMILIES[getattr(args, "model", "hat")]
    arch = {k: v for k, v in getattr(cards, family.config).items() if k != "arch"}
    if not family.transformer:
        if any(v is not None for v in (args.embed_dim, args.depths, args.heads, args.window)):
            raise SystemExit(f"--embed-dim/--depths/--heads/--window do not apply to --model {args.model}")
        return dict(arch, **(json.loads(args.arch.read_text()) if args.arch else {}), upscale=args.scale)
    if args.arch:
        arch.update(json.loads(args.arch.read_text()))
    for key, value in (("embed_dim", args.embed_dim), ("depths", args.depths), ("window_size", args.window)):
        if value is not None:
            arch[key] = value
    if args.heads or args.depths:
        arch["num_heads"] = [args.heads or arch["num_heads"][0]] * len(arch["depths"])
    return dict(arch, upscale=args.scale, drop_path_rate=0.0)


def train(args) -> None:
    from tqdm import tqdm

    from vtdemo.runtime import default_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    args.out.mkdir(parents=True, exist_ok=True)
    state_path, best_path, log_path = args.out / "state.pt", args.out / "best.safetensors", args.out / "log.jsonl"
    arch = architecture(args)
    torch.manual_seed(args.seed)
    model = build_model(getattr(args, "model", "hat"), arch).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(args.seed)
    step, best, clock, note = 0, -1.0, Clock(), None
    if state_path.exists():
        state = load_state(state_path)
        if state["arch"] != json.dumps(arch, sort_keys=True):
            raise SystemExit(f"{state_path} was trained with another architecture; use another --out")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, best, clock = state["step"], state["best"], Clock(state["seconds"])
        if args.minutes and "iters" in state:
            args.iters = state["iters"]  # the total the time budget fixed
        note = f"resumed at iteration {step}"
    elif args.init_from:
        note = "initialised with " + init_from(model, args.init_from)
    if note:
        print(note)
    files = image_files(args.data)
    real = args.degradation == "realesrgan"
    if real:
        sampler = RealSampler(files, args.scale, args.patch, args.seed, args.workers)
        n_images = len(sampler.images)
    else:
        sampler = PatchSampler(files, args.scale, args.patch)
        n_images = len(sampler.pairs)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters; {n_images} training images "
          f"({args.degradation} degradation); {device_description(device)}")

    def checkpoint() -> None:
        save_state(state_path, arch=json.dumps(arch, sort_keys=True), model=model.state_dict(),
                   optimizer=optimizer.state_dict(), generator=gen.get_state(), step=step, best=best,
                   seconds=clock.total(), iters=args.iters)

    def log(**row) -> None:
        with log_path.open("a") as f:
            f.write(json.dumps(dict(iter=step, seconds=round(clock.total(), 1), **row)) + "\n")

    bar = tqdm(total=args.iters, initial=step, desc=f"{FAMILIES[args.model].name} ×{args.scale}", unit="it",
               dynamic_ncols=True)
    model.train()
    started, first = time.perf_counter(), step
    while step < args.iters:
        if step == first + 100:
            paced = time.perf_counter()  # the pace is measured after start-up (workers, kernels) is over
        if args.minutes and step == first + 200:  # fix the total to what the budget allows at the measured pace
            now = time.perf_counter()
            pace, left = (now - paced) / 100, args.minutes * 60 - (now - started)
            args.iters = max(step + 1, min(args.iters, step + int(left / pace)))
            bar.total = args.iters
            bar.write(f"{pace * 1000:.1f} ms/iteration: {args.iters} iterations fit in {args.minutes} min")
        for group in optimizer.param_groups:
            group["lr"] = args.lr * lr_factor(step, args.iters, args.schedule, args.warmup)
        lr, hr = sampler.batch(step, args.batch) if real else sampler.batch(args.batch, gen)
        loss = F.l1_loss(model(lr.to(device)), hr.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}",
                        best=f"{best:.2f}")
        if step % args.log_every == 0:
            log(loss=round(loss.item(), 5), lr=optimizer.param_groups[0]["lr"])
        if step % args.val_every == 0 or step == args.iters:
            model.eval()
            score = evaluate(model, args.val, args.scale, device, inputs="degraded" if real else "bicubic")
            model.train()
            log(val=args.val.name + (" degraded" if real else ""), psnr_y=round(score.psnr_y, 3), ssim_y=round(score.ssim_y, 4))
            bar.write(f"iter {step}: {args.val.name}{' degraded' if real else ''} PSNR-Y {score.psnr_y:.3f} dB, SSIM-Y {score.ssim_y:.4f}")
            if score.psnr_y > best:
                best = score.psnr_y
                export_weights(model, best_path)
        if step % args.save_every == 0 or step == args.iters:
            checkpoint()
    bar.close()
    if real:
        sampler.close()
    if args.export:
        export(args, arch, best_path, clock.total(), device, n_images)


def export(args, arch: dict, best_path: Path, seconds: float, device: torch.device, n_images: int) -> None:
    """Copy the best weights to ``args.export`` and write the JSON card with Set5/Set14 scores next to bicubic."""
    from vtdemo.zoo.safe_loading import load_state_dict

    model = build_model(args.model, arch)
    model.load_state_dict(load_state_dict(best_path))
    model.eval()
    size = export_weights(model, args.export, metadata={"arch": json.dumps(arch), "scale": str(args.scale)})
    real = args.degradation == "realesrgan"
    results = card_results(model, args.scale, real, args.reference, args.val.parent)
    card = dict(
        id=args.id or args.export.stem, architecture=FAMILIES[args.model].name, config=arch, scale=args.scale,
        parameters=sum(p.numel() for p in model.parameters()), file_bytes=size,
        command=command_line(args.argv), data=[portable(d) for d in args.data], training_images=n_images,
        iterations=args.iters, batch=args.batch, lr_patch=args.patch, lr=args.lr, schedule=args.schedule,
        init_from=str(args.init_from) if args.init_from else None, seed=args.seed, degradation=degradation_record(args),
        wall_time_s=round(seconds), device=device_description(device), torch=torch.__version__,
        evaluation=EVALUATION + (REAL_EVALUATION if real else ""),
        results=results, date=time.strftime("%Y-%m-%d"),
    )
    write_card(args.export.with_suffix(".json"), card)
    print(f"wrote {args.export} ({size / 1e6:.2f} MB) and {args.export.with_suffix('.json')}")


def degradation_record(args) -> dict | str:
    """The card's exact account of the LR the model was trained on."""
    if args.degradation == "bicubic":
        return "bicubic (PIL antialiased), once per image"
    from dataclasses import asdict

    from vtdemo.sr import degradations as d

    return dict(model="Real-ESRGAN second-order, or the first-order web model (vtdemo.sr.degradations)", hr_crop=args.patch * args.scale * 3 // 2,
                kernel_sizes=list(d.KERNEL_SIZES), kernel_kinds=dict(zip(d.KERNEL_KINDS, d.KERNEL_PROBS)),
                resize_modes=list(d.RESIZE_MODES), first=asdict(d.FIRST), second=asdict(d.SECOND),
                final_sinc_prob=d.FINAL_SINC_PROB, final_order="resize+sinc then JPEG, or JPEG then resize+sinc (½ each)",
                second_order_prob=d.SECOND_ORDER_PROB, web=dict(asdict(d.WEB), resize="bicubic, antialiased"),
                loss="L1 on the clean HR (no sharpened target, no perceptual or GAN loss)")
