"""What is kept of a small model's titles and tags: realistic bad outputs, cleaned or rejected."""

from __future__ import annotations

import pytest

from oui_jupyter.services.title_text import (
    TITLE_CHARS,
    clean_tags,
    clean_title,
    cut_at_word,
    fallback_title,
    has_topic,
    is_placeholder,
    tags_messages,
    title_messages,
)

GC = "Can you explain how the garbage collector in CPython decides when to run a collection?"
REVERSE = "write a function that reverses a string in python"


@pytest.mark.parametrize(
    ("output", "title"),
    [
        ("Reversing a string in Python", "Reversing a string in Python"),
        ('"Reversing a String in Python."', "Reversing a String in Python"),
        ("Title: String reversal in Python!", "String reversal in Python"),
        ("**Title:** *Python string reversal*", "Python string reversal"),
        ("Sure! Here's a title: Reverse a string function 🐍✨", "Reverse a string function"),
        ("Here is a short title:\n\n“String Reversal Function”", "String Reversal Function"),
        ("<think>The user wants a title.</think>\nReversing strings", "Reversing strings"),
        ("# Python: reverse a string\nThis function...", "Python: reverse a string"),
        ("- String reversal…", "String reversal"),
        ("Reversing a `str` with **slicing**", "Reversing a str with slicing"),
    ],
)
def test_titles_are_cleaned(output, title):
    assert clean_title(output, REVERSE) == title


def test_a_long_title_with_a_colon_keeps_its_head():
    romeo = "Summarise the plot of Romeo and Juliet in two sentences."
    output = "Romeo and Juliet: A tragic love story set in a modern-day setting."
    assert clean_title(output, romeo) == "Romeo and Juliet"
    assert (
        clean_title("Romeo and Juliet: a tragic tale", romeo) == "Romeo and Juliet: a tragic tale"
    )


@pytest.mark.parametrize(
    "output",
    [
        "",
        "   \n ",
        "🐍✨",
        "<think>I should think about a good title for this conversation",
        "write a function that reverses a string in python",  # the prompt echoed
        "Write a function that reverses",  # its beginning echoed
        "Here is a function that reverses a string in Python using slicing and a loop",
        "I'm sorry, I can't help with that",
        "Banana bread with walnuts",  # a few-shot example copied: nothing about the chat
        "Sylvina",
        "The garbage collector in CPython determines when to run a collection by analyzing",
    ],
)
def test_outputs_that_are_no_title_are_rejected(output):
    assert clean_title(output, REVERSE) is None


def test_a_greeting_keeps_its_prompt_as_title():
    assert clean_title("Hello! I'm a friendly AI.", "Hi! Who are you?") is None
    assert clean_title("Hello", "hello") is None
    assert fallback_title("Hi! Who are you?") == "Hi! Who are you?"


def test_a_title_cut_by_the_token_limit_loses_its_last_piece_of_word():
    lists = "What's the difference between a list and a tuple in Python?"
    output = "List and tuple in Python:\n- A list is a collection of items that can be"
    assert clean_title(output, lists, cut_short=True) == "List and tuple in Python"
    assert clean_title("Python garbage collector thresh", GC, cut_short=True) == (
        "Python garbage collector"
    )
    assert clean_title("Garbage collection", GC, cut_short=True) == "Garbage"


def test_a_long_title_is_cut_at_a_word():
    title = clean_title("Garbage collection thresholds and generations in CPython3000000", GC)
    assert title is not None and len(title) <= TITLE_CHARS and not title.endswith("…")
    assert clean_title("Garbage " + "collection" * 8, GC) is not None


def test_the_fallback_cuts_the_prompt_at_a_word():
    title = fallback_title(GC)
    assert title == "Can you explain how the garbage collector in CPython…"
    assert len(title) <= TITLE_CHARS and GC.startswith(title[:-1])
    assert GC[:60] != title  # the old cut ended in "decid"
    assert fallback_title("  Name a colour.  \nand more") == "Name a colour."
    assert fallback_title("```\ncode\n```") == "code"
    assert fallback_title("") == "New Chat"
    assert cut_at_word("a" * 100).endswith("…") and len(cut_at_word("a" * 100)) == TITLE_CHARS
    assert cut_at_word("word " * 13 + "x") == ("word " * 12).strip() + "…"


def test_placeholders_are_the_prompts_beginning():
    assert is_placeholder(fallback_title(GC), GC)
    assert is_placeholder(GC[:60], GC)  # what older sidebars set
    assert is_placeholder("Name a colour.", "Name a colour.")
    assert not is_placeholder("My chat", GC)
    assert not is_placeholder("notebooks/analysis.ipynb", "Summarise this notebook")
    assert not is_placeholder("", GC)


def test_prompts_are_few_shot_and_short():
    for messages, label in ((title_messages(GC * 20), "Title:"), (tags_messages(GC * 20), "Tags:")):
        assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
        asked = messages[-1]["content"]
        assert asked.startswith("Message: Can you") and asked.endswith("\n" + label)
        assert len(asked) <= 420
        assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * 4
        assert all(m["content"].endswith(label) for m in messages[1:-1:2])


@pytest.mark.parametrize(
    ("output", "user", "answer", "tags"),
    [
        ("python, strings, functions", REVERSE, "", ["python", "strings", "functions"]),
        (
            "Python, #Strings, reversal",
            REVERSE,
            "Here is a reversal: s[::-1]",
            ["python", "strings", "reversal"],
        ),
        (
            "garbage collection, cpython, memory",
            GC,
            "It frees memory when...",
            ["garbage collection", "cpython", "memory"],
        ),
        ("python, strings, python, string", REVERSE, "", ["python", "strings"]),
        ("<think>tags?</think>python", REVERSE, "", ["python"]),
        ("- python\n- strings", REVERSE, "", ["python", "strings"]),
        ("Here are the tags: python", REVERSE, "", ["python"]),
        ("git, undo-commit", "How do I undo the last git commit?", "", ["git", "undo-commit"]),
    ],
)
def test_tags_of_the_conversation_are_kept(output, user, answer, tags):
    assert clean_tags(output, user, answer) == tags


@pytest.mark.parametrize(
    ("output", "user", "answer"),
    [
        ("sylvina, hello", "hello", "Hello! I'm Sylvina, how can I help you today?"),
        ("greetings, hello, chat", "Hi! Who are you?", "I am an AI assistant."),
        ("sylvina", REVERSE, "Hi, I'm Sylvina. Here is the code."),  # a name in the answer
        ("general, misc, help", REVERSE, ""),
        ("the, and, with", REVERSE, ""),
        ("cooking, travel", REVERSE, "def reverse(s): return s[::-1]"),  # not in the chat
        ("this is far too long a tag, py3, c#, 42", REVERSE, ""),
        ("undo-commit-back, string-reversal-python", REVERSE + " undo commit back", ""),
    ],
)
def test_junk_tags_are_dropped(output, user, answer):
    assert clean_tags(output, user, answer) == []


def test_a_tag_cut_by_the_token_limit_is_dropped():
    assert clean_tags("python, strin", REVERSE, cut_short=True) == ["python"]


def test_a_greeting_has_no_topic():
    assert not has_topic("hello")
    assert not has_topic("Hi! Who are you?")
    assert not has_topic("Hello there")
    assert has_topic(REVERSE)
