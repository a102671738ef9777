"""Connected accounts on the sandbox networks without a browser: the consent page is answered by code.

For tests, benchmarks and rehearsals only: it drives the same flows as the pages (PKCE, the
per-instance Mastodon app, the Bluesky app-password session) and keeps the account the same way.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from channels import Network, bluesky, mastodon, x
from channels.api import pkce_pair
from channels.clients import x_grant
from supporters import services
from supporters.models import SocialAccount, Supporter
from supporters.networks import endpoint, x_app

CALLBACK = "http://127.0.0.1/s/connect/callback"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # noqa: S105 (the sandbox takes any well-formed one)


def approve(authorize_url: str, username: str) -> str:
    """Answer the sandbox's consent page as `username`; returns the authorisation code it sends back."""
    response = requests.post(
        authorize_url, data={"username": username, "decision": "allow"}, allow_redirects=False, timeout=10
    )
    response.raise_for_status()
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def connect_sandbox_account(
    supporter: Supporter, network: Network, name: str, *, instance: str = "piaille.example"
) -> SocialAccount:
    """Connect `name` on `network` in the sandbox for `supporter`. Flushes; the caller commits."""
    ep = endpoint(network)
    verifier, challenge = pkce_pair()
    if network is Network.X:
        code = approve(x.authorize_url(ep, x_app(CALLBACK), state="rehearsal", challenge=challenge), name)
        tokens = x.exchange_code(ep, x_app(CALLBACK), code=code, verifier=verifier)
        return services.connect(
            supporter, network, x.profile(ep, tokens.access), x_grant(tokens).secrets, expires_at=tokens.expires_at
        )
    if network is Network.MASTODON:
        app = services.mastodon_app(instance, redirect_uri=CALLBACK)
        code = approve(
            mastodon.authorize_url(ep, app, redirect_uri=CALLBACK, state="rehearsal", challenge=challenge), name
        )
        token = mastodon.exchange_code(ep, app, redirect_uri=CALLBACK, code=code, verifier=verifier)
        limit = mastodon.server_info(ep, instance).max_characters
        return services.connect(
            supporter,
            network,
            mastodon.profile(ep, instance, token),
            {"access": token},
            instance=instance,
            char_limit=limit,
        )
    session = bluesky.create_session(ep, f"{name}.bsky.social", APP_PASSWORD)
    return services.connect(
        supporter,
        network,
        bluesky.profile(ep, session),
        session.as_dict(),
        instance=session.service,
        expires_at=session.expires_at,
    )
