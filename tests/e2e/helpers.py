"""Helpers shared by the browser tests."""


def image_position(img, fx: float, fy: float) -> dict:
    """Element coordinates of the pixel at fractions (fx, fy) of an <img> drawn with object-fit: contain, never
    scaled up (Gradio centres small images at their natural size)."""
    b = img.bounding_box()
    nw, nh = img.evaluate("el => [el.naturalWidth, el.naturalHeight]")
    s = min(1.0, b["width"] / nw, b["height"] / nh)
    return {"x": (b["width"] - nw * s) / 2 + fx * nw * s, "y": (b["height"] - nh * s) / 2 + fy * nh * s}
