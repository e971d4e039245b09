"""Where ``run_audit`` and ``ModelOptions`` were: an audit run is now vibe_audit/pipeline.py
(named steps), the model's part of it agent/model_pass.py. Both stay importable from here."""

from vibe_audit.agent.model_pass import ModelOptions
from vibe_audit.pipeline import run_audit

__all__ = ["ModelOptions", "run_audit"]
