"""The pretrained musicnn music taggers (Pons & Serra 2019), re-implemented in numpy.

The original ``musicnn`` package needs TensorFlow 1.x; this module runs the same networks from
their exported weights (``bot/assets/musicnn-msd/weights.npz`` for MSD_musicnn, trained on the
Million Song Dataset's last.fm tags, and ``bot/assets/musicnn-mtt/weights.npz`` for MTT_musicnn,
trained on MagnaTagATune; TensorFlow names and layouts, ISC licence in ``LICENSE.md`` beside
them) and reproduces their outputs to ~1e-5. Both have the same architecture and input, so one
:func:`log_mel` front end feeds both.

The front end is numpy only (``numpy.fft`` and a Slaney mel filter bank built here, equal to
librosa's to float32 rounding), cut to the samples the taggers hear (:func:`excerpt_patches`).

Pipeline: 16 kHz mono samples -> :func:`log_mel` -> :func:`to_patches` (3-s patches of 187
frames) -> :meth:`Musicnn.predict` -> per-patch probabilities of 50 last.fm tags plus the 200-d
penultimate layer, a good track embedding.

Every convolution is one float32 matrix product (OpenBLAS) over a few patches at a time, shaped
so that BLAS runs it fast and few values are copied:

* the two timbral ones (7 frames x 38 or 67 bands) are correlations along frequency done through a
  DFT (:class:`_SpectralKernel`), which needs about half the operations of a direct convolution;
* the three temporal ones (128, 64 and 32 frames, one band at a time) share one copy of shifted
  frames (:func:`_time_taps`) and run as ``kernel.T @ taps``: short and very wide;
* the mid end's width-7 convolutions multiply every frame by all seven taps' kernels at once and
  add the taps' responses shifted (no im2col copy at all).

:class:`Taggers` runs several taggers' front ends as one (one copy and one product for all of them);
batch norms are folded into per-channel scale/shift at load time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bot.analysis import MTT_TAGS, TAGS

SAMPLE_RATE = 16_000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187

_BN_EPSILON = 1e-3
_CHUNK = 3  # patches per batch: bounds peak memory (~25 MB of scratch per patch)
#: The packaged taggers: name -> (asset folder, tag names in output order).
MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "msd": ("musicnn-msd", TAGS),
    "mtt": ("musicnn-mtt", MTT_TAGS),
}
__all__ = ["MODELS", "MTT_TAGS", "TAGS", "Musicnn", "TaggerOutput", "log_mel", "to_patches"]


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    linear = hz / f_sp
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """``[n_mels, 1 + n_fft // 2]`` Slaney-normalised triangular filters (``librosa.filters.mel``)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2 : n_mels + 2] - mel_freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


def hann(n_fft: int) -> np.ndarray:
    """The periodic Hann window (``scipy.signal.get_window("hann", n_fft)``, librosa's default)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def power_spectrogram(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``|STFT|**2`` as ``[frames, 1 + n_fft // 2]`` float32: centred frames, zero padding, Hann.

    The same frames as ``librosa.stft(y, n_fft=n_fft, hop_length=hop)`` (librosa >= 0.10 pads
    with zeros), transposed: time first.
    """
    padded = np.pad(np.asarray(y, dtype=np.float32), n_fft // 2)
    frames = sliding_window_view(padded, n_fft)[::hop] * _window(n_fft)
    spectrum = np.fft.rfft(frames, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


@lru_cache(maxsize=4)
def _window(n_fft: int) -> np.ndarray:
    return hann(n_fft)


@lru_cache(maxsize=1)
def _mel_basis_t() -> np.ndarray:
    return np.ascontiguousarray(mel_filters(SAMPLE_RATE, N_FFT, N_MELS).T)  # [257, 96]


def _expit(x: np.ndarray) -> np.ndarray:
    """The logistic sigmoid (``scipy.special.expit``), without overflow for large ``|x|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def log_mel(samples: np.ndarray) -> np.ndarray:
    """Mono float samples at 16 kHz -> the network's input, ``[frames, 96]`` float32.

    librosa's mel power spectrogram (centred frames, zero padding, Slaney filters), then
    ``log10(10000 * mel + 1)``. The original package took the log in float16, which overflows to
    inf on loud music; float32 matches its reference outputs everywhere else.
    """
    y = np.ascontiguousarray(samples, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {y.shape}")
    mel = power_spectrogram(y, N_FFT, HOP) @ _mel_basis_t()  # [frames, 96]
    return np.log10(np.float32(10_000) * mel + np.float32(1))


def to_patches(logmel: np.ndarray) -> np.ndarray:
    """Cut ``[frames, 96]`` into ``[n, 187, 96]`` back-to-back patches, as the original did.

    Patch i is frames ``187*i .. 187*i+186``; the trailing ``frames % 187`` frames are dropped
    (a 30-s clip gives 1876 frames -> 10 patches). Fewer than 187 frames gives ``n = 0``.
    """
    n = logmel.shape[0] // PATCH_FRAMES
    return np.ascontiguousarray(logmel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, logmel.shape[1]), dtype=np.float32)


#: How many patches the taggers hear of each analysis excerpt: both (the whole 6-s excerpt). With
#: one, the top-5 styles of the six reference clips shared only 3 of 5 with the TensorFlow
#: reference over the clip; with two, at least 4 (tests/test_musicnn.py, docs/listening.md).
PATCHES_PER_EXCERPT = 2


def excerpt_patches(samples: np.ndarray) -> np.ndarray:
    """The patches the taggers hear of one excerpt (16 kHz mono): its first
    :data:`PATCHES_PER_EXCERPT`, ``[n, 187, 96]`` (``n = 0`` below 187 frames).

    The same frames as ``to_patches(log_mel(samples))[:PATCHES_PER_EXCERPT]`` (to float32
    rounding: frame ``i`` reads samples up to ``HOP * (i + 1)``), but only the samples those
    frames read go through the front end (a fifth of its cost on a 6-s excerpt).
    """
    return to_patches(log_mel(samples[: PATCHES_PER_EXCERPT * PATCH_FRAMES * HOP]))


@dataclass(frozen=True)
class TaggerOutput:
    tag_probs: np.ndarray  # [n, 50] sigmoid probabilities, columns in TAGS order
    penultimate: np.ndarray  # [n, 200] batch-normalised penultimate layer (embedding)


@dataclass(frozen=True)
class _ConvMaxFreq:
    """Conv -> ReLU -> batch norm -> max over frequency, for one front-end branch.

    The max runs before bias, ReLU and batch norm, on far fewer values; it commutes with them
    because each is monotone per channel. Batch norm with a negative scale (most channels here)
    reverses the order, so those kernel columns are negated up front (``sign``): the max of the
    negated response is minus the min of the original, which is the one the max picks.
    """

    kernel: np.ndarray  # [k_time * k_freq, out], columns multiplied by sign
    sign: np.ndarray  # [out] +1 / -1
    bias: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    k_time: int


def _pad_time(x: np.ndarray, before: int, after: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (before, after), (0, 0)))


class Musicnn:
    """One musicnn tagger. Load once (~3 MB of weights), then :meth:`predict` on patches."""

    def __init__(self, weights: dict[str, np.ndarray], tags: tuple[str, ...] = TAGS) -> None:
        self.tags = tags
        w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}

        def bn(name: str) -> tuple[np.ndarray, np.ndarray]:
            scale = w[f"{name}/gamma"] / np.sqrt(w[f"{name}/moving_variance"] + _BN_EPSILON)
            shift = w[f"{name}/beta"] - w[f"{name}/moving_mean"] * scale
            return scale.astype(np.float32), shift.astype(np.float32)

        def branch(conv: str, norm: str) -> _ConvMaxFreq:
            kernel = w[f"{conv}/kernel"]  # [time, freq, 1, out]
            scale, shift = bn(norm)
            sign = np.where(scale < 0, -1, 1).astype(np.float32)
            return _ConvMaxFreq(
                kernel=np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1]) * sign),
                sign=sign,
                bias=w[f"{conv}/bias"],
                scale=scale,
                shift=shift,
                k_time=kernel.shape[0],
            )

        self._in_scale, self._in_shift = (float(v[0]) for v in bn("batch_normalization"))
        # Timbral: 7x38 and 7x67 (0.4 and 0.7 of 96 bands), 204 filters each.
        self._timbral = [branch("conv2d", "batch_normalization_1"), branch("conv2d_1", "batch_normalization_2")]
        # Temporal: 128x1, 64x1, 32x1 over time within each band, 51 filters each.
        self._temporal = [branch(f"conv2d_{i}", f"batch_normalization_{i + 1}") for i in (2, 3, 4)]
        # Mid end: width-7 convs over time across all channels. The kernel is [time, chan, 1, out];
        # stored as [chan, time * out]: one product gives every tap's response (see _mid_end).
        self._mid = []
        for i in (5, 6, 7):
            k = w[f"conv2d_{i}/kernel"][:, :, 0, :]
            self._mid.append(
                (
                    np.ascontiguousarray(k.transpose(1, 0, 2).reshape(k.shape[1], -1)),
                    w[f"conv2d_{i}/bias"],
                    *bn(f"batch_normalization_{i + 1}"),
                )
            )
        # Back end: batch norm on the pooled features folds into the first dense layer.
        s9, t9 = bn("batch_normalization_9")
        self._dense_w = np.ascontiguousarray(s9[:, None] * w["dense/kernel"])
        self._dense_b = (t9 @ w["dense/kernel"] + w["dense/bias"]).astype(np.float32)
        self._pen_scale, self._pen_shift = bn("batch_normalization_10")
        self._out_w = w["dense_1/kernel"]
        self._out_b = w["dense_1/bias"]
        self._alone: Taggers | None = None

    @classmethod
    def load(cls, path: Path | None = None, *, model: str = "msd") -> Musicnn:
        """Load ``weights.npz`` (default: the copy packaged for ``model``, "msd" or "mtt").

        Refuses pickled (object) arrays: ``np.load(..., allow_pickle=False)`` raises ValueError.
        """
        folder, tags = MODELS[model]
        if path is None:
            with resources.files("bot.assets").joinpath(folder, "weights.npz").open("rb") as fh:
                return cls(_read_npz(fh), tags)
        with open(path, "rb") as fh:
            return cls(_read_npz(fh), tags)

    def predict(self, patches: np.ndarray) -> TaggerOutput:
        """``[n, 187, 96]`` log-mel patches -> per-patch tag probabilities and embeddings."""
        if self._alone is None:
            self._alone = Taggers((self,))
        return self._alone.predict(patches)[0]

    def _back_end(self, pooled: np.ndarray) -> TaggerOutput:
        """``[n, 1506]`` pooled features -> tag probabilities and the penultimate layer."""
        hidden = np.maximum(pooled @ self._dense_w + self._dense_b, 0)
        penultimate = hidden * self._pen_scale + self._pen_shift
        logits = penultimate @ self._out_w + self._out_b
        probs = _expit(logits)
        return TaggerOutput(tag_probs=probs.astype(np.float32), penultimate=penultimate)

    def _mid_end(self, front: np.ndarray) -> np.ndarray:
        """``[n, T, 561]`` front-end features -> ``[n, 1506]`` pooled features."""
        n, frames, _ = front.shape
        layers = [front]
        h = front
        for i, (kernel, bias, scale, shift) in enumerate(self._mid):
            # A 'same' conv of width 7 without an im2col copy: every padded frame times every tap's
            # kernel in one product, then tap j's response read j frames later and summed.
            padded = _pad_time(h, 3, 3)
            taps = (padded.reshape(-1, padded.shape[2]) @ kernel).reshape(n, frames + 6, 7, -1)
            out = taps[:, 0:frames, 0].copy()
            for j in range(1, 7):
                out += taps[:, j : j + frames, j]
            out = np.maximum(out + bias, 0) * scale + shift
            h = out + (h if i > 0 else 0)  # residual on 2nd and 3rd
            layers.append(h)
        feature_map = np.concatenate(layers, axis=2)  # [n, T, 753]

        # TF concatenated [max, mean] on a trailing axis and flattened: features interleave.
        pooled = np.stack([feature_map.max(axis=1), feature_map.mean(axis=1)], axis=2)
        return pooled.reshape(n, -1)


@dataclass(frozen=True)
class _Part:
    """One tagger's share of a fused front-end branch: columns ``start:stop`` of the product."""

    start: int
    stop: int
    branch: _ConvMaxFreq
    in_shift: float  # the tagger's input batch norm shift, applied through the edge term
    kernel_sums: np.ndarray  # [k_time, out]: the raw kernel summed over frequency


@dataclass(frozen=True)
class _FusedBranch:
    k_time: int
    k_freq: int
    pad: tuple[int, int]  # time padding before and after (TensorFlow 'same' for the temporal ones)
    kernel: np.ndarray  # [k_time * k_freq, sum of outs]: every tagger's kernel, times its input scale
    parts: tuple[_Part, ...]
    spectral: _SpectralKernel | None = None  # the timbral branches: the same kernel along frequency, by DFT
    kernel_t: np.ndarray | None = None  # the temporal branches: ``kernel`` transposed, ``[sum of outs, k_time]``


@dataclass(frozen=True)
class _SpectralKernel:
    """A wide-in-frequency kernel as a correlation along frequency done through a length-96 DFT.

    A timbral branch correlates each 7-frame window with a 38- or 67-band kernel at every band
    offset (59 or 30 of them), ~270 or ~470 multiply-adds per output. In the DFT domain along
    frequency the correlation is a product per frequency bin (49 bins, each summing 7 time taps:
    a matrix product with 14 real inputs), and the inverse DFT, restricted to the valid offsets,
    is one more matrix product: ~120-150 multiply-adds per output, same result to float32
    rounding. 96 bands need no padding: a valid offset never wraps around.
    """

    forward: np.ndarray  # [49, 2 * k_time, 2 * out]: real and imaginary parts of the kernel's conjugate DFT
    inverse: np.ndarray  # [offsets, 2 * 49]: the real inverse DFT at the valid offsets (the last one repeated)


class Taggers:
    """Musicnn taggers run together on the same log-mel patches.

    The taggers share an architecture and differ in weights only, so each of the five front-end
    branches is one copy of the raw patches (shifted frames or their DFT) and one matrix product
    against every tagger's kernels side by side (a wider product is a faster one, and the copy is
    paid once).
    Each tagger's input batch norm ``a * x + b`` is folded in: ``a`` into its kernel columns,
    and ``b`` as an edge term ``b * conv(ones)`` that depends only on the time position (the
    frequency axis is not padded), so it commutes with the max over frequency and is added after
    it. Then each tagger runs its own mid and back end.
    """

    def __init__(self, taggers: tuple[Musicnn, ...] | list[Musicnn]) -> None:
        self.taggers = tuple(taggers)
        self._branches = []
        for index in range(5):
            parts, kernels, start = [], [], 0
            for tagger in self.taggers:
                b = (tagger._timbral + tagger._temporal)[index]
                out = b.kernel.shape[1]
                raw = (b.kernel * b.sign).reshape(b.k_time, -1, out)
                parts.append(_Part(start, start + out, b, tagger._in_shift, raw.sum(axis=1)))
                kernels.append(b.kernel * np.float32(tagger._in_scale))
                start += out
            b = parts[0].branch
            k_freq = b.kernel.shape[0] // b.k_time
            pad = (3, 3) if index < 2 else ((b.k_time - 1) // 2, b.k_time // 2)
            kernel = np.ascontiguousarray(np.concatenate(kernels, axis=1), dtype=np.float32)
            spectral = _spectral_kernel(kernel, b.k_time, k_freq) if k_freq > 1 else None
            kernel_t = None if k_freq > 1 else np.ascontiguousarray(kernel.T)
            self._branches.append(_FusedBranch(b.k_time, k_freq, pad, kernel, tuple(parts), spectral, kernel_t))
        self._temporal_pad = max((b.pad for b in self._branches if b.spectral is None), key=sum)
        self._edges: dict[tuple[int, int, int], np.ndarray] = {}
        self._scratch = threading.local()  # one _Workspace per thread, kept between calls

    def predict(self, patches: np.ndarray) -> tuple[TaggerOutput, ...]:
        """``[n, frames, 96]`` log-mel patches -> each tagger's per-patch output, in order."""
        patches = np.asarray(patches, dtype=np.float32)
        if patches.ndim != 3 or patches.shape[2] != N_MELS:
            raise ValueError(f"expected [n, frames, {N_MELS}] patches, got {patches.shape}")
        work = self._workspace()
        pooled: list[list[np.ndarray]] = [[] for _ in self.taggers]
        for i in range(0, len(patches), _CHUNK):
            for t, front in enumerate(self._front_end(patches[i : i + _CHUNK], work)):
                pooled[t].append(self.taggers[t]._mid_end(front))
        return tuple(
            tagger._back_end(np.concatenate(p) if p else np.zeros((0, 1506), np.float32))
            for tagger, p in zip(self.taggers, pooled)
        )

    def _front_end(self, x: np.ndarray, work: _Workspace) -> list[np.ndarray]:
        """A chunk of raw patches -> each tagger's ``[n, T, 561]`` front-end features."""
        n, frames, _ = x.shape
        feats: list[list[np.ndarray]] = [[] for _ in self.taggers]
        spectrum = None
        taps = None
        for f, branch in enumerate(self._branches):
            if branch.spectral is not None:
                if spectrum is None:  # both timbral branches pad alike: one DFT of the input
                    spectrum = _windowed_spectrum(_pad_time(x, *branch.pad), branch.k_time)
                peak = _max_over_offsets(spectrum, branch.spectral, work).reshape(n, frames, -1)
            else:
                if taps is None:  # the longest temporal kernel's windows hold every shorter one's
                    taps = _time_taps(x, self._temporal_pad, work)
                first = self._temporal_pad[0] - branch.pad[0]
                peak = _max_over_bands(taps[first : first + branch.k_time], branch.kernel_t, n, work)
            for t, part in enumerate(branch.parts):
                b = part.branch
                extreme = peak[:, :, part.start : part.stop] * b.sign + self._edge(f, t, frames)
                feats[t].append(np.maximum(extreme + b.bias, 0) * b.scale + b.shift)
        return [np.concatenate(f, axis=2) for f in feats]

    def _workspace(self) -> _Workspace:
        """This thread's scratch buffers: kept from one call to the next (~55 MB for two taggers and
        three patches), because fresh ones cost ~10 % of a call in page faults."""
        work = getattr(self._scratch, "work", None)
        if work is None:
            work = self._scratch.work = _Workspace()
        return work

    def _edge(self, branch: int, tagger: int, frames: int) -> np.ndarray:
        """``[frames, out]``: the input shift's contribution, ``b * conv(ones)`` with zero padding."""
        key = (branch, tagger, frames)
        if key not in self._edges:
            fused = self._branches[branch]
            part = fused.parts[tagger]
            offsets = np.arange(frames)[:, None] + np.arange(fused.k_time)[None, :] - fused.pad[0]
            inside = ((offsets >= 0) & (offsets < frames)).astype(np.float32)  # [frames, k_time]
            self._edges[key] = (np.float32(part.in_shift) * (inside @ part.kernel_sums)).astype(np.float32)
        return self._edges[key]


class _Workspace:
    """Scratch buffers reused by every front-end branch and chunk of a predict call, and by the
    calls after it (:meth:`Taggers._workspace`).

    The shifted frames and conv responses are 5-12 MB per patch; allocating them fresh for
    each branch costs more in page faults than copying into memory already touched.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = self._buffers[name] = np.empty(size, np.float32)
        return buf[:size].reshape(shape)


def _time_taps(x: np.ndarray, pad: tuple[int, int], work: _Workspace) -> np.ndarray:
    """``[n, T, 96]`` -> ``[k, n * 96 * T]``: row ``j`` holds every band's frame ``t + j - pad[0]`` (zero
    outside), for each output frame ``t``; ``k = sum(pad) + 1``, the longest temporal kernel.

    A temporal kernel of ``k'`` taps centred like TensorFlow's 'same' padding reads a contiguous band of
    ``k'`` of these rows, so one copy serves all three temporal branches. Rows of all outputs side by side
    (rather than one window per row) make the product ``kernel.T @ taps`` short and very wide, which
    OpenBLAS runs ~1.5x faster than the usual im2col orientation for these narrow kernels.
    """
    n, frames, bands = x.shape
    padded = np.ascontiguousarray(_pad_time(x, *pad).transpose(0, 2, 1))  # [n, 96, T + k - 1], time last
    taps = work.get("taps", (sum(pad) + 1, n, bands, frames))
    for j in range(taps.shape[0]):
        taps[j] = padded[:, :, j : j + frames]
    return taps.reshape(taps.shape[0], -1)


def _max_over_bands(taps: np.ndarray, kernel_t: np.ndarray, n: int, work: _Workspace) -> np.ndarray:
    """``kernel_t @ taps`` (rows of :func:`_time_taps` for ``n`` patches) -> ``[n, T, out]``, the max over
    the 96 bands."""
    response = work.get("response", (kernel_t.shape[0], taps.shape[1]))
    np.matmul(kernel_t, taps, out=response)
    peak = response.reshape(kernel_t.shape[0], n, N_MELS, -1).max(axis=2)  # [out, n, T]
    return peak.transpose(1, 2, 0)


_BINS = N_MELS // 2 + 1
_SPECTRAL_BLOCK = 16  # frames per block (scratch: 2 x 49 x 16 x out floats, ~2.5 MB for two taggers)
_INVERSE_ROWS = 16  # the inverse DFT's offsets, padded to a multiple of this: OpenBLAS's fast tile height


def _spectral_kernel(kernel: np.ndarray, k_time: int, k_freq: int) -> _SpectralKernel:
    taps = np.fft.rfft(kernel.reshape(k_time, k_freq, -1).astype(np.float64), n=N_MELS, axis=1)  # [7, 49, out]
    p, q = taps.real.transpose(1, 0, 2), taps.imag.transpose(1, 0, 2)  # [49, 7, out]
    # (a + ib)(p - iq) = (ap + bq) + i(bp - aq), with [a | b] the input's real and imaginary parts
    forward = np.concatenate([np.concatenate([p, q], axis=1), np.concatenate([-q, p], axis=1)], axis=2)
    bins, offsets = np.arange(_BINS)[:, None], np.arange(N_MELS - k_freq + 1)[None, :]
    weight = np.where((bins == 0) | (bins == _BINS - 1), 1.0, 2.0) / N_MELS
    angle = 2 * np.pi * bins * offsets / N_MELS
    inverse = np.concatenate([weight * np.cos(angle), -weight * np.sin(angle)], axis=0).T
    # Repeating the last offset changes no max and makes the product ~20 % faster (59 -> 64 rows).
    inverse = np.concatenate([inverse, np.repeat(inverse[-1:], -len(inverse) % _INVERSE_ROWS, axis=0)])
    return _SpectralKernel(np.ascontiguousarray(forward, np.float32), np.ascontiguousarray(inverse, np.float32))


def _windowed_spectrum(padded: np.ndarray, k_time: int) -> np.ndarray:
    """``[n, T + k_time - 1, 96]`` -> ``[49, n * T, 2 * k_time]``: each bin's k_time-frame windows."""
    spectrum = np.fft.rfft(padded, axis=2)  # [n, T + 6, 49]
    windows = sliding_window_view(spectrum, k_time, axis=1)  # [n, T, 49, 7]
    n, frames = windows.shape[:2]
    parts = np.concatenate([windows.real, windows.imag], axis=3).astype(np.float32)  # [n, T, 49, 14]
    return np.ascontiguousarray(parts.reshape(n * frames, _BINS, -1).transpose(1, 0, 2))


def _max_over_offsets(spectrum: np.ndarray, kernel: _SpectralKernel, work: _Workspace) -> np.ndarray:
    """The correlation of :func:`_windowed_spectrum`'s windows with ``kernel`` at every valid band
    offset, ``[n * T, out]``: its max over offsets (a timbral branch's conv, then its max over frequency)."""
    rows, out = spectrum.shape[1], kernel.forward.shape[2] // 2
    peak = np.empty((rows, out), np.float32)
    for start in range(0, rows, _SPECTRAL_BLOCK):  # blocks of frames: operands stay in cache
        stop = min(start + _SPECTRAL_BLOCK, rows)
        products = work.get("spectral", (2, _BINS, stop - start, out))
        np.matmul(spectrum[:, start:stop], kernel.forward[:, :, :out], out=products[0])
        np.matmul(spectrum[:, start:stop], kernel.forward[:, :, out:], out=products[1])
        response = work.get("offsets", (len(kernel.inverse), (stop - start) * out))
        np.matmul(kernel.inverse, products.reshape(2 * _BINS, -1), out=response)
        peak[start:stop] = response.max(axis=0).reshape(stop - start, out)
    return peak


def _read_npz(fh: BinaryIO) -> dict[str, np.ndarray]:
    with np.load(fh, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}
