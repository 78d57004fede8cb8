"""Text in every language, written only for the languages someone reads.

A finding carries its message, advice and "what would clear it" in French and English, but a
run reads one or two of them (the output's language, the note's).  :class:`ByLanguage` is
the ``{language: text}`` mapping findings always had, each text written on first access and
kept: same keys, same values, same equality with a plain dict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")

LANGUAGES = ("fr", "en")


class ByLanguage(Mapping[str, T], Generic[T]):
    """``{language: text}`` for ``languages``, ``write(language)`` called once per language
    read (a text, or anything else written per language)."""

    __slots__ = ("_write", "_languages", "_done")

    def __init__(self, write: Callable[[str], T], languages: tuple[str, ...] = LANGUAGES):
        self._write = write
        self._languages = languages
        self._done: dict[str, T] = {}

    def __getitem__(self, language: str) -> T:
        done = self._done.get(language)
        if done is not None:
            return done
        if language not in self._languages:
            raise KeyError(language)
        text = self._done[language] = self._write(language)
        return text

    def __contains__(self, language: object) -> bool:
        return language in self._languages

    def __iter__(self) -> Iterator[str]:
        return iter(self._languages)

    def __len__(self) -> int:
        return len(self._languages)

    def __repr__(self) -> str:
        return repr(dict(self))
