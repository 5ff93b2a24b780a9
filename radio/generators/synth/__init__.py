"""Generation requests in, synthesised music out: the CPU composer that always works.

`generator` plans, composes and renders a track; `theory`, `palettes`, `form`,
`melody` and `score` decide what is played, `voices` and `drums` how it sounds.
"""

from radio.generators.synth.generator import SynthGenerator

__all__ = ["SynthGenerator"]
