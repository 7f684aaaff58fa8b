"""Train a classifier of any zoo family (timm ViT / DeiT / Swin / PVT-v2, or our PerViT) on an ImageFolder.

Recipe (DeiT's, scaled down): random-resized crop + flip + RandAugment, optional mixup/cutmix, label smoothing,
AdamW with a cosine schedule after a linear warm-up, optional EMA of the weights, a seed, top-1 on the validation
split every ``--val-every`` epochs, a resumable checkpoint every epoch. DeiT's hard-label distillation:
``--teacher`` (a zoo id or a weights file of another demo model) supervises the distillation token with its argmax;
a model without a distillation token learns half from the labels, half from the teacher's argmax on its one head.
``--init-from`` continues from exported weights (a second stage with its own schedule; the card names the first).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vtdemo.train.common import (Clock, command_line, device_description, export_weights, load_state, lr_factor,
                                 portable, save_state, write_card)
from vtdemo.zoo.demo_archs import DEMO_ARCHS, at_size, build_classifier
from vtdemo.zoo.safe_loading import load_state_dict

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DEFAULT_DATA = SHARED / "data/cls/imagenette128"


def build_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="train a classifier (ViT, DeiT, Swin, PVT-v2, PerViT) on an image folder",
                       description=__doc__)
    p.add_argument("--arch", choices=sorted(DEMO_ARCHS), required=True, help="demo architecture")
    p.add_argument("--arch-json", type=Path, help="JSON overriding the architecture's keywords")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with train/ and val/ in ImageFolder layout")
    p.add_argument("--size", type=int, help="input resolution (default: the architecture's)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup-epochs", type=float, default=2)
    p.add_argument("--smoothing", type=float, default=0.1)
    p.add_argument("--randaugment", default="rand-m6-mstd0.5-inc1", help="timm RandAugment spec ('' for none)")
    p.add_argument("--mixup", type=float, default=0.0, help="mixup alpha (0 = off)")
    p.add_argument("--cutmix", type=float, default=0.0, help="cutmix alpha (0 = off)")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights, e.g. 0.999 (0 = off)")
    p.add_argument("--teacher", help="DeiT hard distillation: a classifier id or weights file of the same label set")
    p.add_argument("--teacher-arch", choices=sorted(DEMO_ARCHS), help="architecture of a --teacher weights file "
                   "(files exported by this command name their own)")
    p.add_argument("--teacher-size", type=int, help="input resolution of the teacher (default: the size its file "
                   "or card names, else --size); training crops are cut at the larger of the two sizes and resized "
                   "(antialiased) for the other model")
    p.add_argument("--init-from", type=Path, help="start from these exported weights (.safetensors of the same "
                   "architecture; a ViT position embedding is resampled to --size; its JSON card, when beside it, is "
                   "named in the new card). The start is scored first, so --epochs 0 re-exports it at --size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--val-every", type=int, default=1)
    p.add_argument("--limit", type=int, help="use only this many training images (smoke tests)")
    p.add_argument("--out", type=Path, default=Path("runs/classify"))
    p.add_argument("--export", type=Path, help="at the end, write the best weights (.safetensors) + a JSON card")
    p.add_argument("--id", help="model id written in the card")
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    p.set_defaults(run=train)


def loaders(args, mean, std, crop_size: int):
    """(train set with augmentation, producing crop_size crops; val set with the eval transform at --size)."""
    from timm.data import create_transform
    from torchvision.datasets import ImageFolder

    train_tf = create_transform(crop_size, is_training=True, auto_augment=args.randaugment or None,
                                interpolation="bicubic", mean=mean, std=std, scale=(0.25, 1.0))
    val_tf = create_transform(args.size, is_training=False, interpolation="bicubic", mean=mean, std=std,
                              crop_pct=0.875)
    train_set, val_set = ImageFolder(args.data / "train", train_tf), ImageFolder(args.data / "val", val_tf)
    if train_set.classes != val_set.classes:
        raise SystemExit("train/ and val/ hold different class folders")
    if args.limit:
        train_set = torch.utils.data.Subset(train_set, range(0, len(train_set), max(1, len(train_set) // args.limit)))
        val_set = torch.utils.data.Subset(val_set, range(0, len(val_set), max(1, len(val_set) // args.limit)))
    return train_set, val_set


@torch.no_grad()
def evaluate(model, val_loader, device) -> float:
    model.eval()
    correct = total = 0
    for x, y in val_loader:
        logits = model(x.to(device))
        correct += int((logits.argmax(-1).cpu() == y).sum())
        total += len(y)
    return correct / max(1, total)


def load_teacher(args, num_classes: int, device) -> tuple[torch.nn.Module | None, int]:
    """(teacher in eval mode, the input size it expects) or (None, 0) without --teacher."""
    if args.teacher is None:
        return None, 0
    path, size = Path(args.teacher), args.teacher_size
    if path.is_file():
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:  # files written by this command carry their architecture
            meta = f.metadata() or {}
        saved = meta.get("arch")
        size = size or int(meta.get("size", 0)) or (json.loads(saved).get("size") if saved else None)
        if saved is None and not args.teacher_arch:
            raise SystemExit("--teacher-arch is needed with a --teacher weights file that does not name its "
                             "architecture")
        teacher = build_classifier(json.loads(saved) if saved else DEMO_ARCHS[args.teacher_arch], num_classes)
        teacher.load_state_dict(load_state_dict(path))
    else:
        from vtdemo.zoo.cards import get_card
        from vtdemo.zoo.loading import load_model

        teacher = load_model(args.teacher, device="cpu")
        preprocess = get_card(args.teacher).preprocess
        size = size or (preprocess.size if preprocess else None)
    return teacher.to(device).eval(), int(size or args.size)


def train(args) -> None:
    from tqdm import tqdm

    from vtdemo.runtime import default_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    arch = dict(DEMO_ARCHS[args.arch])
    if args.arch_json:
        arch.update(json.loads(args.arch_json.read_text()))
    args.size = args.size or arch.get("size") or 112
    arch = at_size(arch, args.size)  # the token grid follows --size
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    if not (args.data / "train").is_dir() or not (args.data / "val").is_dir():
        raise SystemExit(f"{args.data} needs train/ and val/ folders with one sub-folder per class")
    classes = sorted(d.name for d in (args.data / "train").iterdir() if d.is_dir())
    torch.manual_seed(args.seed)
    model = build_classifier(arch, len(classes)).to(device)
    if args.init_from:
        model.load_state_dict(_resized(load_state_dict(args.init_from), model))
    args.first_stage = _first_stage(args.init_from)  # read now: --export may overwrite that card
    distill = args.teacher is not None
    dist_token = distill and hasattr(model, "set_distilled_training")
    teacher, teacher_size = load_teacher(args, len(classes), device)
    # a teacher at a larger size sees the crop at its own size; the student gets it downsampled (antialiased)
    train_set, val_set = loaders(args, mean, std, crop_size=max(args.size, teacher_size))
    if (train_set.dataset if hasattr(train_set, "dataset") else train_set).classes != classes:
        raise SystemExit("train/ holds folders that are not image classes")
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(("pos_embed", "cls_token", "dist_token")) else decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    ema = None
    if args.ema:
        from timm.utils import ModelEmaV3

        ema = ModelEmaV3(model, decay=args.ema)
    mixup = None
    if args.mixup or args.cutmix:
        from timm.data import Mixup

        mixup = Mixup(mixup_alpha=args.mixup, cutmix_alpha=args.cutmix, label_smoothing=args.smoothing,
                      num_classes=len(classes))
    args.out.mkdir(parents=True, exist_ok=True)
    state_path, best_path, log_path = args.out / "state.pt", args.out / "best.safetensors", args.out / "log.jsonl"
    epoch, best, clock = 0, -1.0, Clock()
    if state_path.exists():
        state = load_state(state_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and "ema" in state:
            ema.module.load_state_dict(state["ema"])
        epoch, best, clock = state["epoch"], state["best"], Clock(state["seconds"])
        print(f"resumed after epoch {epoch}")
    params = sum(p.numel() for p in model.parameters())
    print(f"{arch['family']}: {params:,} parameters; {len(train_set)} training / {len(val_set)} validation images; "
          f"{len(classes)} classes; {device_description(device)}")
    steps_per_epoch = -(-len(train_set) // args.batch)
    total, warmup = args.epochs * steps_per_epoch, int(args.warmup_epochs * steps_per_epoch)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=args.batch, num_workers=args.workers)

    def log(**row):
        with log_path.open("a") as f:
            f.write(json.dumps(dict(epoch=epoch, seconds=round(clock.total(), 1), **row)) + "\n")

    def keep_if_best(scored, top1: float) -> None:
        nonlocal best
        if top1 > best:
            best = top1
            export_weights(scored, best_path, metadata={"arch": json.dumps(arch), "classes": json.dumps(classes),
                                                       "size": str(args.size)})

    if args.init_from and epoch == 0 and best < 0:  # where a continued run starts, at this run's --size
        top1 = evaluate(model, val_loader, device)
        print(f"start ({args.init_from.name} at {args.size} px): val top-1 {top1:.2%}")
        keep_if_best(model, top1)
        log(top1=round(top1, 4))

    while epoch < args.epochs:
        model.train()
        if dist_token:
            model.set_distilled_training(True)
        gen = torch.Generator().manual_seed(args.seed * 1000 + epoch)  # the same order after a resume
        loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch, shuffle=True, generator=gen,
                                             num_workers=args.workers, drop_last=len(train_set) > args.batch,
                                             persistent_workers=False)
        bar = tqdm(loader, desc=f"{args.arch} epoch {epoch + 1}/{args.epochs}", unit="batch", dynamic_ncols=True)
        losses = []
        for i, (x, y) in enumerate(bar):
            step = epoch * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = args.lr * lr_factor(step, total, "cosine", warmup)
            x, y = x.to(device), y.to(device)
            targets = mixup(x, y) if mixup else None
            if mixup:
                x, targets = targets
            seen = x  # the teacher's view
            if x.shape[-1] != args.size:
                x = F.interpolate(x, size=(args.size, args.size), mode="bicubic", antialias=True, align_corners=False)
            out = model(x)
            if distill:
                cls_out, dist_out = out if dist_token else (out, out)
                with torch.no_grad():
                    if seen.shape[-1] != teacher_size:  # a teacher smaller than the student
                        seen = F.interpolate(seen, size=(teacher_size, teacher_size), mode="bicubic",
                                             antialias=True, align_corners=False)
                    teacher_labels = teacher(seen).argmax(-1)
                loss = 0.5 * _ce(cls_out, y, targets, args.smoothing) + 0.5 * F.cross_entropy(dist_out, teacher_labels)
            else:
                loss = _ce(out, y, targets, args.smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update(model, step=step)
            losses.append(loss.item())
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{optimizer.param_groups[0]['lr']:.1e}", best=f"{best:.3f}")
        bar.close()
        if dist_token:
            model.set_distilled_training(False)
        epoch += 1
        row = dict(loss=round(sum(losses) / max(1, len(losses)), 4))
        if epoch % args.val_every == 0 or epoch == args.epochs:
            scored = ema.module if ema is not None else model
            top1 = evaluate(scored, val_loader, device)
            row["top1"] = round(top1, 4)
            print(f"epoch {epoch}: val top-1 {top1:.2%}")
            keep_if_best(scored, top1)
        log(**row)
        save_state(state_path, model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch, best=best,
                   seconds=clock.total(), **({"ema": ema.module.state_dict()} if ema is not None else {}))
    if args.export:
        export(args, arch, classes, best, best_path, clock.total(), device, len(train_set), len(val_set), params)


def _resized(state: dict, model: torch.nn.Module) -> dict:
    """``state`` with a ViT/DeiT position embedding resampled (bicubic, as timm does) to ``model``'s token grid."""
    own = model.state_dict().get("pos_embed")
    if own is None or "pos_embed" not in state or state["pos_embed"].shape == own.shape:
        return state
    from timm.layers import resample_abs_pos_embed

    prefix = getattr(model, "num_prefix_tokens", 1)
    old, new = (int(round((t.shape[1] - prefix) ** 0.5)) for t in (state["pos_embed"], own))
    return dict(state, pos_embed=resample_abs_pos_embed(state["pos_embed"], (new, new), (old, old),
                                                        num_prefix_tokens=prefix))


def _first_stage(path: Path | None) -> dict | None:
    """What a continued run started from: the file, and its own card's command, epochs and top-1 when beside it."""
    if path is None:
        return None
    stage = {"weights": portable(path)}
    card = path.with_suffix(".json")
    if card.is_file():
        first = json.loads(card.read_text())
        stage.update({k: first[k] for k in ("command", "epochs", "wall_time_s", "val_top1", "history", "init_from")
                      if k in first})
    return stage


def _ce(logits, y, soft_targets, smoothing: float):
    if soft_targets is not None:
        return torch.sum(-soft_targets * F.log_softmax(logits, dim=-1), dim=-1).mean()
    return F.cross_entropy(logits, y, label_smoothing=smoothing)


def export(args, arch, classes, best, best_path, seconds, device, n_train, n_val, params) -> None:
    import shutil

    args.export.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best_path, args.export)
    card = dict(
        id=args.id or args.export.stem, family=arch["family"], architecture=arch, classes=list(classes),
        parameters=params, file_bytes=args.export.stat().st_size, input_size=args.size,
        command=command_line(args.argv), data=portable(args.data), training_images=n_train, validation_images=n_val,
        epochs=args.epochs, batch=args.batch, lr=args.lr, teacher=args.teacher, seed=args.seed,
        init_from=getattr(args, "first_stage", None),
        wall_time_s=round(seconds), device=device_description(device), torch=torch.__version__,
        val_top1=round(best, 4), date=time.strftime("%Y-%m-%d"),
        history=[json.loads(line) for line in (args.out / "log.jsonl").read_text().splitlines() if line.strip()],
    )
    from vtdemo.classify.out_of_class import calibrate
    from vtdemo.zoo.builders import BuildError
    from vtdemo.zoo.cards import UnknownModelError, get_card

    try:  # a card id of the zoo: calibrate its "none of my classes" signal on the validation images
        zoo_card = get_card(card["id"])
        if zoo_card.preprocess is None or zoo_card.preprocess.size != args.size:
            raise BuildError(f"the installed {card['id']} card expects another input size; install this card and "
                             f"its weights, then run `python -m vtdemo.train out-of-class --data "
                             f"{portable(args.data)} --models {card['id']}`")
        from vtdemo.train.sr import DEFAULT_TRAIN  # photos of other things: the probe's outlier exposure

        card["out_of_class"], stats = calibrate(card["id"], args.data, DEFAULT_TRAIN, path=args.export)
        from vtdemo.atomic import save_tensors

        save_tensors(stats, args.export.with_suffix(".ood.safetensors"))
    except UnknownModelError:
        pass  # not a zoo model: nothing to calibrate against
    except BuildError as exc:
        print(f"not calibrated: {exc}")
    write_card(args.export.with_suffix(".json"), card)
    print(f"wrote {args.export} ({card['file_bytes'] / 1e6:.2f} MB, top-1 {best:.2%}) and its card")
