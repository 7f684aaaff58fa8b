"""Server-side limits as data: each has an environment variable (read at call time, so tests and operators can change
it without a restart), a default, what it bounds and what it allows at the default. docs/security.md's limits table
is generated from ``LIMITS`` (``python -m vtdemo docs``); the functions below are how the code reads them."""
from __future__ import annotations

import os
from dataclasses import dataclass

MB = 1_000_000


@dataclass(frozen=True)
class Limit:
    env: str
    default: int
    unit: str  # how the default reads: bytes, MB, pixels, count, seconds or params
    bounds: str  # what it bounds
    at_default: str = "—"  # the memory or time it allows at the default (measured where stated)
    shown: str | None = None  # the default as the table shows it, where the unit's rule does not say it

    def default_text(self) -> str:
        if self.shown:
            return self.shown
        v = self.default
        if self.unit == "bytes":
            return f"{v / 1e9:g} GB" if v >= 1e9 else f"{v / 1e6:g} MB"
        if self.unit == "pixels":
            side = round(v ** 0.5)
            text = f"{v / 1e6:.1f} MP" if v >= 1e6 else f"{v:,}"
            return text + (f" ({side}²)" if side * side == v else "")
        return {"MB": f"{v:,} MB", "seconds": f"{v:,} s", "params": f"{v / 1e6:g} M"}.get(self.unit, f"{v:,}")


_CACHE = "what stays in memory, least recently used first (one cache mechanism: two first requests for the same " \
         "thing compute it once)"

LIMITS: dict[str, Limit] = {limit.env: limit for limit in (
    Limit("VTDEMO_MAX_UPLOAD_BYTES", 20 * MB, "bytes", "an image file (and a pasted data URL's decoded size)"),
    Limit("VTDEMO_MAX_INPUT_PIXELS", 4096 * 4096, "pixels", "a decoded image, checked from its header before any "
          "pixel is decoded", "50 MB of RGB; a 16-MP float TIFF converts in 256-row chunks"),
    Limit("VTDEMO_MAX_OUTPUT_PIXELS", 8192 * 8192, "pixels", "all upscaled outputs of one request together, refused "
          "before any work", "bicubic ≈ 11 B per output px (0.7 GB at the limit); a model ≈ 20 B per output px + one "
          "tile's activations"),
    Limit("VTDEMO_MAX_TILE", 256, "count", "the tile side (LR px) a request may choose",
          "hat-demo-x4: ≈ 0.6 GB of activations per 256² tile"),
    Limit("VTDEMO_MAX_TILES", 400, "count", "SR tiles one request may run"),
    Limit("VTDEMO_MAX_JOB_SECONDS", 300, "seconds", "the estimated compute time of an SR request (the model's "
          "throughput, measured once on this device, × output pixels), a benchmark (models, degrading and scoring) or "
          "the cost chart (each point's FLOPs traced first)", "refused before any work; benchmarks and the chart also "
          "stop between images / points"),
    Limit("VTDEMO_CHART_MEMORY_MB", 1500, "MB", "activations of one point of the Models tab's cost chart, traced on "
          "the meta device before it runs", "pervit-m at 576²: 2.5 GB, refused"),
    Limit("VTDEMO_MAX_COMPARE_MODELS", 4, "count", "SR models in one comparison (bicubic included)"),
    Limit("VTDEMO_MAX_BENCHMARK_IMAGES", 20, "count", "images in one benchmark run of the Upscale tab (each also "
          "within the SR limits)"),
    Limit("VTDEMO_MAX_LAM_STEPS", 100, "count", "LAM path steps per request (each a forward and a backward pass)"),
    Limit("VTDEMO_LAM_MEMORY_MB", 1500, "MB", "activations of one LAM batch (its size follows from the model's "
          "activation cost, measured once)", "≈ 1.5 GB + the model"),
    Limit("VTDEMO_MAX_LAM_SECONDS", 120, "seconds", "a LAM's time per model, projected from its own first passes "
          "at its real size (two steps alone, then a batch) and re-checked after each pass", "refused after one "
          "step when 8× over, else after two steps or the first batch"),
    Limit("VTDEMO_MAX_LAM_PIXELS", 128 * 128, "pixels", "the largest input LAM attributes whole; larger ones are "
          "attributed within 24 px of the box"),
    Limit("VTDEMO_MAX_ATTENTION_PIXELS", 192 * 192, "pixels", "the largest input whose HAT attention is captured "
          "whole; larger ones are attended in a 192×192 neighbourhood of the click"),
    Limit("VTDEMO_MAX_CHECKPOINT_BYTES", 1000 * MB, "bytes", "a checkpoint file *and* what its zip members unpack "
          "to (declared sizes, which the reader allocates); compressed members that expand past 10× are refused",
          "1 GB"),
    Limit("VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES", 300 * MB, "bytes", "the same for a checkpoint uploaded to the app",
          "300 MB"),
    Limit("VTDEMO_MAX_CHECKPOINT_TENSORS", 20_000, "count", "tensors (and zip members) in one checkpoint (HAT-L: "
          "~1,300)"),
    Limit("VTDEMO_MAX_MODEL_PARAMS", 100_000_000, "params", "parameters + buffers of the SR model a checkpoint's "
          "shapes imply, counted before building: on the meta device, or in a child process with a capped data "
          "segment for architectures that cannot be built there (HAT-L: 40.8 M)", "0.4 GB"),
    Limit("VTDEMO_MAX_REQUESTS_PER_SESSION", 4, "count", "requests one session (a page, a gradio_client) has "
          "waiting or running"),
    Limit("VTDEMO_MAX_REQUESTS_PER_CLIENT", 16, "count", "requests one address has waiting or running, all its "
          "sessions together (a classroom behind one NAT is one address; a running request cannot be cancelled to "
          "free its place)"),
    Limit("VTDEMO_MAX_SESSIONS_PER_CLIENT", 64, "count", "live sessions of one address; a new one evicts that "
          "address's own oldest"),
    Limit("VTDEMO_MAX_SESSIONS", 500, "count", "sessions whose state the server keeps (oldest dropped first)",
          "≈ 0.33 MB each"),
    Limit("VTDEMO_QUEUE_SIZE", 64, "count", "requests waiting in Gradio's queue, all clients together"),
    Limit("VTDEMO_HEADER_TIMEOUT_S", 10, "seconds", "time a connection has to send a request's headers; closed "
          "after it", "one socket each for at most 10 s"),
    Limit("VTDEMO_BODY_TIMEOUT_S", 30, "seconds", "time to send a request body other than an upload; answered 408 "
          "after it"),
    Limit("VTDEMO_MAX_BODIES_PER_CLIENT", 8, "count", "request bodies (other than uploads) one address is sending "
          "at once", "8 × 2 MB per address for at most 30 s"),
    Limit("VTDEMO_MAX_REQUEST_BYTES", 2 * MB, "bytes", "a request body other than a file upload (JSON; a pasted "
          "data URL counts here), refused (413) before Gradio parses it"),
    Limit("VTDEMO_MAX_UPLOAD_FILES", 20, "count", "files in one upload request",
          shown="= VTDEMO_MAX_BENCHMARK_IMAGES (20)"),
    Limit("VTDEMO_MAX_CLIENT_UPLOAD_MB", 400, "MB", "bytes one address uploads within VTDEMO_FILE_MAX_AGE_S",
          "400 MB of disk per address"),
    Limit("VTDEMO_MAX_UPLOAD_DISK_MB", 4000, "MB", "Gradio's upload folder, all visitors together", "4 GB of disk"),
    Limit("VTDEMO_FILE_MAX_AGE_S", 3600, "seconds", "age after which uploads and results are deleted"),
    Limit("VTDEMO_MAX_ASPECT", 64, "count", "the aspect ratio (long side : short side) of an image upscaled or "
          "attended whole (classification crops first, any ratio)"),
    Limit("VTDEMO_HEAVY_SLOTS", 1, "count", "model computations (an SR run, a LAM, a capture, a checkpoint load, a "
          "chart point) this process runs at once, at most 4 (the heavy events' workers); the others wait, in turns "
          "by address. Read at launch",
          "one model's activations at a time (each computation uses every core)"),
    Limit("VTDEMO_SMALL_JOB_PIXELS", 4_000_000, "pixels", "bicubic-only output under which a request runs at once "
          "instead of taking the heavy slot"),
    Limit("VTDEMO_DOWNLOAD_TIMEOUT_S", 1800, "seconds", "one weights download in all (a drip feed is cut off)"),
    Limit("VTDEMO_RAY_SERVE_REPLICAS", 2, "count", "Ray Serve replicas computing SR tiles when VTDEMO_RAY_SERVE is "
          "set, each with its share of the cluster's CPUs"),
    Limit("VTDEMO_MODEL_CACHE", 4, "count", f"loaded models: {_CACHE}"),
    Limit("VTDEMO_CAPTURE_CACHE", 4, "count", f"classifier attention captures: {_CACHE}"),
    Limit("VTDEMO_ATTENTION_CACHE", 3, "count", f"HAT attention blocks: {_CACHE}",
          "hat-demo: ~81 MB per 192² OCAB capture"),
    Limit("VTDEMO_UPLOAD_CACHE", 2, "count", f"uploaded checkpoints kept loaded: {_CACHE}"),
    Limit("VTDEMO_ONNX_SESSIONS", 2, "count", f"ONNX Runtime sessions: {_CACHE}"),
    Limit("VTDEMO_DIGEST_CACHE", 64, "count", f"image digests: {_CACHE}"),
)}


def table() -> str:
    """The Markdown table docs/security.md shows: every limit, its default, what it bounds, what it allows."""
    rows = ["| variable | default | bounds | memory / time it allows at the default |", "|---|---|---|---|"]
    rows += [f"| `{limit.env}` | {limit.default_text()} | {limit.bounds} | {limit.at_default} |"
             for limit in LIMITS.values()]
    return "\n".join(rows)


def value(env: str) -> int:
    """The limit named ``env`` now: its environment variable when set (a positive number), else its default."""
    return _int_env(env, LIMITS[env].default)


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"{name}={os.environ[name]!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


# How the code reads each limit (what it bounds: its entry in LIMITS).

def max_upload_bytes() -> int:
    return value("VTDEMO_MAX_UPLOAD_BYTES")


def max_input_pixels() -> int:
    return value("VTDEMO_MAX_INPUT_PIXELS")


def max_checkpoint_bytes() -> int:
    return value("VTDEMO_MAX_CHECKPOINT_BYTES")


def max_checkpoint_tensors() -> int:
    return value("VTDEMO_MAX_CHECKPOINT_TENSORS")


def max_model_params() -> int:
    return value("VTDEMO_MAX_MODEL_PARAMS")


def max_upload_files() -> int:
    return _int_env("VTDEMO_MAX_UPLOAD_FILES", max_benchmark_images())


def max_client_upload_bytes() -> int:
    return value("VTDEMO_MAX_CLIENT_UPLOAD_MB") * MB


def max_upload_disk_bytes() -> int:
    return value("VTDEMO_MAX_UPLOAD_DISK_MB") * MB


def max_checkpoint_upload_bytes() -> int:
    return value("VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES")


def max_output_pixels() -> int:
    return value("VTDEMO_MAX_OUTPUT_PIXELS")


def max_compare_models() -> int:
    return value("VTDEMO_MAX_COMPARE_MODELS")


def max_lam_steps() -> int:
    return value("VTDEMO_MAX_LAM_STEPS")


def lam_memory_bytes() -> int:
    return value("VTDEMO_LAM_MEMORY_MB") * MB


def chart_memory_bytes() -> int:
    return value("VTDEMO_CHART_MEMORY_MB") * MB


def max_lam_seconds() -> int:
    return value("VTDEMO_MAX_LAM_SECONDS")


def max_lam_pixels() -> int:
    return value("VTDEMO_MAX_LAM_PIXELS")


def max_attention_pixels() -> int:
    return value("VTDEMO_MAX_ATTENTION_PIXELS")


def max_tile() -> int:
    return value("VTDEMO_MAX_TILE")


def max_tiles() -> int:
    return value("VTDEMO_MAX_TILES")


def max_requests_per_client() -> int:
    return value("VTDEMO_MAX_REQUESTS_PER_CLIENT")


def max_requests_per_session() -> int:
    return value("VTDEMO_MAX_REQUESTS_PER_SESSION")


def queue_size() -> int:
    return value("VTDEMO_QUEUE_SIZE")


def max_sessions_per_client() -> int:
    return value("VTDEMO_MAX_SESSIONS_PER_CLIENT")


def body_timeout_seconds() -> int:
    return value("VTDEMO_BODY_TIMEOUT_S")


def max_bodies_per_client() -> int:
    return value("VTDEMO_MAX_BODIES_PER_CLIENT")


def header_timeout_seconds() -> int:
    return value("VTDEMO_HEADER_TIMEOUT_S")


def max_benchmark_images() -> int:
    return value("VTDEMO_MAX_BENCHMARK_IMAGES")


def max_job_seconds() -> int:
    return value("VTDEMO_MAX_JOB_SECONDS")


def max_sessions() -> int:
    return value("VTDEMO_MAX_SESSIONS")


def file_max_age_seconds() -> int:
    return value("VTDEMO_FILE_MAX_AGE_S")


def download_timeout_seconds() -> int:
    return value("VTDEMO_DOWNLOAD_TIMEOUT_S")


def max_request_bytes() -> int:
    return value("VTDEMO_MAX_REQUEST_BYTES")


def max_aspect() -> int:
    return value("VTDEMO_MAX_ASPECT")


def small_job_pixels() -> int:
    return value("VTDEMO_SMALL_JOB_PIXELS")


def ray_serve_replicas() -> int:
    return value("VTDEMO_RAY_SERVE_REPLICAS")


def heavy_slots() -> int:
    return value("VTDEMO_HEAVY_SLOTS")
