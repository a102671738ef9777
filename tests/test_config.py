"""Settings: embedded defaults, the kept secret key, bad values refused."""

from __future__ import annotations

import pytest

from config import Config, ConfigError, load_secret_key


def test_embedded_defaults(tmp_path) -> None:
    config = Config.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'porte-voix.db'}"
    assert config.BABEL_DEFAULT_LOCALE == "fr" and config.SECRET_KEY is None


def test_secret_key_is_generated_once_and_kept(tmp_path) -> None:
    first = load_secret_key(tmp_path)
    assert len(first) > 40 and load_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_urls_use_psycopg3() -> None:
    config = Config.from_env({"DATABASE_URL": "postgres://u@db/pv"})
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@db/pv"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SESSION_COOKIE_SECURE": "maybe"}, "not a boolean"),
        ({"MAX_UPLOAD_BYTES": "5MB"}, "MAX_UPLOAD_BYTES must be a whole number"),
        ({"DEFAULT_LANGUAGE": "de"}, "DEFAULT_LANGUAGE must be one of fr, en"),
    ],
)
def test_bad_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)


def test_demo_seed_is_idempotent(app) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0 and "Demo campaign created" in first.output
    assert "organisatrice@demo.example / demo-organiser" in first.output
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "already there" in second.output
    from sqlalchemy import func, select

    from campaign.models import Campaign
    from extensions import db
    from recipients.models import Recipient

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Recipient)) == 6
        assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_jobs_registry_refuses_duplicates() -> None:
    from scheduler import JobRegistry

    registry = JobRegistry()
    registry.register("tick", lambda now: None, every_seconds=60)
    with pytest.raises(ValueError, match="registered already"):
        registry.register("tick", lambda now: None, every_seconds=60)
    with pytest.raises(ValueError, match="once a second"):
        registry.register("fast", lambda now: None, every_seconds=0)
    assert [job.name for job in registry] == ["tick"]
