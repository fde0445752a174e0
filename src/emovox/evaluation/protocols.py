"""How data are split for evaluation. Each protocol gives a list of :class:`Fold`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupKFold, train_test_split

from ..corpora import Utterance
from ..errors import DataError, ParameterError
from ..registry import Registry

#: The EmoBox test actors of each ``ravdess-si6`` fold.
RAVDESS_SI6 = (("01", "11", "20", "21"), ("04", "10", "12", "14"), ("08", "09", "19", "23"),
               ("03", "05", "07", "24"), ("02", "15", "16", "18"), ("06", "13", "17", "22"))


@dataclass(frozen=True)
class Protocol:
    """A way to split data for evaluation: ``folds(utterances, k)`` gives its :class:`Fold` list."""

    description: str
    folds: Callable[[Sequence[Utterance], int], list[Fold]]

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Fold:
    """Indices into the utterance list: ``train`` and ``test`` (int arrays), and a name."""

    name: str
    train: np.ndarray
    test: np.ndarray


def seed_split(utterances: Sequence[Utterance]) -> list[Fold]:
    """The seed's split: ``train_test_split(test_size=0.25, random_state=9)`` over the path-sorted list."""
    order = np.arange(len(utterances))
    train, test = train_test_split(order, test_size=0.25, random_state=9)
    return [Fold("seed", np.sort(train), np.sort(test))]


def ravdess_si6(utterances: Sequence[Utterance]) -> list[Fold]:
    """Six folds, each testing on four whole RAVDESS actors (EmoBox's folds)."""
    speakers = np.array([u.speaker for u in utterances])
    if any(u.corpus != "ravdess" for u in utterances):
        raise DataError("protocol ravdess-si6 needs RAVDESS; use speaker-kfold for other corpora")
    folds = []
    for i, actors in enumerate(RAVDESS_SI6, start=1):
        test = np.flatnonzero(np.isin(speakers, actors))
        train = np.flatnonzero(~np.isin(speakers, actors))
        if len(test) and len(train):
            folds.append(Fold(f"fold{i} (actors {' '.join(actors)})", train, test))
    if not folds:
        raise DataError("protocol ravdess-si6: no fold has both training and test actors")
    return folds


def speaker_kfold(utterances: Sequence[Utterance], k: int = 5) -> list[Fold]:
    """Grouped k-fold: every speaker's utterances fall in one test fold."""
    speakers = [u.speaker for u in utterances]
    if any(s is None for s in speakers):
        raise DataError("protocol speaker-kfold needs a speaker for every utterance (add a speaker column)")
    n_speakers = len(set(speakers))
    if n_speakers < 2:
        raise DataError(f"protocol speaker-kfold needs at least 2 speakers, found {n_speakers}")
    k = min(k, n_speakers)
    splitter = GroupKFold(n_splits=k)
    order = np.arange(len(utterances))
    return [Fold(f"fold{i} ({len(set(np.array(speakers)[test]))} speakers)", train, test)
            for i, (train, test) in enumerate(splitter.split(order, groups=speakers), start=1)]


def leave_one_corpus_out(utterances: Sequence[Utterance]) -> list[Fold]:
    """One fold per corpus: test on it, train on all the others.

    A test clip whose emotion no training corpus has (RAVDESS's calm when the others lack it)
    is left out of that fold's test, since no model trained there could name it.
    """
    names = np.array([u.corpus for u in utterances])
    labels = np.array([u.label for u in utterances], dtype=object)
    corpora_found = list(dict.fromkeys(names))
    if len(corpora_found) < 2:
        raise DataError("protocol leave-one-corpus-out needs at least two corpora: repeat --data "
                        f"(found only {corpora_found[0] if corpora_found else 'none'})")
    folds = []
    for corpus in corpora_found:
        train = np.flatnonzero(names != corpus)
        test = np.flatnonzero((names == corpus) & np.isin(labels, list(set(labels[train]))))
        if len(test):
            folds.append(Fold(f"{'+'.join(c for c in corpora_found if c != corpus)} -> {corpus}", train, test))
    if not folds:
        raise DataError("protocol leave-one-corpus-out: no corpus shares an emotion with the others")
    return folds


def _second_corpus(utterances: Sequence[Utterance], k: int) -> list[Fold]:
    raise ParameterError("protocol cross-corpus tests on a second corpus: give it with --test-data "
                         "(or call emovox.evaluation.cross_corpus.cross_corpus)")


#: The protocols, by name.
PROTOCOLS: Registry[Protocol] = Registry("protocol")
PROTOCOLS.register("ravdess-si6")(Protocol(
    "speaker-independent 6-fold cross-validation with EmoBox's RAVDESS test actors", lambda u, k: ravdess_si6(u)))
PROTOCOLS.register("speaker-kfold")(Protocol("grouped k-fold by speaker, any corpus with speakers", speaker_kfold))
PROTOCOLS.register("leave-one-corpus-out")(Protocol(
    "train on all corpora but one, test on that one, for each corpus (repeat --data)",
    lambda u, k: leave_one_corpus_out(u)))
PROTOCOLS.register("seed")(Protocol(
    "the seed's random 75/25 split (random_state=9), for comparison only: speakers overlap",
    lambda u, k: seed_split(u)))
PROTOCOLS.register("cross-corpus")(Protocol(
    "train on one corpus (--data), test on another (--test-data), over the emotions both share", _second_corpus))


def make_folds(protocol: str, utterances: Sequence[Utterance], *, k: int = 5) -> list[Fold]:
    """The folds of ``protocol`` (a name in :data:`PROTOCOLS`) over ``utterances``."""
    return PROTOCOLS.get(protocol).folds(utterances, k)
