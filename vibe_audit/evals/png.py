"""A dependency-free PNG bar chart of the leaderboard (precision, recall, F1 per model).

A tiny 3x5 bitmap font (upper case, digits, a little punctuation) labels the bars; the
image is RGB, encoded with zlib from the standard library.
"""

from __future__ import annotations

import struct
import zlib

# 3x5 glyphs, rows top to bottom.
_FONT = {
    "A": ".#. #.# ### #.# #.#",
    "B": "##. #.# ##. #.# ##.",
    "C": ".## #.. #.. #.. .##",
    "D": "##. #.# #.# #.# ##.",
    "E": "### #.. ##. #.. ###",
    "F": "### #.. ##. #.. #..",
    "G": ".## #.. #.# #.# .##",
    "H": "#.# #.# ### #.# #.#",
    "I": "### .#. .#. .#. ###",
    "J": "..# ..# ..# #.# .#.",
    "K": "#.# #.# ##. #.# #.#",
    "L": "#.. #.. #.. #.. ###",
    "M": "#.# ### ### #.# #.#",
    "N": "##. #.# #.# #.# #.#",
    "O": ".#. #.# #.# #.# .#.",
    "P": "##. #.# ##. #.. #..",
    "Q": ".#. #.# #.# ##. .##",
    "R": "##. #.# ##. #.# #.#",
    "S": ".## #.. .#. ..# ##.",
    "T": "### .#. .#. .#. .#.",
    "U": "#.# #.# #.# #.# ###",
    "V": "#.# #.# #.# #.# .#.",
    "W": "#.# #.# ### ### #.#",
    "X": "#.# #.# .#. #.# #.#",
    "Y": "#.# #.# .#. .#. .#.",
    "Z": "### ..# .#. #.. ###",
    "0": "### #.# #.# #.# ###",
    "1": ".#. ##. .#. .#. ###",
    "2": "##. ..# .#. #.. ###",
    "3": "##. ..# .#. ..# ##.",
    "4": "#.# #.# ### ..# ..#",
    "5": "### #.. ##. ..# ##.",
    "6": ".## #.. ### #.# ###",
    "7": "### ..# .#. .#. .#.",
    "8": "### #.# ### #.# ###",
    "9": "### #.# ### ..# ##.",
    "-": "... ... ### ... ...",
    ".": "... ... ... ... .#.",
    ":": "... .#. ... .#. ...",
    "%": "#.# ..# .#. #.. #.#",
    "/": "..# ..# .#. #.. #..",
    "(": ".#. #.. #.. #.. .#.",
    ")": ".#. ..# ..# ..# .#.",
    " ": "... ... ... ... ...",
    "_": "... ... ... ... ###",
    ",": "... ... ... .#. #..",
    "=": "... ### ... ### ...",
}
_GLYPHS = {k: v.replace(" ", "") for k, v in _FONT.items()}

Color = tuple[int, int, int]
BACKGROUND: Color = (255, 255, 255)
TEXT: Color = (34, 34, 34)
BARS: tuple[Color, Color, Color] = ((66, 133, 244), (52, 168, 83), (234, 67, 53))
SCALE = 2


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(BACKGROUND) * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, color: Color) -> None:
        for row in range(max(y, 0), min(y + h, self.height)):
            start = (row * self.width + max(x, 0)) * 3
            end = (row * self.width + min(x + w, self.width)) * 3
            if end > start:
                self.pixels[start:end] = bytes(color) * ((end - start) // 3)

    def text(self, x: int, y: int, text: str, color: Color = TEXT) -> int:
        """Draw ``text`` with its top-left at (x, y); return the x after it."""
        for char in text.upper():
            glyph = _GLYPHS.get(char, _GLYPHS[" "])
            for index, cell in enumerate(glyph):
                if cell == "#":
                    column, row = index % 3, index // 3
                    self.rect(x + column * SCALE, y + row * SCALE, SCALE, SCALE, color)
            x += 4 * SCALE
        return x

    def png(self) -> bytes:
        raw = b"".join(
            b"\x00" + bytes(self.pixels[r * self.width * 3 : (r + 1) * self.width * 3])
            for r in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


Values = tuple[float | None, float | None, float | None]


def bar_chart(title: str, rows: list[tuple[str, Values]]) -> bytes:
    """Three bars (precision, recall, F1) per labeled row; None draws no bar and 'N/A'."""
    label_width, bar_width, pad = 21 * 4 * SCALE, 360, 12
    row_height = 3 * (5 * SCALE + 6) + 10
    width = pad + label_width + bar_width + 80
    height = pad * 2 + 40 + row_height * len(rows)
    canvas = Canvas(width, height)
    canvas.text(pad, pad, title)
    x = pad
    for name, color in zip(("PRECISION", "RECALL", "F1"), BARS, strict=True):
        canvas.rect(x, pad + 16, 10, 10, color)
        x = canvas.text(x + 14, pad + 16, name) + 16
    y = pad + 40
    for label, values in rows:
        canvas.text(pad, y + 2, label[:20])
        for i, (value, color) in enumerate(zip(values, BARS, strict=True)):
            top = y + i * (5 * SCALE + 6)
            length = 0 if value is None else max(1, round(value * bar_width))
            canvas.rect(pad + label_width, top, length, 5 * SCALE + 2, color)
            shown = "N/A" if value is None else f"{value:.0%}"
            canvas.text(pad + label_width + length + 6, top + 1, shown)
        y += row_height
    return canvas.png()
