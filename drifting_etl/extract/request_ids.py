"""Duplicate request ids: the rule for which row of a repeated id is used.

A request is logged once; a row whose request id an earlier row of its hour partition already has is a copy (a
retried or replayed write). Files are taken in path order and rows in file order, and only the first row of each
id is used: the later ones are left out of every figure and counted (`monitoring_run.duplicate_count`). Rows
without an id are all used. Ids are compared within an hour partition only: the capture SDK writes a request into
the folder of its timestamp's hour, so copies of one request share a folder.

Ids are compared exactly. The capture SDK's ids (32 hex digits) take a fast path: each id's bytes are read as four
64-bit words and compared as such, without hashing strings; ids of other lengths are compared as strings.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ID_BYTES = 32
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], np.uint64)


class _Run:
    """The 32-byte ids of one chunk that were used: hashes (sorted, and in row order) and the ids' words."""

    def __init__(self, hashes: np.ndarray, sorted_hashes: np.ndarray, words: np.ndarray) -> None:
        self.hashes, self.sorted_hashes, self.words = hashes, sorted_hashes, words
        self._order: np.ndarray | None = None

    def hits(self, hashes: np.ndarray) -> np.ndarray:
        """Rows whose hash this run holds (their ids may still differ)."""
        at = np.searchsorted(self.sorted_hashes, hashes).clip(max=len(self.sorted_hashes) - 1)
        return self.sorted_hashes[at] == hashes

    def holds(self, hashes: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Which of these ids the run holds, comparing the ids themselves."""
        if self._order is None:
            self._order = np.argsort(self.hashes, kind="stable")
        low = np.searchsorted(self.sorted_hashes, hashes, side="left")
        high = np.searchsorted(self.sorted_hashes, hashes, side="right")
        held = np.zeros(len(hashes), bool)
        one = np.flatnonzero(high - low == 1)  # one id of that hash: compare with it, all such rows at once
        held[one] = (self.words[self._order[low[one]]] == words[one]).all(1)
        for row in np.flatnonzero(high - low > 1):
            rows = self._order[low[row] : high[row]]
            held[row] = bool((self.words[rows] == words[row]).all(1).any())
        return held


class RequestIds:
    """The request ids of the rows used so far in one hour partition."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        """32-byte ids, a run per chunk."""
        self._strings: list[pa.Array] = []
        """Ids of other lengths."""

    def checkpoint(self) -> tuple[int, int]:
        """What is remembered now, to forget what comes after it (`forget_since`): a file left out whole."""
        return len(self._runs), len(self._strings)

    def forget_since(self, checkpoint: tuple[int, int]) -> None:
        del self._runs[checkpoint[0] :], self._strings[checkpoint[1] :]

    def first(self, ids: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
        """Which of these rows are the first of their id (None: all of them); remembers their ids."""
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        if not pa.types.is_string(ids.type):
            ids = pc.cast(ids, pa.string())
        words = _words(ids)
        if words is not None:  # the capture SDK's ids: compared as words, no string hashed
            first = self._first_words(words)
            if self._strings:
                first &= ~self._seen_strings(ids)
        else:
            first = self._first_strings(ids)
        return None if first.all() else first

    def _first_words(self, words: np.ndarray) -> np.ndarray:
        hashes = _hash(words)
        sorted_hashes = np.sort(hashes)
        repeats = bool((sorted_hashes[1:] == sorted_hashes[:-1]).any())
        if not repeats and not any(run.hits(sorted_hashes).any() for run in self._runs):
            self._runs.append(_Run(hashes, sorted_hashes, words))  # the usual case: no id seen twice
            return np.ones(len(words), bool)
        first = _first_of_each(words, hashes) if repeats else np.ones(len(words), bool)
        first &= ~self._seen_words(hashes, words)
        self._remember(hashes[first], words[first])
        return first

    def _first_strings(self, ids: pa.Array) -> np.ndarray:
        valid = ids.is_valid().to_numpy(zero_copy_only=False)
        codes = pc.dictionary_encode(ids).indices.fill_null(-1).to_numpy(zero_copy_only=False)
        first = np.zeros(len(ids), bool)
        first[np.unique(codes, return_index=True)[1]] = True
        first |= ~valid  # rows without an id are all used
        first &= ~self._seen_strings(ids)
        fixed = valid & (pc.binary_length(ids).fill_null(0).to_numpy(zero_copy_only=False) == ID_BYTES)
        if fixed.any():  # a 32-byte id may repeat one of a chunk of the capture SDK's ids
            at = np.flatnonzero(fixed)
            words = _words(ids.take(pa.array(at)))
            assert words is not None
            hashes = _hash(words)
            first[at[self._seen_words(hashes, words)]] = False
            kept = first[at]
            self._remember(hashes[kept], words[kept])
        other = first & valid & ~fixed
        if other.any():
            self._strings.append(ids.filter(pa.array(other)))
        return first

    def _seen_words(self, hashes: np.ndarray, words: np.ndarray) -> np.ndarray:
        seen = np.zeros(len(hashes), bool)
        for run in self._runs:
            hit = np.flatnonzero(run.hits(hashes) & ~seen)
            if len(hit):
                seen[hit] = run.holds(hashes[hit], words[hit])
        return seen

    def _seen_strings(self, ids: pa.Array) -> np.ndarray:
        seen = np.zeros(len(ids), bool)
        for earlier in self._strings:
            seen |= pc.is_in(ids, value_set=earlier).fill_null(False).to_numpy(zero_copy_only=False)
        return seen

    def _remember(self, hashes: np.ndarray, words: np.ndarray) -> None:
        if len(hashes):
            self._runs.append(_Run(hashes, np.sort(hashes), words))


def _hash(words: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of four words, to find candidate repeats fast; ids are then compared themselves."""
    mixed = words[:, 0] * _MIX[0]
    for column in range(1, 4):
        mixed ^= words[:, column] * _MIX[column]
    return mixed ^ (mixed >> np.uint64(29))


def _first_of_each(words: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """True at the first row of each distinct id (rows of words)."""
    order = np.lexsort((np.arange(len(words)), *words.T[::-1], hashes))  # by hash, then id, then row
    ordered = words[order]
    repeat = np.zeros(len(order), bool)
    repeat[1:] = (hashes[order][1:] == hashes[order][:-1]) & (ordered[1:] == ordered[:-1]).all(1)
    first = np.empty(len(order), bool)
    first[order] = ~repeat
    return first


def _words(ids: pa.Array) -> np.ndarray | None:
    """The ids as rows of four 64-bit words when every id has 32 bytes and none is null, else None."""
    if ids.null_count or not len(ids):
        return None
    offsets = np.frombuffer(ids.buffers()[1], np.int32, len(ids) + 1, ids.offset * 4)
    if offsets[-1] - offsets[0] != ID_BYTES * len(ids) or not (np.diff(offsets) == ID_BYTES).all():
        return None
    data = np.frombuffer(ids.buffers()[2], np.uint8, ID_BYTES * len(ids), int(offsets[0]))
    return data.view(np.uint64).reshape(len(ids), 4)
