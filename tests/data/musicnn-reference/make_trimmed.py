"""Regenerate the trimmed musicnn reference clips in this folder from ../shared.

Run from anywhere: ``python tests/data/musicnn-reference/make_trimmed.py``. For each of the six
reference clips it keeps what the first two patches need: the audio up to the end of frame 373
(centred frames: frame t covers samples 256*t - 256 .. 256*t + 255, so 2 * 187 * 256 samples,
with the left margin being librosa's zero padding) and the reference input and outputs of those
two patches.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[3] / "shared" / "models" / "musicnn-msd" / "reference"
CLIPS = ("Awakening", "Media_Threat", "Nebula", "beast-of-insanity", "brainsukker", "infight")
N_PATCHES = 2
PATCH_FRAMES = 187
HOP = 256
N_FFT = 512


def main() -> None:
    last_frame = N_PATCHES * PATCH_FRAMES - 1
    n_samples = last_frame * HOP + N_FFT // 2  # end of the last frame's window
    for clip in CLIPS:
        with np.load(SOURCE / f"{clip}.npz", allow_pickle=False) as ref:
            np.savez_compressed(
                HERE / f"{clip}.npz",
                audio=ref["audio"][:n_samples],
                logmel_patches=ref["logmel_patches"][:N_PATCHES],
                tag_probs=ref["tag_probs"][:N_PATCHES],
                penultimate=ref["penultimate"][:N_PATCHES],
            )
        print(f"{clip}: {n_samples} samples, {N_PATCHES} patches")


if __name__ == "__main__":
    main()
