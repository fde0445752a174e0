"""``emovox listen`` and ``emovox record``: thin wrappers over :mod:`emovox.stream` (heavy imports inside ``run``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: Default microphone rate: the rate RAVDESS-trained bundles saw (``seed180`` features depend on the rate).
MIC_RATE = 48000


def register(command) -> None:
    """Add ``listen`` and ``record`` through ``command(name, help_text, run) -> sub-parser``."""
    p = command("listen", "recognise emotions live from a microphone (or a file played as one)", _listen)
    src = p.add_argument_group("source")
    src.add_argument("--input", type=Path, default=None, metavar="FILE",
                     help="play this WAV/FLAC/OGG file as the microphone instead")
    src.add_argument("--fast", action="store_true", help="with --input: as fast as possible, not at real-time pace")
    src.add_argument("--device", default=None, help="input device index or name (see --list-devices)")
    src.add_argument("--list-devices", action="store_true", help="list the input devices and exit")
    src.add_argument("--rate", type=int, default=None,
                     help=f"sample rate in Hz (default: the file's with --input, else {MIC_RATE})")
    src.add_argument("--block", type=float, default=0.032, help="block length in seconds (default 0.032)")
    p.add_argument("--model", type=Path, default=None, help="bundle (default: the current model)")
    vad = p.add_argument_group("voice activity detection")
    vad.add_argument("--vad", default="auto", choices=["auto", "silero", "energy"],
                     help="detector (default auto: Silero if installed, else energy)")
    vad.add_argument("--threshold", type=float, default=0.5, help="speech probability that starts speech (0.5)")
    vad.add_argument("--neg-threshold", type=float, default=None,
                     help="probability below which a frame is silence (default threshold - 0.15)")
    vad.add_argument("--min-speech", type=float, default=0.25, help="seconds; shorter speech is ignored (0.25)")
    vad.add_argument("--min-silence", type=float, default=1.0, help="seconds of silence that end a segment (1.0)")
    vad.add_argument("--pad", type=float, default=0.03, help="seconds added each side of a segment (0.03)")
    vad.add_argument("--trim-db", type=float, default=35.0,
                     help="trim segment ends to the audio within this many dB of the segment's peak (35; 0: off)")
    vad.add_argument("--max-segment", type=float, default=10.0, help="longer speech is cut, seconds (10)")
    est = p.add_argument_group("running estimate")
    est.add_argument("--window", type=float, default=2.0, help="seconds of audio per estimate (2.0)")
    est.add_argument("--hop", type=float, default=0.5, help="seconds between estimates (0.5)")
    est.add_argument("--smoothing", type=float, default=0.5, help="weight of the previous estimate, 0..1 (0.5)")
    est.add_argument("--no-estimates", action="store_true", help="only label finished segments")
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="one JSON object per event per line")
    out.add_argument("--speak", action="store_true", help="say each segment's emotion aloud (pyttsx3 / espeak-ng)")
    out.add_argument("--save", type=Path, default=None, metavar="DIR",
                     help="keep every segment as DIR/segment-NNNN.wav with its prediction (.json)")

    p = command("record", "record from the microphone, save a WAV file, then predict its emotion", _record)
    p.add_argument("out", type=Path, help="WAV file to write")
    p.add_argument("--seconds", type=float, default=5.0, help="how long to record (default 5)")
    p.add_argument("--device", default=None, help="input device index or name (see `emovox listen --list-devices`)")
    p.add_argument("--rate", type=int, default=MIC_RATE, help=f"sample rate in Hz (default {MIC_RATE})")
    p.add_argument("--model", type=Path, default=None, help="bundle (default: the current model)")
    p.add_argument("--no-predict", action="store_true", help="only record")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")


def _listen(args: argparse.Namespace) -> int:
    from ..errors import ParameterError
    from ..recognizer import load_model
    from . import FileSource, MicrophoneSource, StreamRecognizer, list_devices, run
    from .sinks import JsonSink, SaveSink, SpeakSink, TerminalSink

    if args.list_devices:
        devices = list_devices()
        if not devices:
            print("no input devices found", file=sys.stderr)
            return 1
        for d in devices:
            print(f"{d['index']:>3}{' *' if d['default'] else '  '} {d['name']}  ({d['hostapi']}, "
                  f"{d['inputs']} ch, {d['default_rate']:.0f} Hz)")
        return 0
    if args.input is not None and args.device is not None:
        raise ParameterError("give either --input FILE or --device, not both")
    model = load_model(args.model)
    if args.input is not None:
        source = FileSource(args.input, block_seconds=args.block, realtime=not args.fast, rate=args.rate)
    else:
        source = MicrophoneSource(args.device, rate=args.rate or MIC_RATE, block_seconds=args.block)
        source.open()  # a missing device is reported now, before any banner
    recognizer = StreamRecognizer(model, rate=source.rate, vad=args.vad, threshold=args.threshold,
                                  neg_threshold=args.neg_threshold, min_speech=args.min_speech,
                                  min_silence=args.min_silence, pad=args.pad, trim_db=args.trim_db,
                                  max_segment=args.max_segment,
                                  estimate_window=None if args.no_estimates else args.window,
                                  estimate_hop=args.hop, smoothing=args.smoothing, keep_audio=args.save is not None)
    sinks: list = [JsonSink() if args.json else TerminalSink()]
    saver = None
    if args.save is not None:
        saver = SaveSink(args.save)
        sinks.append(saver)
    if args.speak:
        from ..speech import Announcer

        sinks.append(SpeakSink(Announcer()))
    info = sys.stderr if args.json else sys.stdout
    print(f"listening to {source.name} at {source.rate} Hz; VAD {recognizer.vad_name}; model "
          f"{model.path.name} ({', '.join(model.labels)}); Ctrl-C stops", file=info, flush=True)

    def overflow(total: int) -> None:
        print(f"emovox: warning: input overflow, audio was lost ({total} so far)", file=sys.stderr, flush=True)

    report = run(source, recognizer, sinks, on_overflow=overflow, keep_events=False)
    line = (f"{recognizer.segments} segment(s) in {report.seconds:.1f} s of audio; real-time factor "
            f"{report.real_time_factor:.3f}; input overflows: {report.overflows}")
    if saver is not None:
        line += f"; {len(saver.written)} saved in {args.save}"
    if recognizer.skipped:
        line += f"; {recognizer.skipped} too short to classify"
    if report.interrupted:
        line = "stopped: " + line
    print(line, file=info, flush=True)
    return 0


def _record(args: argparse.Namespace) -> int:
    import io
    import json

    import numpy as np
    import soundfile as sf

    from ..errors import ParameterError
    from ..paths import atomic_write
    from .sources import MicrophoneSource

    if args.seconds <= 0:
        raise ParameterError(f"--seconds must be > 0, got {args.seconds}")
    if args.out.suffix.lower() != ".wav":
        raise ParameterError(f"{args.out}: the output must be a .wav file")
    model = None
    if not args.no_predict:
        from ..recognizer import load_model

        model = load_model(args.model)  # fail before recording, not after
    source = MicrophoneSource(args.device, rate=args.rate)
    source.open()
    wanted = round(args.seconds * source.rate)
    blocks, have, interrupted = [], 0, False
    print(f"recording {args.seconds:g} s from {source.name} at {source.rate} Hz ...", file=sys.stderr, flush=True)
    try:
        for block in source:
            blocks.append(block[:wanted - have])
            have += blocks[-1].size
            if have >= wanted:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        source.close()
    if not have:
        raise ParameterError("nothing was recorded")
    samples = np.concatenate(blocks)
    buffer = io.BytesIO()
    sf.write(buffer, samples, source.rate, format="WAV", subtype="PCM_16")
    atomic_write(args.out, buffer.getvalue())
    note = f"saved {samples.size / source.rate:.2f} s to {args.out}"
    if source.overflows:
        note += f" (input overflowed {source.overflows} time(s): audio was lost)"
    print(("stopped early; " if interrupted else "") + note, file=sys.stderr, flush=True)
    if model is None:
        return 0
    prediction = model.predict(args.out)
    if args.json:
        print(json.dumps(prediction.to_dict()))
    else:
        ranked = sorted(prediction.probabilities.items(), key=lambda kv: -kv[1])
        print(f"{args.out}\t{prediction.label}\t" + "  ".join(f"{k} {v:.2f}" for k, v in ranked))
    return 0
