"""Per-stage checkpoints, one JSON file per document and stage."""

import json
import os
from pathlib import Path

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "data" / "checkpoints"


def checkpoint_path(doc_id, stage):
    return CHECKPOINT_DIR / doc_id / f"{stage}.json"


def save_checkpoint(doc_id, stage, data):
    path = checkpoint_path(doc_id, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


def load_checkpoint(doc_id, stage):
    path = checkpoint_path(doc_id, stage)
    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)


def save_manifest(doc_id, stages):
    """The manifest is written atomically: temp file, fsync, rename."""
    path = CHECKPOINT_DIR / doc_id / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        json.dump({"doc_id": doc_id, "stages": stages}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_manifest(doc_id):
    path = CHECKPOINT_DIR / doc_id / "manifest.json"
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return {"doc_id": doc_id, "stages": []}
