"""The numpy handcrafted features are librosa's, on real music.

``bot.listen.features`` redoes librosa's features in numpy so that analysis never imports librosa
(numba compiles it on a first run). Here librosa, a test and training dependency, computes the
reference: frame by frame for each feature, the summary vector the genre model reads, the tempo,
and the shipped genre model's probabilities on both.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from bot.audio.decode import SAMPLE_RATE, decode_excerpts
from bot.listen import features
from bot.listen.features import FEATURE_NAMES, handcrafted_features

librosa = pytest.importorskip("librosa")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.ogg"))
REFERENCE_CLIPS = sorted((ROOT / "tests" / "data" / "musicnn-reference").glob("*.npz"))
N_FFT, HOP = features.N_FFT, features.HOP


def librosa_features(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Crate's handcrafted features as they were computed with librosa (the definition)."""
    y = np.ascontiguousarray(samples, dtype=np.float32)
    y = y - y.mean()
    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = magnitude**2
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate))
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate, tuning=0.0)
    frames = [
        librosa.feature.mfcc(S=mel_db, n_mfcc=features.N_MFCC),
        chroma,
        librosa.feature.spectral_contrast(S=magnitude, sr=sample_rate, n_bands=features.CONTRAST_BANDS),
        librosa.feature.tonnetz(chroma=chroma),
        librosa.feature.spectral_centroid(S=magnitude, sr=sample_rate),
        librosa.feature.spectral_bandwidth(S=magnitude, sr=sample_rate),
        librosa.feature.spectral_rolloff(S=magnitude, sr=sample_rate),
        librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP),
        librosa.feature.rms(S=magnitude, frame_length=N_FFT),
    ]
    stacked = np.concatenate(frames, axis=0)
    onset = librosa.onset.onset_strength(S=mel_db, sr=sample_rate)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=sample_rate, hop_length=HOP)
    vector = np.concatenate([stacked.mean(axis=1), stacked.std(axis=1), np.atleast_1d(tempo)[:1]])
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
        # MFCCs take a float64 DCT where librosa's is float32 (scipy): up to ~3e-5 on values of ~500.
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-4)
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
    y = excerpts[1] - excerpts[1].mean()
    sr = SAMPLE_RATE
    magnitude = features.stft_magnitude(y)
    reference_magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    np.testing.assert_allclose(magnitude, reference_magnitude, rtol=1e-6, atol=1e-7)
    power = magnitude**2
    mel_db = features.power_to_db(np.einsum("ft,mf->mt", power, features._mel_basis(sr)))
    reference_mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr))
    np.testing.assert_allclose(mel_db, reference_mel_db, rtol=0, atol=1e-4)
    freq = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    distribution = features._normalize(magnitude, 1)
    centroid = np.sum(freq[:, None] * distribution, axis=-2, keepdims=True)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, tuning=0.0)
    pairs = {
        "mfcc": (features.mfcc(mel_db), librosa.feature.mfcc(S=mel_db, n_mfcc=features.N_MFCC)),
        "chroma basis": (features._chroma_basis(sr), librosa.filters.chroma(sr=sr, n_fft=N_FFT, tuning=0.0)),
        "contrast": (
            features.spectral_contrast(magnitude, freq, sr),
            librosa.feature.spectral_contrast(S=magnitude, sr=sr, n_bands=features.CONTRAST_BANDS),
        ),
        "tonnetz": (features.tonnetz(chroma), librosa.feature.tonnetz(chroma=chroma)),
        "centroid": (centroid, librosa.feature.spectral_centroid(S=magnitude, sr=sr)),
        "bandwidth": (
            features.spectral_bandwidth(distribution, freq, centroid),
            librosa.feature.spectral_bandwidth(S=magnitude, sr=sr),
        ),
        "rolloff": (features.spectral_rolloff(magnitude, freq), librosa.feature.spectral_rolloff(S=magnitude, sr=sr)),
        "zcr": (
            features.zero_crossing_rate(y),
            librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP),
        ),
        "rms": (features.rms(magnitude), librosa.feature.rms(S=magnitude, frame_length=N_FFT)),
        "onset": (features.onset_strength(mel_db), librosa.onset.onset_strength(S=mel_db, sr=sr)),
    }
    for name, (ours, reference) in pairs.items():
        assert ours.shape == reference.shape, name
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5, err_msg=name)
    onset = features.onset_strength(mel_db)
    assert features.estimate_tempo(onset, sr) == librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=HOP)[0]


def test_shipped_genre_model_gives_the_same_probabilities(excerpts) -> None:
    """The genre model was trained on librosa's features: on the numpy ones its output is unchanged."""
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
