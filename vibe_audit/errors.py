"""Errors and exit codes, decided in one place.

Exit codes (documented in README.md, "Exit codes"):

    0  EXIT_CLEAN     the run finished and no finding is at or above --fail-on
    1  EXIT_FINDINGS  the run finished and a finding is at or above --fail-on
    2  EXIT_USAGE     a usage or configuration mistake (unknown prompt id, missing path, ...)
    3  EXIT_RUN       the run could not finish (internal error, report could not be written)
    4  EXIT_COVERAGE  the run finished, the report was written, but an audit read less than
                      --require-coverage PCT of the code routed to it
    5  EXIT_PENDING   a --batch run stopped waiting (--batch-wait) while batches were still
                      running; their ids and every answer already received are in the
                      cache, and the same command resumes them
  130  EXIT_INTERRUPTED  interrupted (Ctrl-C / SIGINT); what was received is cached

Error tree:

    VibeAuditError                 base; carries the exit code and a one-line message
    ├── UserError                  the caller asked for something wrong        -> exit 2
    │   ├── UnknownPromptError     --prompt names no audit
    │   ├── TargetNotFoundError    PATH does not exist
    │   └── UnreadableFileError    PATH (or a file the run must read) cannot be read
    │   └── MissingDependencyError an optional extra is not installed
    ├── CoverageError              coverage below --require-coverage             -> exit 4
    ├── BatchPending               --batch-wait passed, batches still running    -> exit 5
    └── RunError                   the run itself failed                         -> exit 3
        ├── OutputWriteError       the report could not be written to --out
        └── ProviderError          a model call failed (translated from the SDK's error)
            ├── ProviderHTTPError      non-2xx answer: status_code, body, retry_after
            ├── ProviderTimeout        no answer within the per-call timeout
            └── ProviderConnectionError connection refused / reset

Set VIBE_AUDIT_RAISE_ERRORS=1 to re-raise instead of printing one line (for debugging).
"""

from __future__ import annotations

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_RUN = 3
EXIT_COVERAGE = 4
EXIT_PENDING = 5
EXIT_INTERRUPTED = 130

RAISE_ENV = "VIBE_AUDIT_RAISE_ERRORS"


class VibeAuditError(Exception):
    """Base of every error vibe-audit reports to its user."""

    exit_code = EXIT_RUN

    def __init__(self, message: str) -> None:
        # One line, always: a newline inside a message would break log parsers and CI annotations.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class UserError(VibeAuditError):
    """A usage or configuration mistake; rerunning unchanged will fail the same way."""

    exit_code = EXIT_USAGE


class UnknownPromptError(UserError):
    pass


class TargetNotFoundError(UserError):
    pass


class UnreadableFileError(UserError):
    pass


class MissingDependencyError(UserError):
    pass


class CoverageError(VibeAuditError):
    """The run finished and its report was written, but it audited less than required."""

    exit_code = EXIT_COVERAGE


class BatchPending(VibeAuditError):
    """A --batch run stopped waiting; its batches are kept and the same command resumes."""

    exit_code = EXIT_PENDING


class RunError(VibeAuditError):
    """The run started but could not finish."""

    exit_code = EXIT_RUN


class OutputWriteError(RunError):
    pass


class ProviderError(RunError):
    """A model call failed. ``retryable`` says whether trying again can help."""

    retryable = False
    retry_after: float | None = None
    kind = "error"


class ProviderHTTPError(ProviderError):
    def __init__(self, status_code: int, body: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {body[:200]}")
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after
        self.retryable = status_code in (408, 409, 429) or status_code >= 500
        self.kind = f"http {status_code}"


class ProviderTimeout(ProviderError):
    retryable = True
    kind = "timeout"


class ProviderConnectionError(ProviderError):
    retryable = True
    kind = "connection"
