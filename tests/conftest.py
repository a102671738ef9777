"""Fixtures: an app per test on SQLite, and again on PostgreSQL where it is reachable (always in CI)."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, make_url, text

from accounts.models import Organisation, Role, User
from app import create_app
from campaign.fold import fold_tallies
from campaign.models import Campaign, CampaignStatus
from campaign.services import change_status, save_campaign, save_message
from channels import Network, smtp
from extensions import db
from recipients.models import Gender, Recipient, TargetRole
from sandbox import Clock, Knobs
from sandbox.server import SandboxServer
from sandbox.smtp import SmtpSink
from supporters import services
from supporters.rehearsal import connect_sandbox_account

CI = os.environ.get("CI") == "true"
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
PASSWORD = "correct horse battery"
TEST_TOKEN_KEY = "dGVzdC10b2tlbi1rZXktb2YtdGhpcnR5LXR3by1ieXQ="  # 32 bytes, urlsafe base64


def _postgres_address() -> tuple[str, int]:
    url = make_url(POSTGRES_ADMIN_URL)
    return url.host or "127.0.0.1", url.port or 5432


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(_postgres_address(), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection to a host other than this machine."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            raise RuntimeError(f"a test tried to reach {address[0]}: tests stay on 127.0.0.1")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this run's own on the local PostgreSQL, dropped at the end."""
    if not _postgres_reachable():
        host, port = _postgres_address()
        if CI:
            pytest.fail(f"CI=true but PostgreSQL is not reachable at {host}:{port}")
        pytest.skip(f"PostgreSQL not reachable at {host}:{port}")
    name = f"porte_voix_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis, as Celery's broker (each run uses a queue of its own on it)."""
    url = make_url(REDIS_URL.replace("redis://", "redis+x://", 1))
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 6379), timeout=1):
            pass
    except OSError:
        if CI:
            pytest.fail(f"CI=true but Redis is not reachable at {url.host}:{url.port}")
        pytest.skip(f"Redis not reachable at {url.host}:{url.port or 6379}")
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_uri(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def app(database_uri: str, tmp_path: Any) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "SECRET_KEY": "test-secret",
            "TOKEN_KEYS": (TEST_TOKEN_KEY,),
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "localhost",
            "PUBLIC_URL": "http://localhost",  # the only source of absolute URLs: the test client's host
            "BABEL_DEFAULT_LOCALE": "en",  # messages outside a request; pages pick theirs
            "SANDBOX_MOUNT": False,  # tests that talk to networks use the `sandbox` server fixture
            "SANDBOX_URL": "http://127.0.0.1:9/unused-sandbox",
            "NETWORK_TIMEOUT": UNHURRIED_TIMEOUT,
            "ALTCHA_ENABLED": False,  # tests/test_abuse.py solves the proof of work as a browser would
            "PAGE_VERSION_MAX_AGE": 0.0,  # a change shows on the next request (the snapshot test sets it back)
        }
    )
    with app.app_context():
        db.create_all()  # on PostgreSQL, the schema a previous test left: only its missing tables are made
    yield app
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            empty_tables()
        else:
            db.drop_all()
        db.engine.dispose()


def empty_tables() -> None:
    """Every table emptied and every id counter back at 1, the schema kept for the next test: on PostgreSQL,
    making the schema costs 0.6 s a test (a DELETE a table and a sequence restart, 0.05 s)."""
    deletes = [f'DELETE FROM "{table.name}"' for table in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as connection:
        sequences = connection.exec_driver_sql(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
        ).scalars()
        restarts = [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
        connection.exec_driver_sql("; ".join(deletes + restarts))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An app context for tests that call services directly."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def make_org(app: Flask) -> Callable[..., Organisation]:
    def make(name: str = "Collectif Test") -> Organisation:
        with app.app_context():
            organisation = Organisation(name=name)
            db.session.add(organisation)
            db.session.commit()
            db.session.refresh(organisation)
            db.session.expunge(organisation)
            return organisation

    return make


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    def make(organisation: Organisation, role: Role = Role.ORGANISER, email: str | None = None) -> User:
        with app.app_context():
            user = User(
                organisation_id=organisation.id,
                email=email or f"{role.value}-{uuid.uuid4().hex[:6]}@test.example",
                name=role.value.title(),
                role=role,
            )
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return make


def recipient(organisation_id: int, number: int, **overrides: Any) -> Recipient:
    values: dict[str, Any] = {
        "organisation_id": organisation_id,
        "source": "test",
        "external_id": f"T{number:03d}",
        "role": TargetRole.DEPUTY,
        "first_name": f"Prénom{number}",
        "last_name": f"Nom{number}",
        "gender": Gender.FEMALE if number % 2 else Gender.MALE,
        "group_name": "Groupe A" if number % 2 else "Groupe B",
        "constituency": f"Circonscription {number}",
        "constituency_code": f"75{number:02d}",
        "department": "75",
        "handle_x": f"depute{number}",
        "handle_bluesky": f"depute{number}.bsky.social",
        "handle_mastodon": f"depute{number}@piaille.fr",
        "email": f"depute{number}@assemblee.test",
    }
    values.update(overrides)
    return Recipient(**values)


@pytest.fixture
def make_campaign(app: Flask) -> Callable[..., Campaign]:
    """A live campaign with `targets` deputies and `variants` variants; returns it detached."""

    def make(
        organisation: Organisation,
        *,
        targets: int = 3,
        variants: list[str] | None = None,
        status: CampaignStatus = CampaignStatus.LIVE,
        **fields: Any,
    ) -> Campaign:
        with app.app_context():
            db.session.add_all(recipient(organisation.id, n) for n in range(1, targets + 1))
            db.session.flush()
            values: dict[str, Any] = {
                "title": "Pour le Livre blanc",
                "cause": "Une cause.\n\nDeux paragraphes.",
                "language": "fr",
                "hashtags": "LivreBlanc",
                "link": "https://example.org/livre-blanc",
                "target_criteria": {"roles": ["deputy"]},  # the organiser's choice: every deputy
            }
            values.update(fields)
            campaign = save_campaign(Campaign(organisation_id=organisation.id), **values)
            bodies = variants or ["{handle} {salutation}, lisez {link} {hashtags}", "Bonjour {name}, {link}"]
            save_message(
                campaign,
                None,
                label="Principal",
                bodies=bodies,
                email_subject="Le Livre blanc, pour {name}",
                email_body="{salutation},\n\nLisez le Livre blanc : {link}\n\nBien à vous,",
            )
            if status is not CampaignStatus.DRAFT:
                change_status(campaign, CampaignStatus.LIVE)
            if status in (CampaignStatus.PAUSED, CampaignStatus.ENDED):
                change_status(campaign, status)
            db.session.commit()
            db.session.refresh(campaign)
            db.session.expunge(campaign)
            return campaign

    return make


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


# A call whose answer the test expects waits long (a loaded CI machine once took over a second to answer a
# Bluesky post); only while the sandbox answers late on purpose does the client give up soon (`answers_late`).
UNHURRIED_TIMEOUT = 10.0
LATE_TIMEOUT = 1.0
LATE_SECONDS = 1.5  # how late the sandbox answers: after the impatient client gave up


@pytest.fixture
def clean_sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The sandbox networks, emptied, with default knobs and a real clock (no app needed)."""
    sandbox_server.state.knobs = Knobs(timeout_seconds=LATE_SECONDS)
    sandbox_server.state.clock = Clock()
    sandbox_server.state.reset()
    return sandbox_server


@pytest.fixture
def sandbox(clean_sandbox: SandboxServer, app: Flask) -> SandboxServer:
    """The clean sandbox, and the app talking to it."""
    sandbox_server = clean_sandbox
    app.config["SANDBOX_URL"] = sandbox_server.url
    app.config["NETWORK_TIMEOUT"] = UNHURRIED_TIMEOUT
    return sandbox_server


@contextmanager
def answers_late(app: Flask, sandbox: SandboxServer, **knobs: Any) -> Iterator[None]:
    """Within: the sandbox set by `knobs` (`timeout_rate=1.0`, `down_hosts=[...]`) answers late and the app
    gives up after LATE_TIMEOUT; after: the knobs and the app's patience as they were."""
    before = {name: getattr(sandbox.state.knobs, name) for name in knobs}
    patience = app.config["NETWORK_TIMEOUT"]
    for name, value in knobs.items():
        setattr(sandbox.state.knobs, name, value)
    app.config["NETWORK_TIMEOUT"] = LATE_TIMEOUT
    try:
        yield
    finally:
        app.config["NETWORK_TIMEOUT"] = patience
        for name, value in before.items():
            setattr(sandbox.state.knobs, name, value)


@pytest.fixture
def connect(app: Flask, sandbox: SandboxServer) -> Callable[..., int]:
    """Connect a supporter's account on a network through the same flows as the pages; returns its id."""

    def make(network: Network, name: str = "camille", supporter_id: int | None = None) -> int:
        with app.app_context():
            supporter = services.get_or_create_supporter(supporter_id, language="fr")
            account = connect_sandbox_account(supporter, network, name)
            db.session.commit()
            return account.id

    return make


@pytest.fixture(scope="session")
def smtp_sink(sandbox_server: SandboxServer) -> Iterator[SmtpSink]:
    """The sandbox's SMTP sink on 127.0.0.1, filing into the sandbox's state."""
    with SmtpSink(sandbox_server.state) as sink:
        yield sink


@pytest.fixture
def mailbox(sandbox: SandboxServer, smtp_sink: SmtpSink, app: Flask) -> Iterator[SandboxServer]:
    """The clean sandbox with its SMTP sink, and the app sending e-mail to it."""
    app.config.update(SMTP_HOST=smtp_sink.host, SMTP_PORT=smtp_sink.port, PUBLIC_URL="http://localhost")
    yield sandbox
    smtp.close_connections()


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the block runs (an executemany counts once)."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def fold(app: Flask) -> int:
    """Run the tallies job once, as the scheduler does every second: the figures then count every click."""
    with app.app_context():
        return fold_tallies()


T = TypeVar("T")


def eventually(read: Callable[[], T], seconds: float, every: float = 0.2) -> T:
    """What `read` returns once it is truthy, asked every `every` seconds for up to `seconds` (another thread
    or process is doing the work); its last answer if it never is."""
    deadline = time.monotonic() + seconds
    while not (answer := read()) and time.monotonic() < deadline:
        time.sleep(every)
    return answer


def login(client: FlaskClient, user: User) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.text


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # ../shared/data, read in place
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the shared data sets are not there")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per missing service (PostgreSQL, Chromium), however many tests it skipped."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"{reason}: {count} test(s) skipped")
