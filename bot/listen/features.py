"""The seed articles' handcrafted features, computed from one shared STFT, in numpy alone.

The classic genre-recognition recipe (MFCCs, chroma, spectral contrast, tonnetz, spectral
centroid/bandwidth/rolloff, zero-crossing rate, RMS, tempo, each summarized by mean and standard
deviation) normally runs one STFT per librosa feature. Here one magnitude STFT feeds all of them.

Every function below is librosa 0.11's (``librosa.stft``, ``feature.melspectrogram``,
``power_to_db``, ``feature.mfcc``, ``chroma_stft``, ``spectral_contrast``, ``tonnetz``,
``spectral_centroid``/``bandwidth``/``rolloff``, ``zero_crossing_rate``, ``rms``,
``onset.onset_strength``, ``feature.tempo``) with librosa's defaults, redone step by step with
the same dtypes and array layouts, so that the results agree to float rounding
(``tests/test_features.py`` compares them with librosa on real music). Analysis therefore never
imports librosa (whose numba functions compile on a first run) nor scipy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bot.listen.musicnn import mel_filters

N_FFT = 2048
HOP = 512
N_MFCC = 20
N_MELS = 128
#: Spectral contrast bands: six octaves from 200 Hz would pass 8 kHz (Nyquist at 16 kHz).
CONTRAST_BANDS = 5
CONTRAST_FMIN, CONTRAST_QUANTILE = 200.0, 0.02
ROLL_PERCENT = 0.85
AMIN, TOP_DB = 1e-10, 80.0
#: Tempo: librosa's log-normal prior around 120 BPM (one octave wide) over an 8-s autocorrelation.
START_BPM, STD_BPM, AC_SECONDS, MAX_TEMPO = 120.0, 1.0, 8.0, 320.0

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
    y, magnitude, power, mel_db = _spectra(samples, sample_rate)
    # Concert pitch (A440): estimating the tuning of every excerpt costs ~18 ms for no gain here.
    chroma = _normalize(np.einsum("cf,...ft->...ct", _chroma_basis(sample_rate), power, optimize=True), np.inf)
    freq = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    distribution = _normalize(magnitude, 1)  # each frame's magnitudes summing to one
    centroid = np.sum(freq[:, None] * distribution, axis=-2, keepdims=True)
    frames = [
        mfcc(mel_db),
        chroma,
        spectral_contrast(magnitude, freq, sample_rate),
        tonnetz(chroma),
        centroid,
        spectral_bandwidth(distribution, freq, centroid),
        spectral_rolloff(magnitude, freq),
        zero_crossing_rate(y),
        rms(magnitude),
    ]
    stacked = np.concatenate(frames, axis=0)
    vector = np.concatenate([stacked.mean(axis=1), stacked.std(axis=1), [_tempo(mel_db, sample_rate)]])
    return np.nan_to_num(vector.astype(np.float32))


def excerpt_tempo(samples: np.ndarray, sample_rate: int) -> float:
    """The last entry of :func:`handcrafted_features` (the tempo, BPM) alone, for about half the cost.

    For an analysis whose genre answer does not use the handcrafted features: the same
    spectrogram and onset envelope, so the same value to the bit.
    """
    _, _, _, mel_db = _spectra(samples, sample_rate)
    return float(np.nan_to_num(np.float32(_tempo(mel_db, sample_rate))))


def _spectra(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The DC-free signal, its STFT magnitude and power, and the dB mel spectrogram."""
    y = np.ascontiguousarray(samples, dtype=np.float32)
    y = y - y.mean()  # some real recordings carry a large DC offset that would skew ZCR and RMS
    magnitude = stft_magnitude(y)  # [1 + N_FFT // 2, frames], librosa's layout
    power = magnitude**2
    mel = np.einsum("...ft,mf->...mt", power, _mel_basis(sample_rate), optimize=True)
    return y, magnitude, power, power_to_db(mel)


def _tempo(mel_db: np.ndarray, sample_rate: int) -> float:
    return estimate_tempo(onset_strength(mel_db), sample_rate)


# --------------------------------------------------------------------------- the spectrogram


def stft_magnitude(y: np.ndarray) -> np.ndarray:
    """``np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))``: centred frames, zero padding,
    periodic Hann window in float64, complex64 result, laid out ``[bins, frames]`` as librosa's
    (Fortran order)."""
    padded = np.pad(y, N_FFT // 2)
    frames = sliding_window_view(padded, N_FFT)[::HOP]  # [frames, N_FFT], float32
    spectrum = np.fft.rfft(frames * _hann64(N_FFT), axis=1).astype(np.complex64)
    return np.abs(spectrum).T


@lru_cache(maxsize=4)
def _hann64(n: int) -> np.ndarray:
    """``scipy.signal.get_window("hann", n, fftbins=True)``, computed as scipy does."""
    return (0.5 + 0.5 * np.cos(np.linspace(-np.pi, np.pi, n + 1)))[:-1]


@lru_cache(maxsize=4)
def _mel_basis(sample_rate: int) -> np.ndarray:
    return mel_filters(sample_rate, N_FFT, N_MELS)


def power_to_db(S: np.ndarray) -> np.ndarray:
    """``librosa.power_to_db(S)`` (ref 1.0, amin 1e-10, top_db 80)."""
    log_spec = 10.0 * np.log10(np.maximum(AMIN, S))
    log_spec -= 10.0 * np.log10(np.maximum(AMIN, 1.0))
    return np.maximum(log_spec, log_spec.max() - TOP_DB)


def _normalize(S: np.ndarray, norm: float) -> np.ndarray:
    """``librosa.util.normalize(S, norm=norm, axis=-2)``: columns with a tiny norm stay as they are."""
    mag = np.abs(S).astype(float)
    if norm == np.inf:
        length = np.max(mag, axis=-2, keepdims=True)
    else:
        length = np.sum(mag**norm, axis=-2, keepdims=True) ** (1.0 / norm)
    length[length < np.finfo(S.dtype).tiny] = 1.0
    out = np.empty_like(S)
    out[:] = S / length
    return out


# --------------------------------------------------------------------------- frame features


def mfcc(mel_db: np.ndarray) -> np.ndarray:
    """``librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)``: the orthonormal DCT-II of each column."""
    return (_dct_basis(mel_db.shape[-2]) @ mel_db).astype(np.float32)


@lru_cache(maxsize=4)
def _dct_basis(n: int) -> np.ndarray:
    """The first N_MFCC rows of the orthonormal DCT-II matrix (``scipy.fft.dct(norm="ortho")``)."""
    k = np.arange(N_MFCC)[:, None]
    basis = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return basis


@lru_cache(maxsize=4)
def _chroma_basis(sample_rate: int, n_chroma: int = 12) -> np.ndarray:
    """``librosa.filters.chroma(sr=sample_rate, n_fft=N_FFT, tuning=0.0)``: Gaussian bumps per
    pitch class, weighted towards octave 5, rows starting at C."""
    frequencies = np.linspace(0, sample_rate, N_FFT, endpoint=False)[1:]
    frqbins = n_chroma * np.log2(frequencies / (440.0 / 16))
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    D = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    n_chroma2 = np.round(float(n_chroma) / 2)
    D = np.remainder(D + n_chroma2 + 10 * n_chroma, n_chroma) - n_chroma2
    wts = np.exp(-0.5 * (2 * D / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    # normalize(norm=2, axis=0): every column to unit length
    length = np.sqrt(np.sum(wts**2, axis=0, keepdims=True))
    length[length < np.finfo(wts.dtype).tiny] = 1.0
    wts = wts / length
    wts *= np.tile(np.exp(-0.5 * (((frqbins / n_chroma - 5.0) / 2) ** 2)), (n_chroma, 1))
    wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(wts[:, : int(1 + N_FFT / 2)], dtype=np.float32)


def spectral_contrast(S: np.ndarray, freq: np.ndarray, sample_rate: int) -> np.ndarray:
    """``librosa.feature.spectral_contrast(S=S, sr=sample_rate, n_bands=CONTRAST_BANDS)``."""
    octa = np.zeros(CONTRAST_BANDS + 2)
    octa[1:] = CONTRAST_FMIN * (2.0 ** np.arange(0, CONTRAST_BANDS + 1))
    valley = np.zeros((CONTRAST_BANDS + 1, S.shape[-1]))
    peak = np.zeros_like(valley)
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:])):
        current_band = np.logical_and(freq >= f_low, freq <= f_high)
        idx = np.flatnonzero(current_band)
        if k > 0:
            current_band[idx[0] - 1] = True
        if k == CONTRAST_BANDS:
            current_band[idx[-1] + 1 :] = True
        sub_band = S[..., current_band, :]
        if k < CONTRAST_BANDS:
            sub_band = sub_band[..., :-1, :]
        n = int(np.maximum(np.rint(CONTRAST_QUANTILE * np.sum(current_band)), 1))
        sortedr = np.sort(sub_band, axis=-2)
        valley[k] = np.mean(sortedr[..., :n, :], axis=-2)
        peak[k] = np.mean(sortedr[..., -n:, :], axis=-2)
    return power_to_db(peak) - power_to_db(valley)


def tonnetz(chroma: np.ndarray) -> np.ndarray:
    """``librosa.feature.tonnetz(chroma=chroma)``: fifths, minor and major thirds as 2-d circles."""
    dim_map = np.linspace(0, 12, num=chroma.shape[-2], endpoint=False)
    scale = np.asarray([7.0 / 6, 7.0 / 6, 3.0 / 2, 3.0 / 2, 2.0 / 3, 2.0 / 3])
    V = np.multiply.outer(scale, dim_map)
    V[::2] -= 0.5
    R = np.array([1, 1, 1, 1, 0.5, 0.5])
    phi = R[:, np.newaxis] * np.cos(np.pi * V)
    return np.einsum("pc,...ci->...pi", phi, _normalize(chroma, 1), optimize=True)


def spectral_bandwidth(distribution: np.ndarray, freq: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    """``librosa.feature.spectral_bandwidth(S=S)`` (p = 2), from ``S``'s columns normalised to
    sum to one and its centroids."""
    deviation = np.abs(np.subtract.outer(centroid[..., 0, :], freq).swapaxes(-2, -1))
    return np.sum(distribution * deviation**2, axis=-2, keepdims=True) ** (1.0 / 2)


def spectral_rolloff(S: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """``librosa.feature.spectral_rolloff(S=S)``: the lowest bin holding 85 % of the energy."""
    total_energy = np.cumsum(S, axis=-2)
    threshold = np.expand_dims(ROLL_PERCENT * total_energy[..., -1, :], axis=-2)
    ind = np.where(total_energy < threshold, np.nan, 1)
    return np.nanmin(ind * freq[:, None], axis=-2, keepdims=True)


def zero_crossing_rate(y: np.ndarray, threshold: float = 1e-10) -> np.ndarray:
    """``librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)``: edge-padded
    centred frames; a sample within ``threshold`` of zero counts as positive."""
    padded = np.pad(y, N_FFT // 2, mode="edge")
    negative = np.signbit(padded) & ~((-threshold <= padded) & (padded <= threshold))
    changes = np.concatenate(([0], np.cumsum(negative[1:] != negative[:-1])))
    starts = np.arange(0, len(padded) - N_FFT + 1, HOP)
    # crossings between samples i-1 and i for i = 1 .. N_FFT-1 of each frame, over N_FFT samples
    return ((changes[starts + N_FFT - 1] - changes[starts]) / N_FFT)[None, :]


def rms(S: np.ndarray) -> np.ndarray:
    """``librosa.feature.rms(S=S, frame_length=N_FFT)``: energy from the magnitude spectrogram."""
    x = np.square(S, dtype=np.float32)
    x[..., 0, :] *= 0.5
    x[..., -1, :] *= 0.5
    return np.sqrt(2 * np.sum(x, axis=-2, keepdims=True) / N_FFT**2)


# --------------------------------------------------------------------------- tempo


def onset_strength(mel_db: np.ndarray) -> np.ndarray:
    """``librosa.onset.onset_strength(S=mel_db)``: mean positive difference between successive
    frames, shifted to be centred (lag 1 plus ``N_FFT // (2 * HOP)`` frames of zeros in front)."""
    onset_env = np.maximum(0.0, mel_db[..., 1:] - mel_db[..., :-1])
    aggregated = np.empty((1, onset_env.shape[-1]), dtype=onset_env.dtype)
    aggregated[0] = np.mean(onset_env, axis=-2)
    pad_width = 1 + N_FFT // (2 * HOP)
    return np.pad(aggregated, ((0, 0), (pad_width, 0)), mode="constant")[0, : mel_db.shape[-1]]


def estimate_tempo(onset_envelope: np.ndarray, sample_rate: int) -> float:
    """``librosa.feature.tempo(onset_envelope=..., sr=sample_rate, hop_length=HOP)[0]``: the
    period whose mean windowed autocorrelation, weighted by a log-normal prior, is highest."""
    win_length = int(np.floor(AC_SECONDS * sample_rate) // HOP)
    n = onset_envelope.shape[-1]
    padded = np.pad(onset_envelope, win_length // 2, mode="linear_ramp", end_values=[0, 0])
    odf_frame = sliding_window_view(padded, win_length).T[:, :n]  # [win_length, n] like util.frame
    windowed = odf_frame * _hann64(win_length)[:, None]
    n_pad = _next_fast_len(2 * win_length - 1)
    spectrum = np.fft.rfft(windowed, n=n_pad, axis=-2)
    autocorr = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_pad, axis=-2)[:win_length]
    tg = np.mean(_normalize(autocorr, np.inf), axis=-1, keepdims=True)
    bpms = np.zeros(win_length, dtype=np.float64)
    bpms[0] = np.inf
    bpms[1:] = 60.0 * sample_rate / (HOP * np.arange(1.0, win_length))
    with np.errstate(divide="ignore"):
        logprior = -0.5 * ((np.log2(bpms) - np.log2(START_BPM)) / STD_BPM) ** 2
    logprior[: int(np.argmax(bpms < MAX_TEMPO))] = -np.inf
    best_period = np.argmax(np.log1p(1e6 * tg) + logprior[:, None], axis=-2)
    return float(bpms[best_period[0]])


def _next_fast_len(target: int) -> int:
    """The smallest 2-3-5-smooth length >= target (``scipy.fft.next_fast_len(target, real=True)``)."""
    n = target
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1
