"""Stop-word hold-back: text that may be the start of a stop word waits for the next chunk.

Used by every streaming mode, so a stop word never reaches the user, whether the server
stopped on it (TGI emits the stop sequence's tokens) or not (batched mode, or more stop
words than the backend accepts).
"""

from __future__ import annotations


class StopWordFilter:
    def __init__(self, stop_words: list[str]):
        self._stop_words = [word for word in stop_words if word]
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Text that is safe to show now. Sets `stopped` once a stop word has appeared."""
        if self.stopped:
            return ""
        buffer = self._held + text
        cut = min((buffer.find(word) for word in self._stop_words if word in buffer), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return buffer[:cut]
        keep = self._longest_stop_prefix_at_end(buffer)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """At the end of the stream: held text was not a stop word after all."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _longest_stop_prefix_at_end(self, buffer: str) -> int:
        longest = 0
        for word in self._stop_words:
            for size in range(min(len(word) - 1, len(buffer)), longest, -1):
                if buffer.endswith(word[:size]):
                    longest = size
                    break
        return longest
