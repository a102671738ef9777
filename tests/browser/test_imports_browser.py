"""An organiser imports the real Datan file through the page: the check runs in the background with
progress, the report is read, then the import is confirmed; a dynamic list counts the result."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import SHARED_DATA, needs_shared_data

pytestmark = pytest.mark.browser
DATAN = SHARED_DATA / "fr" / "deputes-datan-2024-12-25.csv"


@needs_shared_data
def test_import_the_deputies_then_make_a_dynamic_list(browser: Any, live_server: str) -> None:
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = sign_in(context.new_page(), live_server, language="en")
    page.goto(f"{live_server}/admin/targets/import")
    page.set_input_files("#file", str(DATAN))
    page.fill("#list_name", "Députés 17e")
    page.get_by_role("button", name="Check the file").click()
    # The check runs in a background thread; the page polls and reloads itself when it is done.
    page.get_by_text("Check passed. Nothing is written yet").wait_for(timeout=30_000)
    assert page.locator("#count-created").inner_text() == "575"
    assert "both hold constituency 0103" in page.locator(".problems-table").inner_text()
    # The button counts what the report says changes (575 new), not the file's 576 rows.
    page.get_by_role("button", name="Import: 575 changes (575 new, 0 updated, 0 retired)").click()
    page.get_by_text("Imported.").wait_for(timeout=30_000)
    assert page.locator("#count-created").inner_text() == "575"

    page.goto(f"{live_server}/admin/targets/lists/new?dynamic=1")
    page.fill("#name", "Groupe RN")
    page.locator(".field.multi summary", has_text="Group").click()  # the groups present, with their names
    page.get_by_label("RN · Rassemblement National").check()
    page.locator("main button[type=submit]").click()
    page.get_by_text("List saved.").wait_for()
    assert page.locator(".reach dd").first.inner_text() == "124"  # the RN rows of the file
    context.close()
