"""What the embedded router reads of a conversation: the latest user turns, trimmed, and their parts.

System/developer prompts, tool results and assistant turns never steer routing (seed 004); the
router reads the latest user turn and the one before it (for follow-ups such as "now in Go").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llmroute.wire.conversation import Message

# Long pasted turns (logs, code, e-mails) are cut to their head and tail: the ask is usually at either
# end, and encoder cost grows with length.
QUERY_HEAD_WORDS = 48
QUERY_TAIL_WORDS = 32
QUERY_MAX_CHARS = 4000


def user_turns(conversation: Sequence[Message], count: int = 2) -> list[str]:
    """The trimmed text of the latest `count` user turns with text, newest first."""
    turns: list[str] = []
    for message in reversed(conversation):
        if message.role == "user" and message.text.strip():
            turns.append(trim_text(message.text))
            if len(turns) == count:
                break
    return turns


def trim_text(text: str) -> str:
    # Characters first: one pasted blob without spaces must not reach the tokenizer whole.
    if len(text) > QUERY_MAX_CHARS:
        text = f"{text[: QUERY_MAX_CHARS // 2]} ... {text[-QUERY_MAX_CHARS // 2 :]}"
    words = text.split()
    if len(words) <= QUERY_HEAD_WORDS + QUERY_TAIL_WORDS:
        return " ".join(words)
    return " ".join([*words[:QUERY_HEAD_WORDS], "...", *words[-QUERY_TAIL_WORDS:]])


_SENTENCE_END = re.compile(r"(?<=[.?!:])\s+|\n+")


def head_sentence(text: str, min_words: int) -> str | None:
    """The opening sentence of a turn longer than `min_words` words ("Summarize this abstract: ..."),
    where a pasted request usually states its ask; None for a short turn or a one-sentence one."""
    if len(text.split()) <= min_words:
        return None
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    words = first.split()
    if len(words) < 3 or len(words) >= min_words:
        return None
    return " ".join(words)


_PIECE_SPLIT = re.compile(r"[.,;!?]+\s*|\s+-\s+")


def pieces(text: str) -> list[str]:
    """The comma/sentence pieces of a turn ("great, that worked. ty" -> three), or [] for one piece."""
    parts = [p.strip() for p in _PIECE_SPLIT.split(text) if p.strip()]
    return parts if len(parts) > 1 else []


_CLAUSE_SPLIT = re.compile(r"[:;,]|\bor\b|\band\b")


def description_clauses(description: str) -> list[str]:
    """The description's parts ("booking, rescheduling or cancelling X" -> three clauses)."""
    description = description.strip()
    head, sep, tail = description.partition(":")
    parts = [c.strip() for c in _CLAUSE_SPLIT.split(tail if sep else description)]
    clauses = [c for c in parts if len(c.split()) >= 2 and c != description]
    if sep and head.strip():
        # "bank accounts: balances, PINs": a one-word item is read with the head it belongs to.
        clauses += [f"{head.strip()} {c}" for c in parts if len(c.split()) == 1]
        clauses.append(head.strip())
    return list(dict.fromkeys(clauses))


def route_name_text(name: str) -> str:
    """A route name as words ("code_generation" -> "code generation"): names carry intent too."""
    return " ".join(re.split(r"[_\-./\s]+", name)).strip()
