"""``python -m vtdemo bench lam``: LAM with the path steps batched against one step at a time (same maps), and the
HAT attention click once its block is cached."""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

HELP = ("LAM batched vs one step at a time (ms per step, same maps), the cached HAT attention click, and (--estimates) "
        "the time estimate against the real time of the tab's jobs")


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="hat-demo-x4", help="SR model id (default hat-demo-x4)")
    parser.add_argument("--size", type=int, default=48, help="input side in pixels (default 48)")
    parser.add_argument("--steps", type=int, default=20, help="path steps (default 20)")
    parser.add_argument("--batch", type=int, help="steps per pass (default: 10 on CPU, 25 on CUDA)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: auto)")
    parser.add_argument("--di", type=Path, metavar="FOLDER",
                        help="instead: the diffusion index (LAM, 50 steps, whole input) of --models on the centre "
                             "box of each image's centre crop in FOLDER (e.g. a benchmark's LR_bicubic/X4): the HAT "
                             "paper's CNN vs SwinIR vs HAT comparison")
    from vtdemo.zoo.cards import COMPARISON_DEMOS

    parser.add_argument("--models", nargs="+", default=list(COMPARISON_DEMOS),
                        help="with --di: SR model ids (default: the three demo families at ×4)")
    parser.add_argument("--crop", type=int, default=64, help="with --di: LR crop side (default 64)")
    parser.add_argument("--estimates", action="store_true",
                        help="instead: the estimate a LAM is admitted by (projected from its first passes) against "
                             "its real time, for the LAM tab's default job (50 steps) on photos of several sizes, "
                             "fast mode on and off")


def run(args) -> int:
    if args.di:
        print("\n".join(bench_di(args.di, args.models, args.crop)))
        return 0
    if args.estimates:
        print("\n".join(bench_estimates(args.model)))
        return 0
    print("\n".join(bench_lam(args.model, args.size, args.steps, args.batch, args.device)))
    return 0


def bench_di(folder: Path, model_ids: list[str], crop: int, steps: int = 50) -> list[str]:
    """Mean and spread of each model's DI over the images of ``folder``: the same pixels for every model (each
    image's centre ``crop``×``crop`` crop, the 16×16 output box at its centre)."""
    import numpy as np
    import torch

    from vtdemo.imaging import IMAGE_SUFFIXES, decode_image, pil_to_tensor
    from vtdemo.sr.lam import attribution_map, box_at, sr_module
    from vtdemo.zoo.cards import get_card

    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    crops = []
    for path in files:
        rgb = decode_image(path).rgb
        if min(rgb.size) >= crop:
            left, top = (rgb.width - crop) // 2, (rgb.height - crop) // 2
            crops.append((path.stem, pil_to_tensor(rgb.crop((left, top, left + crop, top + crop)))))
    if not crops:
        return [f"no image in {folder} is at least {crop} px on each side"]
    table = {}
    for model_id in model_ids:
        scale = get_card(model_id).scale
        model = sr_module(model_id, scale)
        x, y = box_at((crop / 2, crop / 2), (crop, crop), scale, 16)
        table[model_id] = [attribution_map(model, lr, x, y, steps=steps)[1] for _, lr in crops]
    wins = Counter(max(table, key=lambda m: table[m][i]) for i in range(len(crops)))
    lines = [f"LAM diffusion index, {len(crops)} images of {folder} (centre {crop}×{crop} LR crop, box at its centre, "
             f"{steps} steps, whole crop attributed), {torch.get_num_threads()} threads:",
             "| model | mean DI | median | min–max | highest DI on |", "|---|---|---|---|---|"]
    for model_id, values in table.items():
        v = np.array(values)
        lines.append(f"| {model_id} | {v.mean():.2f} | {np.median(v):.2f} | {v.min():.2f}–{v.max():.2f} | "
                     f"{wins[model_id]}/{len(crops)} |")
    return lines


ESTIMATE_CASES = ((481, 321, True), (240, 160, True), (120, 120, False), (64, 64, False))  # (w, h, fast); the tab
# attributes inputs over VTDEMO_MAX_LAM_PIXELS (128²) in the fast mode only


def bench_estimates(model_id: str, steps: int = 50) -> list[str]:
    """Each case's LAM at its real size, the estimate its clock admits it by against the time it took."""
    import torch

    from vtdemo.sr.lam import CONTEXT, LamClock, attribution_map, box_at, sr_module
    from vtdemo.zoo.cards import get_card

    scale = get_card(model_id).scale
    model = sr_module(model_id, scale)
    lines = [f"LAM estimate vs real time, {model_id}, {steps} steps, {torch.get_num_threads()} threads:",
             "| input | fast | estimate (s) | real (s) | real / estimate |", "|---|---|---|---|---|"]
    for w, h, fast in ESTIMATE_CASES:
        lr = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
        x, y = box_at((w / 2, h / 2), (w, h), scale, 16)
        clock = LamClock(steps, float("inf"), fast)
        start = time.perf_counter()
        attribution_map(model, lr, x, y, steps=steps, context=CONTEXT if fast else None, clock=clock)
        real = time.perf_counter() - start
        lines.append(f"| {w}×{h} | {'on' if fast else 'off'} | {clock.estimate:.1f} | {real:.1f} | "
                     f"{real / clock.estimate:.2f} |")
    return lines


def bench_lam(model_id: str, size: int, steps: int, batch_size: int | None, device: str | None) -> list[str]:
    import numpy as np
    import torch

    from vtdemo.bench._compute import device_of, sync
    from vtdemo.explain.hat import has_attention
    from vtdemo.sr.lam import attribution_map, default_batch_size, sr_module
    from vtdemo.zoo.cards import get_card

    dev = device_of(device)
    scale = get_card(model_id).scale
    model = sr_module(model_id, scale).to(dev)
    lr = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = y = size * scale // 2 - 8
    batch = batch_size or default_batch_size(dev)
    timings, maps = {}, {}
    for name, b in (("one step at a time", 1), (f"batched ({batch} steps per pass)", batch)):
        attribution_map(model, lr, x, y, steps=min(steps, b), batch_size=b)  # warm-up
        sync(dev)
        start = time.perf_counter()
        maps[name], _ = attribution_map(model, lr, x, y, steps=steps, batch_size=b)
        sync(dev)
        timings[name] = (time.perf_counter() - start) * 1000 / steps
    first, second = list(timings)
    diff = float(np.abs(maps[first] - maps[second]).max())
    lines = [f"LAM, {model_id} on a {size}×{size} input, {steps} steps, {dev}:"]
    lines += [f"  {name:32s} {ms:8.1f} ms/step" for name, ms in timings.items()]
    lines.append(f"  speed-up {timings[first] / timings[second]:.2f}×, max map difference {diff:.1e}")
    if has_attention(get_card(model_id)):
        lines.append(_bench_click(model_id, size))
    return lines


def _bench_click(model_id: str, size: int, clicks: int = 20) -> str:
    """Time of an attention click once the block is cached: decode + slice + overlay + PNG (what the server does)."""
    import tempfile

    import numpy as np
    from PIL import Image

    from vtdemo.bench._compute import png_ms
    from vtdemo.explain.hat import hat_attention_for_image
    from vtdemo.viz.attention import hat_overlay

    def click(x: int, y: int) -> float:
        start = time.perf_counter()
        found, lr, (ox, oy) = hat_attention_for_image(str(path), model_id, (x, y), 0, 1)
        image, _ = hat_overlay(found, lr, x - ox, y - oy)
        return (time.perf_counter() - start) * 1000 + png_ms(image)

    path = Path(tempfile.mkdtemp()) / "click.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    click(5, 5)  # the one forward pass
    times = sorted(click(3 + i % (size - 6), 7) for i in range(clicks))
    return (f"HAT attention click (cached block, {size}×{size}): median {times[len(times) // 2]:.1f} ms, "
            f"max {times[-1]:.1f} ms over {clicks} clicks")
