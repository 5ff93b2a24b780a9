"""Pure signal functions: float32 arrays of shape (frames, channels) in, arrays out."""

PLAYOUT_RATE = 44100
PLAYOUT_CHANNELS = 2
