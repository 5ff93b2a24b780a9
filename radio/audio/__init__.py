"""Pure signal functions: float32 arrays of shape (frames, channels) in, arrays out.

The bottom floor: `Samples` and the playout format are the values every stage shares.
"""

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]
"""Float audio in [-1, 1], shape (frames, channels)."""

PLAYOUT_RATE = 44100
PLAYOUT_CHANNELS = 2
