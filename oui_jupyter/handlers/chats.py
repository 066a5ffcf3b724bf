"""Chat routes in Open WebUI's shapes (``/api/v1/chats/...`` there, ``oui/api/v1/chats/...`` here)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import msgspec
from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from oui_jupyter.errors import NotFound
from oui_jupyter.handlers.base import Operation, OuiHandler
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

#: chats read and encoded together by ``v1/chats/all``
EXPORT_BATCH = 20

# One write to a chat at a time. Handlers run their service calls in worker threads (their
# cost grows with the chat); two merge-updates of one chat there could both insert the same
# new message, or two tag changes both rewrite the chat's tag list from the same copy.
_chat_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def chat_lock(chat_id: str) -> asyncio.Lock:
    lock = _chat_locks.get(chat_id)
    if lock is None:
        lock = _chat_locks[chat_id] = asyncio.Lock()
    return lock


class ChatWorkHandler(OuiHandler):
    """Chat routes: the service call runs in a worker thread, where the body is decoded and
    the answer encoded (``OuiHandler.write_json_off_loop``)."""

    async def answer(
        self, work: Callable[..., Any], writes: str | None = None, body: Any = None
    ) -> None:
        """Run ``work`` off the event loop; ``writes``: the chat it changes (one at a time);
        ``body``: the schema of the request body, parsed there and given to ``work``."""
        if writes is None:
            await self.write_json_off_loop(work, body=body)
            return
        async with chat_lock(writes):
            await self.write_json_off_loop(work, body=body)

    async def answer_true(self, work: Callable[[], Any], writes: str | None = None) -> None:
        """``answer`` for a call that returns nothing: the answer is ``true``."""

        def then_true() -> bool:
            work()
            return True

        await self.answer(then_true, writes)


class ChatsHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "List your chats, newest first, without message bodies (60 a page)",
            query=ListChatsQuery,
            response=list[ChatTitleIdResponse],
        ),
        "delete": Operation("Delete all your chats", response=bool),
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(ListChatsQuery)
        pinned = None if query.include_pinned else False
        await self.answer(lambda: self.chats.list_chats(self.user, query.page, pinned=pinned))

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        await self.answer_true(lambda: self.chats.delete_all(self.user))


class PinnedChatsHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Your pinned chats", response=list[ChatTitleIdResponse])
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.answer(lambda: self.chats.list_chats(self.user, None, pinned=True))


class ArchivedChatsHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Your archived chats", query=ListChatsQuery, response=list[ChatTitleIdResponse]
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(ListChatsQuery)
        await self.answer(lambda: self.chats.list_chats(self.user, query.page, archived=True))


class NewChatHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Create a chat", body=ChatForm, response=ChatResponse)
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.answer(
            lambda form: self.chats.create(self.user, form.chat, form.folder_id),
            body=ChatForm,
        )


class SearchChatsHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Search your chats' titles and messages",
            query=SearchChatsQuery,
            response=list[ChatTitleIdResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(SearchChatsQuery)
        await self.answer(lambda: self.chats.search(self.user, query.text, query.page))


class ImportChatsHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Import chats exported by Open WebUI (one chat, a list, or {chats: [...]}). "
            "One request holds at most `max_import_chats` chats and `max_import_messages` "
            "messages in all (413 past them)",
            body=dict[str, Any],
            response=list[ChatResponse],
            statuses=(413,),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.answer(lambda chats: self.chat_bulk.import_chats(self.user, chats), body=Any)


class ExportAllChatsHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "All your chats (archived too) with their message trees, most recently updated "
            "first: Open WebUI's export",
            response=list[ChatResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Sent in pieces of a few chats, each read and encoded in a worker thread."""
        bulk = self.chat_bulk
        ids = await self.off_loop(lambda: bulk.chat_ids(self.user))
        self.set_header("Content-Type", "application/json")
        self.write(b"[")
        first = True
        for start in range(0, len(ids), EXPORT_BATCH):
            part = ids[start : start + EXPORT_BATCH]
            piece = await self.off_loop(partial(bulk.export_piece, self.user, part))
            if piece:
                self.write(piece if first else b"," + piece)
                first = False
                try:
                    await self.flush()
                except StreamClosedError:
                    return  # the client went away
        self.finish(b"]")


class ChatHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
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
    async def get(self, chat_id: str) -> None:
        await self.answer(lambda: self.chats.get(self.user, chat_id))

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        chats = self.chats
        minimal = self.minimal

        def merge(form: ChatSaveForm) -> Any:
            if form.folder_id is not None:
                chats.move_to_folder(self.user, chat_id, form.folder_id)
            return chats.merge_update(self.user, chat_id, form.decoded(), minimal=minimal)

        await self.answer(merge, writes=chat_id, body=ChatSaveForm)

    @web.authenticated
    @authorized
    async def delete(self, chat_id: str) -> None:
        await self.answer_true(lambda: self.chats.delete(self.user, chat_id), writes=chat_id)


class ChatMessageContentHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
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
    async def post(self, chat_id: str, message_id: str) -> None:
        minimal = self.minimal

        def set_content(form: MessageContentForm) -> Any:
            return self.chats.set_message_content(
                self.user, chat_id, message_id, form.content, minimal=minimal
            )

        await self.answer(set_content, writes=chat_id, body=MessageContentForm)


class ChatToggleHandler(ChatWorkHandler):
    """``pin`` and ``archive`` flip a flag, as Open WebUI does."""

    field: str = ""

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        await self.answer(lambda: self.chats.toggle(self.user, chat_id, self.field), writes=chat_id)


class PinChatHandler(ChatToggleHandler):
    field = "pinned"
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Pin or unpin a chat", response=ChatResponse)
    }


class ArchiveChatHandler(ChatToggleHandler):
    field = "archived"
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Archive or unarchive a chat", response=ChatResponse)
    }


class CloneChatForm(msgspec.Struct):
    title: str | None = None


class CloneChatHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Copy a chat with all its messages", body=CloneChatForm, response=ChatResponse
        )
    }

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        form = self.parse_body(CloneChatForm)
        await self.answer(lambda: self.chat_bulk.clone(self.user, chat_id, form.title))


class ShareChatHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Share a snapshot of the chat with every user of the team (sharing again takes a "
            "new snapshot under the same share id)",
            response=ChatResponse,
        ),
        "delete": Operation("Stop sharing a chat", response=bool),
    }

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        await self.answer(lambda: self.chats.share(self.user, chat_id), writes=chat_id)

    @web.authenticated
    @authorized
    async def delete(self, chat_id: str) -> None:
        await self.answer_true(lambda: self.chats.unshare(self.user, chat_id), writes=chat_id)


class ChatFolderHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Move a chat to a folder (null: out of folders)",
            body=FolderIdForm,
            response=ChatResponse,
        )
    }

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        form = self.parse_body(FolderIdForm)
        await self.answer(
            lambda: self.chats.move_to_folder(self.user, chat_id, form.folder_id),
            writes=chat_id,
        )


class ChatTitleHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Rename a chat", body=TitleForm, response=ChatResponse)
    }

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        form = self.parse_body(TitleForm)
        await self.answer(
            lambda: self.chats.set_title(self.user, chat_id, form.title), writes=chat_id
        )


class ChatTagsHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("A chat's tags", response=list[TagResponse]),
        "post": Operation("Tag a chat", body=TagForm, response=list[TagResponse]),
        "delete": Operation("Untag a chat", body=TagForm, response=list[TagResponse]),
    }

    @web.authenticated
    @authorized
    async def get(self, chat_id: str) -> None:
        await self.answer(lambda: self.chats.tags(self.user, chat_id))

    @web.authenticated
    @authorized
    async def post(self, chat_id: str) -> None:
        form = self.parse_body(TagForm)
        await self.answer(lambda: self.chats.add_tag(self.user, chat_id, form.name), writes=chat_id)

    @web.authenticated
    @authorized
    async def delete(self, chat_id: str) -> None:
        form = self.parse_body(TagForm)
        await self.answer(
            lambda: self.chats.remove_tag(self.user, chat_id, form.name), writes=chat_id
        )


class ChatTagsClearHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "delete": Operation("Remove every tag from a chat", response=bool)
    }

    @web.authenticated
    @authorized
    async def delete(self, chat_id: str) -> None:
        await self.answer_true(lambda: self.chats.clear_tags(self.user, chat_id), writes=chat_id)


class AllTagsHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("All your tags", response=list[TagResponse])
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.answer(lambda: self.chats.all_tags(self.user))


class ChatsByTagHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation("Your chats with a tag", body=TagForm, response=list[ChatTitleIdResponse])
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        form = self.parse_body(TagForm)
        await self.answer(lambda: self.chats.chats_by_tag(self.user, form.name))


class ChatsInFolderHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Your chats in a folder", response=list[ChatTitleIdResponse])
    }

    @web.authenticated
    @authorized
    async def get(self, folder_id: str) -> None:
        def in_folder() -> Any:
            self.chats.folder(self.user, folder_id)
            return self.chats.list_chats(self.user, None, folder_id=folder_id)

        await self.answer(in_folder)


class SharedChatHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Read a shared chat by its share id", response=ChatResponse)
    }

    @web.authenticated
    @authorized
    async def get(self, share_id: str) -> None:
        def shared() -> Any:
            chat = self.chats.shared(share_id)
            if chat is None:
                raise NotFound(f"Shared chat {share_id} not found")
            return chat

        await self.answer(shared)


class CloneSharedChatHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Copy a shared chat's snapshot into your own chats (any user who can read it)",
            response=ChatResponse,
        )
    }

    @web.authenticated
    @authorized
    async def post(self, share_id: str) -> None:
        await self.answer(lambda: self.chat_bulk.clone_shared(self.user, share_id))


class ExportChatHandler(ChatWorkHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Export a chat as Open WebUI JSON, Markdown or a notebook",
            query=ExportQuery,
            response=list[ChatResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self, chat_id: str) -> None:
        query = self.parse_query(ExportQuery)
        export = await self.off_loop(
            lambda: chat_export.render(self.chats.get(self.user, chat_id), query.format)
        )
        if export.filename is not None:
            self.set_header("Content-Disposition", f'attachment; filename="{export.filename}"')
        self.finish(export.body, set_content_type=export.content_type)
