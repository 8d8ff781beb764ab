"""The numpy MSD_musicnn and MTT_musicnn against outputs of the original TensorFlow models on real music.

Always runs on the trimmed copies in tests/data/musicnn-reference (first two patches of six
clips); also on the full 30-s clips when ../shared (beside the repository) is present.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.listen.musicnn import (
    HOP,
    MTT_TAGS,
    N_FFT,
    N_MELS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    TAGS,
    Musicnn,
    TaggerOutput,
    log_mel,
    mel_filters,
    power_spectrogram,
    to_patches,
)

CLIPS = ("Awakening", "Media_Threat", "Nebula", "beast-of-insanity", "brainsukker", "infight")
TRIMMED_DIR = Path(__file__).resolve().parent / "data" / "musicnn-reference"
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / "musicnn-msd" / "reference"
needs_shared = pytest.mark.skipif(
    not SHARED_DIR.is_dir(), reason=f"full reference clips not available ({SHARED_DIR} absent)"
)
MTT_TRIMMED_DIR = Path(__file__).resolve().parent / "data" / "musicnn-mtt-reference"
MTT_SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / "musicnn-mtt" / "reference"
needs_shared_mtt = pytest.mark.skipif(
    not MTT_SHARED_DIR.is_dir(), reason=f"full MTT reference clips not available ({MTT_SHARED_DIR} absent)"
)

# The front end differs from the reference by BLAS rounding only (<= 1 ulp of values up to ~5).
LOGMEL_ATOL = 1e-5
PROBS_ATOL = 1e-3
PENULTIMATE_ATOL = 1e-2


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture(scope="module")
def model() -> Musicnn:
    return Musicnn.load()


@pytest.fixture(scope="module")
def mtt_model() -> Musicnn:
    return Musicnn.load(model="mtt")


def _check_against_reference(model: Musicnn, ref: dict[str, np.ndarray]) -> None:
    expected = ref["logmel_patches"]
    patches = to_patches(log_mel(ref["audio"]))
    assert patches.shape == expected.shape
    assert patches.dtype == np.float32
    np.testing.assert_allclose(patches, expected, rtol=0, atol=LOGMEL_ATOL)

    for inputs in (expected, patches):  # the reference's own input, and ours end to end
        out = model.predict(inputs)
        assert out.tag_probs.shape == ref["tag_probs"].shape
        assert out.penultimate.shape == ref["penultimate"].shape
        assert np.abs(out.tag_probs - ref["tag_probs"]).max() <= PROBS_ATOL
        assert np.abs(out.penultimate - ref["penultimate"]).max() <= PENULTIMATE_ATOL


@pytest.mark.parametrize("clip", CLIPS)
def test_trimmed_clip_matches_reference(model: Musicnn, clip: str) -> None:
    ref = _load(TRIMMED_DIR / f"{clip}.npz")
    assert ref["logmel_patches"].shape == (2, PATCH_FRAMES, N_MELS)
    _check_against_reference(model, ref)


@needs_shared
@pytest.mark.parametrize("clip", CLIPS)
def test_full_clip_matches_reference(model: Musicnn, clip: str) -> None:
    ref = _load(SHARED_DIR / f"{clip}.npz")
    assert len(ref["logmel_patches"]) == 10
    _check_against_reference(model, ref)


@needs_shared
def test_top5_tags_of_full_clips_match_reference(model: Musicnn) -> None:
    reference = json.loads((SHARED_DIR / "reference.json").read_text())
    assert list(TAGS) == reference["labels"]
    for entry in reference["clips"]:
        ref = _load(SHARED_DIR / f"{entry['clip']}.npz")
        probs = model.predict(to_patches(log_mel(ref["audio"]))).tag_probs.mean(axis=0)
        top5 = [TAGS[i] for i in np.argsort(-probs)[:5]]
        assert top5 == entry["top5_tags"], entry["clip"]


@pytest.mark.parametrize("clip", CLIPS)
def test_mtt_trimmed_clip_matches_reference(mtt_model: Musicnn, clip: str) -> None:
    ref = _load(MTT_TRIMMED_DIR / f"{clip}.npz")
    assert ref["logmel_patches"].shape == (2, PATCH_FRAMES, N_MELS)
    _check_against_reference(mtt_model, ref)


@needs_shared_mtt
@pytest.mark.parametrize("clip", CLIPS)
def test_mtt_full_clip_matches_reference(mtt_model: Musicnn, clip: str) -> None:
    ref = _load(MTT_SHARED_DIR / f"{clip}.npz")
    assert len(ref["logmel_patches"]) == 10
    _check_against_reference(mtt_model, ref)


@needs_shared_mtt
def test_mtt_top5_tags_of_full_clips_match_reference(mtt_model: Musicnn) -> None:
    reference = json.loads((MTT_SHARED_DIR / "reference.json").read_text())
    assert list(MTT_TAGS) == reference["labels"]
    for entry in reference["clips"]:
        ref = _load(MTT_SHARED_DIR / f"{entry['clip']}.npz")
        probs = mtt_model.predict(to_patches(log_mel(ref["audio"]))).tag_probs.mean(axis=0)
        top5 = [MTT_TAGS[i] for i in np.argsort(-probs)[:5]]
        assert top5 == entry["top5_tags"], entry["clip"]


def test_mtt_tags_are_the_50_magnatagatune_tags(mtt_model: Musicnn) -> None:
    assert len(MTT_TAGS) == 50 and len(set(MTT_TAGS)) == 50
    assert {"classical", "techno", "ambient", "choral", "opera", "new age", "indian"} <= set(MTT_TAGS)
    assert mtt_model.tags == MTT_TAGS


def test_numpy_front_end_equals_librosa() -> None:
    """The mel filters and the STFT power are librosa's (which analysis no longer imports)."""
    librosa = pytest.importorskip("librosa")
    for sr, n_fft, n_mels in ((SAMPLE_RATE, N_FFT, N_MELS), (22_050, 2048, 128)):
        np.testing.assert_allclose(
            mel_filters(sr, n_fft, n_mels), librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels), rtol=1e-5, atol=1e-8
        )
    y = _load(TRIMMED_DIR / "Nebula.npz")["audio"][:40_000]
    expected = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2
    ours = power_spectrogram(y, N_FFT, HOP).T
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-4 * expected.max())


def test_tags_are_the_50_msd_tags() -> None:
    assert len(TAGS) == 50 and len(set(TAGS)) == 50
    assert TAGS[:5] == ("rock", "pop", "alternative", "indie", "electronic")
    assert TAGS[-1] == "happy"


def test_to_patches_cuts_back_to_back_and_drops_the_remainder() -> None:
    frames = np.arange(3 * PATCH_FRAMES + 100, dtype=np.float32)[:, None] * np.ones(N_MELS, np.float32)
    patches = to_patches(frames)
    assert patches.shape == (3, PATCH_FRAMES, N_MELS)
    assert patches[1, 0, 0] == PATCH_FRAMES and patches[2, -1, 0] == 3 * PATCH_FRAMES - 1
    assert to_patches(frames[: PATCH_FRAMES - 1]).shape == (0, PATCH_FRAMES, N_MELS)


def test_predict_is_independent_of_batching(model: Musicnn) -> None:
    """Patches are processed in chunks; results must not depend on which chunk a patch is in."""
    patches = _load(TRIMMED_DIR / "Nebula.npz")["logmel_patches"]
    patches = np.concatenate([patches, patches[::-1], patches[:1]])  # 5 patches: odd chunking
    together = model.predict(patches)
    for i in range(len(patches)):
        alone = model.predict(patches[i : i + 1])
        np.testing.assert_allclose(alone.tag_probs[0], together.tag_probs[i], atol=1e-6)
        np.testing.assert_allclose(alone.penultimate[0], together.penultimate[i], atol=1e-5)


def test_predict_on_no_patches_gives_empty_outputs(model: Musicnn) -> None:
    out = model.predict(np.zeros((0, PATCH_FRAMES, N_MELS), np.float32))
    assert isinstance(out, TaggerOutput)
    assert out.tag_probs.shape == (0, 50) and out.penultimate.shape == (0, 200)


def test_load_from_explicit_path_matches_packaged_weights(model: Musicnn, tmp_path: Path) -> None:
    packaged = Path(__file__).resolve().parents[1] / "bot" / "assets" / "musicnn-msd" / "weights.npz"
    copy = tmp_path / "weights.npz"
    copy.write_bytes(packaged.read_bytes())
    patches = _load(TRIMMED_DIR / "infight.npz")["logmel_patches"]
    np.testing.assert_array_equal(Musicnn.load(copy).predict(patches).tag_probs, model.predict(patches).tag_probs)


def test_load_refuses_pickled_arrays(tmp_path: Path) -> None:
    packaged = Path(__file__).resolve().parents[1] / "bot" / "assets" / "musicnn-msd" / "weights.npz"
    weights = _load(packaged)
    weights["dense_1/bias"] = np.array([{"not": "an array"}], dtype=object)  # needs pickle
    bad = tmp_path / "weights.npz"
    np.savez(bad, **weights)
    with pytest.raises(ValueError, match="allow_pickle"):
        Musicnn.load(bad)
