"""Builds tests/models/float/oww_mels.npz: melspectrogram frames of synthetic speech and other
sounds, the calibration and evaluation data for the openWakeWord models (the embedding takes
76 mel frames, the wake-word head 16 embeddings; tests/quantize_models.py derives both).

There is no speech corpus here. The speech is synthesized by espeak-ng (formant synthesis,
Debian package `espeak-ng`): the wake phrase "okay nabu" (and spellings of it) and other English
phrases, in several espeak-ng voices, variants, speeds and pitches; every clip is mixed with
white or pink noise at an SNR from 30 to 5 dB, at a peak level from -6 to -30 dBFS. Non-speech
clips add chirps, tone mixtures, noise at several levels and near-silence. The audio (16 kHz,
int16 scale as openWakeWord feeds it) goes through the float melspectrogram.tflite of the
pyopen-wakeword 1.1.0 wheel (TFLite reference kernels, 1760-sample windows every 1280 samples,
then mel / 10 + 2 as openWakeWord does) and is stored as float16 frames per clip, with the float
embeddings of those frames (the wake-word head's inputs; 76-frame windows every 8 frames through
the float embedding_model.tflite), also float16.

  python tools/oww_calibration.py [--out tests/models/float/oww_mels.npz]
"""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from quantize_models import oww_model_path  # noqa: E402

RATE = 16000
WAKE = ["okay nabu", "ok nabu", "okay naboo", "okay, nabu"]
OTHER = ["okay google", "hey jarvis", "open the door", "what time is it", "turn on the kitchen light",
         "nobody knows", "a banana for you", "okay then, see you tomorrow", "the quick brown fox",
         "play some music", "nab the blue cup", "good morning"]
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan",
          "en-gb-x-gbcwmd"]
VARIANTS = ["", "+m1", "+m3", "+m5", "+f1", "+f2", "+f3", "+f4", "+klatt", "+klatt2"]


def espeak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                         check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        a = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64)
    n = int(len(a) * RATE / rate)
    return np.interp(np.arange(n) * rate / RATE, np.arange(len(a)), a)


def noise(rng, n: int, pink: bool) -> np.ndarray:
    x = rng.standard_normal(n)
    if pink:
        f = np.fft.rfft(x)
        f[1:] /= np.sqrt(np.arange(1, len(f)))
        x = np.fft.irfft(f, n)
    return x / (np.sqrt(np.mean(x * x)) + 1e-12)


def speech_clip(rng, text: str) -> np.ndarray:
    voice = VOICES[rng.integers(len(VOICES))] + VARIANTS[rng.integers(len(VARIANTS))]
    s = espeak(text, voice, int(rng.integers(110, 200)), int(rng.integers(20, 80)))
    s /= np.abs(s).max() + 1e-12
    pre, post = int(rng.uniform(0.3, 0.9) * RATE), int(rng.uniform(0.5, 1.0) * RATE)
    clip = np.concatenate([np.zeros(pre), s, np.zeros(post)])
    clip = np.concatenate([clip, np.zeros(max(0, int(2.4 * RATE) - len(clip)))])
    snr = rng.uniform(5, 30)
    rms = np.sqrt(np.mean(s * s))
    clip += noise(rng, len(clip), bool(rng.integers(2))) * rms * 10 ** (-snr / 20)
    return clip / np.abs(clip).max() * 32767 * 10 ** (-rng.uniform(6, 30) / 20)


def other_clip(rng, k: int) -> np.ndarray:
    n = int(rng.uniform(2.4, 3.0) * RATE)
    t = np.arange(n) / RATE
    kind = k % 4
    if kind == 0:  # chirp
        f0, f1 = rng.uniform(80, 400), rng.uniform(1000, 6000)
        x = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * t[-1])))
    elif kind == 1:  # tone mixture with a slow amplitude envelope
        x = sum(np.sin(2 * np.pi * rng.uniform(100, 3000) * t + rng.uniform(0, 6)) for _ in range(3))
        x *= 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)
    elif kind == 2:  # noise
        x = noise(rng, n, bool(rng.integers(2)))
    else:  # near-silence
        x = noise(rng, n, True) * 0.01
    x = x / (np.abs(x).max() + 1e-12)
    return x * 32767 * 10 ** (-rng.uniform(6, 40) / 20)


def mel_frames(audio: np.ndarray) -> np.ndarray:
    from pyedge.quantize.reference import _interpreter_class

    Interpreter, OpResolverType = _interpreter_class()
    it = Interpreter(model_path=str(oww_model_path("melspectrogram")),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.resize_tensor_input(it.get_input_details()[0]["index"], [1, 1760])
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = []
    for s in range(0, len(audio) - 1760 + 1, 1280):
        it.set_tensor(i, audio[None, s:s + 1760].astype(np.float32))
        it.invoke()
        out.append(it.get_tensor(o).reshape(-1, 32) / 10 + 2)
    return np.concatenate(out)


def embeddings(mels: np.ndarray) -> np.ndarray:
    """[n, 96] embeddings of one clip's (stored, float16) mel frames: 76-frame windows every 8
    frames through the float embedding_model.tflite, as openWakeWord streams them."""
    from pyedge.quantize.reference import ReferenceRunner

    r = ReferenceRunner(oww_model_path("embedding_model").read_bytes())
    return np.stack([r.run([mels[None, s:s + 76, :, None]])[0][0].reshape(96)
                     for s in range(0, len(mels) - 76 + 1, 8)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "tests" / "models" / "float" / "oww_mels.npz"))
    ap.add_argument("--wake", type=int, default=24, help="wake-phrase clips")
    ap.add_argument("--other", type=int, default=16, help="other-phrase clips")
    ap.add_argument("--noise", type=int, default=8, help="non-speech clips")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    clips, labels, names = [], [], []
    for k in range(args.wake):
        text = WAKE[k % len(WAKE)]
        clips.append(speech_clip(rng, text)), labels.append(1), names.append(text)
    for k in range(args.other):
        text = OTHER[k % len(OTHER)]
        clips.append(speech_clip(rng, text)), labels.append(0), names.append(text)
    for k in range(args.noise):
        clips.append(other_clip(rng, k)), labels.append(0), names.append(["chirp", "tones", "noise", "silence"][k % 4])
    mels = [mel_frames(c).astype(np.float16) for c in clips]
    lengths = np.array([len(m) for m in mels], np.int64)
    embs = [embeddings(m.astype(np.float32)) for m in mels]
    np.savez_compressed(args.out, mels=np.concatenate(mels), lengths=lengths,
                        emb=np.concatenate(embs).astype(np.float16), emb_lengths=np.array([len(e) for e in embs]),
                        wake=np.array(labels, np.int8), text=np.array(names))
    print(f"{args.out}: {len(clips)} clips, {int(lengths.sum())} mel frames, "
          f"{Path(args.out).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
