"""Upscale files and folders with one model, resumably, in this process or on Ray (``engines``).

The workers decode (the safe decoder and its limits), upscale (tiles as in the app) and encode the file to keep
(PNG, JPEG or WebP at the requested size, the source's EXIF and profile carried: ``vtdemo.outputs``); this process
plans (what the manifest says is done), writes each file atomically and records it. Both engines call the same
``Upscaler``, so their outputs are the same bytes.
"""
from __future__ import annotations

import hashlib
import io
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

from vtdemo.atomic import write_atomically
from vtdemo.batch.engines import Plan, run, worker_name
from vtdemo.batch.manifest import Manifest, recorded_outputs
from vtdemo.imaging import IMAGE_SUFFIXES, read_limited, read_metadata
from vtdemo.outputs import OutputSpec, finish
from vtdemo.zoo.downloads import sha256_of


def collect_images(inputs: list[str], follow_links: bool = False) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files as given, folders expanded to the images they hold (sorted, not recursive); and the entries of a
    folder left out with the reason: a link to a file outside that folder, unless ``follow_links`` (a folder
    someone else filled could otherwise make the tool read, and write next to, any file this user can read)."""
    found, left_out = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            inside = item.resolve()
            for p in sorted(item.iterdir()):
                if not (p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
                    continue
                if p.is_symlink() and not follow_links and p.resolve().parent != inside:
                    left_out.append((p, "a link to a file outside its folder (--follow-links to read it)"))
                    continue
                found.append(p)
        elif item.is_file():
            found.append(item)  # named by the user: taken as it is
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    seen = set()  # the same file named twice is one input
    return [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))], left_out


def _own_results(images: list[Path], output: str | None) -> dict[Path, str]:
    """The inputs that are this tool's own results in a folder this run writes to (a rerun into the input folder):
    a manifest there records them, and a finished one still has the bytes it recorded. Path -> why it is left out.
    A manifest anywhere else, or a record that does not match the file, hides nothing."""
    out_dir = Path(output).resolve() if output and (Path(output).is_dir() or output.endswith(("/", "\\"))) \
        else None
    records: dict[Path, dict] = {}
    own = {}
    for p in images:
        folder = p.parent.resolve()
        if output is not None and folder != out_dir:
            continue
        recorded = records.setdefault(folder, recorded_outputs(folder))
        if p.name not in recorded:
            continue
        sha = recorded[p.name]
        if sha is None:
            own[p] = "an unfinished result of an earlier run (its manifest says so)"
        elif sha == sha256_of(p):
            own[p] = "a result of an earlier run (its manifest records these bytes)"
    return own


def output_paths(images: list[Path], out: str | None, tag: str, extension: str = ".png") -> list[Path]:
    """Where each result goes: next to its input as <stem>_<tag><extension>, into OUT when it is a folder (existing,
    ending in a slash, or several inputs), or exactly OUT for a single input. Two inputs that would write the same
    file (a.png and a.jpg) are refused."""
    if out is None:
        paths = [p.with_name(f"{p.stem}_{tag}{extension}") for p in images]
    elif Path(out).is_dir() or out.endswith(("/", "\\")) or len(images) > 1:
        paths = [Path(out) / f"{p.stem}_{tag}{extension}" for p in images]
    else:
        paths = [Path(out)]
    seen: dict[Path, Path] = {}
    for src, dst in zip(images, paths):
        if dst.resolve() == src.resolve():
            raise ValueError(f"{src} would be overwritten by its own result: choose another output")
        if dst.resolve() in seen:
            raise ValueError(f"{seen[dst.resolve()]} and {src} would both be written to {dst}: rename one")
        seen[dst.resolve()] = src
    return paths


@dataclass(frozen=True)
class UpscaleJob:
    """What every worker needs to make the same output: picklable (sent to Ray actors)."""

    model: str  # a model id, "bicubic" or a checkpoint file
    scale: int | None = None  # bicubic's factor (models have their own)
    device: str | None = None
    precision: str = ""  # resolved once by the caller ("" for bicubic), so that every worker uses the same
    tile: int | None = None
    backend: str = "auto"
    output: OutputSpec = OutputSpec()  # format, quality, size of the files written


def load_net(job: UpscaleJob):
    """The job's SRNet: a checkpoint file through spandrel (safely), else a zoo id or "bicubic"."""
    from vtdemo.sr.engine import BICUBIC, SRNet, resolve_net
    from vtdemo.zoo import weights

    if job.model.endswith(weights.CHECKPOINT_SUFFIXES) and Path(job.model).is_file():
        from vtdemo.sr.checkpoints import load_checkpoint

        descriptor = load_checkpoint(job.model)
        return SRNet(descriptor.model, descriptor.scale, Path(job.model).stem)
    return resolve_net(job.model, job.scale if job.model == BICUBIC else None, device=job.device)


class Upscaler:
    """A worker: loads the model once, then turns rows {"src", "dst"} into rows with the PNG's bytes, or the reason
    the image failed (one bad image never stops the others)."""

    def __init__(self, job: UpscaleJob, progress: "Callable[[float, str], None] | None" = None):
        self.job = job
        self.net = load_net(job)
        self.progress = progress  # tiles of the image at hand (local engine only: not sent to actors)

    def __call__(self, rows: list[dict]) -> list[dict]:
        return [self.one(row) for row in rows]

    def one(self, row: dict) -> dict:
        from vtdemo.sr.engine import upscale

        start = time.perf_counter()
        result = {**row, "ok": False, "error": "", "input_sha256": "", "file": b"", "width": 0, "height": 0,
                  "seconds": 0.0, "worker": worker_name()}
        try:
            data, name = read_limited(row["src"])
            result["input_sha256"] = hashlib.sha256(data).hexdigest()
            source = io.BytesIO(data)
            source.name = name  # error messages name the file
            image = upscale(source, self.net, tile=self.job.tile, device=self.job.device, backend=self.job.backend,
                            precision=self.job.precision or None, progress=self.progress)
            # the file to keep: the requested size and format, the source's EXIF and colour profile
            meta = read_metadata(data)
            payload, (width, height) = finish(image, meta.size, self.job.output, self.net.scale,
                                              meta.icc_profile, meta.exif)
            result.update(ok=True, file=payload, width=width, height=height)
        except ValueError as exc:  # ImageError and the engine's refusals: a sentence for the user
            result["error"] = str(exc)
        except Exception as exc:  # anything else still fails this image only
            result["error"] = f"{type(exc).__name__}: {exc}"
        result["seconds"] = time.perf_counter() - start
        return result


@dataclass
class Summary:
    done: list[Path] = field(default_factory=list)  # outputs written by this run
    skipped: list[Path] = field(default_factory=list)  # outputs a previous run finished
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (input, reason)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def images_per_second(self) -> float:
        return len(self.done) / self.seconds if self.seconds else 0.0


# report(event, what, detail) for a progress display: ("todo", count of images to compute, "<model> ×<scale>"),
# ("skip", output, why: finished earlier), ("keep", output, why: not the tool's file), ("done", output, "W×H"),
# ("fail", input, reason), ("ignore", input, why it is not an input: a link out of its folder, a result of ours)
Report = Callable[[str, "Path | int", str], None]


def describe(job: UpscaleJob) -> tuple[str, int, str]:
    """(name, scale, weights' sha256) of the job's model without running it; raises the loading errors early
    (unknown id, missing or misfit weights, a bad checkpoint) before any worker starts."""
    from vtdemo.sr.engine import BICUBIC
    from vtdemo.zoo import weights
    from vtdemo.zoo.cards import get_card

    if job.model == BICUBIC:
        scale = 4 if job.scale is None else job.scale
        if not 2 <= scale <= 8:
            raise ValueError(f"bicubic's scale must be between 2 and 8, not {scale}")
        return BICUBIC, scale, ""
    if job.model.endswith(weights.CHECKPOINT_SUFFIXES) and Path(job.model).is_file():
        net = load_net(job)  # validates the file here, with its clear errors
        return net.name, net.scale, sha256_of(Path(job.model))
    card = get_card(job.model)
    if card.task != "sr":
        raise ValueError(f"{job.model} is a {card.task} model, not a super-resolution model.")
    return card.id, card.scale, sha256_of(weights.resolve(card))


def upscale_folder(inputs: list[str], job: UpscaleJob, output: str | None = None, *, force: bool = False,
                   follow_links: bool = False, plan: Plan = Plan(), report: Report | None = None,
                   tile_progress: "Callable[[float, str], None] | None" = None) -> Summary:
    """Upscale every image of ``inputs`` (files or folders) into ``output`` (see ``output_paths``), skipping what
    the output folder's manifest says is finished. Raises before any work for a bad model, engine or layout.
    ``tile_progress(fraction, what)`` hears of each tile of the image at hand (local engine)."""
    report = report or (lambda *_: None)
    name, scale, model_sha = describe(job)
    images, left_out = collect_images(inputs, follow_links)
    for path, why in left_out:
        report("ignore", path, why)
    own = _own_results(images, output)
    for path, why in own.items():
        report("ignore", path, why)
    images = [p for p in images if p not in own]
    spec = job.output
    tag = f"{name}_x{scale}".replace("/", "_") + (f"_{re.sub(r'[^0-9a-z.]', '', spec.size.lower())}"
                                                   if spec.size else "")
    summary = Summary()
    start = time.perf_counter()
    settings = {"model": job.model if name == "bicubic" else name, "model_sha256": model_sha, "scale": scale,
                "precision": job.precision, "tile": job.tile, "backend": job.backend,
                "format": spec.describe() + (f" at {spec.size}" if spec.size else "")}
    with ExitStack() as stack:
        manifests: dict[Path, Manifest] = {}
        todo = []
        for src, dst in zip(images, output_paths(images, output, tag, spec.extension)):
            folder = dst.parent.resolve()
            if folder not in manifests:
                manifests[folder] = stack.enter_context(Manifest(folder))
            manifest = manifests[folder]
            try:
                str(src).encode("utf-8")  # the manifest and Ray's rows hold names as text
                identity = {**settings, "input_sha256": sha256_of(src)}
            except UnicodeEncodeError:
                summary.failed.append((src, "its name is not valid UTF-8: rename it"))
                report("fail", src, summary.failed[-1][1])
                continue
            except OSError as exc:
                summary.failed.append((src, f"cannot read it ({exc.strerror or exc})"))
                report("fail", src, summary.failed[-1][1])
                continue
            state = manifest.state(dst, identity)
            if state == "done":
                summary.skipped.append(dst)
                report("skip", dst, "done by an earlier run")
            elif state == "foreign" and not force:  # kept, and the run does not count as a success
                summary.failed.append((src, f"{dst} exists and is not what this tool wrote there (use --force to "
                                            "overwrite it)"))
                report("keep", dst, summary.failed[-1][1])
            else:
                todo.append({"src": str(src), "dst": str(dst)})
        report("todo", len(todo), f"{name} ×{scale}")
        local = plan.engine == "local"
        for row in run(partial(Upscaler, job, tile_progress if local else None), todo, plan):
            src, dst = Path(row["src"]), Path(row["dst"])
            manifest = manifests[dst.parent.resolve()]
            record = {"output": dst.name, "input": str(src), **settings, "input_sha256": row["input_sha256"],
                      "worker": row["worker"], "seconds": round(row["seconds"], 3)}
            if not row["ok"]:
                manifest.append({**record, "status": "failed", "error": row["error"]})
                summary.failed.append((src, row["error"]))
                report("fail", src, row["error"])
                continue
            manifest.append({**record, "status": "writing"})
            write_atomically(dst, row["file"])
            manifest.append({**record, "status": "done", "output_sha256": hashlib.sha256(row["file"]).hexdigest(),
                             "size": [row["width"], row["height"]]})
            summary.done.append(dst)
            report("done", dst, f"{row['width']}×{row['height']}")
    summary.seconds = time.perf_counter() - start
    return summary
