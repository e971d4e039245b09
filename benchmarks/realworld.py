"""The real-world precision corpus: pinned packages no one here wrote, fetched once.

    python benchmarks/realworld.py          # fetch what is missing, print files and lines

Python sdists from PyPI, npm tarballs and Debian's Rust crate source packages
(librust-*-dev ships the crate's source under /usr/share/cargo/registry/), chosen for the
audits' subjects: SQLite users, job queues, caches, CLIs that keep state files, HTTP
clients, web servers and websockets. Each is unpacked into .bench/realworld/<name>/
(ignored by git) and checked against its pinned sha256; later runs reuse it. Needs the
registries the first time only. benchmarks/precision.py runs the rules over it.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".bench" / "realworld"
LINE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".rs")


@dataclass(frozen=True)
class Package:
    name: str  # folder under CORPUS, and the package's name in triage.toml
    registry: str  # "pypi" | "npm" | "debian"
    spec: str  # what the registry's client is asked for
    subject: str  # why it is in the corpus
    sha256: str  # of the downloaded archive


PACKAGES = (
    Package("sqlite-utils", "pypi", "sqlite-utils==3.38", "SQLite library and CLI",
            "1ae77b931384052205a15478d429464f6c67a3ac3b4eafd3c674ac900f623aab"),
    Package("datasette", "pypi", "datasette==0.65.1", "async web server over SQLite",
            "d8be37ae6dafbfd8e510d49c0dc0fc6696081614d048a507eed86dd2ae433223"),
    Package("huey", "pypi", "huey==2.5.3", "job queue, SQLite and Redis storage",
            "089fc72b97fd26a513f15b09925c56fad6abe4a699a1f0e902170b37e85163c7"),
    Package("diskcache", "pypi", "diskcache==5.6.3", "cache on SQLite and files",
            "2c3a3fa2743d8535d832ec61c2054a1641f41775aa7c556758a109941e33e4fc"),
    Package("llm", "pypi", "llm==0.19", "LLM CLI, SQLite logs, JSON state files",
            "66c75ec5aa3d88d09175419a65b3742ac3b13992b26ab89e3b5c271b9e7cec82"),
    Package("httpx", "pypi", "httpx==0.28.1", "HTTP client, sync and async",
            "75e98c5f16b0f35b567856f597f06ff2270a374470a5c2392242528e3e3e42fc"),
    Package("persist-queue", "pypi", "persist-queue==1.1.0", "file and SQLite queues",
            "4c042a3d39c9af4fa24497da76697fb4fff7abe6af04bcf55f099e0c23bc2c67"),
    Package("buku", "pypi", "buku==5.1", "bookmark CLI on SQLite",
            "c7028bdd211bf5b88377938fa19d1819e057c198197383a4298ef4aeea8689bf"),
    Package("jrnl", "pypi", "jrnl==4.6", "journal CLI keeping state files",
            "971bc5b43a3443470c0c3049fce083d825655036b26a8311e9d8d440ef583abc"),
    Package("litecli", "pypi", "litecli==1.17.1", "SQLite shell",
            "e2f7191eaba830b24dbbfc9171a495c62562df923ba1cc3b2db2652547c1bac8"),
    Package("sqlite-web", "pypi", "sqlite-web==0.8.2", "web UI over SQLite (Flask + JS)",
            "ef4348978c16f81e809f2bfc1905cbfad2b381ad4f532e30c27afd702ffc6283"),
    Package("aiosqlite", "pypi", "aiosqlite==0.22.1", "asyncio SQLite driver",
            "043e0bd78d32888c0a9ca90fc788b38796843360c855a7262a532813133a0650"),
    Package("rq", "pypi", "rq==3.0.0", "Redis job queue and workers",
            "b41e39b3c36ec3faf9e2402c638a0b25fe18ebb93a1cb15193bc69694f054618"),
    Package("dramatiq", "pypi", "dramatiq==2.2.1", "task queue and workers",
            "f9fbbd2feea27b3fa4085446242a24d86f78288b20c78a93f9f0bdbd7d908cd5"),
    Package("changedetection", "pypi", "changedetection.io==0.60.10",
            "web app, threads, JSON datastore",
            "f0d524c8162b6694811cb88da13416b93ce1cc0dd108ca47fd50c1edbae2a28d"),
    Package("archivebox", "pypi", "archivebox==0.7.4", "archiver: Django, subprocesses, SQLite",
            "355e5421c0b12716cbc4768c6501ab265f7f8567d727d78a4389c3e41fbb2d9f"),
    Package("calibre-web", "pypi", "calibreweb==0.6.27", "Flask web app on SQLite, tasks",
            "6978e6143aedddf59d6709a060d1320159c17b7c986bec1878a6bd75f252f629"),
    Package("gallery-dl", "pypi", "gallery-dl==1.32.18", "downloader: HTTP, SQLite cache",
            "1c5562af3799a0bec96be0f64d95a416aee688fd09fe3893ca3a6c87bbe65bcd"),
    Package("radicale", "pypi", "radicale==3.9.0", "CalDAV server with file storage",
            "25fe89613d77a5bed182860407235efa3a77adead4ddc6022784801521992741"),
    Package("shell-gpt", "pypi", "shell-gpt==1.5.1", "LLM CLI with cache and chat files",
            "1c528f960b1c515c882eec351ba3ac78ba6f306cece9cbe554d3ad350c8b5bfe"),
    Package("sqlite3-api", "pypi", "sqlite3-api==2.0.4",
            "sqlite3 wrapper: quoted table names (FROM '%s'), ? values",
            "0bb81aeada67b48caedb6780e5df7cbab88f18ed52dd561945189c11b174893d"),
    Package("ytcc", "pypi", "ytcc==2.8.0", "playlist CLI on sqlite3, f-string PRAGMA user_version",
            "45f156b88558312c4e0f1168ee8c5b5e9b124f88ab18be9db02896c874c458af"),
    Package("ihatemoney", "pypi", "ihatemoney==7.2.1",
            "Flask budget app: requests to an exchange-rate API",
            "e74fc718f68e1ec400cf9c4364025a91febb86c9b523aeb33a52e5adbeaa77e1"),
    Package("octoprint", "pypi", "octoprint==1.11.8",
            "Flask/Tornado server: plugins, update checks, click commands",
            "ea7289b5149ecaef3dfc85aa6b53618abd96f791787a338ca3a4b3c8864fb679"),
    Package("black", "pypi", "black==24.10.0", "formatter: pickled caches, atomic temp writes",
            "846ea64c97afe3bc677b761787993be4991810ecc7a4a937816dd6bddedc4875"),
    Package("mcp", "pypi", "mcp==1.2.0", "pydantic v2 models, JSON-RPC, config files",
            "2b06c7ece98d6ea9e6379caa38d74b432385c338fb530cb82e2c70ea7add94f5"),
    Package("rover", "pypi", "rover==1.0.4", "seismic data CLI on sqlite3 (explicit BEGIN)",
            "200b82a32aeca9abb36e088881983e59a54e5de303e12d92d72be98fc613036c"),
    Package("langgraph-checkpoint-sqlite", "pypi", "langgraph-checkpoint-sqlite==2.0.1",
            "checkpoints in SQLite, sync and aiosqlite",
            "303a43b9dc769a087aaa6365009e8b6db132bc30021edcbcb70a2d18c7aafcd9"),
    Package("marker-pdf", "pypi", "marker-pdf==1.2.3", "PDF converter with a FastAPI server",
            "6782b776031badb1c5edb3d484d9374772f6d547b57844432d2c6c821130e0b2"),
    Package("docling-serve", "pypi", "docling-serve==0.5.1", "FastAPI document conversion API",
            "84a1d94bcface02aff18c68d90d5d72e017f457b0da6bf773a2ee3b25f86b272"),
    Package("ws", "npm", "ws@8.18.0", "websocket client and server",
            "a08221f2851472c944ca0178d89a9888c7f43fbd9998afc8a7ec6fe417c4ca20"),
    Package("bee-queue", "npm", "bee-queue@2.0.0", "Redis job queue",
            "f4e5c7dda7d8249a32ae949b7d7e81cc5ee2561fe526d9e3fcdac2e61d63d353"),
    Package("bull", "npm", "bull@4.16.5", "Redis job queue",
            "0b64771e5b00b0267221ead447e69d6c318c1de8318f36dd3a5df0976c4d64e1"),
    Package("pg-boss", "npm", "pg-boss@10.4.2", "PostgreSQL job queue (SKIP LOCKED)",
            "a84e60bf17785085693fdbbca7a669adbe8f585d368f46624002b49bcec15f12"),
    Package("lowdb", "npm", "lowdb@7.0.1", "JSON file database",
            "6879702dc266d039edd79256d4e96292e2762aab63409838e116bf4e537c0da5"),
    Package("better-sqlite3", "npm", "better-sqlite3@12.11.1", "SQLite bindings (JS layer)",
            "ebf0ed75a7a59dbcb3b24bbd014ef49d9f15bc328e4adcbf516f2a8fadfa2835"),
    Package("query-core", "npm", "@tanstack/query-core@5.108.4", "client cache (TypeScript)",
            "7660b37f747ce33f1e5456299009dbe217a08514f402c13e633ae95727e361e0"),
    Package("query-persist", "npm", "@tanstack/query-persist-client-core@5.104.5",
            "persisted client state (TypeScript)",
            "9bb103b4d04be915a6d3ae86af26ff2d0c6a8078c71c4e6e867e1950ea05cf05"),
    Package("trpc-server", "npm", "@trpc/server@11.25.2", "HTTP / websocket server (TypeScript)",
            "43d5562bf3d3ca2ba55bb37a91020c19d90ddaa3359a1eb55e5fefc62c6cb29a"),
    Package("plainjob", "npm", "plainjob@0.0.14", "job queue on better-sqlite3 (status columns)",
            "4410d3236fef094b65e388a58f55cc0564c638eb7c0d3c7fabf279ae8f8d25cd"),
    Package("dataqueue", "npm", "@nicnocquee/dataqueue@1.24.0", "PostgreSQL job queue (pg)",
            "c5d7329321135a86eb39013e3d8930e819cf1f4a78de60794a44ae18c7ff2ede"),
    Package("graphile-worker", "npm", "graphile-worker@0.17.3", "PostgreSQL worker, SIGTERM",
            "e856732cba70f43083a2254dd79e5a659be80c2429bf922e6fa2acf78e6e52ea"),
    Package("ungit", "npm", "ungit@1.5.30", "Express server calling git through child_process",
            "755472542aa66d64bf01ba0783285184466e94fb7fbcb46b4d0950d48459f243"),
    Package("pm2", "npm", "pm2@7.0.4", "process manager daemon, JSON dump state file",
            "5efd8e2c586d7fc1e878d4d0742e2c0aae76c68814308c4b9c08cab25ef24894"),
    Package("node-red-runtime", "npm", "@node-red/runtime@5.0.7",
            "flow runtime, JSON state files (atomic writes)",
            "6feb6c579e8189b8490b9212178393a7bb1cd839bb17629b07edfb4a7cb8cd09"),
    Package("tldr", "npm", "tldr@3.4.0", "CLI with a JSON cache, axios",
            "f9db09db7ec8d200a7e3c6444359b8f66833cc98a0f19a66d0b5126ccf39325c"),
    Package("localtunnel", "npm", "localtunnel@2.0.2", "tunnel client over axios",
            "6fb76f0ac6b92989669a5b7bb519361e07301965ea1f5a04d813ed59ab2e0c34"),
    Package("bundlesize", "npm", "bundlesize@0.18.2", "CI tool calling a store over axios",
            "d76c210f7246a1d2ad63c40153bd0ec37593e5861cb649be5d8d9bd726e6e607"),
    Package("youtube-search", "npm", "youtube-search@1.1.6", "API client over axios",
            "77beac9f62a7c708b5dea94fd80e154716e047a5c249e7593e22516f2427084f"),
    Package("pipedream-platform", "npm", "@pipedream/platform@3.4.0",
            "workflow helpers over axios and fetch (TypeScript)",
            "29b6f07cb35b96250fae31b92597f5f6ac5fbecc9eddfe263382d08afdbe5e2e"),
    Package("task-orchestrator", "npm", "@allpepper/task-orchestrator@3.3.3",
            "MCP server on bun:sqlite: WAL, BEGIN/ROLLBACK (TypeScript)",
            "9ccc3d430ca79fb74494a79b0f4268bb126915e97aa41fb743551ba579adaf31"),
    Package("connect-sqlite3", "npm", "connect-sqlite3@0.9.18", "session store on sqlite3",
            "cef0691d59417915ab8d8232e328058151324550202636b13648a1c59257f959"),
    Package("better-sqlite3-helper", "npm", "better-sqlite3-helper@3.1.7",
            "better-sqlite3 wrapper: WAL, BEGIN/COMMIT/ROLLBACK",
            "8169bdc811e056e16f293cef6b56c41b9c39a23b8b4e5b59bf787db577d65f9b"),
    Package("rusqlite", "debian", "librust-rusqlite-dev=0.28.0-4", "SQLite bindings",
            "49ce0299378cb64afc25dd591be0abf794046860e5322e53e9e16f60801dbc84"),
    Package("reqwest", "debian", "librust-reqwest-dev=0.11.13-1", "HTTP client",
            "f7cb9988a97c1ac17a5729b7d3900ee5419e15954f55677c8a4f1ba9af44f749"),
    Package("tempfile", "debian", "librust-tempfile-dev=3.3.0-1", "temp files, atomic persist",
            "c388968a0494b3af2f4f8d55e1f715b8c999fb4c2a6760ac082b19688954f5ab"),
    Package("bat", "debian", "librust-bat-dev=0.22.1-4", "CLI writing its cache metadata",
            "8d42c00faa7d65ac48adc54433e59a61d02b53f0d7615ec6828fb55f2fe534f1"),
    Package("cargo", "debian", "librust-cargo-dev=0.66.0-1", "package manager: state files, HTTP",
            "f5c09031a87f439049bc4cb888c19d319d7c4816611b1b58515f4fd8fdaa934a"),
    Package("trust-dns-server", "debian", "librust-trust-dns-server-dev=0.22.0-2",
            "DNS server, rusqlite zone journal",
            "cade42185a38b2a48f7fe84e4edb1c754e6c95464bc76c3d9754df89a4dfa4c8"),
    Package("ripasso", "debian", "librust-ripasso-dev=0.6.1-2",
            "password store: files, reqwest blocking",
            "f3b3a0dbcd2f7996f98445fe9dab0126bce90a18bd3ddaa6495029712607dc54"),
    Package("oauth2", "debian", "librust-oauth2-dev=4.3.0-1+b1", "OAuth2 client over reqwest",
            "4bd416eda59730e89764b34982be6255a811b85cfa8206ffc0ebff24cd5772cd"),
    Package("prometheus", "debian", "librust-prometheus-dev=0.13.3-1",
            "metrics, reqwest blocking push",
            "8d52e848fc2cf1ea7a250d52296b41a5a22821788ec45abfeac7b4f6cfe38471"),
    # Read a second time for the rules of issue 22 (application code outside the first set).
    Package("better-queue-sqlite", "npm", "better-queue-sqlite@1.0.7",
            "persistent queue store on node-sqlite3",
            "e67e998ea09d69201ea3708a2d942a22f60c566742819bf580fefa5183afc11f"),
    Package("frontmcp-storage-sqlite", "npm", "@frontmcp/storage-sqlite@1.8.0",
            "session and task store on better-sqlite3",
            "013124342cc523c94b1346583e620dcbe794995373bc3bf921b59d6edf24c071"),
    Package("node-persistent-queue", "npm", "node-persistent-queue@1.0.3",
            "SQLite-backed queue",
            "38fd6dda1cfc2bee929c60db1f270310bce2eb7f02e060ade9ef4f92dd675e08"),
    Package("sidequest-sqlite-backend", "npm", "@sidequest/sqlite-backend@1.16.5",
            "job-queue backend on SQLite",
            "681e3420877d4aa0dd9890efc243594a7951a125e2ec03b4fba625d26fd9c8e4"),
    Package("verdaccio-local-storage", "npm", "@verdaccio/local-storage@10.5.0",
            "registry storage: a JSON state-file database",
            "a8da3fcd08a68e42bc9825b500b17614cbe194eb176af306321910f891aa673a"),
    Package("filespooler", "debian", "librust-filespooler-dev=1.2.2-2+b2",
            "job-queue CLI keeping its state in files",
            "a002007add5bc4b3c8011e2bbaca8cb13abeb6648df5ed82e1d934014bff43d7"),
    Package("debcargo", "debian", "librust-debcargo-dev=2.6.0-2+b1", "packaging CLI",
            "ee9770d3ee0480a9f32a14712e11638fadb04c87e622fa52d88c8952040d45a5"),
    Package("cargo-c", "debian", "librust-cargo-c-dev=0.9.14-1+b1", "cargo subcommand",
            "d46e34561630fa0a92e8c3c8097933ba542afa5441ed5125beb6d7deb6163a33"),
    Package("sequoia-net", "debian", "librust-sequoia-net-dev=0.25.0-2",
            "key-server client over HTTP",
            "976b02cbedf6843ea9ee311023cf27418219894a1ea362cd64f35e47f19f65ee"),
    Package("isso", "pypi", "isso==0.14.0", "comment server on sqlite3",
            "9e2ac090f49aeb8e33871280fcf9680e0ec68dcca50b5ef72e5f275df623c9e5"),
    Package("getmail6", "pypi", "getmail6==6.20.2", "mail fetcher keeping state files",
            "d805252581cb2a52a3316f6d7642221d6a6f1df54ad71c298068a49219a92ede"),
)  # fmt: skip


def _download(package: Package, into: Path) -> Path:
    if package.registry == "pypi":
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--no-binary", ":all:", "--dest", str(into), package.spec]  # fmt: skip
    elif package.registry == "npm":
        command = ["npm", "pack", "--silent", "--pack-destination", str(into), package.spec]
    else:
        command = ["apt-get", "download", "-q", package.spec]
    subprocess.run(command, check=True, cwd=into, capture_output=True)
    (archive,) = [p for p in into.iterdir() if p.is_file()]
    return archive


def _unpack(archive: Path, dest: Path) -> None:
    if archive.suffix == ".deb":
        data = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(archive)], check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = [m for m in tar.getmembers() if "/usr/share/cargo/registry/" in m.name]
            tar.extractall(dest / ".deb", members=members, filter="data")
        (crate,) = (dest / ".deb" / "usr" / "share" / "cargo" / "registry").iterdir()
        for item in crate.iterdir():
            shutil.move(str(item), dest / item.name)
        shutil.rmtree(dest / ".deb")
        return
    with tarfile.open(archive) as tar:
        tar.extractall(dest / ".unpacked", filter="data")
    (top,) = (dest / ".unpacked").iterdir()
    for item in top.iterdir():
        shutil.move(str(item), dest / item.name)
    shutil.rmtree(dest / ".unpacked")


def fetch(package: Package) -> Path:
    """The unpacked package, downloaded and checked on first use."""
    dest = CORPUS / package.name
    marker = dest / ".vibe-audit-fetched"
    if marker.exists() and marker.read_text(encoding="utf-8").strip() == package.spec:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = _download(package, Path(tmp))
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if not package.sha256:
            print(f"{package.spec}: sha256 {digest}", file=sys.stderr)
        elif digest != package.sha256:
            shutil.rmtree(dest)
            raise SystemExit(f"{package.spec}: sha256 {digest} is not the pinned {package.sha256}")
        _unpack(archive, dest)
    marker.write_text(package.spec + "\n", encoding="utf-8")
    return dest


def corpus() -> list[tuple[Package, Path]]:
    return [(package, fetch(package)) for package in PACKAGES]


def count_lines(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file() and p.suffix in LINE_SUFFIXES]
    return len(files), sum(len(p.read_bytes().splitlines()) for p in files)


if __name__ == "__main__":
    total = 0
    for package, path in corpus():
        files, lines = count_lines(path)
        total += lines
        print(f"{package.name:<14} {package.registry:<7} {files:>5} files {lines:>8} lines")
    print(f"{'total':<14} {'':<7} {'':>5}       {total:>8} lines")
