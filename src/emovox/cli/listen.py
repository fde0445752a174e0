"""``emovox listen``: emotions live from a microphone (or a file played as one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import MODEL_EPILOG, add_model_option, add_uncertain_option

NAME = "listen"
HELP = "recognise emotions live from a microphone (or a file played as one)"
EPILOG = MODEL_EPILOG

#: Default microphone rate, Hz: what most sound cards capture at (the model resamples to its own rate).
MIC_RATE = 48000


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("source")
    src.add_argument("--input", type=Path, default=None, metavar="FILE",
                     help="play this audio file as the microphone instead")
    src.add_argument("--fast", action="store_true", help="with --input: as fast as possible, not at real-time pace")
    src.add_argument("--device", default=None, help="input device index or name (see --list-devices)")
    src.add_argument("--list-devices", action="store_true", help="list the input devices and exit")
    src.add_argument("--rate", type=int, default=MIC_RATE, help="microphone sample rate in Hz")
    src.add_argument("--block", type=float, default=0.032, help="block length in seconds")
    add_model_option(p)
    add_uncertain_option(p)
    vad = p.add_argument_group("voice activity detection")
    vad.add_argument("--vad", default="auto", choices=["auto", "silero", "energy"],
                     help="detector (auto: Silero if installed, else energy)")
    vad.add_argument("--threshold", type=float, default=0.5, help="speech probability that starts speech")
    vad.add_argument("--neg-threshold", type=float, default=None,
                     help="probability below which a frame is silence (default threshold - 0.15)")
    vad.add_argument("--min-speech", type=float, default=0.25, help="seconds; shorter speech is ignored")
    vad.add_argument("--min-silence", type=float, default=1.0, help="seconds of silence that end a segment")
    vad.add_argument("--pad", type=float, default=0.03, help="seconds added each side of a segment")
    vad.add_argument("--trim-db", type=float, default=35.0,
                     help="trim segment ends to the audio within this many dB of the segment's peak (0: off)")
    vad.add_argument("--max-segment", type=float, default=10.0, help="longer speech is cut, seconds")
    est = p.add_argument_group("running estimate")
    est.add_argument("--window", type=float, default=2.0, help="seconds of audio per estimate")
    est.add_argument("--hop", type=float, default=0.5, help="seconds between estimates")
    est.add_argument("--smoothing", type=float, default=0.5, help="weight of the previous estimate, 0..1")
    est.add_argument("--no-estimates", action="store_true", help="only label finished segments")
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="one JSON object per row per line")
    out.add_argument("--top", type=int, default=None, metavar="K", help="show at most K emotions per line")
    out.add_argument("--speak", action="store_true", help="say each segment's emotion aloud (pyttsx3 / espeak-ng)")
    out.add_argument("--save", type=Path, default=None, metavar="DIR",
                     help="keep every segment as DIR/segment-NNNN.wav with its prediction (.json)")
    voice = p.add_argument_group("one speaker (the speaker-adaptive head; see the README)")
    voice.add_argument("--adapt", action="store_true",
                       help="adapt to the voice heard: from the 10th segment with speech on, answers come from the "
                            "speaker-adaptive head, standardised with every segment heard so far")
    voice.add_argument("--speaker-profile", type=Path, default=None, metavar="FILE",
                       help="start from this saved voice profile (implies --adapt); it is read, never changed")
    voice.add_argument("--save-speaker-profile", type=Path, default=None, metavar="FILE",
                       help="at the end, write the voice's profile (what was loaded plus what was heard) to FILE")


def voice_activity(args: argparse.Namespace) -> dict:
    """The :class:`~emovox.segmentation.VoiceActivity` options the flags give."""
    return dict(vad=args.vad, threshold=args.threshold, neg_threshold=args.neg_threshold,
                min_speech_s=args.min_speech, min_silence_s=args.min_silence, pad_s=args.pad,
                trim_db=args.trim_db, max_segment_s=args.max_segment)


def run(args: argparse.Namespace) -> int:
    from ..adaptation import SpeakerProfile
    from ..errors import ParameterError
    from ..stream import FileSource, MicrophoneSource, list_devices, run as run_stream
    from ..stream.sinks import JsonSink, SaveSink, SpeakSink, TerminalSink
    from .common import load

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
    adapt = args.adapt or args.speaker_profile is not None
    if args.save_speaker_profile is not None and not adapt:
        raise ParameterError("--save-speaker-profile needs --adapt or --speaker-profile")
    model = load(args)
    speaker = None
    if adapt:
        speaker = SpeakerProfile.load(args.speaker_profile) if args.speaker_profile else model.speaker_profile()
        model.check_profile(speaker)
    if args.input is not None:
        source = FileSource(args.input, block_seconds=args.block, realtime=not args.fast)
    else:
        source = MicrophoneSource(args.device, rate=args.rate, block_seconds=args.block)
        source.open()  # a missing device is reported now, before any banner
    session = model.stream(source.rate, estimate_window_s=None if args.no_estimates else args.window,
                           estimate_hop_s=args.hop, smoothing=args.smoothing, keep_audio=args.save is not None,
                           file=source.name, speaker=speaker, **voice_activity(args))
    sinks: list = [JsonSink() if args.json else TerminalSink(top=args.top)]
    saver = None
    if args.save is not None:
        saver = SaveSink(args.save)
        sinks.append(saver)
    if args.speak:
        from ..speech import Announcer

        sinks.append(SpeakSink(Announcer()))
    info = sys.stderr if args.json else sys.stdout
    print(f"listening to {source.name} at {source.rate} Hz; VAD {session.vad.name}; model "
          f"{model.describe()}; Ctrl-C stops", file=info, flush=True)
    if speaker is not None:
        sinks.insert(0, _AdaptationNotice(session, info))  # before the first adapted row

    def overflow(total: int) -> None:
        print(f"emovox: warning: input overflow, audio was lost ({total} so far)", file=sys.stderr, flush=True)

    report = run_stream(source, session, sinks, on_overflow=overflow, keep_events=False)
    line = (f"{session.segments} segment(s) in {report.seconds:.1f} s of audio; real-time factor "
            f"{report.real_time_factor:.3f}; input overflows: {report.overflows}")
    if saver is not None:
        line += f"; {len(saver.written)} saved in {args.save}"
    if session.skipped:
        line += f"; {session.skipped} too short to classify"
    if speaker is not None:
        line += (f"; adapted to the voice from {speaker.count} utterances" if session.adapting else
                 f"; not adapted ({speaker.count} of the {model.min_speaker_utterances} utterances adapting needs)")
    if report.interrupted:
        line = "stopped: " + line
    print(line, file=info, flush=True)
    if args.save_speaker_profile is not None:
        if speaker.count:
            speaker.save(args.save_speaker_profile)
            print(f"speaker profile ({speaker.count} utterances) written to {args.save_speaker_profile}", file=info,
                  flush=True)
        else:
            print(f"no speech heard: no speaker profile written to {args.save_speaker_profile}", file=info, flush=True)
    return 0


class _AdaptationNotice:
    """A sink that says once, on ``out``, when the session starts answering adapted to the voice."""

    def __init__(self, session, out) -> None:
        self.session, self.out, self.said = session, out, session.adapting

    def __call__(self, row) -> None:
        if not self.said and self.session.adapting:
            self.said = True
            print(f"adapting to this voice from now on ({self.session.speaker.count} utterances heard)",
                  file=self.out, flush=True)
