"""The text side of chat titles and tags: the prompts, and what is kept of a model's answer.

The prompts are few-shot chat turns short enough for a 135M model (the embedded SmolLM2), which
follows an example far better than an instruction. Whatever comes back is cleaned, and
rejected when it is not a title (the prompt echoed, a sentence, a refusal, words that are not
about the conversation); a rejected title falls back to the prompt cut at a word. Tags are kept
only when they are real words found in the conversation: no tags rather than junk.
"""

from __future__ import annotations

import re
import unicodedata

TITLE_CHARS = 60  # a title or placeholder is at most this long (the sidebar shows ~40)
TITLE_WORDS = 10  # a longer answer is a sentence, not a title
MAX_TAGS = 3

TITLE_SYSTEM = "You write a short title (2 to 6 words) for a message. Reply with the title only."
TAGS_SYSTEM = "You give 1 to 3 one-word topic tags for a message, comma-separated, lower case."
# (message, title, tags): the examples both prompts show before the chat's message.
EXAMPLES = [
    ("How do I reverse a list in Python?", "Reversing a Python list", "python, lists"),
    (
        "what's a good recipe for banana bread with walnuts",
        "Banana bread with walnuts",
        "recipe, bread, walnuts",
    ),
    (
        "Can you tell me why the sky is blue? My daughter asked and I did not know what to say.",
        "Why the sky is blue",
        "sky, light",
    ),
    (
        "My laptop gets very hot when I run Docker containers, how can I find out which one "
        "uses the CPU?",
        "Docker containers using the CPU",
        "docker, cpu",
    ),
]

STOP_WORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    get got had has have having he her here hers him his how i if in into is it its itself just
    let me more most my no nor not now of off on once only or other our out over own please same
    she should so some such than that the their them then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would
    you your yours yourself thing things way ways something anything use using used make made
    write tell explain give show know want need like one two new""".split()
)
GREETINGS = frozenset(
    """hi hello hey hiya howdy greetings greeting welcome thanks thank thankyou bye goodbye
    morning evening afternoon cheers ok okay yes yeah sure please sorry""".split()
)
FILLER = frozenset(
    """chat chats conversation conversations question questions answer answers assistant user
    help request reply response general misc miscellaneous other topic topics tag tags title
    none null example examples test testing info information ai bot model""".split()
)
NOT_TAGS = STOP_WORDS | GREETINGS | FILLER

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.S | re.I)
_LABEL = re.compile(
    r"^(?:(?:sure|okay|ok|certainly)[,!.]?\s*)?"
    r"(?:here(?:'s| is)\s+(?:a|the|your)\s+(?:short\s+)?title\s*[:\-]?\s*|"
    r"(?:chat\s+|short\s+|suggested\s+)?title\s*[:\-]\s*)",
    re.I,
)
_TAGS_LABEL = re.compile(r"^[^,\n]*?\btags?\s*:", re.I)
_BULLET = re.compile(r"^(?:[-*•]+|\d+[.)])\s+")
_REFUSAL = re.compile(r"^(?:i\s|i'm\s|i am\s|sorry|as an ai|unfortunately)", re.I)
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_QUOTES = "\"'`\u00ab\u00bb\u201c\u201d\u2018\u2019\u201e\u2039\u203a"
_TAIL = " ,;:-\u2013\u2014"  # what a cut title does not end with


def _symbolic(char: str) -> bool:
    """Emoji, pictographs and their joiners: nothing a title keeps."""
    return unicodedata.category(char) in {"So", "Sk", "Cs", "Co", "Cf"} or char in "\ufe0f\u200d"


def _squash(text: str) -> str:
    return " ".join(text.split())


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _same_word(a: str, b: str) -> bool:
    """``a`` and ``b`` are one word up to an ending ("list" and "lists", "reverses" and
    "reversing"): they share all but the last three letters of the shorter, and four at least."""
    if a == b:
        return True
    shortest = min(len(a), len(b))
    shared = next((i for i in range(shortest) if a[i] != b[i]), shortest)
    return shared >= max(4, shortest - 3)


def _content_words(text: str) -> list[str]:
    return [w for w in _words(text) if len(w) > 2 and w not in NOT_TAGS]


def first_line(text: str) -> str:
    """The first line of ``text`` with letters in it (a code fence is no title)."""
    for line in text.splitlines():
        line = _squash(line)
        if line and not line.startswith("```") and any(c.isalpha() for c in line):
            return line
    return _squash(text)


def cut_at_word(text: str, limit: int = TITLE_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters, cut after a whole word ("…" marks
    the cut). Only a single word longer than ``limit`` is cut inside."""
    text = _squash(text)
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if text[limit - 1] != " " and " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(_TAIL) + "…"


def fallback_title(user_text: str) -> str:
    """The title a chat gets before (or without) a generated one: its prompt cut at a word."""
    return cut_at_word(first_line(user_text)) or "New Chat"


def is_placeholder(title: str, user_text: str) -> bool:
    """Whether ``title`` is only the prompt's beginning (as the sidebar sets it before the
    first answer): such a title is replaced by a generated one."""
    head = _squash(title).rstrip("…").rstrip(" .")
    return bool(head) and _squash(first_line(user_text)).startswith(head)


def title_messages(user_text: str) -> list[dict[str, str]]:
    return _few_shot(TITLE_SYSTEM, "Title", [(q, t) for q, t, _ in EXAMPLES], user_text)


def tags_messages(user_text: str) -> list[dict[str, str]]:
    return _few_shot(TAGS_SYSTEM, "Tags", [(q, t) for q, _, t in EXAMPLES], user_text)


def _few_shot(
    system: str, label: str, examples: list[tuple[str, str]], user_text: str
) -> list[dict[str, str]]:
    """Each message framed as "Message: ...\nTitle:" so that a small model completes the
    pattern instead of answering the message."""
    messages = [{"role": "system", "content": system}]
    for asked, answered in examples:
        messages.append({"role": "user", "content": f"Message: {asked}\n{label}:"})
        messages.append({"role": "assistant", "content": answered})
    messages.append({"role": "user", "content": f"Message: {_squash(user_text)[:400]}\n{label}:"})
    return messages


def _candidate(text: str) -> tuple[str, bool]:
    """The title-looking line of a model's answer, stripped of labels, quotes and emoji, and
    whether it is the answer's last line."""
    text = _THINK.sub("", text)
    lines = [_squash(line) for line in text.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        line = _BULLET.sub("", line.strip("*#_ "))
        labelled = _LABEL.sub("", line)
        if not labelled.strip(" :*_" + _QUOTES) and index + 1 < len(lines):
            continue  # "Here is a title:" with the title on the next line
        line = "".join(c for c in labelled if not _symbolic(c) and c not in "`*")
        line = line.strip(" *_#" + _QUOTES)
        line = re.sub(r"[\s.!?,;:\u2026\-\u2013\u2014]+$", "", line).strip(" *_" + _QUOTES)
        return _squash(line), index + 1 == len(lines)
    return "", True


def clean_title(text: str, user_text: str, *, cut_short: bool = False) -> str | None:
    """The title in a model's answer ``text`` to ``user_text``, or None when it is no title.

    ``cut_short``: the answer hit its token limit, so its last word may be a piece of one."""
    line, last = _candidate(text)
    if cut_short and last and " " in line:
        line = line[: line.rindex(" ")].rstrip(_TAIL)
    if len(line.split()) > TITLE_WORDS and ": " in line:
        line = line[: line.index(": ")]  # "Romeo and Juliet: a tragic love story in a ..."
    words = _words(line)
    topic = _content_words(user_text)
    if not words or not topic or len(line.split()) > TITLE_WORDS or _REFUSAL.match(line):
        return None  # no title, or a greeting (its prompt is its best title)
    asked = _words(first_line(user_text))
    if asked[: len(words)] == words and (len(words) >= 4 or len(words) == len(asked)):
        return None  # the prompt echoed
    if not any(_same_word(w, t) for w in _content_words(line) for t in topic):
        return None  # about something else (an example copied, a hallucination)
    if len(line) > TITLE_CHARS:
        line = cut_at_word(line).rstrip("…")
    return line


def has_topic(user_text: str) -> bool:
    """Whether a message says enough to be tagged (a greeting does not)."""
    return len(set(_content_words(user_text))) >= 2


def clean_tags(
    text: str, user_text: str, answer: str = "", *, cut_short: bool = False
) -> list[str]:
    """The tags of a model's answer ``text`` that are real words of the conversation.

    A tag is kept when each of its words is a content word (no stop word, greeting or filler)
    found in the user's message, or found in lower case in the answer (a name the model made up
    or introduced itself with is capitalised there). A chat with fewer than two content words
    (a greeting) gets no tags. ``cut_short``: the answer hit its token limit, so its last tag
    may be a piece of one."""
    if not has_topic(user_text):
        return []
    asked = _content_words(user_text)
    answered = [w for w in _WORD.findall(answer) if w.islower()]
    known = set(asked) | set(answered)
    tags: list[str] = []
    text = _TAGS_LABEL.sub("", _THINK.sub("", text))
    parts = re.split(r"[,\n;|/]", text)
    if cut_short:
        parts = parts[:-1]
    for part in parts:
        part = _BULLET.sub("", part.strip()).strip("#*-•.\"'` ").lower()
        words = [w for w in re.split(r"[\s-]+", part) if w]
        if (
            not words
            or len(words) > 2
            or len(part) > 24
            or not all(_WORD.fullmatch(w) for w in words)
            or any(len(w) < 3 or w in NOT_TAGS for w in words)
            or not all(any(_same_word(w, k) for k in known) for w in words)
            or any(_same_word(part, tag) for tag in tags)
        ):
            continue
        tags.append(part)
    return tags[:MAX_TAGS]
