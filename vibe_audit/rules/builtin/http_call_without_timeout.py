"""Outbound HTTP call with no timeout.

What it finds:
    ``requests.get/post/put/patch/delete/head/request(...)`` and
    ``urllib.request.urlopen(...)`` called without a ``timeout`` argument (and without
    ``**kwargs`` that could carry one), outside vendored copies of other projects
    (``_vendor/``, ``third_party/``). httpx and aiohttp are not flagged: they time out by
    default.

    Severity follows where the call runs. HIGH in code that serves requests or jobs: the
    file, or another module of the repository, runs a web server, a worker or a scheduler
    (flask, fastapi, django, celery, gunicorn, socketserver, ...; a live-reload development
    server does not count), or the file polls in a ``while`` loop that sleeps. MEDIUM in
    shipped code that serves nothing: a library or tool with no server in sight; code run
    once at import or at the command line's start (it reads ``sys.argv``); a one-time
    download guarded by ``if not os.path.exists(...)``; debug code (a file, class or
    function named debug); a call to a server on the same machine (``localhost``) other
    than a health check, where a timeout cuts that server's own long-running work short.
    MONITOR in code run by hand: a click / typer command; a script (a file under scripts/,
    examples/, docs/, benchmarks/, a setup.py, a file importing argparse / click / typer
    and no server, an ``if __name__ == "__main__"`` file no other module imports):
    whoever runs it sees the hang.

Why it matters:
    requests and urlopen wait forever by default. A dependency that accepts the connection
    and never answers holds the worker, its database connection and its memory until the
    process is restarted; enough of them exhaust the worker pool.

Example:
    requests.post(OCR_URL, json=payload)

Use instead:
    requests.post(OCR_URL, json=payload, timeout=(3.05, 30))   # connect, read
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import PurePosixPath

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import patching, pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="http-call-without-timeout",
    title="HTTP call without a timeout",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.1", "reliability.8.1"],
    problem=(
        "{call}(...) is called without a timeout, and this client waits forever by default: "
        "a server that accepts the connection and never answers hangs this call "
        "indefinitely."
    ),
    scenario=(
        "The remote service accepts the connection but stalls (overload, GC pause, network "
        "partition): every request, job or run that reaches this line hangs, with no error."
    ),
    impact=(
        "In a service, one slow dependency takes everything down: with N workers, N stuck "
        "calls stop all processing until restart. Elsewhere the run hangs until someone "
        "notices and kills it."
    ),
    how_to_verify=(
        "Point the URL at `nc -l 9999` (accepts, never answers) and call the code path: it "
        "never returns."
    ),
    fix="Pass an explicit {timeout_words}:\n    {call}(..., {timeout_arg})",
    trade_off=(
        "A read timeout too short for slow but healthy responses causes spurious failures; "
        "pair it with retries with backoff for idempotent calls."
    ),
    effort_hours=(0.25, 0.5),
)

_REQUESTS = {
    f"requests.{verb}"
    for verb in ("get", "post", "put", "patch", "delete", "head", "options", "request")
}
_URLOPEN = {"urllib.request.urlopen", "request.urlopen", "urlopen"}


def check_file(ctx: FileContext) -> Iterator[Hit]:
    """Every call without a timeout, at the rule's severity (``check_repo`` grades them)."""
    for call in _unbounded_calls(ctx):
        yield _hit(ctx, call)


def _unbounded_calls(ctx: FileContext) -> Iterator[tree_sitter.Node]:
    if "requests" not in ctx.imports and "urllib" not in ctx.imports:
        return
    for call in syntax.of_type(ctx.root, "call"):
        name = syntax.callee(call)
        if name not in _REQUESTS and name not in _URLOPEN:
            continue
        keywords = syntax.keyword_names(call)
        if "timeout" in keywords or "**" in keywords:
            continue
        if name in _URLOPEN and len(syntax.positional_args(call)) >= 3:
            continue  # urlopen(url, data, timeout) passed positionally
        yield call


def _hit(ctx: FileContext, call: tree_sitter.Node) -> Hit:
    name = syntax.callee(call)
    argument, words = _TIMEOUTS["urlopen" if name in _URLOPEN else "requests"]
    details = {"call": name, "text": node_text(call), "timeout_arg": argument}
    return node_hit(ctx, call, details=details | {"timeout_words": words})


# The timeout argument to add, and how the fix text names it: requests takes a (connect,
# read) tuple; urlopen takes one number (a tuple there is a TypeError).
_TIMEOUTS = {
    "requests": ("timeout=(3.05, 30)", "(connect, read) timeout"),
    "urlopen": ("timeout=30", "timeout in seconds (urlopen takes one number, not a tuple)"),
}


# Imports that make the code a long-running service: a web server, a worker, a scheduler.
_SERVICES: dict[str, str] = {
    "flask": "a Flask app", "fastapi": "a FastAPI app", "starlette": "a Starlette app",
    "django": "a Django app", "tornado": "a Tornado server", "sanic": "a Sanic server",
    "quart": "a Quart app", "bottle": "a Bottle app", "falcon": "a Falcon app",
    "pyramid": "a Pyramid app", "cherrypy": "a CherryPy server", "gradio": "a Gradio app",
    "socketserver": "a socketserver server", "wsgiref": "a WSGI server",
    "grpc": "a gRPC server", "twisted": "a Twisted server", "uvicorn": "a uvicorn server",
    "gunicorn": "gunicorn workers", "hypercorn": "a Hypercorn server",
    "waitress": "a waitress server", "celery": "Celery workers", "rq": "RQ workers",
    "huey": "Huey workers", "dramatiq": "Dramatiq workers", "arq": "arq workers",
    "apscheduler": "a scheduler",
}  # fmt: skip
_SERVICE_TEXT = {
    "aiohttp.web": "an aiohttp server",
    "from aiohttp import web": "an aiohttp server",
    "http.server": "an http.server server",
}
_CLI_IMPORTS = ("argparse", "click", "typer", "fire", "docopt")
# Scripts and command-line commands: run by hand, a hang is seen and interrupted.
_BY_HAND = Severity.MONITOR
# Folders of code that is run by hand or read, not served: examples, docs, maintainer scripts.
_EXAMPLE_DIRS = frozenset({"examples", "example", "docs", "doc", "benchmarks", "benchmark"})
_SCRIPT_DIRS = _EXAMPLE_DIRS | {"scripts", "script", "bin", "dev", "ci", ".github"}
# Third-party code copied into the repository: its fix belongs upstream.
_VENDORED = frozenset({"_vendor", "_vendored", "vendored", "third_party"})
_DEV_SERVERS = ("livereload", "devserver", "dev_server")
_SCRIPT_FILES = frozenset({"setup.py", "noxfile.py", "fabfile.py"})
_LOCAL_HOST = re.compile(r"\b(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])\b")
_HEALTH = re.compile(r"health|ready|readiness|liveness|alive|ping|status", re.IGNORECASE)
_EXISTS = re.compile(r"(exists|isfile|is_file|isdir|is_dir)\s*\(")
_CLI_DECORATOR = re.compile(r"@\s*(click|typer)\.|\.cli\.command\(")
_COMMAND_DECORATOR = re.compile(r"\.(command|group|option|argument)\(")
_MAIN_GUARD = re.compile(r"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:", re.MULTILINE)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    python = repo.in_language("python")
    calls = [
        (ctx, call)
        for ctx in python
        if not _in_dirs(ctx.source.path, _VENDORED)
        for call in _unbounded_calls(ctx)
    ]
    if not calls:
        return
    served = next(
        (
            (ctx.source.path, what)
            for ctx in python
            if not _in_dirs(ctx.source.path, _EXAMPLE_DIRS) and not _dev_server(ctx.source.path)
            for what in [_service(ctx)]
            if what is not None
        ),
        None,
    )
    for ctx, call in calls:
        severity, reason = _severity(ctx, call, repo, served)
        yield replace(_hit(ctx, call), severity=severity, severity_reason=reason)


def _severity(
    ctx: FileContext,
    call: tree_sitter.Node,
    repo: RepoContext,
    served: tuple[str, str] | None,
) -> tuple[Severity, str]:
    path = ctx.source.path
    function = pyflow.enclosing_function(call)
    name = f"{syntax.function_name(function)}()" if function is not None else path
    own_service = _service(ctx)
    unattended = own_service is not None or _polls(ctx)
    medium = Severity.MEDIUM
    # Run by hand: whoever runs it sees the hang. Not served code, so tech debt (MONITOR).
    command = _cli_command(ctx, call)
    if command is not None:
        return _BY_HAND, (
            f"{_BY_HAND.value}: {command}() is a command-line command, run by hand: whoever "
            "runs it sees the hang and can interrupt it."
        )
    script = None if unattended else _script(ctx, repo)
    if script is not None:
        return _BY_HAND, (
            f"{_BY_HAND.value}: {path} is {script}, run by hand: whoever runs it sees the "
            "hang and can interrupt it."
        )
    debug = _debug_code(call, path)
    if debug is not None:
        return medium, (
            f"MEDIUM: {name} is debug code ({debug}): a stall hangs a debugging run, not a service."
        )
    if _downloads_once(call):
        return medium, (
            f"MEDIUM: {name} downloads a file once, when it is missing: a stall hangs that "
            "first run, where it is seen, not every request."
        )
    host = _local_host(call, function)
    if host is not None:
        return medium, (
            f"MEDIUM: the call goes to a server on the same machine ({host}), part of this "
            "deployment: a timeout here would cut that server's own work short; bound the "
            "work there, or give this call a timeout sized for it."
        )
    if function is None:
        return medium, (
            f"MEDIUM: the call runs once, when {path} is imported, not per request or job."
        )
    if "sys.argv" in node_text(function):
        return medium, (
            f"MEDIUM: {name} reads sys.argv: it runs once when the command starts, not per "
            "request or job."
        )
    if own_service is not None:
        return Severity.HIGH, (
            f"HIGH: {path} runs {own_service}: a stuck call holds a request or worker until "
            "restart."
        )
    if _polls(ctx):
        return Severity.HIGH, (
            f"HIGH: {path} polls in a loop that sleeps (a daemon): a stuck call stops it "
            "until restart."
        )
    if served is not None:
        return Severity.HIGH, (
            f"HIGH: this code is part of a service ({served[0]} runs {served[1]}): a stuck "
            "call holds a request or worker until restart."
        )
    return medium, (
        "MEDIUM: no server, worker or scheduler is seen in the code, so a stuck call hangs "
        "one run rather than a service."
    )


def _service(ctx: FileContext) -> str | None:
    """What long-running service this file runs (its imports), or None."""
    for module, what in _SERVICES.items():
        if module in ctx.imports:
            return f"{what} ({module})"
    text = ctx.source.text
    return next((f"{what}" for marker, what in _SERVICE_TEXT.items() if marker in text), None)


def _dev_server(path: str) -> bool:
    """A development server (live reload for a docs or site preview): not a service."""
    return any(word in path.lower() for word in _DEV_SERVERS)


def _in_dirs(path: str, dirs: frozenset[str]) -> bool:
    return any(part in dirs for part in PurePosixPath(path).parts[:-1])


def _polls(ctx: FileContext) -> bool:
    """A ``while True`` (or ``while not <stop>``) loop that sleeps: a daemon polling for
    work."""
    for loop in syntax.of_type(ctx.root, "while_statement"):
        condition = loop.child_by_field_name("condition")
        text = node_text(condition) if condition is not None else ""
        if (text in {"True", "1"} or text.startswith("not ")) and pyflow.sleeps(loop):
            return True
    return False


def _script(ctx: FileContext, repo: RepoContext) -> str | None:
    """Why the file is a script someone runs by hand, or None."""
    path = ctx.source.path
    if PurePosixPath(path).name in _SCRIPT_FILES or _in_dirs(path, _SCRIPT_DIRS):
        return "a script outside the served code"
    cli = next((module for module in _CLI_IMPORTS if module in ctx.imports), None)
    if cli is not None:
        return f"a command-line tool ({cli})"
    importers = _importers(ctx, repo)
    if _MAIN_GUARD.search(ctx.source.text) and not importers:
        return 'a script (if __name__ == "__main__") that no other module imports'
    if importers and all(in_main for _, in_main in importers):
        return f'a helper only the `if __name__ == "__main__"` block of {importers[0][0]} imports'
    return None


def _cli_command(ctx: FileContext, call: tree_sitter.Node) -> str | None:
    """The function around the call that is a click / typer command (also Flask's
    ``app.cli.command``), or None."""
    cli = bool(ctx.imports & {"click", "typer"})
    function = pyflow.enclosing_function(call)
    while function is not None:
        decorated = function.parent
        if decorated is not None and decorated.type == "decorated_definition":
            for decorator in decorated.named_children[:-1]:
                text = node_text(decorator)
                if _CLI_DECORATOR.search(text) or (cli and _COMMAND_DECORATOR.search(text)):
                    return syntax.function_name(function)
        function = pyflow.enclosing_function(function)
    return None


def _importers(ctx: FileContext, repo: RepoContext) -> list[tuple[str, bool]]:
    """The other modules that import this file, each with whether every such import is in
    its ``if __name__ == "__main__"`` block (run as a script only)."""
    stem = PurePosixPath(ctx.source.path).stem
    if not stem.isidentifier():
        return []
    pattern = re.compile(
        rf"^\s*(?:from\s+[\w.]*\b{stem}\b[\w.]*\s+import|import\s+[\w.]*\b{stem}\b"
        rf"|from\s+[\w.]+\s+import\s+[^\n]*\b{stem}\b)",
        re.MULTILINE,
    )
    found: list[tuple[str, bool]] = []
    for other in repo.in_language("python"):
        text = other.source.text
        starts = [m.start() for m in pattern.finditer(text)] if other is not ctx else []
        if starts:
            guard = _MAIN_GUARD.search(text)
            found.append((other.source.path, guard is not None and min(starts) > guard.start()))
    return found


def _debug_code(call: tree_sitter.Node, path: str) -> str | None:
    """Where the call is named debug code: its file or folder, or a class or function around
    it; None when nothing is."""
    if any("debug" in part.lower() for part in PurePosixPath(path).with_suffix("").parts):
        return f"in {path}"
    scope = syntax.qualified_name(call) or ""
    return f"named {scope}" if "debug" in scope.lower() else None


def _downloads_once(call: tree_sitter.Node) -> bool:
    """Inside ``if not <exists check>:`` whose body writes a file: a download made once,
    when the file is missing."""
    current = call.parent
    while current is not None and current.type not in syntax.FUNCTION_TYPES:
        if current.type == "if_statement":
            condition = current.child_by_field_name("condition")
            consequence = current.child_by_field_name("consequence")
            if (
                condition is not None
                and consequence is not None
                and condition.type == "not_operator"
                and _EXISTS.search(node_text(condition))
                and _writes_file(consequence)
            ):
                return True
        current = current.parent
    return False


def _writes_file(block: tree_sitter.Node) -> bool:
    for call in syntax.of_type(block, "call"):
        name = syntax.callee(call)
        if name.endswith(("write_bytes", "write_text", "copyfileobj", "urlretrieve")):
            return True
        if name == "open":
            args = syntax.positional_args(call)
            mode = syntax.keyword_value(call, "mode") or (args[1] if len(args) > 1 else None)
            value = syntax.string_value(mode) if mode is not None else None
            if value is not None and ("w" in value or "a" in value):
                return True
    return False


def _local_host(call: tree_sitter.Node, function: tree_sitter.Node | None) -> str | None:
    """The loopback host the call's URL names, unless it is a health check (those must
    answer fast: no timeout defeats them)."""
    url = _url_text(call, function)
    found = _LOCAL_HOST.search(url) if url else None
    if found is None or _HEALTH.search(url):
        return None
    if function is not None and _HEALTH.search(syntax.function_name(function)):
        return None
    return found.group(1)


def _url_text(call: tree_sitter.Node, function: tree_sitter.Node | None) -> str:
    """The source text of the call's URL argument, through one local assignment."""
    url = syntax.keyword_value(call, "url")
    if url is None:
        args = syntax.positional_args(call)
        index = 1 if syntax.callee(call) == "requests.request" else 0
        url = args[index] if len(args) > index else None
    if url is None:
        return ""
    if url.type == "identifier" and function is not None:
        name = node_text(url)
        for node in syntax.body_nodes(function, "assignment"):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None and node_text(left) == name:
                return node_text(right)
    return node_text(url)


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: add a timeout to the call: ``timeout=(3.05, 30)`` (connect, read) for requests,
    ``timeout=30`` for urlopen (a number only: it takes no tuple). Not for a call to this
    machine's own server, whose work may legitimately take longer."""
    call = next((c for c in _unbounded_calls(ctx) if syntax.line(c) == hit.start_line), None)
    if call is None or _local_host(call, pyflow.enclosing_function(call)) is not None:
        return None
    name = syntax.callee(call)
    argument = _TIMEOUTS["urlopen" if name in _URLOPEN else "requests"][0]
    what = (
        "30 s for each blocking socket operation"
        if name in _URLOPEN
        else "3.05 s to connect, 30 s between bytes of the answer"
    )
    edit = patching.add_argument(ctx, call, argument)
    if edit is None:
        return None
    return Patch(
        safety=PatchSafety.SAFE, description=f"add {argument} to {name}(): {what}", edits=[edit]
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
