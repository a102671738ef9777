"""The application factory: it wires config, extensions, blueprints, commands and jobs; nothing else."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

import i18n
import security
from config import Config, load_secret_key
from database import engine_options
from extensions import babel, csrf, db, login, migrate
from tokenbox import load_token_keys


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. Tests pass `overrides` (the database URI, TESTING…)."""
    settings = Config.from_env()
    app = Flask(__name__, instance_path=settings.INSTANCE_PATH)
    app.config.from_mapping(settings.to_flask())
    if overrides:
        app.config.update(overrides)  # before init_app: extensions read config there
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(Path(app.instance_path))
    if not app.config.get("SQLALCHEMY_ENGINE_OPTIONS"):
        threads = int(app.config["DELIVERY_WORKERS"]) + int(app.config["WEB_THREADS"])
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config["SQLALCHEMY_DATABASE_URI"], threads=threads)
    if not app.config.get("TOKEN_KEYS"):
        app.config["TOKEN_KEYS"] = tuple(load_token_keys(Path(app.instance_path)))
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_jobs(app)
    register_sandbox(app)
    return app


def register_extensions(app: Flask) -> None:
    import accounts.models  # noqa: F401  (models must be known before Alembic compares metadata)
    import analytics.models  # noqa: F401
    import campaign.models  # noqa: F401
    import campaign.tallies  # noqa: F401
    import privacy.models  # noqa: F401
    import recipients.models  # noqa: F401
    import scheduler.models  # noqa: F401
    import supporters.models  # noqa: F401

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login.init_app(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        timezone_selector=i18n.select_timezone,
        default_translation_directories="translations",
    )
    i18n.init_app(app)
    security.init_app(app)
    if app.config["DISPATCH"] == "celery":
        from scheduler import celery

        celery.init_app(app)


def register_blueprints(app: Flask) -> None:
    import campaign.views_lifecycle  # noqa: F401 (its routes join the campaign_admin blueprint)
    from accounts import views as accounts_views
    from accounts.views import bp as accounts_bp
    from accounts.views_org import bp as organisation_bp
    from accounts.views_security import bp as security_bp
    from accounts.views_staff import bp as staff_bp
    from analytics.views import bp as analytics_bp
    from campaign import events, labels
    from campaign.views_admin import bp as campaign_admin_bp
    from campaign.views_posting import bp as campaign_posting_bp
    from campaign.views_public import bp as campaign_public_bp
    from errors import register_error_handlers
    from privacy.views import bp as privacy_bp
    from privacy.views_admin import bp as privacy_admin_bp
    from proof import bp as proof_bp
    from recipients import labels as recipient_labels
    from recipients.views import bp as recipients_bp
    from recipients.views_import import bp as recipient_imports_bp
    from recipients.views_lists import bp as recipient_lists_bp
    from scheduler import banner as scheduler_banner
    from supporters.views import bp as supporters_bp
    from waves import life as wave_life
    from waves.views import bp as campaign_waves_bp
    from waves.views_optin import bp as optin_bp
    from waves.views_public import bp as campaign_waves_public_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(security_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(organisation_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(privacy_admin_bp)
    app.register_blueprint(campaign_admin_bp)
    app.register_blueprint(campaign_public_bp)
    app.register_blueprint(campaign_posting_bp)
    app.register_blueprint(recipients_bp)
    app.register_blueprint(recipient_imports_bp)
    app.register_blueprint(recipient_lists_bp)
    app.register_blueprint(supporters_bp)
    app.register_blueprint(optin_bp)
    app.register_blueprint(campaign_waves_bp)
    app.register_blueprint(campaign_waves_public_bp)
    app.register_blueprint(analytics_bp)
    app.register_blueprint(proof_bp)
    register_error_handlers(app)
    accounts_views.init_app(app)
    labels.init_app(app)
    events.init_app(app)
    wave_life.init_app(app)
    recipient_labels.init_app(app)
    scheduler_banner.init_app(app)


def register_commands(app: Flask) -> None:
    from accounts.cli import accounts_cli
    from analytics.cli import analytics_cli
    from demo.cli import demo_cli
    from recipients.cli import recipients_cli
    from sandbox.cli import sandbox_cli
    from scheduler.cli import scheduler_cli

    app.cli.add_command(accounts_cli)
    app.cli.add_command(analytics_cli)
    app.cli.add_command(recipients_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(sandbox_cli)
    app.cli.add_command(scheduler_cli)


def register_jobs(app: Flask) -> None:
    """Tell the scheduler what to run and the outbox who delivers what (starts nothing)."""
    from accounts import mailing, staff
    from analytics import engagement
    from campaign import fold, tallies
    from campaign.confirm import confirm_link_posts
    from privacy import requests as privacy_requests
    from privacy.models import DATA_LINK
    from privacy.retention import run_retention
    from scheduler import JobRegistry
    from scheduler.jobs import tick_outbox
    from scheduler.outbox import Outbox
    from supporters import posting
    from waves import jobs as wave_jobs
    from waves import optin, pledges, reminders
    from waves.models import CONFIRM, PLEDGE, REMINDER

    jobs = app.extensions["porte_voix_jobs"] = JobRegistry()
    jobs.register("outbox", tick_outbox, every_seconds=2)
    jobs.register("tallies", fold.fold_tallies, every_seconds=1)
    jobs.register("confirm_link_posts", confirm_link_posts, every_seconds=60)
    jobs.register("refresh_followers", posting.refresh_followers, every_seconds=3600)
    jobs.register("waves", wave_jobs.tick_waves, every_seconds=5)
    jobs.register("reminders", wave_jobs.queue_reminders, every_seconds=5)
    jobs.register("pledges", pledges.release_due_pledges, every_seconds=2)
    jobs.register("post_metrics", engagement.refresh_post_metrics, every_seconds=300)
    jobs.register("retention", run_retention, every_seconds=24 * 3600)
    outbox = app.extensions["porte_voix_outbox"] = Outbox()
    outbox.register(
        posting.KIND, posting.deliver_post, load=posting.load_accounts, on_posted=tallies.on_deliveries_posted
    )
    outbox.register(PLEDGE, pledges.deliver_pledge, load=pledges.load_pledges, on_posted=tallies.on_deliveries_posted)
    outbox.register(REMINDER, reminders.deliver_reminder, load=reminders.load_reminders)
    outbox.register(CONFIRM, optin.deliver_confirmation)
    outbox.register(staff.INVITATION, mailing.deliver_invitation)
    outbox.register(staff.PASSWORD_RESET, mailing.deliver_reset)
    outbox.register(DATA_LINK, privacy_requests.deliver_data_link)


def register_sandbox(app: Flask) -> None:
    """Serve the sandbox networks at /sandbox when a network is not live (embedded mode's default)."""
    from supporters.networks import API_NETWORKS

    live = set(app.config.get("LIVE_NETWORKS", ()))
    if not app.config.get("SANDBOX_MOUNT") or all(network.value in live for network in API_NETWORKS):
        return
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from sandbox import Knobs, State, create_sandbox
    from sandbox.gate import StaffOnly

    # The demo's targets live under .demo.example: on the sandbox's Bluesky their handles exist.
    state = app.extensions["porte_voix_sandbox"] = State(knobs=Knobs(bluesky_existing_domains=["demo.example"]))
    sandbox = StaffOnly(create_sandbox(state), app)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/sandbox": sandbox})  # type: ignore[method-assign]
