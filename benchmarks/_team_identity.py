"""The benchmarks' stand-in for the hub: ``Authorization: token <name>-token`` is user <name>
(names ``u0``, ``u1``...), so a load test can have as many users as it likes."""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User

BENCH_TOKEN = re.compile(r"(u\d{1,4})-token")


class BenchIdentityProvider(IdentityProvider):
    def get_user(self, handler: Any) -> Any:
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        match = BENCH_TOKEN.fullmatch(token)
        if scheme.lower() == "token" and match:
            handler._token_authenticated = True  # token auth: exempt from XSRF, as Jupyter's
            name = match.group(1)
            return User(username=name, name=name, display_name=name)
        return super().get_user(handler)
