"""The app as a user and an API client meet it."""
import pytest


def test_models_endpoint_lists_the_zoo_with_live_status(client):
    table = client.predict(api_name="/models")
    headers, rows = table["headers"], table["data"]
    assert headers[:3] == ["id", "status", "task"]
    by_id = {row[0]: dict(zip(headers, row)) for row in rows}
    assert len(by_id) >= 20
    assert by_id["hat-x4"]["status"] == "unavailable offline"
    assert by_id["pervit-m"]["status"] == "local file needed"
    assert "Acly/hat" in by_id["hat-x4"]["source"]


def test_fetch_endpoint_explains_what_to_do_offline(client):
    message = client.predict("swinir-m-x4", api_name="/fetch")
    assert "001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth" in message
    assert "python -m vtdemo fetch swinir-m-x4" in message


def test_fetch_endpoint_rejects_unknown_ids(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not in the list of choices|Unknown model id"):
        client.predict("../../etc/passwd", api_name="/fetch")


@pytest.mark.browser
def test_every_tab_renders_without_console_errors(page, artifacts):
    from playwright.sync_api import expect

    tabs = page.get_by_role("tab")
    tabs.first.wait_for()
    names = [tabs.nth(i).inner_text().strip() for i in range(tabs.count())]
    assert "Models" in names
    for i, name in enumerate(names):
        tabs.nth(i).click()
        expect(tabs.nth(i)).to_have_attribute("aria-selected", "true")
        page.screenshot(path=str(artifacts / f"tab-{name.lower().replace(' ', '-')}.png"), full_page=True)
    page.get_by_role("tab", name="Models").click()
    table = page.locator("#models-table")
    table.get_by_text("hat-x4", exact=True).first.wait_for(timeout=15_000)
    assert table.get_by_text("unavailable offline").count() > 0
    page.get_by_role("button", name="Fetch weights").click()
    page.locator("#fetch-message").get_by_text("is not available here").wait_for(timeout=15_000)
    page.screenshot(path=str(artifacts / "models-tab.png"), full_page=True)
    assert page.console_errors == []


@pytest.mark.browser
def test_the_models_tables_status_is_on_screen(page):
    """The column the tab explains (status) is among the first three, visible at 1400 px without scrolling."""
    page.get_by_role("tab", name="Models").click()
    table = page.locator("#models-table")
    table.get_by_text("hat-x4", exact=True).first.wait_for(timeout=15_000)
    headers = [h.strip() for h in table.locator("th").all_inner_texts() if h.strip()]
    assert headers[:3] == ["id", "status", "task"], headers
    status = table.locator("th").nth(headers.index("status")).bounding_box()
    assert status["x"] + status["width"] <= 1400
