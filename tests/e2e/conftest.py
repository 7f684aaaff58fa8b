"""The real app, launched in-process on 127.0.0.1 with the real launch settings, and a headless Chromium."""
import contextlib
import re
import shutil

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


# Random-weight ImageNet classifiers in a pre-filled Hugging Face cache (the layout a real download leaves), so the
# Classify and Attention tabs have timm models to run offline; (card id, timm repo, timm architecture).
CACHED_CLASSIFIERS = [("vit-ti16", "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", "vit_tiny_patch16_224"),
                      ("deit-ti16-distilled", "timm/deit_tiny_distilled_patch16_224.fb_in1k",
                       "deit_tiny_distilled_patch16_224")]


@pytest.fixture(scope="package")  # torn down with the e2e package: its cache must not leak into later tests
def classifier_cache(tmp_path_factory):
    import os

    import timm
    import torch
    from safetensors.torch import save_file

    hub = tmp_path_factory.mktemp("hub")
    commit = "b" * 40
    for _, repo_id, arch in CACHED_CLASSIFIERS:
        torch.manual_seed(0)
        state = timm.create_model(arch, pretrained=False).state_dict()
        repo = hub / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(commit)
        (repo / "snapshots" / commit).mkdir(parents=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(repo / "snapshots" / commit / "model.safetensors"))
    previous = os.environ.get("HF_HUB_CACHE")
    os.environ["HF_HUB_CACHE"] = str(hub)
    yield hub
    if previous is None:
        os.environ.pop("HF_HUB_CACHE", None)
    else:
        os.environ["HF_HUB_CACHE"] = previous


@pytest.fixture(scope="package")
def served(classifier_cache):
    """(url, Blocks) of the app launched in this process."""
    from vtdemo.ui import build_app, launch

    demo = build_app()
    _, url, _ = launch(demo, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True, quiet=True)
    yield url.rstrip("/"), demo
    demo.close()


@pytest.fixture(scope="package")
def app_url(served):
    return served[0]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("BROWSER TESTS SKIPPED: Debian's chromium is not installed (`make test` installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def local_page(browser, url: str, viewport=(1400, 1000)):
    """A fresh page at ``url`` that may only reach this machine; console errors are collected in
    page.console_errors."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    page.goto(url)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser, app_url):
    with local_page(browser, app_url) as page:
        yield page
