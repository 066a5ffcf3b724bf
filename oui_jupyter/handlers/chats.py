"""Chat routes in Open WebUI's shapes (``/api/v1/chats/...`` there, ``oui/api/v1/chats/...`` here)."""
from __future__ import annotations

from typing import Any

import msgspec
from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import InvalidInput, NotFound
from oui_jupyter.handlers.base import OuiHandler, Operation
from oui_jupyter.schemas.chats import (
    ChatForm,
    ChatResponse,
    ChatSaveForm,
    ChatTitleIdResponse,
    ExportQuery,
    FolderIdForm,
    ListChatsQuery,
    MessageContentForm,
    SearchChatsQuery,
    TagForm,
    TagResponse,
    TitleForm,
)
from oui_jupyter.services import chat_export


class ChatsHandler(OuiHandler):
    api = {
        "get": Operation(
            "List your chats, newest first, without message bodies (60 a page)",
            query=ListChatsQuery,
            response=list[ChatTitleIdResponse],
        ),
        "delete": Operation("Delete all your chats", response=bool),
    }

    @web.authenticated
    @authorized
    def get(self) -> None:
        query = self.parse_query(ListChatsQuery)
        pinned = None if query.include_pinned else False
        self.write_json(self.services.chats.list_chats(self.user.id, query.page, pinned=pinned))

    @web.authenticated
    @authorized
    def delete(self) -> None:
        self.services.chats.delete_all(self.user.id)
        self.write_json(True)


class PinnedChatsHandler(OuiHandler):
    api = {"get": Operation("Your pinned chats", response=list[ChatTitleIdResponse])}

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.services.chats.list_chats(self.user.id, None, pinned=True))


class ArchivedChatsHandler(OuiHandler):
    api = {
        "get": Operation(
            "Your archived chats", query=ListChatsQuery, response=list[ChatTitleIdResponse]
        )
    }

    @web.authenticated
    @authorized
    def get(self) -> None:
        query = self.parse_query(ListChatsQuery)
        self.write_json(self.services.chats.list_chats(self.user.id, query.page, archived=True))


class NewChatHandler(OuiHandler):
    api = {"post": Operation("Create a chat", body=ChatForm, response=ChatResponse)}

    @web.authenticated
    @authorized
    def post(self) -> None:
        form = self.parse_body(ChatForm)
        self.write_json(self.services.chats.create(self.user.id, form.chat, form.folder_id))


class SearchChatsHandler(OuiHandler):
    api = {
        "get": Operation(
            "Search your chats' titles and messages",
            query=SearchChatsQuery,
            response=list[ChatTitleIdResponse],
        )
    }

    @web.authenticated
    @authorized
    def get(self) -> None:
        query = self.parse_query(SearchChatsQuery)
        self.write_json(self.services.chats.search(self.user.id, query.text, query.page))


class ImportChatsHandler(OuiHandler):
    api = {
        "post": Operation(
            "Import chats exported by Open WebUI (one chat, a list, or {chats: [...]})",
            body=dict[str, Any],
            response=list[ChatResponse],
        )
    }

    @web.authenticated
    @authorized
    def post(self) -> None:
        body = self.parse_json()
        if isinstance(body, dict) and isinstance(body.get("chats"), list):
            items = body["chats"]
        elif isinstance(body, dict):
            items = [body]
        elif isinstance(body, list):
            items = body
        else:
            raise InvalidInput("Expected a chat object or a list of chats")
        if not items:
            raise InvalidInput("Nothing to import")
        self.write_json(self.services.chats.import_chats(self.user.id, items))


class ChatHandler(OuiHandler):
    api = {
        "get": Operation("Read a chat with its message tree", response=ChatResponse),
        "post": Operation(
            "Merge-update a chat: new messages are added, changed ones updated, none deleted. "
            "With the header `Prefer: return=minimal` the answer leaves out the message tree",
            body=ChatForm,
            response=ChatResponse,
        ),
        "delete": Operation("Delete a chat", response=bool),
    }

    @web.authenticated
    @authorized
    def get(self, chat_id: str) -> None:
        self.write_json(self.services.chats.get(self.user.id, chat_id))

    @web.authenticated
    @authorized
    def post(self, chat_id: str) -> None:
        form = self.parse_body(ChatSaveForm)
        chats = self.services.chats
        if form.folder_id is not None:
            chats.move_to_folder(self.user.id, chat_id, form.folder_id)
        self.write_json(chats.merge_update(self.user.id, chat_id, form.decoded(), minimal=self.minimal))

    @web.authenticated
    @authorized
    def delete(self, chat_id: str) -> None:
        self.services.chats.delete(self.user.id, chat_id)
        self.write_json(True)


class ChatMessageContentHandler(OuiHandler):
    api = {
        "post": Operation(
            "Set one message's text (Open WebUI's per-message update): one row written, a "
            "`chat:message` event to your sockets; answers the chat (with `Prefer: "
            "return=minimal`, without its message tree); 409 while a generation writes it",
            body=MessageContentForm,
            response=ChatResponse,
            statuses=(409,),
        )
    }

    @web.authenticated
    @authorized
    def post(self, chat_id: str, message_id: str) -> None:
        form = self.parse_body(MessageContentForm)
        self.write_json(self.services.chats.set_message_content(
            self.user.id, chat_id, message_id, form.content, minimal=self.minimal))


class ChatToggleHandler(OuiHandler):
    """``pin`` and ``archive`` flip a flag, as Open WebUI does."""

    field: str = ""

    @web.authenticated
    @authorized
    def post(self, chat_id: str) -> None:
        self.write_json(self.services.chats.toggle(self.user.id, chat_id, self.field))


class PinChatHandler(ChatToggleHandler):
    field = "pinned"
    api = {"post": Operation("Pin or unpin a chat", response=ChatResponse)}


class ArchiveChatHandler(ChatToggleHandler):
    field = "archived"
    api = {"post": Operation("Archive or unarchive a chat", response=ChatResponse)}


class CloneChatForm(msgspec.Struct):
    title: str | None = None


class CloneChatHandler(OuiHandler):
    api = {"post": Operation("Copy a chat with all its messages", body=CloneChatForm, response=ChatResponse)}

    @web.authenticated
    @authorized
    def post(self, chat_id: str) -> None:
        form = self.parse_body(CloneChatForm)
        self.write_json(self.services.chats.clone(self.user.id, chat_id, form.title))


class ShareChatHandler(OuiHandler):
    api = {
        "post": Operation("Give a chat a share id readable by this server's users", response=ChatResponse),
        "delete": Operation("Stop sharing a chat", response=bool),
    }

    @web.authenticated
    @authorized
    def post(self, chat_id: str) -> None:
        self.write_json(self.services.chats.share(self.user.id, chat_id))

    @web.authenticated
    @authorized
    def delete(self, chat_id: str) -> None:
        self.services.chats.unshare(self.user.id, chat_id)
        self.write_json(True)


class ChatFolderHandler(OuiHandler):
    api = {"post": Operation("Move a chat to a folder (null: out of folders)", body=FolderIdForm, response=ChatResponse)}

    @web.authenticated
    @authorized
    def post(self, chat_id: str) -> None:
        form = self.parse_body(FolderIdForm)
        self.write_json(self.services.chats.move_to_folder(self.user.id, chat_id, form.folder_id))


class ChatTitleHandler(OuiHandler):
    api = {"post": Operation("Rename a chat", body=TitleForm, response=ChatResponse)}

    @web.authenticated
    @authorized
    def post(self, chat_id: str) -> None:
        form = self.parse_body(TitleForm)
        self.write_json(self.services.chats.set_title(self.user.id, chat_id, form.title))


class ChatTagsHandler(OuiHandler):
    api = {
        "get": Operation("A chat's tags", response=list[TagResponse]),
        "post": Operation("Tag a chat", body=TagForm, response=list[TagResponse]),
        "delete": Operation("Untag a chat", body=TagForm, response=list[TagResponse]),
    }

    @web.authenticated
    @authorized
    def get(self, chat_id: str) -> None:
        self.write_json(self.services.chats.tags(self.user.id, chat_id))

    @web.authenticated
    @authorized
    def post(self, chat_id: str) -> None:
        form = self.parse_body(TagForm)
        self.write_json(self.services.chats.add_tag(self.user.id, chat_id, form.name))

    @web.authenticated
    @authorized
    def delete(self, chat_id: str) -> None:
        form = self.parse_body(TagForm)
        self.write_json(self.services.chats.remove_tag(self.user.id, chat_id, form.name))


class ChatTagsClearHandler(OuiHandler):
    api = {"delete": Operation("Remove every tag from a chat", response=bool)}

    @web.authenticated
    @authorized
    def delete(self, chat_id: str) -> None:
        self.services.chats.clear_tags(self.user.id, chat_id)
        self.write_json(True)


class AllTagsHandler(OuiHandler):
    api = {"get": Operation("All your tags", response=list[TagResponse])}

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.services.chats.all_tags(self.user.id))


class ChatsByTagHandler(OuiHandler):
    api = {"post": Operation("Your chats with a tag", body=TagForm, response=list[ChatTitleIdResponse])}

    @web.authenticated
    @authorized
    def post(self) -> None:
        form = self.parse_body(TagForm)
        self.write_json(self.services.chats.chats_by_tag(self.user.id, form.name))


class ChatsInFolderHandler(OuiHandler):
    api = {"get": Operation("Your chats in a folder", response=list[ChatTitleIdResponse])}

    @web.authenticated
    @authorized
    def get(self, folder_id: str) -> None:
        self.services.chats.folder(self.user.id, folder_id)
        self.write_json(self.services.chats.list_chats(self.user.id, None, folder_id=folder_id))


class SharedChatHandler(OuiHandler):
    api = {"get": Operation("Read a shared chat by its share id", response=ChatResponse)}

    @web.authenticated
    @authorized
    def get(self, share_id: str) -> None:
        chat = self.services.chats.shared(share_id)
        if chat is None:
            raise NotFound(f"Shared chat {share_id} not found")
        self.write_json(chat)


class ExportChatHandler(OuiHandler):
    api = {
        "get": Operation(
            "Export a chat as Open WebUI JSON, Markdown or a notebook",
            query=ExportQuery,
            response=list[ChatResponse],
        )
    }

    @web.authenticated
    @authorized
    def get(self, chat_id: str) -> None:
        query = self.parse_query(ExportQuery)
        chat = self.services.chats.get(self.user.id, chat_id)
        stem = "".join(c if c.isalnum() or c in "-_ " else "_" for c in chat.title)[:80] or "chat"
        if query.format == "json":
            self.write_json([chat])
            return
        if query.format == "markdown":
            body, ctype, ext = chat_export.to_markdown(chat), "text/markdown; charset=UTF-8", "md"
        else:
            body, ctype, ext = chat_export.to_ipynb_text(chat), "application/x-ipynb+json", "ipynb"
        self.set_header("Content-Disposition", f'attachment; filename="{stem}.{ext}"')
        self.finish(body, set_content_type=ctype)
