"""The route table: every oui route, in one place, relative to ``{base_url}oui/api/``.

Order matters: fixed words (``new``, ``search``...) come before ``{chat_id}``.
"""
from __future__ import annotations

from jupyter_server.utils import url_path_join

from oui_jupyter.handlers import chats, core, folders
from oui_jupyter.handlers.base import OuiHandler

CHAT_ID = r"(?P<chat_id>[\w-]{1,64})"
FOLDER_ID = r"(?P<folder_id>[\w-]{1,64})"
SHARE_ID = r"(?P<share_id>[\w-]{1,64})"

ROUTES: list[tuple[str, type[OuiHandler]]] = [
    (r"version", core.VersionHandler),
    (r"config", core.ConfigHandler),
    (r"openapi\.json", core.OpenAPIHandler),
    (r"v1/users/user", core.CurrentUserHandler),
    # chats
    (r"v1/chats(?:/list)?/?", chats.ChatsHandler),
    (r"v1/chats/new", chats.NewChatHandler),
    (r"v1/chats/search", chats.SearchChatsHandler),
    (r"v1/chats/pinned", chats.PinnedChatsHandler),
    (r"v1/chats/archived", chats.ArchivedChatsHandler),
    (r"v1/chats/import", chats.ImportChatsHandler),
    (r"v1/chats/all/tags", chats.AllTagsHandler),
    (r"v1/chats/tags", chats.ChatsByTagHandler),
    (rf"v1/chats/folder/{FOLDER_ID}", chats.ChatsInFolderHandler),
    (rf"v1/chats/share/{SHARE_ID}", chats.SharedChatHandler),
    (rf"v1/chats/{CHAT_ID}", chats.ChatHandler),
    (rf"v1/chats/{CHAT_ID}/pin", chats.PinChatHandler),
    (rf"v1/chats/{CHAT_ID}/archive", chats.ArchiveChatHandler),
    (rf"v1/chats/{CHAT_ID}/clone", chats.CloneChatHandler),
    (rf"v1/chats/{CHAT_ID}/share", chats.ShareChatHandler),
    (rf"v1/chats/{CHAT_ID}/folder", chats.ChatFolderHandler),
    (rf"v1/chats/{CHAT_ID}/title", chats.ChatTitleHandler),
    (rf"v1/chats/{CHAT_ID}/tags", chats.ChatTagsHandler),
    (rf"v1/chats/{CHAT_ID}/tags/all", chats.ChatTagsClearHandler),
    (rf"v1/chats/{CHAT_ID}/export", chats.ExportChatHandler),
    # folders
    (r"v1/folders/?", folders.FoldersHandler),
    (rf"v1/folders/{FOLDER_ID}(?:/update(?:/parent|/expanded)?)?", folders.FolderHandler),
]


def url_patterns(base_url: str) -> list[tuple[str, type[OuiHandler]]]:
    """Tornado URL specs under ``{base_url}oui/api/``."""
    prefix = url_path_join(base_url, "oui", "api")
    return [(url_path_join(prefix, path) + "$", handler) for path, handler in ROUTES]
