"""Building a team client server's runtime from the app's settings (``app.py`` calls
``client_runtime`` in client mode)."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from oui_jupyter.team.client.runtime import ClientRuntime
from oui_jupyter.team.client.upstream import TeamSettings, normalise_team_url

if TYPE_CHECKING:
    from oui_jupyter.app import OuiJupyter
    from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService

log = logging.getLogger(__name__)
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"


def team_settings(app: OuiJupyter) -> TeamSettings:
    if not app.team_url:
        log.error("oui: team_mode is 'client' but OuiJupyter.team_url ($OUI_TEAM_URL) is empty")
    if not os.environ.get(TOKEN_ENV):
        log.error("oui: team client mode without $%s: the service will refuse us", TOKEN_ENV)
    return TeamSettings(
        team_url=normalise_team_url(app.team_url or "http://127.0.0.1:9/"),
        token=os.environ.get(TOKEN_ENV, ""),
        connect_timeout=app.connect_timeout,
        read_timeout=app.completion_timeout,
    )


def embeddings_config(config: RetrievalConfig, settings: TeamSettings) -> RetrievalConfig:
    """The index embeds through the service's ``oui/api/embeddings`` with this server's
    token (no torch here); the model is the one the service serves under that name."""
    return replace(
        config,
        embedding_engine="openai",
        embedding_base_url=f"{settings.team_url}oui/api",
        embedding_api_key=settings.token,
    )


def client_runtime(app: OuiJupyter) -> ClientRuntime:
    settings = team_settings(app)

    def build(runtime: ClientRuntime) -> RetrievalService | None:
        from oui_jupyter.team.client.embeddings import TeamClientRetrieval

        if not app.index_workspace:
            return None
        Path(app.data_dir).mkdir(parents=True, exist_ok=True)
        config = embeddings_config(app._retrieval_config(), settings)
        retrieval = TeamClientRetrieval(config, on_progress=runtime.index_progress)
        app._listen_to_contents(retrieval)
        log.info("oui: team client of %s; workspace index in %s", settings.team_url, app.data_dir)
        return retrieval

    runtime = ClientRuntime(
        settings,
        build,
        max_body_size=app.max_body_size,
        max_upload_size=app.max_upload_size,
        rag_top_k=app.rag_top_k,
        rag_budget_chars=app.rag_budget_chars,
        build_tools=app._build_tools,
    )
    # oui/mcp: the built-ins over this server's files (the MCP servers' tools are the
    # service's, where the turns run)
    runtime.hub_admins = set(app.hub_admins)
    runtime.mcp_factory = lambda retrieval: app._build_mcp(
        app._build_tools(retrieval), servers=False
    )
    return runtime
