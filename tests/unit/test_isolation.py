"""Fixtures change the environment for their own tests only (the e2e package's pre-filled Hugging Face cache runs
before these tests in one session)."""
import os


def test_no_fixture_leaves_its_hugging_face_cache_behind(hub_cache_at_start):
    assert os.environ.get("HF_HUB_CACHE") == hub_cache_at_start
