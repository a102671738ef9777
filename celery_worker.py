"""The Celery workers' entry point: `celery -A celery_worker worker --pool threads --concurrency 16`.

It builds the app from the environment (DATABASE_URL, CELERY_BROKER_URL, DISPATCH=celery…) like
`flask` does; the workers run `scheduler.outbox.process`, the same code as embedded mode's threads.
"""

from __future__ import annotations

import os

from app import create_app

os.environ.setdefault("DISPATCH", "celery")
flask_app = create_app()
celery = flask_app.extensions["porte_voix_celery"]
