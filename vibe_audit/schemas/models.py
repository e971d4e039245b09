"""The pydantic models that pass between the steps of the flow.

chunker -> Chunk;  rules / providers -> Finding;  score -> AuditSection;  render <- Report.
Nothing else crosses a folder boundary.
"""

from __future__ import annotations

import re
from enum import StrEnum
from importlib import resources
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator


def _template_audit_ids() -> tuple[str, ...]:
    """The audits are the template files vibe_audit/prompts/audits/<id>.md, in the order of
    their front matter's ``order = N`` (the documents' order): adding an audit is adding its
    template. Only that one line is read here; prompts/catalog.py parses and checks the rest."""
    folder = resources.files("vibe_audit") / "prompts" / "audits"
    ranked: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".md"):
            continue
        match = re.search(
            r"^order\s*=\s*(\d+)\s*(?:#.*)?$", entry.read_text(encoding="utf-8"), re.M
        )
        if match is None:
            raise ValueError(f"audits/{entry.name}: its front matter has no `order = N` line")
        ranked.append((int(match.group(1)), entry.name.removesuffix(".md")))
    return tuple(name for _, name in sorted(ranked))


AUDIT_IDS: tuple[str, ...] = _template_audit_ids()


def _known_audit(value: str) -> str:
    if value not in AUDIT_IDS:
        raise ValueError(f"unknown audit {value!r}; the audits are: {', '.join(AUDIT_IDS)}")
    return value


# An audit's id: one of AUDIT_IDS, validated wherever a model carries it; the JSON schemas
# list the ids as an enum.
AuditId = Annotated[
    str,
    AfterValidator(_known_audit),
    WithJsonSchema({"type": "string", "enum": list(AUDIT_IDS)}),
]

LineNo = Annotated[int, Field(ge=1)]
Source = Literal["rule", "model"]
SOURCES: tuple[Source, ...] = ("rule", "model")


class Severity(StrEnum):
    """The seed documents' own severities, most severe first."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    MONITOR = "MONITOR"

    @property
    def rank(self) -> int:
        """0 for CRITICAL ... 3 for MONITOR; lower is more severe."""
        return list(Severity).index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank <= other.rank


class Confidence(StrEnum):
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"

    @property
    def rank(self) -> int:
        """0 for High ... 2 for Low; lower is surer."""
        return list(Confidence).index(self)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Chunk(_Model):
    """One slice of one file: a symbol (function, class) or the module-level code."""

    id: str = Field(description="Deterministic id: path#symbol@start-end.")
    path: str = Field(description="Path relative to the audited root, '/' separated.")
    language: str
    kind: Literal["module", "function", "class", "window"]
    symbol: str | None = Field(default=None, description="Qualified symbol name.")
    part: str | None = Field(
        default=None, description="'i/n' when an oversized symbol was split; else None."
    )
    start_line: LineNo
    end_line: LineNo
    text: str
    content_hash: str = Field(description="sha256 of text, hex.")
    tokens: int = Field(ge=0)
    imports: list[str] = Field(default_factory=list, description="The file's imports.")
    enclosing: str | None = Field(
        default=None, description="Signature of the enclosing class / impl / type, if any."
    )
    setup: list[str] = Field(
        default_factory=list,
        description="Module-level definitions the chunk refers to (constants, factories).",
    )


class Location(_Model):
    path: str
    start_line: LineNo
    end_line: LineNo
    symbol: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Location:
        if self.end_line < self.start_line:
            raise ValueError("end_line must be >= start_line")
        return self


class EvidenceLine(_Model):
    line: LineNo
    text: str


class AbsenceSearch(_Model):
    """What shows that a missing thing is missing: re-run by verification."""

    pattern: str = Field(description="A Python regular expression.")
    scope: Literal["file", "repository"]


class LineEdit(_Model):
    """Replace lines ``start_line``..``end_line`` (inclusive) of ``path`` by ``text`` (whole
    lines, each ending in a newline; empty deletes). ``end_line = start_line - 1`` inserts
    ``text`` before ``start_line``."""

    path: str
    start_line: LineNo
    end_line: int = Field(ge=0)
    text: str

    @model_validator(mode="after")
    def _ordered(self) -> LineEdit:
        if self.end_line < self.start_line - 1:
            raise ValueError("end_line is before start_line - 1")
        if self.text and not self.text.endswith("\n"):
            raise ValueError("text is whole lines: it ends with a newline")
        return self


class PatchSafety(StrEnum):
    """safe: behaviour-preserving apart from the defect (a timeout argument, a PRAGMA in the
    connection factory); unsafe: needs review (a helper replacing an in-place write, a new
    transaction or guard). ``vibe-audit fix`` applies unsafe ones only with --unsafe."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class Patch(_Model):
    """A rule's mechanical fix for one finding, and whether it passed verification."""

    safety: PatchSafety
    description: str = Field(description="What the change does, in the repository's words.")
    edits: list[LineEdit] = Field(min_length=1)
    # Text of the replaced lines that the new lines must still contain (the file's encoding=,
    # an exclusive-create mode, a permission): checked by verification.
    keeps: list[str] = Field(default_factory=list)
    verified: bool = Field(
        default=False,
        description="It parses, the rule no longer fires there, and nothing outside its "
        "lines changed (vibe_audit.fixes.verify).",
    )
    reason: str | None = Field(
        default=None, description="Why a patch is not offered (verification failed)."
    )

    @property
    def offered(self) -> bool:
        return self.verified and self.reason is None

    @property
    def proposed(self) -> bool:
        """Checked to apply, parse and change nothing else, not yet verified in full (a
        `vibe-audit run` makes no second pass over the repository: `fix` does)."""
        return not self.verified and self.reason is None


class Finding(_Model):
    """One defect, in the seed documents' mandated finding format."""

    id: str = Field(description="Short id within one report, e.g. F3.")
    fingerprint: str = Field(description="Stable across runs and unrelated edits.")
    audits: list[AuditId] = Field(min_length=1, description="Every audit that raised it.")
    severity: Severity
    severity_reason: str | None = Field(
        default=None,
        description="Why it got its severity: the evidence of concurrency or of state read "
        "back, or its absence (rule findings).",
    )
    categories: dict[AuditId, str] = Field(
        description="The Risk Category of the finding in each audit that raised it."
    )
    severities: dict[AuditId, Severity] = Field(
        default_factory=dict,
        description="Its severity in each audit whose severity definitions rank it below "
        "``severity`` (absent: ``severity``). ``severity`` is the highest over its audits.",
    )
    title: str
    location: Location
    problem: str
    scenario: str = Field(description="The concrete failure scenario under load.")
    impact: str
    confidence: Confidence
    how_to_verify: str
    fix: str = Field(description="A concrete code change.")
    trade_off: str
    evidence: list[EvidenceLine] = Field(min_length=1)
    checklist_items: list[str] = Field(
        default_factory=list, description="Checklist item ids it violates, e.g. sqlite.1A."
    )
    absence: AbsenceSearch | None = Field(
        default=None,
        description="For a defect that is something missing: the search that shows it is "
        "absent (verification re-runs it; a match drops the finding).",
    )
    source: Source
    rule_id: str | None = None
    model: str | None = None
    sources: list[Source] = Field(
        default_factory=list,
        description="Every source that reported or confirmed this defect: a rule finding the "
        "model confirmed, or fused with a model's finding of the same defect, has both "
        "(``model`` names the model). Empty on input: ``[source]``.",
    )
    effort_hours: tuple[float, float] | None = Field(
        default=None, description="Low and high estimate of the time to fix, in hours."
    )
    replacement: str | None = Field(
        default=None,
        description="Exact new text for lines start..end when the fix is a small replacement.",
    )
    cost_usd: float = Field(
        default=0.0,
        ge=0,
        description="Model spend attributed to it: each request's cost shared among the "
        "findings it raised (0 for rules).",
    )
    patch: Patch | None = Field(
        default=None,
        description="A mechanical change that fixes it (``vibe-audit fix``), when its rule "
        "has one: offered only when verified; otherwise ``reason`` says why not.",
    )

    @model_validator(mode="after")
    def _categories_match_audits(self) -> Finding:
        if set(self.categories) != set(self.audits):
            raise ValueError("categories must name exactly the finding's audits")
        if not set(self.severities) <= set(self.audits):
            raise ValueError("severities must name only the finding's audits")
        if not self.sources:
            self.sources = [self.source]
        return self

    def severity_in(self, audit: AuditId) -> Severity:
        """Its severity in one audit, by that audit's severity definitions."""
        return self.severities.get(audit, self.severity)


class ChecklistState(StrEnum):
    VIOLATED = "violated"
    NOT_SEEN = "not seen"
    NEEDS_CONFIRMATION = "needs confirmation"
    NOT_APPLICABLE = "not applicable"


class ChecklistEntry(_Model):
    id: str
    text: str
    state: ChecklistState
    finding_ids: list[str] = Field(default_factory=list)
    note: str = ""


class Assumption(_Model):
    """One line of the documents' "Environment & Assumptions" section."""

    topic: str
    value: str
    needs_confirmation: bool
    evidence: list[str] = Field(default_factory=list, description="path:line references.")
    suspicious: bool = Field(
        default=False,
        description="A pattern that looks risky but needs confirmation (what to verify, and "
        "where), not a fact about the environment: listed under Suspicious Patterns.",
    )


class ActionItem(_Model):
    finding_id: str
    title: str
    severity: Severity
    location: str
    impact: str


class AuditSection(_Model):
    """The per-audit part of a report: every section the seed document makes mandatory."""

    audit: AuditId
    title: str
    score: int | None = Field(
        ge=1,
        le=10,
        description="1-10 from the audit's rubric; null when the audit does not apply (the "
        "audited code has no such subject: no SQLite, no state files, no database) or when "
        "nothing of its subject was read (rubric_band starts 'not audited').",
    )
    rubric_band: str
    justification: list[str] = Field(min_length=1)
    assumptions: list[Assumption]
    finding_ids: list[str]
    top_fixes: list[ActionItem] = Field(max_length=3)
    fix_now: list[ActionItem]
    fix_soon: list[ActionItem]
    monitor: list[ActionItem]
    fix_now_effort: str
    checklist: list[ChecklistEntry]
    testing_strategy: list[str]
    verification_commands: list[str]
    monitoring: list[str] = Field(
        description="Metrics to add, each with the threshold that triggers the fix."
    )
    executive_summary: list[str] = Field(
        default_factory=list,
        description="2-3 short paragraphs: the posture, what was and was not checked, what "
        "to do first.",
    )
    suspicious_patterns: list[str] = Field(
        default_factory=list,
        description="What looks risky but needs confirmation, each saying exactly what to "
        "verify and where (from the model's needs_confirmation).",
    )
    infrastructure: list[str] = Field(
        default_factory=list, description="Infrastructure and tooling to add."
    )

    @property
    def score_text(self) -> str:
        """'7/10'; 'n/a' when the audit does not apply; 'not audited' when nothing of its
        subject was read."""
        if self.score is not None:
            return f"{self.score}/10"
        return "not audited" if self.rubric_band.startswith("not audited") else "n/a"


class SkippedFile(_Model):
    path: str
    reason: str


class TriageStats(_Model):
    """The cheap first pass of ``--triage MODEL``: what it read, flagged and cost."""

    model: str
    requests: int = Field(ge=0)
    chunks_flagged: int = Field(ge=0, description="Chunk x audit pairs sent on to the model.")
    chunks_cleared: int = Field(ge=0, description="Chunk x audit pairs it found nothing in.")
    tokens_in: int = Field(ge=0)
    tokens_out: int = Field(ge=0)
    cost_usd: float = Field(ge=0)


class RunStats(_Model):
    root: str
    files_discovered: int = Field(ge=0)
    files_audited: int = Field(ge=0)
    files_skipped: dict[str, int] = Field(description="Skip count by reason.")
    skipped: list[SkippedFile]
    discovery: Literal["git", "walk"] = Field(
        description="Candidates listed by git ls-files, or by a .gitignore-aware walk."
    )
    secrets_redacted: dict[str, int] = Field(
        default_factory=dict, description="Secrets redacted before use, by kind."
    )
    chunks: int = Field(ge=0)
    parse_errors: list[str] = Field(
        default_factory=list, description="Files tree-sitter parsed with syntax errors."
    )
    provider: str
    model: str | None
    model_note: str
    chunk_tokens: int = Field(ge=0, description="Tokens in all chunks (the audited code).")
    tokens_in: int = Field(ge=0, description="Tokens sent to a model (0 for static).")
    tokens_out: int = Field(ge=0)
    tokens_cached: int = Field(
        default=0, ge=0, description="Of tokens_in, read from the provider's prompt cache."
    )
    cache_saving_usd: float = Field(
        default=0, ge=0, description="What the prompt cache saved against list input prices."
    )
    token_counter: Literal["tiktoken", "estimate"]
    cost_usd: float = Field(ge=0)
    elapsed_s: float = Field(ge=0)
    rules_run: int = Field(ge=0)
    findings_dropped: dict[str, int] = Field(
        default_factory=dict, description="Findings that failed verification, by reason."
    )
    suppressed: dict[str, int] = Field(
        default_factory=dict, description="Findings suppressed: 'inline' comments, 'baseline'."
    )
    jobs: dict[str, int] = Field(default_factory=dict, description="Model requests by outcome.")
    unreviewed_jobs: list[JobOutcome] = Field(
        default_factory=list,
        description="Model requests that failed or were skipped: their lines were not reviewed.",
    )
    model_events: dict[str, int] = Field(
        default_factory=dict, description="Retries and repairs by cause."
    )
    router_skipped: dict[str, int] = Field(
        default_factory=dict, description="Chunks not sent to each audit (no applies-to signal)."
    )
    cost_by_audit: dict[str, float] = Field(
        default_factory=dict, description="Model spend per audit, USD (triage not included)."
    )
    triage: TriageStats | None = Field(
        default=None,
        description="The triage pass (--triage); its tokens and cost are included above.",
    )


CoverageState = Literal[
    "audited", "cached", "answered empty", "skipped by routing", "clipped", "excluded", "failed"
]
COVERAGE_STATES: tuple[CoverageState, ...] = (
    "audited",
    "cached",
    "answered empty",
    "skipped by routing",
    "clipped",
    "excluded",
    "failed",
)
NOT_AUDITED: tuple[CoverageState, ...] = ("answered empty", "clipped", "failed")
"""States of code the run meant to read and did not: they count against coverage."""


class CoverageRow(_Model):
    """One file x symbol of the ledger, with its state in every audit of the run."""

    path: str
    symbol: str | None = Field(
        description="Qualified symbol; None for module-level code or a whole skipped file."
    )
    lines: tuple[int, int] | None = Field(description="None for a file skipped before reading.")
    states: dict[AuditId, CoverageState]
    details: dict[AuditId, str] = Field(
        default_factory=dict,
        description="Why, where a state needs it: the routing signal, the exclusion rule, "
        "the error, the budget.",
    )


class AuditCoverage(_Model):
    audit: AuditId
    states: dict[CoverageState, int] = Field(description="Symbols (and skipped files) by state.")
    in_scope: int = Field(ge=0, description="Everything but 'excluded' and 'skipped by routing'.")
    audited: int = Field(ge=0, description="'audited' + 'cached'.")
    percent: float | None = Field(description="audited / in_scope x 100; None when nothing was.")

    @property
    def not_audited(self) -> int:
        return self.in_scope - self.audited


class Coverage(_Model):
    """The coverage ledger: what became of every file x symbol x audit."""

    engine: Literal["rules", "model"] = Field(
        description="'rules': the built-in rules read the code (no model); 'model': a model did."
    )
    audits: list[AuditCoverage]
    rows: list[CoverageRow]

    def for_audit(self, audit: AuditId) -> AuditCoverage | None:
        return next((a for a in self.audits if a.audit == audit), None)

    @property
    def percent(self) -> float | None:
        in_scope = sum(a.in_scope for a in self.audits)
        return 100 * sum(a.audited for a in self.audits) / in_scope if in_scope else None

    def not_audited(self, audit: AuditId | None = None) -> list[CoverageRow]:
        """Rows some audit (or ``audit``) meant to read and did not (clipped or failed)."""
        return [
            r
            for r in self.rows
            if any(s in NOT_AUDITED for a, s in r.states.items() if audit in (None, a))
        ]


class DismissedFinding(_Model):
    """A rule finding the model dismissed when answering its hint: not scored (unless
    --keep-dismissed), listed under "Dismissed by the model" with the reason."""

    finding: Finding
    reason: str = Field(description="The model's reason, from its first dismissal.")
    model: str
    audits: list[AuditId] = Field(description="The audits whose requests dismissed it.")
    kept: bool = Field(default=False, description="Still scored and reported (--keep-dismissed).")


class Report(_Model):
    schema_version: Literal["1.3"] = "1.3"
    tool_version: str
    audits: list[AuditId] = Field(min_length=1)
    prompt_versions: dict[AuditId, str] = Field(
        description="Template version (content hash) of each audit, as used by this run."
    )
    sections: list[AuditSection]
    findings: list[Finding]
    stats: RunStats
    coverage: Coverage | None = Field(
        default=None, description="The coverage ledger (None in reports from before it existed)."
    )
    dismissed: list[DismissedFinding] = Field(
        default_factory=list,
        description="Rule findings the model dismissed, with its reason (not in findings "
        "unless kept with --keep-dismissed).",
    )

    def findings_at_or_above(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.at_least(threshold)]


class SourceFile(_Model):
    """One file the chunker accepted for auditing, with its decoded text."""

    path: str = Field(description="Path relative to the audited root, '/' separated.")
    language: str
    text: str
    sha256: str
    decoded_with_replacement: bool = Field(
        default=False, description="True when the file was not valid UTF-8."
    )
    secrets_redacted: int = Field(default=0, ge=0, description="Secrets replaced in text.")
    test_regions: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Line ranges of test code inside the file (Rust #[cfg(test)] modules), "
        "skipped like test files unless --include-tests.",
    )

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


class RunRequest(_Model):
    """What `vibe-audit run` was asked to do."""

    target: str
    audits: list[AuditId] = Field(min_length=1)
    model: str = "static"
    max_file_bytes: int = Field(default=1_000_000, ge=1)
    include: list[str] = Field(default_factory=list, description="--include globs.")
    baseline: list[str] = Field(
        default_factory=list, description="Fingerprints of known findings not to report."
    )
    focus: dict[str, list[tuple[int, int]]] | None = Field(
        default=None,
        description="Changed line ranges by path: only chunks touching them go to the model.",
    )
    exclude: list[str] = Field(default_factory=list, description="--exclude globs.")
    include_tests: bool = Field(
        default=False, description="--include-tests: audit test code (skipped by default)."
    )
    rules: Literal["stable", "experimental"] = Field(
        default="stable",
        description="--rules: the built-in rules that run; 'experimental' adds the rules "
        "below the precision gate.",
    )


class RenderedRequest(_Model):
    """One model request for one audit and one chunk, as the provider will send it."""

    audit: AuditId
    template_version: str
    chunk_id: str
    system: str
    user: str
    data_token: str = Field(description="The token on the BEGIN/END lines around the code.")
    shared_prefix: int = Field(
        default=0,
        ge=0,
        description="Length (characters) of the start of ``user`` that every request of this "
        "audit in this run shares (audit line, repository context): the prompt-cache prefix.",
    )


class ChunkListing(_Model):
    """What `vibe-audit chunks --format json` prints."""

    root: str
    discovery: Literal["git", "walk"]
    token_counter: Literal["tiktoken", "estimate"]
    files: int = Field(ge=0)
    chunks: list[Chunk]
    skipped: list[SkippedFile]
    secrets_redacted: dict[str, int]


class FileSpan(_Model):
    """The lines of one file a request shows (first to last, gaps marked in the request)."""

    path: str
    lines: tuple[int, int]


def file_spans(chunks: list[Chunk]) -> list[FileSpan]:
    """One span per file of ``chunks``, in the order the files first appear."""
    spans: dict[str, tuple[int, int]] = {}
    for c in chunks:
        first, last = spans.get(c.path, (c.start_line, c.end_line))
        spans[c.path] = (min(first, c.start_line), max(last, c.end_line))
    return [FileSpan(path=p, lines=lines) for p, lines in spans.items()]


class ChunkPack(_Model):
    """Small chunks sent together in one request, up to a token budget: the chunks of one
    file, or of several files of one directory (each file keeps its own line numbers)."""

    id: str = Field(description="path#first-symbol..last-symbol@start-end, deterministic.")
    path: str = Field(description="The first file of the pack.")
    files: list[FileSpan] = Field(min_length=1, description="Every file of the pack, in order.")
    chunks: list[Chunk] = Field(min_length=1)
    tokens: int = Field(ge=0)


class Job(_Model):
    """One model request: one audit x one pack of chunks (of one or more files)."""

    id: str
    audit: AuditId
    path: str = Field(description="The first file the request shows.")
    chunk_ids: list[str]
    lines: tuple[int, int] = Field(description="First and last line shown of the first file.")
    files: list[FileSpan] = Field(
        default_factory=list,
        description="Every file the request shows with its lines; findings elsewhere are "
        "dropped by verification.",
    )
    request: RenderedRequest
    hints: dict[str, str] = Field(
        default_factory=dict,
        description="Hint id in the request (H1, H2...) -> fingerprint of its rule finding.",
    )
    cache_key: str
    tokens_in: int = Field(ge=0, description="Estimated input tokens.")
    max_tokens_out: int = Field(ge=0)
    cost_usd: float = Field(ge=0, description="Estimated cost if the answer is as long as allowed.")


class AuditPlan(_Model):
    audit: AuditId
    jobs: int
    chunks_routed: int
    chunks_skipped_by_router: int
    tokens_in: int
    cost_usd: float


class Plan(_Model):
    model: str
    priced: bool = Field(description="False when the model has no price in the pricing data.")
    jobs: list[Job]
    audits: list[AuditPlan]


class JobOutcome(_Model):
    """What became of one job. ``status`` failed/skipped jobs leave their lines unreviewed."""

    job_id: str
    audit: AuditId
    path: str
    lines: tuple[int, int]
    files: list[FileSpan] = Field(
        default_factory=list, description="Every file of the request (its first is path)."
    )
    status: Literal["answered", "cached", "failed", "skipped (budget)"]
    attempts: int = Field(ge=0)
    reason: str = ""
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)
    tokens_cached: int = Field(default=0, ge=0, description="Input read from the prompt cache.")
    cost_usd: float = Field(default=0, ge=0)
    batch_id: str | None = Field(
        default=None, description="The provider batch that answered it (--batch), if any."
    )


RunStats.model_rebuild()
Report.model_rebuild()
