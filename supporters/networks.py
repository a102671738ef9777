"""Where each network is reached from this deployment: for real, or in the sandbox (from the settings)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from channels import Network, mastodon
from channels.clients import Client, Holder, client
from channels.http import Endpoint
from channels.x import XApp
from extensions import db
from supporters.models import MastodonApp, SocialAccount
from tokenbox import token_box

API_NETWORKS = (Network.X, Network.BLUESKY, Network.MASTODON)


def is_live(network: Network) -> bool:
    return network.value in current_app.config.get("LIVE_NETWORKS", ())


def connectable_networks() -> list[Network]:
    """The networks a supporter may connect an account on: all of them in rehearsal (the sandbox stands in),
    only the live ones in production, where the others are offered as compose links only."""
    production = bool(current_app.config.get("PRODUCTION"))
    return [network for network in API_NETWORKS if not production or is_live(network)]


def endpoint(network: Network) -> Endpoint:
    """The network itself when it is live, else the sandbox standing in for it."""
    config = current_app.config
    return Endpoint(None if is_live(network) else config["SANDBOX_URL"], timeout=float(config["NETWORK_TIMEOUT"]))


def x_app(redirect_uri: str) -> XApp:
    config = current_app.config
    return XApp(config["X_CLIENT_ID"], config.get("X_CLIENT_SECRET"), redirect_uri)


def kept_mastodon_app(instance: str) -> mastodon.MastodonApp | None:
    """Our app registered on `instance`, as kept (None when we have none there)."""
    kept = db.session.scalar(select(MastodonApp).where(MastodonApp.instance == instance))
    if kept is None:
        return None
    return mastodon.MastodonApp(instance, kept.client_id, token_box().open(kept.sealed_secret))


def client_of(account: SocialAccount) -> Client:
    """The network's client for this connected account, reached where this deployment reaches it."""
    holder = Holder(account.handle, account.instance, account.remote_id)
    return client(
        account.network,
        endpoint(account.network),
        holder,
        x_app=x_app("") if account.network is Network.X else None,
        mastodon_app=lambda: kept_mastodon_app(account.instance),
    )
