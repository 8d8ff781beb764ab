"""The handcrafted features are librosa's, computed from one shared STFT, on real music.

``bot.listen.features`` feeds one magnitude STFT to every librosa feature (``S=``). Here each
feature is computed from the signal instead, one librosa call each (``y=``, one STFT per feature,
as the seed articles did): frame by frame, the summary vectors the genre model reads, the tempo
and the shipped genre model's probabilities are the same. The numba warm-up that set-up runs
leaves nothing for a later run to compile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest

from bot.audio.decode import SAMPLE_RATE, decode_excerpts
from bot.listen import features
from bot.listen.features import FEATURE_NAMES, handcrafted_features

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.ogg"))
REFERENCE_CLIPS = sorted((ROOT / "tests" / "data" / "musicnn-reference").glob("*.npz"))
N_FFT, HOP = features.N_FFT, features.HOP
#: Row blocks of ``features.frame_features``, by name.
BLOCKS = features._FRAME_FEATURES


def librosa_frames(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Every frame feature and the tempo, each librosa function on the signal itself (``y=``)."""
    y = np.ascontiguousarray(samples, dtype=np.float32)
    y = y - y.mean()
    sr, stft = sample_rate, {"n_fft": N_FFT, "hop_length": HOP}
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0, **stft)
    frames = [
        librosa.feature.mfcc(y=y, sr=sr, n_mfcc=features.N_MFCC, **stft),
        chroma,
        librosa.feature.spectral_contrast(y=y, sr=sr, n_bands=features.CONTRAST_BANDS, **stft),
        librosa.feature.tonnetz(chroma=chroma),  # tonnetz(y=) would use a constant-Q chroma
        librosa.feature.spectral_centroid(y=y, sr=sr, **stft),
        librosa.feature.spectral_bandwidth(y=y, sr=sr, **stft),
        librosa.feature.spectral_rolloff(y=y, sr=sr, **stft),
        librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP),
        librosa.feature.rms(S=np.abs(librosa.stft(y, **stft)), frame_length=N_FFT),  # rms(y=) has no window
    ]
    tempo = librosa.feature.tempo(y=y, sr=sr, hop_length=HOP)[0]
    return np.concatenate(frames, axis=0), float(tempo)


def librosa_features(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Crate's handcrafted summary vector, from :func:`librosa_frames` (the definition)."""
    stacked, tempo = librosa_frames(samples, sample_rate)
    vector = np.concatenate([stacked.mean(axis=1), stacked.std(axis=1), [tempo]])
    return np.nan_to_num(vector.astype(np.float32))


def _tone(tmp_path: Path) -> np.ndarray:
    """A chord with a beat, made and decoded by ffmpeg (a signal with a known tempo)."""
    path = tmp_path / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
         "aevalsrc='(sin(2*PI*440*t)+0.5*sin(2*PI*554*t))*(0.2+0.8*lt(mod(t,0.5),0.1))':s=16000:d=6",
         "-ac", "1", str(path)],
        check=True,
    )  # fmt: skip
    return decode_excerpts(path).excerpts[0].samples


@pytest.fixture(scope="module")
def excerpts() -> list[np.ndarray]:
    """Real music: every excerpt Crate decodes from the example tracks, and six reference clips."""
    assert EXAMPLES and REFERENCE_CLIPS
    samples = [e.samples for path in EXAMPLES for e in decode_excerpts(path).excerpts]
    for clip in REFERENCE_CLIPS:
        with np.load(clip, allow_pickle=False) as npz:
            samples.append(npz["audio"])
    return samples


def test_summary_vectors_equal_librosa_on_real_music(excerpts, tmp_path) -> None:
    for samples in [*excerpts, _tone(tmp_path), np.zeros(6 * SAMPLE_RATE, np.float32)]:
        ours, reference = handcrafted_features(samples, SAMPLE_RATE), librosa_features(samples, SAMPLE_RATE)
        assert ours.shape == reference.shape == (len(FEATURE_NAMES),) and ours.dtype == np.float32
        # One shared STFT gives every feature the very spectrogram its own STFT would.
        np.testing.assert_array_equal(ours, reference)
        assert ours[-1] == reference[-1]  # the tempo is one of the same discrete BPM values


def test_tempo_alone_is_the_handcrafted_tempo(excerpts, tmp_path) -> None:
    # Analysis without a custom genre model computes only the tempo: the same value, to the bit.
    for samples in [*excerpts, _tone(tmp_path), np.zeros(6 * SAMPLE_RATE, np.float32)]:
        assert features.excerpt_tempo(samples, SAMPLE_RATE) == handcrafted_features(samples, SAMPLE_RATE)[-1]


def test_analysis_without_a_custom_model_skips_the_vectors_not_the_tempo() -> None:
    from bot.listen.analyze import Listener

    listener = Listener.load()  # the packaged family model: it reads the taggers' outputs only
    assert listener.genre_model is None
    decoded = decode_excerpts(EXAMPLES[0])
    full, lean = listener.describe(decoded), listener.describe(decoded, with_vectors=False)
    assert full.vectors is not None and lean.vectors is None
    assert lean.tempo == full.tempo == float(np.median(full.vectors[:, -1]))
    assert listener.analyze_decoded(decoded).tempo == full.tempo


def test_tempo_of_a_beat_is_found(tmp_path) -> None:
    # 120 BPM pulses (one every 0.5 s): librosa's estimator with its 120 BPM prior.
    tempo = handcrafted_features(_tone(tmp_path), SAMPLE_RATE)[-1]
    assert abs(tempo - 120) < 8  # the BPM values near 120 at this hop: 117.2 and 125


def test_each_frame_feature_equals_librosa(excerpts) -> None:
    widths = [width for _, width in BLOCKS]
    assert sum(widths) * 2 + 1 == len(FEATURE_NAMES)
    for samples in excerpts[:3]:
        y, magnitude, mel_db = features.spectra(samples, SAMPLE_RATE)
        assert y.dtype == magnitude.dtype == mel_db.dtype == np.float32
        assert magnitude.shape == (1 + N_FFT // 2, 1 + len(samples) // HOP) and mel_db.shape[1] == magnitude.shape[1]
        ours = features.frame_features(y, magnitude, mel_db, SAMPLE_RATE)
        reference, tempo = librosa_frames(samples, SAMPLE_RATE)
        assert ours.shape == reference.shape == (sum(widths), magnitude.shape[1])
        starts = np.cumsum(widths)[:-1]
        for (name, _), block, expected in zip(BLOCKS, np.split(ours, starts), np.split(reference, starts), strict=True):
            np.testing.assert_array_equal(block, expected, err_msg=name)
        assert features.tempo(mel_db, SAMPLE_RATE) == tempo


def test_shipped_genre_model_gives_the_same_probabilities(excerpts) -> None:
    """The genre model was trained on librosa's features, one STFT each: on Crate's its output is unchanged."""
    from bot.listen.analyze import Listener
    from bot.listen.head import default_model_path

    listener = Listener.load(default_model_path(), with_mtt=False)  # the GTZAN model (Listener.load(): families)
    assert listener.genre_model is not None
    for path in EXAMPLES:
        decoded = decode_excerpts(path)
        vectors = listener.describe(decoded).vectors
        assert vectors is not None
        with_librosa = vectors.copy()
        for row, excerpt in enumerate(decoded.excerpts):
            with_librosa[row, -len(FEATURE_NAMES) :] = librosa_features(excerpt.samples, decoded.sample_rate)
        ours = listener.genre_model.predict_proba(vectors)
        reference = listener.genre_model.predict_proba(with_librosa)
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-9)


def test_warm_up_leaves_nothing_to_compile() -> None:
    """``python -m bot.listen.warm`` (set-up, the Docker build) fills numba's cache; run again, it only loads it."""
    env = {**os.environ, "NUMBA_DEBUG_CACHE": "1"}
    command = [sys.executable, "-m", "bot.listen.warm"]
    runs = [subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600) for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    again = runs[1].stdout
    assert "[cache] data loaded" in again and "saved" not in again, again
