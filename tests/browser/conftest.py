"""A live server with the demo, and Chromium driven by Playwright (Debian's build, never a download)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from app import create_app
from channels import smtp
from demo.seed import seed_demo
from extensions import db
from sandbox.smtp import SmtpSink
from scheduler.runner import start_embedded, stop_embedded

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="module")
def live_server(live_app: tuple[Any, str]) -> str:
    return live_app[1]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The app as `make run` serves it: the demo, the sandbox at /sandbox with its SMTP sink, the scheduler
    and delivery threads. Every server takes a free port of its own.
    """
    instance = tmp_path_factory.mktemp("live")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'live.db'}",
            "SECRET_KEY": "browser-test",
            "TOKEN_KEYS": ("dGVzdC10b2tlbi1rZXktb2YtdGhpcnR5LXR3by1ieXQ=",),
            "DELIVERY_WORKERS": 2,
            "PAGE_VERSION_MAX_AGE": 0.0,  # the tests change the demo and look at once (people wait a second)
        }
    )
    sink = SmtpSink(app.extensions["porte_voix_sandbox"]).start()
    app.config.update(SMTP_HOST=sink.host, SMTP_PORT=sink.port)
    with app.app_context():
        db.create_all()
        seed_demo()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config.update(SANDBOX_URL=url + "/sandbox", PUBLIC_URL=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheduler = start_embedded(app)
    yield app, url
    stop_embedded(app, scheduler)
    smtp.close_every_connection()
    server.shutdown()
    thread.join(timeout=5)
    sink.stop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but Chromium is missing at {CHROMIUM} (.ci/run installs it)")
        pytest.skip(f"Chromium not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 A and AA, and the best practices a screen reader user trips on (landmarks, one h1, skip links).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but axe-core is missing at {AXE} (make install-dev runs npm ci)")
        pytest.skip("axe-core is not installed (npm ci)")
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any, axe_source: str) -> list[str]:
    """axe-core's violations on the page as it is now, one line each (rule, impact, where, why).

    The script is the npm package's, put in the page by the test: the page's context must bypass its CSP,
    which rightly refuses scripts the app does not serve.
    """
    page.add_script_tag(content=axe_source)
    options = "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']}"  # passes are not collected
    result = page.evaluate(f"tags => axe.run(document, {options})", AXE_TAGS)
    lines = []
    for violation in result["violations"]:
        for node in violation["nodes"][:5]:
            lines.append(f"{violation['id']} ({violation['impact']}): {node['target']} {node['failureSummary'][:200]}")
    return lines


def sign_in(
    page: Any,
    base: str,
    *,
    language: str = "",
    email: str = "organisatrice@demo.example",
    password: str = "demo-organiser",  # noqa: S107 (the demo's, printed by make run)
) -> Any:
    """The demo's organiser (or `email`) signs in on `page` (the login form, as a person fills it)."""
    page.goto(f"{base}/login" + (f"?lang={language}" if language else ""))
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()
    return page
