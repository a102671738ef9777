"""Random and oversized values posted to every form and JSON endpoint, as staff and as a stranger: whatever
arrives, the answer is a page or a 4xx with a reason, never a 500 (hypothesis)."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from tests.conftest import login
from tests.test_authorisation import SLUG, _url
from tests.test_reminders import open_wave_now

NAME = re.compile(r'name="([A-Za-z_][\w-]*)"')
SKIP = {"accounts.logout", "static"}
COMMON = [
    "email",
    "text",
    "network",
    "instance",
    "next",
    "title",
    "slug",
    "status",
    "recipient_id",
    "variant_id",
    "handle",
    "app_password",
    "password",
    "share",
    "cap_per_hour",
    "opens_at",
    "closes_at",
    "messages",
]

awkward = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "9" * 30,
        str(2**64),
        "null",
        "<script>alert(1)</script>",
        "\x00",
        "2024-13-45",
        "9999-12-31T23:59",
        "../../etc/passwd",
        "é" * 300,
        "@a@b@c",
        "https://127.0.0.1:6379/",
        "{}",
        "[]",
    ]
)
values = st.one_of(
    awkward,
    st.text(max_size=40),
    st.text(min_size=4000, max_size=6000),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["text", "network", "x"]), inner),
    max_leaves=12,
)


@pytest.fixture
def database_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fuzz.db'}"


@pytest.fixture
def targets(app: Flask, make_org: Any, make_user: Any, make_campaign: Any) -> dict[str, Any]:
    organisation = make_org()
    campaign = make_campaign(organisation, slug=SLUG, networks=["x", "bluesky", "mastodon"])
    open_wave_now(app, campaign)
    staff = app.test_client()
    login(staff, make_user(organisation, Role.ADMIN))
    forms: list[tuple[str, list[str], bool]] = []  # url, field names, staff
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.endpoint in SKIP:
            continue
        url = _url(app, rule)
        is_staff = rule.rule.startswith("/admin")
        page = (staff if is_staff else app.test_client()).get(url) if "GET" in (rule.methods or ()) else None
        names = sorted(set(NAME.findall(page.get_data(as_text=True))) - {"csrf_token"}) if page is not None else []
        forms.append((url, names or COMMON, is_staff))
    assert len(forms) > 25
    return {"staff": staff, "stranger": app.test_client(), "forms": forms}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_form_answers_500(targets: dict[str, Any], data: st.DataObject) -> None:
    url, names, is_staff = data.draw(st.sampled_from(targets["forms"]), label="form")
    client: FlaskClient = targets["staff"] if is_staff else targets["stranger"]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)), label="fields")
    form = {name: data.draw(values, label=name) for name in chosen}
    response = client.post(url, data=form)
    assert response.status_code < 500, (url, form)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values, raw=st.text(alphabet=string.printable, max_size=200))
def test_no_json_endpoint_answers_500(targets: dict[str, Any], body: Any, raw: str) -> None:
    for url, _names, is_staff in targets["forms"]:
        if not url.endswith("/length"):
            continue
        client: FlaskClient = targets["staff"] if is_staff else targets["stranger"]
        assert client.post(url, json=body).status_code < 500, (url, body)
        assert client.post(url, data=raw, content_type="application/json").status_code < 500, (url, raw)
