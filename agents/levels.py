"""Each channel's loudness, as the recorder's ffmpeg measures it, read as it is written.

The recorder's graph cuts every channel into 0.1 s frames, runs `astats` on each and has
`ametadata` print the RMS level to `levels/<channel>.txt`. The reader keeps an offset per
file and returns only new levels, so it costs nothing while nobody speaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

KEY = "lavfi.astats.Overall.RMS_level"
FRAME = 4800  # samples at 48 kHz: one level every 0.1 s
SILENCE_DB = -120.0


def meter(sound: Any, file: Path) -> Any:
    """The sink branch that writes the level of `sound` to `file`."""
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("")
    return (
        sound.filter("asetnsamples", n=FRAME, p=0)
        .filter("astats", metadata=1, reset=1, measure_perchannel="none")
        .filter("ametadata", mode="print", key=KEY, file=str(file), direct=1)
    )


def parse(text: str) -> list[float]:
    """The levels in a chunk of `ametadata` output; `-inf` (silence) as SILENCE_DB."""
    out = []
    for line in text.splitlines():
        if line.startswith(KEY + "="):
            value = line.split("=", 1)[1].strip()
            try:
                out.append(max(float(value), SILENCE_DB))
            except ValueError:
                out.append(SILENCE_DB)
    return out


class Reader:
    def __init__(self, folder: Path, channels: list[str]) -> None:
        self.folder = folder
        self.channels = channels
        self._offsets: dict[str, int] = {}

    def reset(self) -> None:
        self._offsets.clear()

    def read(self) -> dict[str, float]:
        """The latest level of every channel that wrote one since the last read."""
        out: dict[str, float] = {}
        for ch in self.channels:
            path = self.folder / f"{ch}.txt"
            try:
                size = path.stat().st_size
                start = self._offsets.get(ch, 0)
                if size < start:  # a new run truncated the file
                    start = 0
                with path.open("rb") as fh:
                    fh.seek(start)
                    chunk = fh.read(size - start)
            except FileNotFoundError:
                continue
            whole = chunk[: chunk.rfind(b"\n") + 1]
            self._offsets[ch] = start + len(whole)
            levels = parse(whole.decode(errors="replace"))
            if levels:
                out[ch] = levels[-1]
        return out
