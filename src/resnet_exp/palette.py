"""One colour scheme for every figure the product draws: the hue says the block (plain red,
residual blue, preact green), the shade says the depth (darker = deeper). Figure 6's panels, error against
depth and the probes' combined figure then read alike; before, colour meant depth in one
figure and block in the next."""

from __future__ import annotations

from matplotlib import colormaps

_FAMILIES = {"plain": "Reds", "residual": "Blues", "preact": "Greens"}
_SPARE = ("Purples", "Oranges", "Greys")


def _family(block: str) -> str:
    # Other blocks get a spare hue chosen from the name, the same in every figure.
    return _FAMILIES.get(block) or _SPARE[sum(map(ord, block)) % len(_SPARE)]


def block_colour(block: str) -> tuple:
    """The block's own colour (one line per block)."""
    return colormaps[_family(block)](0.75)


def depth_shade(block: str, depth: int, depths: list[int]) -> tuple:
    """The block's hue, shaded by the depth's rank among `depths` (light to dark)."""
    ranks = sorted(set(depths))
    position = 0.75 if len(ranks) == 1 else 0.4 + 0.55 * ranks.index(depth) / (len(ranks) - 1)
    return colormaps[_family(block)](position)
