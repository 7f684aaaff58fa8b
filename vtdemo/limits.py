"""Server-side limits, each configurable by an environment variable (read at call time, so tests and operators can
change them without a restart). Documented in the README's "Limits and safety" section."""
from __future__ import annotations

import os

MB = 1_000_000


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


def max_upload_bytes() -> int:
    """Largest image file accepted (also Gradio's max_file_size)."""
    return _int_env("VTDEMO_MAX_UPLOAD_BYTES", 20 * MB)


def max_input_pixels() -> int:
    """Largest decoded image (width x height), checked from the header before any pixel is decoded."""
    return _int_env("VTDEMO_MAX_INPUT_PIXELS", 16_777_216)  # 4096 x 4096


def max_checkpoint_bytes() -> int:
    """Largest checkpoint file loaded (uploads, weights/, CLI)."""
    return _int_env("VTDEMO_MAX_CHECKPOINT_BYTES", 1_000 * MB)


def max_checkpoint_tensors() -> int:
    """Most tensors (and zip members) in one checkpoint; HAT-L has about 1,300."""
    return _int_env("VTDEMO_MAX_CHECKPOINT_TENSORS", 20_000)


def max_model_params() -> int:
    """Largest SR model built from a checkpoint, counted before anything is allocated (HAT-L: 40.8 M)."""
    return _int_env("VTDEMO_MAX_MODEL_PARAMS", 100_000_000)


def max_upload_files() -> int:
    """Most files in one upload request."""
    return _int_env("VTDEMO_MAX_UPLOAD_FILES", max_benchmark_images())


def max_client_upload_bytes() -> int:
    """Bytes one address may upload within VTDEMO_FILE_MAX_AGE_S (uploads are kept that long)."""
    return _int_env("VTDEMO_MAX_CLIENT_UPLOAD_MB", 400) * MB


def max_upload_disk_bytes() -> int:
    """Uploads kept on the server's disk, all visitors together."""
    return _int_env("VTDEMO_MAX_UPLOAD_DISK_MB", 4000) * MB


def max_checkpoint_upload_bytes() -> int:
    """Largest checkpoint accepted as an upload in the app."""
    return _int_env("VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES", 300 * MB)


def max_output_pixels() -> int:
    """Most upscaled pixels one request may produce (all the models of a comparison together)."""
    return _int_env("VTDEMO_MAX_OUTPUT_PIXELS", 67_108_864)  # 8192 x 8192


def max_compare_models() -> int:
    """Most SR models in one comparison (bicubic included)."""
    return _int_env("VTDEMO_MAX_COMPARE_MODELS", 4)


def max_lam_steps() -> int:
    """Most LAM path steps per request (each is a forward + backward pass)."""
    return _int_env("VTDEMO_MAX_LAM_STEPS", 100)


def lam_memory_bytes() -> int:
    """Activation memory one LAM batch may hold; the batch size follows from a measurement of the model."""
    return _int_env("VTDEMO_LAM_MEMORY_MB", 1500) * MB


def chart_memory_bytes() -> int:
    """Activation memory one point of the Models tab's cost chart may hold (traced before it runs)."""
    return _int_env("VTDEMO_CHART_MEMORY_MB", 1500) * MB


def max_lam_seconds() -> int:
    """Longest estimated LAM per model (a measured step cost × pixels × steps); longer requests are refused."""
    return _int_env("VTDEMO_MAX_LAM_SECONDS", 120)


def max_lam_pixels() -> int:
    """Largest input attributed whole by LAM; bigger ones are attributed within a neighbourhood of the box."""
    return _int_env("VTDEMO_MAX_LAM_PIXELS", 128 * 128)


def max_attention_pixels() -> int:
    """Largest input whose HAT attention is captured whole; larger ones are attended around the clicked pixel."""
    return _int_env("VTDEMO_MAX_ATTENTION_PIXELS", 192 * 192)


def max_tile() -> int:
    """Largest tile side (LR pixels) a request may choose; a tile's activations grow with its area."""
    return _int_env("VTDEMO_MAX_TILE", 256)


def max_tiles() -> int:
    """Most SR tiles one request may run."""
    return _int_env("VTDEMO_MAX_TILES", 400)


def max_requests_per_client() -> int:
    """Requests one address may have waiting or running at once (all its sessions together: a classroom behind one
    NAT is one address)."""
    return _int_env("VTDEMO_MAX_REQUESTS_PER_CLIENT", 16)


def max_requests_per_session() -> int:
    """Requests one session (a page, a gradio_client) may have waiting or running at once."""
    return _int_env("VTDEMO_MAX_REQUESTS_PER_SESSION", 4)


def queue_size() -> int:
    """Requests waiting in the queue, all clients together."""
    return _int_env("VTDEMO_QUEUE_SIZE", 64)


def max_sessions_per_client() -> int:
    """Live sessions one address may hold; a new one evicts that address's own oldest."""
    return _int_env("VTDEMO_MAX_SESSIONS_PER_CLIENT", 64)


def body_timeout_seconds() -> int:
    """Longest a request body other than an upload may take to arrive (at most VTDEMO_MAX_REQUEST_BYTES)."""
    return _int_env("VTDEMO_BODY_TIMEOUT_S", 30)


def max_bodies_per_client() -> int:
    """Request bodies (other than uploads) one address may be sending at once."""
    return _int_env("VTDEMO_MAX_BODIES_PER_CLIENT", 8)


def header_timeout_seconds() -> int:
    """Longest a connection may take to send a request's headers (a slow-headers client holds a socket)."""
    return _int_env("VTDEMO_HEADER_TIMEOUT_S", 10)


def max_benchmark_images() -> int:
    """Most images in one benchmark request of the Upscale tab."""
    return _int_env("VTDEMO_MAX_BENCHMARK_IMAGES", 20)


def max_job_seconds() -> int:
    """Longest estimated compute time of one SR request (measured model throughput × output pixels)."""
    return _int_env("VTDEMO_MAX_JOB_SECONDS", 300)


def max_sessions() -> int:
    """Browser/API sessions whose state the server keeps (oldest dropped first); each costs memory."""
    return _int_env("VTDEMO_MAX_SESSIONS", 500)


def file_max_age_seconds() -> int:
    """Uploads and results older than this are deleted (Gradio's cache and vtdemo's result folders)."""
    return _int_env("VTDEMO_FILE_MAX_AGE_S", 3600)


def download_timeout_seconds() -> int:
    """Longest a weights download may take in all (a per-read timeout alone lets a drip feed run forever)."""
    return _int_env("VTDEMO_DOWNLOAD_TIMEOUT_S", 1800)


def max_request_bytes() -> int:
    """Largest request body other than a file upload (JSON; a pasted data URL counts here)."""
    return _int_env("VTDEMO_MAX_REQUEST_BYTES", 2 * MB)


def max_aspect() -> int:
    """Largest aspect ratio (long side : short side) of an image upscaled or attended whole."""
    return _int_env("VTDEMO_MAX_ASPECT", 64)


def small_job_pixels() -> int:
    """Output pixels under which a bicubic-only request runs at once instead of taking the heavy slot."""
    return _int_env("VTDEMO_SMALL_JOB_PIXELS", 4_000_000)


def ray_serve_replicas() -> int:
    """Ray Serve replicas computing SR tiles when VTDEMO_RAY_SERVE is set."""
    return _int_env("VTDEMO_RAY_SERVE_REPLICAS", 2)
