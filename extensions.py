"""Flask extensions, unbound: `app.py` binds them in `register_extensions`."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits.storage import MemoryStorage

from clients import hashed_client, is_static
from database import Base


class SweptMemoryStorage(MemoryStorage):
    """limits' in-process counters (embedded mode), swept by one long-lived thread every second.

    limits 5.8's MemoryStorage starts a new 10 ms timer thread on a hit whenever the last one has ended:
    under load, a thread started (and waited for) every few requests, most of a page's wall time. Its
    counters also expire when read, so the sweep only frees memory; one thread does it here.
    """

    STORAGE_SCHEME = ["swept-memory"]
    SWEEP_EVERY = 1.0  # seconds

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        threading.Thread(target=self._sweep, name="rate-limit-sweeper", daemon=True).start()

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (overrides the parent's private method)
        """No thread per hit: the sweeper below runs the parent's expiry."""

    def _sweep(self) -> None:
        while True:
            time.sleep(self.SWEEP_EVERY)
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login = LoginManager()
babel = Babel()
# Keyed on the hashed client (security.hashed_client), never the address; limits and storage from config.
limiter = Limiter(key_func=hashed_client, default_limits_exempt_when=is_static)

# Models subclass `Model`: Flask-SQLAlchemy's db.Model at run time, our typed Base for mypy
# (which cannot see through db.Model's dynamic creation).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
