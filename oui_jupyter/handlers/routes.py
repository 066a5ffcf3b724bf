"""The route table: every oui route, in one place, relative to ``{base_url}oui/api/``.

Order matters: fixed words (``new``, ``search``...) come before ``{chat_id}``; after the
table, ``NOT_FOUND`` answers every other path under ``oui/api/`` with a JSON 404.
"""

from __future__ import annotations

from oui_jupyter.handlers import (
    audio,
    chats,
    completions,
    core,
    embeddings,
    evaluations,
    events,
    files,
    folders,
    images,
    knowledge,
    library,
    models,
    retrieval,
    tasks,
    team,
    tools,
)
from oui_jupyter.handlers.base import OuiHandler

CHAT_ID = r"(?P<chat_id>[\w-]{1,64})"
FOLDER_ID = r"(?P<folder_id>[\w-]{1,64})"
SHARE_ID = r"(?P<share_id>[\w-]{1,64})"
KNOWLEDGE_ID = r"(?P<knowledge_id>[\w-]{1,64})"
FILE_ID = r"(?P<file_id>[\w-]{1,64})"
MESSAGE_ID = r"(?P<message_id>[\w-]{1,64})"
FEEDBACK_ID = r"(?P<feedback_id>[\w-]{1,64})"
COMMAND = r"(?P<command>[a-z0-9][a-z0-9_-]{0,63})"
MEMORY_ID = r"(?P<memory_id>[\w-]{1,64})"
TOOL_CHANNEL = r"(?P<channel>[\w-]{1,64})"

ROUTES: list[tuple[str, type[OuiHandler]]] = [
    (r"version", core.VersionHandler),
    (r"config", core.ConfigHandler),
    (r"openapi\.json", core.OpenAPIHandler),
    (r"v1/users/user", core.CurrentUserHandler),
    (r"v1/users/user/settings", library.UserSettingsHandler),
    (r"v1/users/user/settings/update", library.UpdateUserSettingsHandler),
    # chats
    (r"v1/chats(?:/list)?/?", chats.ChatsHandler),
    (r"v1/chats/new", chats.NewChatHandler),
    (r"v1/chats/search", chats.SearchChatsHandler),
    (r"v1/chats/pinned", chats.PinnedChatsHandler),
    (r"v1/chats/archived", chats.ArchivedChatsHandler),
    (r"v1/chats/import", chats.ImportChatsHandler),
    (r"v1/chats/all", chats.ExportAllChatsHandler),
    (r"v1/chats/all/tags", chats.AllTagsHandler),
    (r"v1/chats/tags", chats.ChatsByTagHandler),
    (rf"v1/chats/folder/{FOLDER_ID}", chats.ChatsInFolderHandler),
    (rf"v1/chats/share/{SHARE_ID}", chats.SharedChatHandler),
    (rf"v1/chats/share/{SHARE_ID}/clone", chats.CloneSharedChatHandler),
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
    (rf"v1/chats/{CHAT_ID}/message", completions.ChatMessageHandler),
    (rf"v1/chats/{CHAT_ID}/messages/{MESSAGE_ID}", chats.ChatMessageContentHandler),
    # models, completions, live events
    (r"models", models.ModelsHandler),
    (r"v1/models(?:/list)?/?", models.CustomModelsHandler),
    (r"v1/models/create", models.CreateCustomModelHandler),
    (r"v1/models/model", models.CustomModelHandler),
    (r"v1/models/model/update", models.UpdateCustomModelHandler),
    (r"v1/models/model/toggle", models.ToggleCustomModelHandler),
    (r"v1/models/model/delete", models.DeleteCustomModelHandler),
    (r"v1/openai/config", models.OpenAIConfigHandler),
    (r"v1/openai/config/update", models.OpenAIConfigUpdateHandler),
    (r"chat/completions", completions.ChatCompletionsHandler),
    (r"v1/chat/completions", completions.ChatCompletionsHandler),
    (r"embeddings", embeddings.EmbeddingsHandler),
    (r"v1/embeddings", embeddings.EmbeddingsHandler),
    (rf"tasks/chat/{CHAT_ID}", tasks.ChatTasksHandler),
    (rf"tasks/chat/{CHAT_ID}/stop", tasks.StopChatTaskHandler),
    (r"events", events.EventsHandler),  # type: ignore[list-item]
    # retrieval, knowledge collections, uploads
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
    (rf"v1/knowledge/{KNOWLEDGE_ID}", knowledge.KnowledgeHandler),
    (rf"v1/knowledge/{KNOWLEDGE_ID}/update", knowledge.KnowledgeUpdateHandler),
    (rf"v1/knowledge/{KNOWLEDGE_ID}/file/add", knowledge.KnowledgeFileAddHandler),
    (rf"v1/knowledge/{KNOWLEDGE_ID}/file/remove", knowledge.KnowledgeFileRemoveHandler),
    (rf"v1/knowledge/{KNOWLEDGE_ID}/reset", knowledge.KnowledgeResetHandler),
    (rf"v1/knowledge/{KNOWLEDGE_ID}/delete", knowledge.KnowledgeDeleteHandler),
    (r"v1/files/?", files.FilesHandler),
    (rf"v1/files/{FILE_ID}", files.FileHandler),
    (rf"v1/files/{FILE_ID}/content", files.FileContentHandler),
    (rf"v1/files/{FILE_ID}/process/status", files.FileStatusHandler),
    # tools
    (r"v1/tools/?", tools.ToolsHandler),
    # the prompt library and memories
    (r"v1/prompts/?", library.PromptsHandler),
    (r"v1/prompts/list", library.PromptListHandler),
    (r"v1/prompts/create", library.CreatePromptHandler),
    (rf"v1/prompts/command/{COMMAND}", library.CommandHandler),
    (rf"v1/prompts/command/{COMMAND}/update", library.UpdateCommandHandler),
    (rf"v1/prompts/command/{COMMAND}/delete", library.DeleteCommandHandler),
    (r"v1/memories/?", library.MemoriesHandler),
    (r"v1/memories/add", library.AddMemoryHandler),
    (r"v1/memories/query", library.QueryMemoryHandler),
    (r"v1/memories/reset", library.ResetMemoriesHandler),
    (r"v1/memories/delete/user", library.DeleteUserMemoriesHandler),
    (rf"v1/memories/{MEMORY_ID}/update", library.UpdateMemoryHandler),
    (rf"v1/memories/{MEMORY_ID}", library.MemoryByIdHandler),
    (r"v1/tools/undo", tools.UndoHandler),
    (r"v1/tools/approve", tools.ToolApproveHandler),
    (rf"v1/tools/channel/{TOOL_CHANNEL}/requests", tools.ToolChannelRequestsHandler),
    (rf"v1/tools/channel/{TOOL_CHANNEL}/results", tools.ToolChannelResultsHandler),
    # images and audio
    (r"v1/images/config", images.ImagesConfigHandler),
    (r"v1/images/config/update", images.ImagesConfigUpdateHandler),
    (r"v1/images/image/config", images.ImageConfigHandler),
    (r"v1/images/image/config/update", images.ImageConfigUpdateHandler),
    (r"v1/images/models", images.ImageModelsHandler),
    (r"v1/images/generations/?", images.ImageGenerationsHandler),
    (r"v1/audio/config", audio.AudioConfigHandler),
    (r"v1/audio/config/update", audio.AudioConfigUpdateHandler),
    (r"v1/audio/transcriptions", audio.TranscriptionsHandler),
    (r"v1/audio/speech", audio.SpeechHandler),
    # team: admins' users, groups, usage and limits
    (r"v1/users/?", team.UsersHandler),
    (r"v1/groups/?", team.GroupsHandler),
    (r"v1/usage/?", team.UsageHandler),
    (r"v1/usage/limits", team.UsageLimitsHandler),
    # ratings, the leaderboard and the arena
    (r"v1/evaluations/config", evaluations.EvaluationConfigHandler),
    (r"v1/evaluations/feedback", evaluations.FeedbackHandler),
    (r"v1/evaluations/feedbacks", evaluations.FeedbacksHandler),
    (r"v1/evaluations/feedbacks/user", evaluations.UserFeedbacksHandler),
    (r"v1/evaluations/feedbacks/all", evaluations.AllFeedbacksHandler),
    (rf"v1/evaluations/feedback/{FEEDBACK_ID}", evaluations.FeedbackByIdHandler),
    (r"v1/evaluations/leaderboard", evaluations.LeaderboardHandler),
    # folders
    (r"v1/folders/?", folders.FoldersHandler),
    (rf"v1/folders/{FOLDER_ID}(?:/update(?:/parent|/expanded)?)?", folders.FolderHandler),
]


#: Not part of the API (nor of the OpenAPI document): the JSON 404 for every other path.
NOT_FOUND: tuple[str, type[OuiHandler]] = (r"(?P<path>.*)", core.NotFoundHandler)
