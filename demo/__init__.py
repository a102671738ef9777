"""The demo organisation and its campaign (`flask demo seed`), apart from real data."""
