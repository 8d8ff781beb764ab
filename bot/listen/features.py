"""The handcrafted features of an excerpt: librosa's classic genre-recognition recipe.

MFCCs, chroma, spectral contrast, tonnetz, spectral centroid, bandwidth and roll-off,
zero-crossing rate and RMS, each summarized by its mean and standard deviation over the frames,
and the tempo. Every feature is librosa's, with its defaults, computed from one shared magnitude
STFT (``S=``) rather than one STFT per feature; only the zero-crossing rate reads the signal.

librosa's numba functions are compiled once into numba's cache (:mod:`bot.listen.warm`, run by
``scripts/setup.sh`` and the Docker build) and imported by the analysis pool's fork server
(:mod:`bot.listen.preload`); the bot process never imports this module.
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
    """Summary statistics of the classic features for one excerpt.

    Parameters
    ----------
    samples : np.ndarray [shape=(n,)]
        The excerpt, mono.
    sample_rate : int
        Its sample rate, Hz.

    Returns
    -------
    np.ndarray [shape=(len(FEATURE_NAMES),), dtype=float32]
        Each frame feature's mean over the frames, then each one's standard deviation, then the
        tempo (BPM); NaNs (a silent excerpt's) as zeros.
    """
    y, magnitude, mel_db = spectra(samples, sample_rate)
    frames = frame_features(y, magnitude, mel_db, sample_rate)
    vector = np.concatenate([frames.mean(axis=1), frames.std(axis=1), [tempo(mel_db, sample_rate)]])
    return np.nan_to_num(vector.astype(np.float32))


def frame_features(y: np.ndarray, magnitude: np.ndarray, mel_db: np.ndarray, sample_rate: int) -> np.ndarray:
    """Every frame feature of one excerpt, from its :func:`spectra`.

    Parameters
    ----------
    y, magnitude, mel_db : np.ndarray
        As :func:`spectra` returns them.
    sample_rate : int
        The excerpt's sample rate, Hz.

    Returns
    -------
    np.ndarray [shape=(49, 1 + len(y) // HOP), dtype=float64]
        MFCC (20 rows), chroma (12), spectral contrast (6), tonnetz (6), spectral centroid,
        bandwidth and roll-off, zero-crossing rate and RMS (1 each), in that order.
    """
    # Concert pitch (A440): estimating the tuning of every excerpt costs ~18 ms for no gain here.
    chroma = librosa.feature.chroma_stft(S=magnitude**2, sr=sample_rate, tuning=0.0)
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
    return np.concatenate(frames, axis=0)


def excerpt_tempo(samples: np.ndarray, sample_rate: int) -> float:
    """The last entry of :func:`handcrafted_features` (the tempo, BPM) alone, for about half the cost.

    For an analysis whose genre answer does not use the handcrafted features: the same
    spectrogram and onset envelope, so the same value to the bit.
    """
    _, _, mel_db = spectra(samples, sample_rate)
    return float(np.nan_to_num(np.float32(tempo(mel_db, sample_rate))))


def spectra(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The spectrograms every feature is computed from.

    Parameters
    ----------
    samples, sample_rate
        As for :func:`handcrafted_features`: ``n`` mono samples and their rate, Hz.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        The excerpt without its DC offset (some real recordings carry a large one, which would
        skew the zero-crossing rate and the RMS).
    magnitude : np.ndarray [shape=(1 + N_FFT // 2, 1 + n // HOP), dtype=float32]
        ``|librosa.stft(y)|``: centred Hann frames of ``N_FFT`` samples, ``HOP`` apart.
    mel_db : np.ndarray [shape=(128, 1 + n // HOP), dtype=float32]
        The power mel spectrogram in dB (``librosa.power_to_db``: reference 1, 80 dB range).
    """
    y = np.ascontiguousarray(samples, dtype=np.float32)
    y = y - y.mean()
    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    mel = librosa.feature.melspectrogram(S=magnitude**2, sr=sample_rate)
    return y, magnitude, librosa.power_to_db(mel)


def tempo(mel_db: np.ndarray, sample_rate: int) -> float:
    """librosa's global tempo estimate from a dB mel spectrogram.

    Parameters
    ----------
    mel_db : np.ndarray [shape=(n_mels, frames)]
        As :func:`spectra` returns it, frames ``HOP`` samples apart.
    sample_rate : int
        The signal's sample rate, Hz.

    Returns
    -------
    float
        BPM: the period whose mean autocorrelation of the onset strength over 8-s windows,
        weighted by a log-normal prior around 120 BPM, is highest.
    """
    onset = librosa.onset.onset_strength(S=mel_db, sr=sample_rate, hop_length=HOP)
    return float(librosa.feature.tempo(onset_envelope=onset, sr=sample_rate, hop_length=HOP)[0])
