"""Helpers shared by the browser tests and the raw-HTTP attacks."""
import io
import json
import time

import httpx
from PIL import Image


def image_position(img, fx: float, fy: float) -> dict:
    """Element coordinates of the pixel at fractions (fx, fy) of an <img> drawn with object-fit: contain, never
    scaled up (Gradio centres small images at their natural size)."""
    b = img.bounding_box()
    nw, nh = img.evaluate("el => [el.naturalWidth, el.naturalHeight]")
    s = min(1.0, b["width"] / nw, b["height"] / nh)
    return {"x": (b["width"] - nw * s) / 2 + fx * nw * s, "y": (b["height"] - nh * s) / 2 + fy * nh * s}


def call(url: str, api: str, data: list, headers: dict | None = None, timeout: float = 180) -> tuple[str, object]:
    """POST /gradio_api/call/<api> then read its event stream: ("complete" | "error", payload), or ("http <code>",
    detail) when the request was refused before it was queued."""
    posted = httpx.post(f"{url}/gradio_api/call/{api}", json={"data": data}, headers=headers, timeout=timeout)
    if posted.status_code != 200:
        return f"http {posted.status_code}", posted.json().get("detail")
    event_id = posted.json()["event_id"]
    event, payload = None, None
    with httpx.stream("GET", f"{url}/gradio_api/call/{api}/{event_id}", headers=headers, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line.split(":", 1)[1].strip() or "null")
                if event == "error" and isinstance(payload, dict):
                    payload = payload.get("error")  # the message a visitor sees
                break
    return event, payload


def upload(url: str, image: Image.Image, headers: dict | None = None) -> dict:
    """Upload the way the browser does; the FileData (with Gradio's meta marker) of the server's copy."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    r = httpx.post(f"{url}/gradio_api/upload", files={"files": ("img.png", buf.getvalue(), "image/png")},
                   headers=headers, timeout=60)
    r.raise_for_status()
    return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}


def wait_until(predicate, what: str, timeout: float = 120) -> None:
    """Wait for ``predicate()`` about the in-process server: on the heavy slot's condition, which is notified whenever
    a job takes or frees the slot, re-checked at least every 0.2 s for state it does not notify (Gradio's queue)."""
    from vtdemo.ui import admission

    deadline, changed = time.monotonic() + timeout, admission._LOCAL._changed
    with changed:
        while not predicate():
            left = deadline - time.monotonic()
            assert left > 0, f"waited {timeout:.0f} s for {what}"
            changed.wait(min(0.2, left))


def holding(client: str) -> int:
    """Heavy-slot holders of ``client``'s address now."""
    from vtdemo.ui import admission

    return admission._LOCAL._holding.get(client, 0)


def queued(demo, client: str) -> int:
    """Requests of ``client``'s address waiting or running in ``demo``'s queue."""
    from vtdemo.ui.admission import client_address

    return sum(1 for e in list(demo._queue.event_ids_to_events.values()) if client_address(e.request) == client)
