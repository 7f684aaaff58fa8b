"""Share a comparison: one self-contained HTML file (a wipe slider between two results, the zoom crops, the metrics
table and the captions, every image inlined: it opens offline, from a mail or a USB stick), and an animated WebP or
GIF wipe between two results. Both bounded in size."""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

MAX_SIDE = 1600  # px: the longest side of an image in the HTML file
MAX_HTML_BYTES = 24_000_000  # beyond this the images are re-encoded as WebP, then halved until it fits
WIPE_SIDE = 640  # px: the animation's longest side
WIPE_FRAMES = 24  # one sweep right and back


@dataclass(frozen=True)
class Shown:
    """An image with its title and caption, as the page shows it."""
    title: str
    image: Image.Image
    caption: str = ""


def _fit(image: Image.Image, side: int) -> Image.Image:
    if max(image.size) <= side:
        return image
    f = side / max(image.size)
    return image.resize((max(1, round(image.width * f)), max(1, round(image.height * f))), Image.Resampling.LANCZOS)


def _data_url(image: Image.Image, fmt: str) -> str:
    buf = io.BytesIO()
    if fmt == "png":
        image.convert("RGB").save(buf, "PNG", optimize=False, compress_level=6)
    else:
        image.convert("RGB").save(buf, "WEBP", quality=90, method=4)
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:16px;max-width:1200px;color:#222}}
.wipe{{position:relative;display:inline-block;max-width:100%;user-select:none;touch-action:none;cursor:ew-resize}}
.wipe img{{display:block;max-width:100%;height:auto;image-rendering:auto}}
.wipe img.top{{position:absolute;left:0;top:0;clip-path:inset(0 0 0 50%)}}
.wipe .line{{position:absolute;top:0;bottom:0;left:50%;width:2px;background:#fff;box-shadow:0 0 3px #000}}
.labels{{display:flex;justify-content:space-between;font-weight:600}}
input[type=range]{{width:100%}}
.crops{{display:flex;flex-wrap:wrap;gap:12px}} .crops figure{{margin:0}}
.crops img{{width:256px;height:auto;image-rendering:pixelated}}
table{{border-collapse:collapse;margin-top:12px}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
figcaption,.caption{{font-size:13px;color:#555}}
</style></head><body>
<h1>{title}</h1>
<div class="labels"><span id="left-label">◀ {left_title}</span><span id="right-label">{right_title} ▶</span></div>
<div class="wipe" id="wipe"><img id="left" src="{left_src}" alt="{left_title}" draggable="false"><img class="top"
id="right" src="{right_src}" alt="{right_title}" draggable="false"><div class="line" id="line"></div></div>
<input type="range" id="position" min="0" max="100" value="50" step="0.1" aria-label="wipe position">
<p class="caption">◀ {left_caption}<br>▶ {right_caption}</p>
{crops}
{table}
<p class="caption">Made with vtdemo. Self-contained: every image is inside this file.</p>
<script>
const pos = document.getElementById('position'), top_ = document.getElementById('right'),
      line = document.getElementById('line'), wipe = document.getElementById('wipe');
function show(v) {{ top_.style.clipPath = 'inset(0 0 0 ' + v + '%)'; line.style.left = v + '%'; }}
pos.addEventListener('input', () => show(pos.value));
function drag(e) {{ const r = wipe.getBoundingClientRect();
  pos.value = Math.max(0, Math.min(100, 100 * (e.clientX - r.left) / r.width)); show(pos.value); }}
wipe.addEventListener('pointerdown', e => {{ wipe.setPointerCapture(e.pointerId); drag(e); }});
wipe.addEventListener('pointermove', e => {{ if (wipe.hasPointerCapture(e.pointerId)) drag(e); }});
show(pos.value);
</script></body></html>
"""


def comparison_html(left: Shown, right: Shown, crops: list[Shown] = (), headers: list[str] = (),
                    rows: list[list] = (), title: str = "vtdemo comparison") -> bytes:
    """The page as UTF-8 bytes, at most MAX_HTML_BYTES (images re-encoded, then shrunk, until it fits)."""
    if left.image.size != right.image.size:
        right = Shown(right.title, right.image.resize(left.image.size, Image.Resampling.LANCZOS), right.caption)
    side, fmt = MAX_SIDE, "png"
    while True:
        page = _render(left, right, crops, headers, rows, title, side, fmt)
        if len(page) <= MAX_HTML_BYTES or side <= 64:
            return page
        side, fmt = (side, "webp") if fmt == "png" else (side // 2, "webp")


def _render(left, right, crops, headers, rows, title, side, fmt) -> bytes:
    esc = html.escape
    figures = "".join(f'<figure><img src="{_data_url(_fit(c.image, 256), fmt)}" alt="{esc(c.title)}">'
                      f"<figcaption>{esc(c.title)}{' — ' + esc(c.caption) if c.caption else ''}</figcaption></figure>"
                      for c in crops)
    table = ""
    if rows:
        head = "".join(f"<th>{esc(str(h))}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>" for row in rows)
        table = f'<table id="metrics"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return PAGE.format(
        title=esc(title), left_title=esc(left.title), right_title=esc(right.title),
        left_caption=esc(left.caption or left.title), right_caption=esc(right.caption or right.title),
        left_src=_data_url(_fit(left.image, side), fmt), right_src=_data_url(_fit(right.image, side), fmt),
        crops=f'<h2>Zoom crops</h2><div class="crops">{figures}</div>' if crops else "", table=table,
    ).encode("utf-8")


def wipe_frames(left: Image.Image, right: Image.Image, frames: int = WIPE_FRAMES,
                side: int = WIPE_SIDE) -> list[Image.Image]:
    """The frames of a wipe: ``left`` on the left of a moving line, ``right`` beyond it; right, then back."""
    a = _fit(left.convert("RGB"), side)
    b = right.convert("RGB").resize(a.size, Image.Resampling.LANCZOS)
    half = max(2, frames // 2)
    positions = [round(a.width * i / (half - 1)) for i in range(half)]
    out = []
    for x in positions + positions[::-1][1:-1]:
        frame = b.copy()
        frame.paste(a.crop((0, 0, x, a.height)), (0, 0))
        ImageDraw.Draw(frame).line((x, 0, x, a.height), fill=(255, 255, 255), width=2)
        out.append(frame)
    return out


def wipe_animation(left: Image.Image, right: Image.Image, fmt: str = "webp", frames: int = WIPE_FRAMES,
                   side: int = WIPE_SIDE, ms: int = 90) -> bytes:
    """An endlessly looping wipe between two results as animated WebP (or GIF), at most ``side`` px."""
    shots = wipe_frames(left, right, frames, side)
    buf = io.BytesIO()
    if fmt == "gif":
        shots[0].save(buf, "GIF", save_all=True, append_images=shots[1:], duration=ms, loop=0, optimize=False)
    elif fmt == "webp":
        shots[0].save(buf, "WEBP", save_all=True, append_images=shots[1:], duration=ms, loop=0, quality=85)
    else:
        raise ValueError(f"unknown animation format {fmt!r}: webp or gif")
    return buf.getvalue()
