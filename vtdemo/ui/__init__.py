"""The Gradio app. Analytics stay off unless the operator configured them (set before gradio is imported)."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from vtdemo.ui.app import build_app, launch  # noqa: E402

__all__ = ["build_app", "launch"]
