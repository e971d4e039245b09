"""Rust static HashMap / Vec that code inserts into and nothing ever removes from.

What it finds:
    In non-test Rust code of a crate that serves requests (it uses axum, actix-web, warp,
    rocket, poem, tide, salvo, tonic or a hyper server): a ``static`` (``Lazy`` /
    ``LazyLock`` / ``OnceLock`` / ``OnceCell`` / ``lazy_static!``) holding a ``HashMap``,
    ``BTreeMap``, ``HashSet``, ``BTreeSet``, ``Vec``, ``VecDeque`` or ``DashMap`` (usually
    behind a ``Mutex`` / ``RwLock``) that the file inserts into (``insert``, ``push``,
    ``push_back``, ``entry``), directly or through a lock guard, while no line of the file
    removes from it or bounds it (``remove``, ``clear``, ``retain``, ``drain``,
    ``truncate``, ``pop``, ``len()`` check, ``mem::take``). Interners (``&'static``
    elements) and ``thread_local!`` stacks are not flagged.

Why it matters:
    A static lives as long as the process. When its keys come from work that keeps
    arriving (request ids, users, paths, job ids), every entry stays: the server's memory
    grows with traffic until it is OOM-killed, and nothing ever reports an error at the
    place that leaks.

Example:
    static SESSIONS: LazyLock<Mutex<HashMap<String, Session>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));

    async fn login(id: String, session: Session) {
        SESSIONS.lock().unwrap().insert(id, session);
    }

Use instead:
    // remove entries when they end (logout, expiry sweep), or use a bounded cache:
    static SESSIONS: LazyLock<Mutex<lru::LruCache<String, Session>>> =
        LazyLock::new(|| Mutex::new(lru::LruCache::new(NonZeroUsize::new(10_000).unwrap())));
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-static-collection-grows-unbounded",
    title="Static collection that only grows",
    severity=Severity.MEDIUM,
    confidence=Confidence.LOW,
    categories={"reliability": "Resource Leak"},
    checklist=["reliability.10.2"],
    problem=(
        "The static `{name}` holds a {collection} that this file adds to (`{grow}`) and "
        "never removes from or bounds: it grows for the life of the process."
    ),
    scenario=(
        "Each new key (request, user, session or job id) adds an entry that stays: after "
        "days of traffic the process holds every entry it ever saw and is OOM-killed."
    ),
    impact=(
        "Memory growth with traffic, ending in restarts that drop in-flight work; no error "
        "points at the leak."
    ),
    how_to_verify=(
        "Drive the code that inserts into `{name}` with many distinct keys and watch the "
        "process's resident memory (or log `{name}`'s len()) keep growing."
    ),
    fix=(
        "Remove entries when their work ends, sweep expired ones periodically, or use a "
        "bounded cache (lru::LruCache, moka with max_capacity / time_to_live)."
    ),
    trade_off="Evicted entries must be recomputed; size the bound to the working set.",
    effort_hours=(0.25, 1.0),
    languages=["rust"],
    experimental=True,  # whether the keys keep changing needs intent; nothing to measure here
)

_STATIC = re.compile(
    r"\bstatic\s+(?:ref\s+)?([A-Z_][A-Z0-9_]*)\s*:\s*([^=;]*?)\b"
    r"(HashMap|BTreeMap|HashSet|BTreeSet|Vec|VecDeque|DashMap|IndexMap)\b[^=;]*="
)
_SERVER = re.compile(
    r"\buse\s+(?:axum|actix_web|warp|rocket|poem|tide|salvo|tonic)\b|"
    r"\bhyper::server\b|\bhyper::service::service_fn\b|\b(?:axum|actix_web|warp|rocket)::"
)
_GROW = r"\.(?:insert|push|push_back|push_front|entry|extend)\s*\("
_SHRINK = r"\.(?:remove|clear|retain|drain|truncate|pop|pop_front|pop_back|split_off|len)\s*\("


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = repo.in_language("rust")
    if not any(_SERVER.search(ctx.source.text) for ctx in files):
        return  # a CLI or library: the process (or its caller) decides its own lifetime
    for ctx in files:
        yield from _check_file(ctx)


def _check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "static" not in text or syntax.is_test_path(ctx.source.path):
        return
    for match in _STATIC.finditer(text):
        name, collection = match.group(1), match.group(3)
        if "#[cfg(test)]" in text[: match.start()]:
            continue  # the test module of the file
        if (
            "&'static" in match.group(0)
            or "thread_local" in text[max(0, match.start() - 20) : match.start()]
        ):
            continue  # an interner (deliberately leaked, finite) or a per-thread stack
        names = [re.escape(name), *_guards(text, name)]
        mention = "|".join(names)
        if re.search(rf"\b(?:{mention})\b[^;{{}}]*?{_SHRINK}", text) or re.search(
            rf"(?:mem::take|mem::replace|std::mem::swap)\s*\([^;]*\b{re.escape(name)}\b", text
        ):
            continue
        grow = re.search(rf"\b(?:{mention})\b[^;{{}}]*?{_GROW}", text[match.end() :])
        if grow is None:
            continue
        start = match.end() + grow.start()
        line = text.count("\n", 0, match.start()) + 1
        said = " ".join(grow.group(0).split())
        yield Hit(
            path=ctx.source.path,
            start_line=line,
            end_line=line,
            symbol=name,
            details={
                "name": name,
                "collection": collection,
                "grow": said if len(said) <= 60 else said[:57] + "...",
                "grow_line": str(text.count("\n", 0, start) + 1),
            },
        )


def _guards(text: str, name: str) -> list[str]:
    """Names bound to the static's lock guard: ``let mut map = NAME.lock().unwrap();``."""
    return [
        re.escape(m.group(1))
        for m in re.finditer(
            rf"let\s+(?:mut\s+)?(\w+)\s*=\s*{re.escape(name)}\s*\.\s*(?:lock|write|get_or_init|borrow_mut)\b",
            text,
        )
    ]


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
