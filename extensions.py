"""Flask extensions, unbound: `app.py` binds them in `register_extensions`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from clients import hashed_client, is_static
from database import Base

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
