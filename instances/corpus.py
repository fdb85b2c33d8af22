"""Calibration and evaluation text: the shipped offline corpus, or C4 / WikiText-2 when reachable.

Offline corpus (``instances/data/corpus``, see SOURCES.md there): each text is split into paragraphs
(blank-line separated); the first ``CALIBRATION_FRACTION`` of every text's paragraphs is the
calibration part, the rest the held-out part. The two parts never share a paragraph.
"""
from __future__ import annotations

import re
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "data" / "corpus"
CALIBRATION_FRACTION = 0.85
SOURCES = ("corpus", "c4", "wikitext2")


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def corpus_split(part: str) -> str:
    """The offline corpus's ``part`` ("calibration" or "heldout") as one string."""
    if part not in ("calibration", "heldout"):
        raise ValueError(f"corpus part must be 'calibration' or 'heldout'; got {part!r}")
    chosen = []
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        paragraphs = _paragraphs(path.read_text(encoding="utf-8"))
        cut = int(len(paragraphs) * CALIBRATION_FRACTION)
        chosen.extend(paragraphs[:cut] if part == "calibration" else paragraphs[cut:])
    return "\n\n".join(chosen)


def load_text(source: str, part: str) -> str:
    """Text of ``source`` ("corpus", "c4", "wikitext2") for ``part`` ("calibration" or "heldout")."""
    if source == "corpus":
        return corpus_split(part)
    if source not in SOURCES:
        raise ValueError(f"unknown calibration source {source!r}; known: {', '.join(SOURCES)}")
    try:
        import datasets  # optional: only for online sources
    except ImportError:
        raise RuntimeError(f"calibration source {source!r} needs the `datasets` package and network access; "
                           "the offline source works without either: --calibration corpus") from None
    from .models import hub_reachable

    if not hub_reachable():  # fail in seconds, not after a minute of download retries
        raise RuntimeError(f"calibration source {source!r} needs the Hugging Face hub, which is unreachable here "
                           "(offline, or HF_HUB_OFFLINE set); the offline source works: --calibration corpus")
    try:
        if source == "wikitext2":
            split = "train" if part == "calibration" else "test"
            rows = datasets.load_dataset("wikitext", "wikitext-2-raw-v1", split=split)
            return "\n\n".join(rows["text"])
        split = "train" if part == "calibration" else "validation"
        shard = ("en/c4-train.00000-of-01024.json.gz" if split == "train"
                 else "en/c4-validation.00000-of-00008.json.gz")
        rows = datasets.load_dataset("allenai/c4", data_files={split: shard}, split=split)
        return "\n\n".join(rows["text"][:20000])
    except Exception as err:  # network or hub failures: say what works offline
        raise RuntimeError(f"could not load calibration source {source!r} ({type(err).__name__}: {err}); "
                           "the offline source works without network: --calibration corpus") from None
