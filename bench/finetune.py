"""Beyond a linear model on frozen Whisper features: attention pooling, and fine-tuning an encoder layer.

Run:  .venv/bin/python bench/finetune.py [--data DIR] [--variants a,b] [--lr 1e-4] [--epochs 4] [--jobs 2]

ravdess-si6, 8 emotions, trained on the clean clips of the training actors (no degraded
copies: each variant costs minutes per fold on a CPU as it is), every variant on the same
frames: Whisper-base's hidden states after encoder layers 2 and 3 (int8 encoder, 50 frames/s)
on the speech Silero finds (whisper-base-vad's cut), cached under $EMOVOX_CACHE/finetune/.

Variants (each scored on the six folds; UAR mean ± std; the default runs all but ``asp1``):
- ``lr``: the mean and standard deviation over time of layers 2 and 3 into emovox's TunedLR,
  i.e. ``whisper-vad-lr`` (the reference);
- ``svc``, ``lda``: the same pooled features into an RBF support vector machine (standardised,
  C 10) or a linear discriminant with Ledoit-Wolf shrinkage; ``lr+lda``: the mean of the
  two models' probabilities;
- ``asp1``, ``asp4``: attentive statistics pooling with 1 or 4 attention heads (weighted mean
  and standard deviation per head) over the same frames into a linear layer, trained with
  AdamW (30 epochs, one-cycle, dropout 0.5, label smoothing 0.1);
- ``frozen``: layer 3 run in PyTorch from the fp32 weights, its output and layer 2 pooled and
  standardised, into a linear layer started from a logistic regression's solution (C 0.01)
  and trained on with the same L2 penalty, AdamW (head lr 1e-4, one-cycle, ``--epochs``):
  the control for ``ft``;
- ``ft``: the same, with encoder layer 3 trained too, at each learning rate in ``--lr``.

The learning rates are a probe judged on the test folds, not a model selection: a recipe
built on the result would choose them by inner cross-validation on training actors.
Prints a table and writes bench/results/finetune.json (rows of variants not run are kept).
The PyTorch variants need ``emovox[neural]`` (in the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
from emovox import corpora
from emovox.evaluation.protocols import make_folds
from emovox.labels import EMOTIONS
from emovox.paths import atomic_write, cache_dir

WIDTH = 512  # Whisper-base's hidden size
_STATE: dict = {}


# ---- frames -------------------------------------------------------------------------------------

def _frames_init() -> None:
    import onnxruntime as ort

    from emovox.features.whisper import WhisperBaseVAD
    from emovox.features.whisper_onnx import encoder_onnx, whisper_base_weights

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    blob = encoder_onnx(whisper_base_weights(), n_layers=3, pooled_layers=(2, 3), frames=True)
    _STATE.update(session=ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"]),
                  feature_set=WhisperBaseVAD())


def _frames_of(path: str) -> np.ndarray:
    """float16 ``(T, 1024)``: layer 2's then layer 3's hidden state per 20 ms frame."""
    from emovox.audio import load
    from emovox.features.whisper import log_mel

    mel = log_mel(_STATE["feature_set"].speech(load(path)).samples)
    layer2, layer3 = _STATE["session"].run(None, {"log_mel": mel[None]})
    return np.concatenate([layer2[0], layer3[0]], axis=1).astype(np.float16)


def corpus_frames(utterances: list, jobs: int) -> list[np.ndarray]:
    """Every clip's frames (see :func:`_frames_of`), from the cache or computed and cached."""
    cached = cache_dir() / "finetune" / f"ravdess-{len(utterances)}-v1.npz"
    if not cached.is_file():
        started = time.perf_counter()
        with get_context("fork").Pool(jobs, _frames_init) as pool:
            frames = pool.map(_frames_of, [str(u.path) for u in utterances], chunksize=8)
        packed = io.BytesIO()
        np.savez(packed, lengths=np.array([len(f) for f in frames]), frames=np.concatenate(frames))
        atomic_write(cached, packed.getvalue())
        print(f"frames of {len(utterances)} clips in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with np.load(cached) as data:
        lengths, stacked = data["lengths"], data["frames"]  # each read of an npz entry reads it whole again
    edges = np.concatenate([[0], np.cumsum(lengths)])
    return [stacked[edges[i]:edges[i + 1]] for i in range(len(edges) - 1)]


# ---- models -------------------------------------------------------------------------------------

def _torch_models():
    """The PyTorch modules, defined on first use (PyTorch is imported only in the workers)."""
    import torch
    import torch.nn.functional as F

    class AttentiveStatistics(torch.nn.Module):
        """Attention weights over frames per head; per head the weighted mean and standard deviation."""

        def __init__(self, dim: int, heads: int, n_labels: int, hidden: int = 128) -> None:
            super().__init__()
            self.attention = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(),
                                                 torch.nn.Linear(hidden, heads))
            self.dropout = torch.nn.Dropout(0.5)
            self.classify = torch.nn.Linear(2 * dim * heads, n_labels)

        def forward(self, x, mask):  # x (B, T, dim), mask (B, T), True on frames
            weights = torch.softmax(self.attention(x).masked_fill(~mask[..., None], -1e4), dim=1)  # (B, T, heads)
            mean = torch.einsum("bth,btd->bhd", weights, x)
            var = torch.einsum("bth,btd->bhd", weights, x * x) - mean * mean
            pooled = torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=2).flatten(1)
            return self.classify(self.dropout(pooled))

    class WhisperLayer(torch.nn.Module):
        """One pre-norm Whisper encoder layer, its parameters from the CTranslate2 weights (``prefix``)."""

        def __init__(self, weights: dict, prefix: str, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.weights = torch.nn.ParameterDict({
                key.replace("/", "_"): torch.nn.Parameter(torch.tensor(weights[f"{prefix}/{key}"]))
                for key in ("self_attention/layer_norm/gamma", "self_attention/layer_norm/beta",
                            "self_attention/linear_0/weight", "self_attention/linear_0/bias",
                            "self_attention/linear_1/weight", "self_attention/linear_1/bias",
                            "ffn/layer_norm/gamma", "ffn/layer_norm/beta", "ffn/linear_0/weight",
                            "ffn/linear_0/bias", "ffn/linear_1/weight", "ffn/linear_1/bias")})

        def forward(self, x, mask):
            w = self.weights
            batch, steps, width = x.shape
            h = F.layer_norm(x, (width,), w["self_attention_layer_norm_gamma"], w["self_attention_layer_norm_beta"])
            qkv = F.linear(h, w["self_attention_linear_0_weight"], w["self_attention_linear_0_bias"])
            q, k, v = qkv.view(batch, steps, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
            x = x + F.linear(context.transpose(1, 2).reshape(batch, steps, width),
                             w["self_attention_linear_1_weight"], w["self_attention_linear_1_bias"])
            h = F.layer_norm(x, (width,), w["ffn_layer_norm_gamma"], w["ffn_layer_norm_beta"])
            inner = F.gelu(F.linear(h, w["ffn_linear_0_weight"], w["ffn_linear_0_bias"]))
            return x + F.linear(inner, w["ffn_linear_1_weight"], w["ffn_linear_1_bias"])

    def pool(x, mask):
        m = mask[..., None].float()
        count = m.sum(1)
        mean = (x * m).sum(1) / count
        std = (((x - mean[:, None]) ** 2 * m).sum(1) / count).clamp_min(1e-8).sqrt()
        return torch.cat([mean, std], 1)

    class TunedLayer(torch.nn.Module):
        """Layer 2's frames -> layer 3 (trainable) -> mean and std of both, standardised -> linear."""

        def __init__(self, weights: dict, n_labels: int) -> None:
            super().__init__()
            self.layer = WhisperLayer(weights, "encoder/layer_2", int(weights["num_heads"]))
            self.register_buffer("mean", torch.zeros(4 * WIDTH))
            self.register_buffer("std", torch.ones(4 * WIDTH))
            self.classify = torch.nn.Linear(4 * WIDTH, n_labels)

        def embed(self, x, mask):
            return torch.cat([pool(x, mask), pool(self.layer(x, mask), mask)], 1)

        def forward(self, x, mask):
            return self.classify((self.embed(x, mask) - self.mean) / self.std)

    return torch, F, AttentiveStatistics, TunedLayer


def _batch(torch, frames: list[np.ndarray], rows, columns: slice, mean=None, std=None):
    """Padded float32 ``(B, T, dim)`` and its mask ``(B, T)`` for ``rows``, optionally standardised."""
    steps = max(len(frames[i]) for i in rows)
    dim = frames[0][:, columns].shape[1]
    x, mask = np.zeros((len(rows), steps, dim), np.float32), np.zeros((len(rows), steps), bool)
    for j, i in enumerate(rows):
        f = frames[i][:, columns].astype(np.float32)
        x[j, :len(f)] = f if mean is None else (f - mean) / std
        mask[j, :len(f)] = True
    return torch.from_numpy(x), torch.from_numpy(mask)


def run_variant(task: tuple) -> dict:
    """Train ``variant`` on the fold's training rows and score it on its test rows (one worker task)."""
    variant, lr, fold_name, train, test = task
    from sklearn.metrics import balanced_accuracy_score

    frames, targets, speakers, epochs = (_STATE[k] for k in ("frames", "targets", "speakers", "epochs"))
    started = time.perf_counter()
    if variant in ("lr", "svc", "lda", "lr+lda"):
        pooled = np.stack([np.concatenate([f.astype(np.float32).mean(0), f.astype(np.float32).std(0)])
                           for f in frames])
        models = [_pooled_model(name).fit(pooled[train], targets[train], **(
            {"groups": speakers[train]} if name == "lr" else {})) for name in variant.split("+")]
        predicted = models[0].predict(pooled[test]) if len(models) == 1 else \
            np.mean([m.predict_proba(pooled[test]) for m in models], axis=0).argmax(axis=1)  # folds hold all 8 emotions
    else:
        predicted = _train_torch(variant, lr, train, test, frames, targets, epochs)
    return {"variant": variant, "lr": lr, "fold": fold_name, "seconds": round(time.perf_counter() - started, 1),
            "uar": round(100 * float(balanced_accuracy_score(targets[test], predicted)), 2)}


def _pooled_model(variant: str):
    """The models on pooled frames: emovox's TunedLR, an RBF support vector machine, shrinkage LDA."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from emovox.models.classical import whisper_lr

    if variant == "svc":
        return make_pipeline(StandardScaler(), SVC(C=10.0, gamma="scale"))
    if variant == "lda":
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    return whisper_lr(0)


def _train_torch(variant: str, lr: float, train, test, frames, targets, epochs: int, batch_size: int = 16):
    torch, F, AttentiveStatistics, TunedLayer = _torch_models()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n_labels = len(EMOTIONS)
    if variant.startswith("asp"):
        columns, epochs, batch_size = slice(None), 30, 32
        stacked = np.concatenate([frames[i] for i in train]).astype(np.float32)
        mean, std = stacked.mean(0), stacked.std(0) + 1e-5
        model = AttentiveStatistics(2 * WIDTH, int(variant[3:]), n_labels)
        groups = [{"params": model.parameters(), "lr": 1e-3, "weight_decay": 0.01}]
        penalty, smoothing = None, 0.1
    else:
        from sklearn.linear_model import LogisticRegression

        from emovox.features.whisper_onnx import whisper_base_weights

        columns, mean, std = slice(0, WIDTH), None, None
        model = TunedLayer(whisper_base_weights(), n_labels)
        with torch.no_grad():
            embedded = torch.cat([model.embed(*_batch(torch, frames, train[k:k + 64], columns))
                                  for k in range(0, len(train), 64)])
            model.mean.copy_(embedded.mean(0))
            model.std.copy_(embedded.std(0) + 1e-5)
            start = LogisticRegression(C=0.01, max_iter=1000).fit(
                ((embedded - model.mean) / model.std).numpy(), targets[train])
            model.classify.weight.copy_(torch.tensor(start.coef_, dtype=torch.float32))
            model.classify.bias.copy_(torch.tensor(start.intercept_, dtype=torch.float32))
        groups = [{"params": model.classify.parameters(), "lr": 1e-4, "weight_decay": 0.0}]
        if variant == "ft":
            groups.append({"params": model.layer.parameters(), "lr": lr, "weight_decay": 0.0})
        else:
            model.layer.requires_grad_(False)
        penalty, smoothing = 1.0 / (2 * 0.01 * len(train)), 0.0  # the logistic regression's L2 at C 0.01
    optimiser = torch.optim.AdamW(groups)
    steps = epochs * -(-len(train) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[g["lr"] for g in groups],
                                                   total_steps=steps, pct_start=0.2)
    for _ in range(epochs):
        model.train()
        order = rng.permutation(train)
        for k in range(0, len(order), batch_size):
            rows = order[k:k + batch_size]
            x, mask = _batch(torch, frames, rows, columns, mean, std)
            loss = F.cross_entropy(model(x, mask), torch.from_numpy(targets[rows]), label_smoothing=smoothing)
            if penalty:
                loss = loss + penalty * model.classify.weight.pow(2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(*_batch(torch, frames, test[k:k + 64], columns, mean, std)).argmax(1).numpy()
                               for k in range(0, len(test), 64)])


def layer_check(frames: list[np.ndarray], clips: int = 5) -> float:
    """Correlation of encoder layer 3 run in PyTorch (fp32, what ``frozen`` and ``ft`` start from) with the
    int8 encoder's layer 3 over the first ``clips`` clips: near 1 when the two are the same layer."""
    from emovox.features.whisper_onnx import whisper_base_weights

    torch, _, _, TunedLayer = _torch_models()
    torch.set_num_threads(1)  # no OpenMP pool in the parent before the workers fork
    layer = TunedLayer(whisper_base_weights(), len(EMOTIONS)).layer
    with torch.no_grad():
        ours = [layer(torch.from_numpy(f[None, :, :WIDTH].astype(np.float32)),
                      torch.ones(1, len(f), dtype=torch.bool))[0].numpy() for f in frames[:clips]]
    reference = [f[:, WIDTH:].astype(np.float32) for f in frames[:clips]]
    return float(np.corrcoef(np.concatenate(ours).ravel(), np.concatenate(reference).ravel())[0, 1])


def _init(frames, targets, speakers, epochs) -> None:
    _STATE.update(frames=frames, targets=targets, speakers=speakers, epochs=epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="RAVDESS folder (default: ../shared/data/ravdess)")
    parser.add_argument("--variants", default="lr,svc,lda,lr+lda,asp4,frozen,ft", help="comma-separated (see above)")
    parser.add_argument("--lr", default="1e-4", help="learning rates of the fine-tuned layer, comma-separated")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the frozen / ft variants")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    utterances = sorted(corpora.open_corpus(corpora.default_data_dir(args.data)), key=lambda u: str(u.path))
    frames = corpus_frames(utterances, args.jobs)
    targets = np.array([EMOTIONS.index(u.label) for u in utterances])
    speakers = np.array([u.speaker for u in utterances], dtype=object)
    folds = make_folds("ravdess-si6", utterances)
    if {"frozen", "ft"} & set(args.variants.split(",")):
        print(f"encoder layer 3 in PyTorch vs the int8 encoder: correlation {layer_check(frames):.4f}", file=sys.stderr)
    tasks = [(variant, lr, fold.name, fold.train, fold.test)
             for variant in args.variants.split(",")
             for lr in ([float(v) for v in args.lr.split(",")] if variant == "ft" else [0.0])
             for fold in folds]
    started = time.perf_counter()
    with get_context("fork").Pool(args.jobs, _init, (frames, targets, speakers, args.epochs)) as pool:
        results = []
        for result in pool.imap_unordered(run_variant, tasks):
            results.append(result)
            print(f"{result['variant']:<7} {result['lr'] or '':<7} {result['fold']:<28} UAR {result['uar']:5.1f}  "
                  f"({result['seconds']:.0f} s)", file=sys.stderr, flush=True)
    rows = []
    print(f"{len(tasks)} fits in {time.perf_counter() - started:.0f} s on {args.jobs} processes", file=sys.stderr)
    print("| variant | lr | UAR (8 emotions, ravdess-si6, clean training) | per fold | s per fold |")
    print("| --- | --- | --- | --- | --- |")
    for variant, lr in dict.fromkeys((t[0], t[1]) for t in tasks):
        mine = sorted((r for r in results if r["variant"] == variant and r["lr"] == lr), key=lambda r: r["fold"])
        uar = [r["uar"] for r in mine]
        rows.append({"variant": variant, "lr": lr, "epochs": args.epochs if variant in ("frozen", "ft") else None,
                     "uar": {"mean": round(float(np.mean(uar)), 1), "std": round(float(np.std(uar)), 1)},
                     "folds": mine, "seconds_per_fold": round(float(np.mean([r["seconds"] for r in mine])), 1)})
        print(f"| {variant} | {lr or ''} | {np.mean(uar):.1f} ± {np.std(uar):.1f} % | "
              f"{' '.join(f'{u:.1f}' for u in uar)} | {rows[-1]['seconds_per_fold']:.0f} |")
    path = ROOT / "bench" / "results" / "finetune.json"
    previous = json.loads(path.read_text())["rows"] if path.is_file() else []
    ran = {(r["variant"], r["lr"]) for r in rows}
    rows += [r for r in previous if (r["variant"], r["lr"]) not in ran]  # other variants' rows are kept
    atomic_write(path, json.dumps({"bench": "finetune", "rows": rows}, indent=2).encode())


if __name__ == "__main__":
    main()
