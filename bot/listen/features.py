"""The seed articles' handcrafted features, computed from one shared STFT.

The classic genre-recognition recipe (MFCCs, chroma, spectral contrast, tonnetz, spectral
centroid/bandwidth/rolloff, zero-crossing rate, RMS, tempo, each summarized by mean and standard
deviation) normally runs one STFT per librosa feature. Here one magnitude STFT feeds all of them:
librosa's feature functions accept a precomputed spectrogram through ``S=``.
"""

from __future__ import annotations

import librosa
import numpy as np

N_FFT = 2048
HOP = 512
N_MFCC = 20
#: Spectral contrast bands: six octaves from 200 Hz would pass 8 kHz (Nyquist at 16 kHz).
CONTRAST_BANDS = 5

_FRAME_FEATURES: tuple[tuple[str, int], ...] = (
    ("mfcc", N_MFCC),
    ("chroma", 12),
    ("contrast", CONTRAST_BANDS + 1),
    ("tonnetz", 6),
    ("centroid", 1),
    ("bandwidth", 1),
    ("rolloff", 1),
    ("zcr", 1),
    ("rms", 1),
)


def _feature_names() -> tuple[str, ...]:
    names = []
    for stat in ("mean", "std"):
        for feature, width in _FRAME_FEATURES:
            names += [f"{feature}_{stat}" if width == 1 else f"{feature}{i}_{stat}" for i in range(width)]
    return (*names, "tempo")


#: Names of the columns :func:`handcrafted_features` returns, in order.
FEATURE_NAMES: tuple[str, ...] = _feature_names()


def handcrafted_features(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Summary statistics of the classic features for one excerpt, as float32[len(FEATURE_NAMES)]."""
    y = np.ascontiguousarray(samples, dtype=np.float32)
    y = y - y.mean()  # some real recordings carry a large DC offset that would skew ZCR and RMS
    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = magnitude**2
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate))
    # Concert pitch (A440): estimating the tuning of every excerpt costs ~18 ms for no gain here.
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate, tuning=0.0)
    frames = [
        librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC),
        chroma,
        librosa.feature.spectral_contrast(S=magnitude, sr=sample_rate, n_bands=CONTRAST_BANDS),
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


def warm_up(seconds: float = 6.0, sample_rate: int = 16_000) -> None:
    """Compute the features of a few seconds of noise once: librosa's numba functions compile on
    their first call and write numba's cache (beside librosa, or in ``NUMBA_CACHE_DIR``), so that
    set-up (``scripts/setup.sh``, the Dockerfile) pays the compilation instead of a user's first run.
    """
    noise = np.random.default_rng(0).normal(0.0, 0.1, int(seconds * sample_rate)).astype(np.float32)
    handcrafted_features(noise, sample_rate)


if __name__ == "__main__":
    warm_up()
