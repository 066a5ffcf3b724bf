"""Until the lead merges .handoff/retrieval.md into app.py/routes.py, wire the retrieval
services into the test server the same way (a no-op once they are merged)."""
from __future__ import annotations

from typing import Any

import pytest


def wire(monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> None:
    from oui_jupyter import app as app_module
    from oui_jupyter.handlers import files, knowledge, retrieval, routes

    if not any(path == r"v1/retrieval/status" for path, _ in routes.ROUTES):
        kid, fid = r"(?P<knowledge_id>[\w-]{1,64})", r"(?P<file_id>[\w-]{1,64})"
        extra = [
            (r"v1/retrieval/status", retrieval.RetrievalStatusHandler),
            (r"v1/retrieval/config", retrieval.RetrievalConfigHandler),
            (r"v1/retrieval/config/update", retrieval.RetrievalConfigUpdateHandler),
            (r"v1/retrieval/query/collection", retrieval.QueryCollectionHandler),
            (r"v1/retrieval/query/doc", retrieval.QueryDocHandler),
            (r"v1/retrieval/process/text", retrieval.ProcessTextHandler),
            (r"v1/retrieval/process/file", retrieval.ProcessFileHandler),
            (r"v1/knowledge(?:/list)?/?", knowledge.KnowledgeListHandler),
            (r"v1/knowledge/create", knowledge.KnowledgeCreateHandler),
            (r"v1/knowledge/reindex", knowledge.KnowledgeReindexHandler),
            (rf"v1/knowledge/{kid}", knowledge.KnowledgeHandler),
            (rf"v1/knowledge/{kid}/update", knowledge.KnowledgeUpdateHandler),
            (rf"v1/knowledge/{kid}/file/add", knowledge.KnowledgeFileAddHandler),
            (rf"v1/knowledge/{kid}/file/remove", knowledge.KnowledgeFileRemoveHandler),
            (rf"v1/knowledge/{kid}/reset", knowledge.KnowledgeResetHandler),
            (rf"v1/knowledge/{kid}/delete", knowledge.KnowledgeDeleteHandler),
            (r"v1/files/?", files.FilesHandler),
            (rf"v1/files/{fid}", files.FileHandler),
            (rf"v1/files/{fid}/content", files.FileContentHandler),
            (rf"v1/files/{fid}/process/status", files.FileStatusHandler),
        ]
        monkeypatch.setattr(routes, "ROUTES", routes.ROUTES + extra)

    original = app_module.OuiJupyter.build_services

    def build_services(self: Any) -> Any:
        services = original(self)
        if "retrieval" in services.__dict__:
            return services
        from oui_jupyter.services.retrieval.build import build_retrieval
        from oui_jupyter.services.retrieval.service import RetrievalConfig

        cfg = RetrievalConfig(root_dir=self.serverapp.root_dir, data_dir=self.data_dir, **overrides)
        bundle = build_retrieval(services.db, cfg, max_upload_size=overrides.get("max_file_size", 50 << 20))
        services.retrieval, services.knowledge, services.files = bundle.retrieval, bundle.knowledge, bundle.files
        services.on_close(bundle.close)
        return services

    monkeypatch.setattr(app_module.OuiJupyter, "build_services", build_services)
