"""The migrations build exactly the models' schema, on SQLite and PostgreSQL, with one head."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from extensions import db


def _empty() -> None:
    """The database as a fresh one: the other tests leave their schema on PostgreSQL (see `tests/conftest.py`)."""
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def test_upgrade_on_empty_database_matches_models(database_uri) -> None:
    from app import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "t"})
    with app.app_context():
        _empty()
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata)
        assert diff == []
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        db.engine.dispose()


def test_one_head(app) -> None:
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_a_campaign_that_aimed_at_everyone_keeps_its_targets_and_no_more(database_uri) -> None:
    """Before 5a9c3e1b7d42 a campaign without list or filter took every target, so imports joined it; the
    upgrade freezes what it had into a static list of its own, and turns single filters into criteria."""
    from sqlalchemy import text

    from app import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "t"})
    with app.app_context():
        _empty()
        upgrade(revision="3e5b7c9d1f20")
        with db.engine.begin() as connection:
            run = connection.execute
            run(text("INSERT INTO organisation (id, name, created_at) VALUES (1, 'O', CURRENT_TIMESTAMP)"))
            for rid in (1, 2):
                run(
                    text(
                        "INSERT INTO recipient (id, organisation_id, source, external_id, role, title, chamber, "
                        "first_name, last_name, group_name, constituency, constituency_code, department, committees, "
                        "salutation, is_active, created_at, updated_at) VALUES (:id, 1, 's', :ext, 'deputy', '', '', "
                        "'', :name, 'SOC', '', '', '75', '[]', '', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": rid, "ext": f"E{rid}", "name": f"N{rid}"},
                )
            for cid, group in ((1, ""), (2, "SOC")):
                run(
                    text(
                        "INSERT INTO campaign (id, organisation_id, title, slug, cause, language, hashtags, link, "
                        "networks, status, filter_group, filter_department, created_at, updated_at) VALUES "
                        "(:id, 1, :title, :slug, '', 'fr', '', '', '[\"x\"]', 'live', :group, '', CURRENT_TIMESTAMP, "
                        "CURRENT_TIMESTAMP)"
                    ),
                    {"id": cid, "title": f"C{cid}", "slug": f"c{cid}", "group": group},
                )
            run(text("INSERT INTO campaign_target (campaign_id, recipient_id, action_count) VALUES (1, 1, 0)"))
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, recipient_list_id, target_criteria FROM campaign ORDER BY id"))
            (_first, first_list, first_criteria), (_second, second_list, second_criteria) = rows.all()
            members = connection.execute(
                text("SELECT recipient_id FROM recipient_list_member WHERE recipient_list_id = :l"), {"l": first_list}
            ).scalars()
            assert list(members) == [1]  # what it had, not every target
            assert second_list is None
            criteria = [c if isinstance(c, dict) else json.loads(c) for c in (first_criteria, second_criteria)]
            assert criteria == [{}, {"groups": ["SOC"]}]
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        db.engine.dispose()
