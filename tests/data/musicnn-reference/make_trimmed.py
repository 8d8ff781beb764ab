"""Regenerate the trimmed musicnn reference clips from ../shared: MSD_musicnn's in this folder,
MTT_musicnn's in ../musicnn-mtt-reference.

Run from anywhere: ``python tests/data/musicnn-reference/make_trimmed.py``. For each of the six
reference clips it keeps what the first two patches need: the audio up to the end of frame 373
(centred frames: frame t covers samples 256*t - 256 .. 256*t + 255, so 2 * 187 * 256 samples,
with the left margin being librosa's zero padding) and the reference input and outputs of those
two patches.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[3] / "shared" / "models"
#: Where each model's full references are, and where its trimmed copies go.
TARGETS = (
    (SHARED / "musicnn-msd" / "reference", HERE),
    (SHARED / "musicnn-mtt" / "reference", HERE.parent / "musicnn-mtt-reference"),
)
CLIPS = ("Awakening", "Media_Threat", "Nebula", "beast-of-insanity", "brainsukker", "infight")
N_PATCHES = 2
PATCH_FRAMES = 187
HOP = 256
N_FFT = 512


def main() -> None:
    last_frame = N_PATCHES * PATCH_FRAMES - 1
    n_samples = last_frame * HOP + N_FFT // 2  # end of the last frame's window
    for source, target in TARGETS:
        target.mkdir(exist_ok=True)
        for clip in CLIPS:
            with np.load(source / f"{clip}.npz", allow_pickle=False) as ref:
                np.savez_compressed(
                    target / f"{clip}.npz",
                    audio=ref["audio"][:n_samples],
                    logmel_patches=ref["logmel_patches"][:N_PATCHES],
                    tag_probs=ref["tag_probs"][:N_PATCHES],
                    penultimate=ref["penultimate"][:N_PATCHES],
                )
            print(f"{target.name}/{clip}: {n_samples} samples, {N_PATCHES} patches")


if __name__ == "__main__":
    main()
