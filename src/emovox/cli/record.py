"""``emovox record``: record from the microphone, save a WAV file, then predict its emotion."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import MODEL_EPILOG, add_model_option
from .listen import MIC_RATE

NAME = "record"
HELP = "record from the microphone, save a WAV file, then predict its emotion"
EPILOG = MODEL_EPILOG


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=Path, help="WAV file to write")
    p.add_argument("--seconds", type=float, default=5.0, help="how long to record")
    p.add_argument("--device", default=None, help="input device index or name (see `emovox listen --list-devices`)")
    p.add_argument("--rate", type=int, default=MIC_RATE, help="sample rate in Hz")
    add_model_option(p)
    p.add_argument("--no-predict", action="store_true", help="only record")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")


def run(args: argparse.Namespace) -> int:
    import io
    import json

    import numpy as np
    import soundfile as sf

    from ..errors import ParameterError
    from ..paths import atomic_write
    from ..stream.sources import MicrophoneSource
    from .common import load

    if args.seconds <= 0:
        raise ParameterError(f"--seconds must be > 0, got {args.seconds}")
    if args.out.suffix.lower() != ".wav":
        raise ParameterError(f"{args.out}: the output must be a .wav file")
    model = None if args.no_predict else load(args)  # fail before recording, not after
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
        print(f"{args.out}\t{prediction.label}\t" + "  ".join(f"{k} {v:.2f}" for k, v in prediction.ranked()))
    return 0
