"""A small Hugging Face Hub-compatible HTTP server for tests (127.0.0.1 only, in memory).

It answers the endpoints the real ``huggingface_hub`` client calls for creating repos, committing
small files, downloading, listing and reading repo info (huggingface_hub 2.x, see DESIGN §4):

==========================================================  =============================================
``POST /api/repos/create``                                  create; 409 with ``url`` when it exists
``POST /api/validate-yaml``                                 check a README's YAML front matter
``POST /api/models/{ns}/{name}/preupload/{rev}``            always ``uploadMode: "regular"`` (inline)
``POST /api/models/{ns}/{name}/commit/{rev}``               ndjson: header / file (base64) / deletedFile
``HEAD|GET /{ns}/{name}/resolve/{rev}/{path}``              ``X-Repo-Commit``, ``ETag``, ``X-Error-Code``
``GET /api/models/{ns}/{name}[/revision/{rev}]``            model info (``blobs=true``: sibling sizes)
``GET /api/models/{ns}/{name}/tree/{rev}[/{path}]``         file listing
``GET /api/models?filter=&search=&author=&limit=``          listing with ``cardData``, Link pagination
``GET /api/whoami-v2``                                      the token's user
==========================================================  =============================================

Expected errors are 4xx with the Hub's ``X-Error-Code`` header (``RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``), never 5xx: the client retries 5xx for about 20 s.
Only regular (inline) uploads exist here: the real Hub stores weights through Xet/LFS, which this
server cannot stand in for; an ``lfsFile`` commit line is answered with 400.

Examples
--------
>>> with HubServer(token="hf_test") as hub:          # doctest: +SKIP
...     hub.url                                       # http://127.0.0.1:PORT
...     hub.add_repo("me/model", {"config.json": b"{}"})
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import re
import socket
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote, urlsplit

import yaml

__all__ = ["HubServer", "git_blob_sha1", "point_client_at", "set_offline"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.S)
_GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_sha1(data: bytes) -> str:
    """Git's object id of a blob (what the Hub reports as a regular file's ``oid``/``ETag``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def card_metadata(readme: bytes | None) -> dict[str, Any]:
    """The YAML front matter of a README as a dict ({} when absent or unreadable)."""
    if not readme:
        return {}
    m = _FRONT_MATTER_RE.match(readme.decode("utf-8", "replace"))
    if not m:
        return {}
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def yaml_errors(content: str) -> list[str]:
    """Problems the Hub would report for a README's metadata (a subset of its checks)."""
    m = _FRONT_MATTER_RE.match(content)
    if not m:
        return []
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError as e:
        return [f"YAML front matter is not valid YAML: {e}"]
    if data is None:
        return []
    if not isinstance(data, dict):
        return ["YAML front matter must be a mapping"]
    errors = []
    for key in ("tags", "datasets", "language"):
        val = data.get(key)
        if val is not None and not (isinstance(val, str) or (isinstance(val, list)
                                                           and all(isinstance(v, str) for v in val))):
            errors.append(f'"{key}" must be a string or an array of strings')
    for key in ("library_name", "pipeline_tag", "license"):
        if key in data and not isinstance(data[key], str):
            errors.append(f'"{key}" must be a string')
    base = data.get("base_model")
    if base is not None:
        bases = base if isinstance(base, list) else [base]
        for b in bases:
            if not isinstance(b, str) or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", b):
                errors.append(f'"base_model" must be a model id, got {b!r}')
    index = data.get("model-index")
    if index is not None:
        if not isinstance(index, list):
            errors.append('"model-index" must be an array')
        else:
            for entry in index:
                if not isinstance(entry, dict) or "name" not in entry or not isinstance(entry.get("results"), list):
                    errors.append('"model-index" entries need "name" and a "results" array')
                    continue
                for res in entry["results"]:
                    if not isinstance(res, dict) or "task" not in res or "metrics" not in res:
                        errors.append('"model-index" results need "task" and "metrics"')
                        continue
                    for met in res["metrics"]:
                        if not isinstance(met, dict) or "type" not in met or "value" not in met:
                            errors.append('"model-index" metrics need "type" and "value"')
    return errors


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]
    date: str


@dataclass
class Repo:
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    downloads: int = 0

    def resolve(self, revision: str) -> Commit | None:
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if _COMMIT_RE.match(revision) and revision in self.commits:
            return self.commits[revision]
        return None


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None, body: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or {}
        self.body = body


class HubServer:
    """The server: start with ``with HubServer() as hub`` or :meth:`start` / :meth:`stop`.

    Parameters
    ----------
    token : str
        The only token accepted for writes (``Authorization: Bearer <token>``).
    user : str
        The token's user name (namespace when ``create_repo`` names none).
    page_size : int
        Models per page of ``/api/models`` (pages are linked with a ``Link`` header).

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT`` once started.
    requests : list of (method, path, authorized)
        Every request answered, for assertions.
    errors : list of str
        Tracebacks of unexpected server bugs (answered 500); tests should assert it stays empty.
    """

    def __init__(self, *, token: str = "hf_test_token", user: str = "tester", page_size: int = 100):
        self.token = token
        self.user = user
        self.page_size = page_size
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str, bool]] = []
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.url = ""

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "HubServer":
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open (kept-alive) connection."""
        with self._lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- state helpers (also used by tests to build odd repos directly) --------------------------
    def create_repo(self, repo_id: str, *, private: bool = False) -> Repo:
        with self._lock:
            ns, _, name = repo_id.partition("/")
            if not (_NAME_RE.match(ns) and _NAME_RE.match(name)):
                raise _HTTPError(400, f"Invalid repo name {repo_id!r}")
            if repo_id in self.repos:
                raise _HTTPError(409, "You already created this model repo",
                                 body={"error": "You already created this model repo",
                                       "url": f"{self.url}/{repo_id}"})
            repo = Repo(repo_id, private, _now())
            self.repos[repo_id] = repo
            self._commit(repo, "main", "initial commit", {".gitattributes": _GITATTRIBUTES}, [])
            return repo

    def add_repo(self, repo_id: str, files: dict[str, bytes], *, private: bool = False,
                 message: str = "add files") -> str:
        """Create ``repo_id`` holding ``files``; returns the commit id."""
        repo = self.create_repo(repo_id, private=private)
        return self._commit(repo, "main", message, files, [])

    def file(self, repo_id: str, path: str, revision: str = "main") -> bytes:
        """The content of ``path`` at ``revision`` (KeyError when absent)."""
        with self._lock:
            commit = self.repos[repo_id].resolve(revision)
            if commit is None:
                raise KeyError(revision)
            return commit.files[path]

    def _commit(self, repo: Repo, branch: str, message: str, add: dict[str, bytes],
                delete: list[str], parent: str | None = None) -> str:
        with self._lock:
            head = repo.branches.get(branch)
            if parent is not None and parent != head:
                raise _HTTPError(412, f"Parent commit {parent} is not the head of {branch} ({head})")
            files = dict(repo.commits[head].files) if head else {}
            for path in delete:
                doomed = [p for p in files if p == path or p.startswith(path.rstrip("/") + "/")]
                if not doomed:
                    raise _HTTPError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                for p in doomed:
                    del files[p]
            files.update(add)
            digest = hashlib.sha1(json.dumps(
                [head, message, sorted((p, git_blob_sha1(b)) for p, b in files.items()), _now(),
                 len(repo.commits)]).encode()).hexdigest()
            repo.commits[digest] = Commit(digest, head, message, files, _now())
            repo.branches[branch] = digest
            return digest

    def model_info(self, repo: Repo, commit: Commit, *, blobs: bool = False) -> dict[str, Any]:
        meta = card_metadata(commit.files.get("README.md"))
        tags = meta.get("tags") or []
        tags = [tags] if isinstance(tags, str) else list(tags)
        for extra in (meta.get("library_name"), meta.get("pipeline_tag")):
            if isinstance(extra, str) and extra not in tags:
                tags.append(extra)
        if isinstance(meta.get("license"), str):
            tags.append(f"license:{meta['license']}")
        siblings = []
        for path in sorted(commit.files):
            sib: dict[str, Any] = {"rfilename": path}
            if blobs:
                sib["size"] = len(commit.files[path])
                sib["blobId"] = git_blob_sha1(commit.files[path])
            siblings.append(sib)
        info = {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": repo.downloads,
            "likes": 0,
            "tags": tags,
            "siblings": siblings,
        }
        if isinstance(meta.get("library_name"), str):
            info["library_name"] = meta["library_name"]
        if isinstance(meta.get("pipeline_tag"), str):
            info["pipeline_tag"] = meta["pipeline_tag"]
        if meta:
            info["cardData"] = meta
        if meta.get("model-index") is not None:
            info["model-index"] = meta["model-index"]
        return info


class _Handler(BaseHTTPRequestHandler):
    server_hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def hub(self) -> HubServer:
        return self.server_hub

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.hub.token}"

    def _check_auth_header(self) -> None:
        auth = self.headers.get("Authorization")
        if auth is not None and auth != f"Bearer {self.hub.token}":
            raise _HTTPError(401, "Invalid credentials in Authorization header")

    def _body(self) -> bytes:
        return self._raw_body

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._connections.add(self.connection)

    def finish(self) -> None:
        with self.hub._lock:
            self.hub._connections.discard(self.connection)
        super().finish()

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        raw_parts = split.path.split("/")[1:]
        query = parse_qs(split.query)
        n = int(self.headers.get("Content-Length") or 0)
        self._raw_body = self.rfile.read(n) if n else b""  # always drain: connections are kept alive
        self.hub.requests.append((self.command, split.path, self._authorized()))
        try:
            self._check_auth_header()
            self._route(raw_parts, query)
        except _HTTPError as e:
            headers = dict(e.headers)
            if e.code:
                headers["X-Error-Code"] = e.code
            headers["X-Error-Message"] = e.message
            self._json(e.status, e.body or {"error": e.message}, headers)
        except Exception:  # a bug in this server: make it visible to the test
            tb = traceback.format_exc()
            self.hub.errors.append(tb)
            self._json(500, {"error": "test server bug", "traceback": tb})

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _dispatch

    # -- routing ------------------------------------------------------------------------------------
    def _route(self, parts: list[str], query: dict[str, list[str]]) -> None:
        m = self.command
        if parts[:1] == ["api"]:
            rest = parts[1:]
            if rest == ["repos", "create"] and m == "POST":
                return self._create_repo()
            if rest == ["validate-yaml"] and m == "POST":
                return self._validate_yaml()
            if rest == ["whoami-v2"] and m == "GET":
                return self._whoami()
            if rest == ["models"] and m == "GET":
                return self._list_models(query)
            if len(rest) >= 3 and rest[0] == "models":
                repo_id = f"{unquote(rest[1])}/{unquote(rest[2])}"
                tail = rest[3:]
                if not tail and m == "GET":
                    return self._model_info(repo_id, "main", query)
                if len(tail) == 2 and tail[0] == "revision" and m == "GET":
                    return self._model_info(repo_id, unquote(tail[1]), query)
                if len(tail) >= 2 and tail[0] == "tree" and m == "GET":
                    return self._tree(repo_id, unquote(tail[1]), "/".join(unquote(p) for p in tail[2:]), query)
                if len(tail) == 2 and tail[0] == "preupload" and m == "POST":
                    return self._preupload(repo_id, unquote(tail[1]))
                if len(tail) == 2 and tail[0] == "commit" and m == "POST":
                    return self._commit(repo_id, unquote(tail[1]), query)
            raise _HTTPError(404, f"Sorry, we can't find the page you are looking for: /{'/'.join(parts)}")
        if len(parts) >= 5 and parts[2] == "resolve" and m in ("GET", "HEAD"):
            repo_id = f"{unquote(parts[0])}/{unquote(parts[1])}"
            return self._resolve(repo_id, unquote(parts[3]), "/".join(unquote(p) for p in parts[4:]))
        raise _HTTPError(404, f"Sorry, we can't find the page you are looking for: /{'/'.join(parts)}")

    def _repo(self, repo_id: str) -> Repo:
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and not self._authorized()):
            raise _HTTPError(404, "Repository not found", "RepoNotFound")
        return repo

    def _revision(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise _HTTPError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def _require_write(self) -> None:
        if not self._authorized():
            raise _HTTPError(401, "You must be authenticated to write to the Hub")

    # -- endpoints ------------------------------------------------------------------------------------
    def _whoami(self) -> None:
        if not self._authorized():
            raise _HTTPError(401, "Invalid credentials in Authorization header")
        self._json(200, {"type": "user", "name": self.hub.user, "orgs": [],
                         "auth": {"type": "access_token", "accessToken": {"role": "write"}}})

    def _create_repo(self) -> None:
        self._require_write()
        payload = json.loads(self._body() or b"{}")
        if payload.get("type", "model") != "model":
            raise _HTTPError(400, "this test server hosts model repos only")
        repo_id = f"{payload.get('organization') or self.hub.user}/{payload.get('name')}"
        private = payload.get("private", payload.get("visibility") == "private")
        self.hub.create_repo(repo_id, private=bool(private))
        self._json(200, {"url": f"{self.hub.url}/{repo_id}", "name": repo_id, "id": repo_id})

    def _validate_yaml(self) -> None:
        payload = json.loads(self._body() or b"{}")
        errors = yaml_errors(str(payload.get("content", "")))
        if errors:
            self._json(400, {"errors": [{"message": e} for e in errors], "warnings": []})
        else:
            self._json(200, {"errors": [], "warnings": []})

    def _preupload(self, repo_id: str, revision: str) -> None:
        self._require_write()
        repo = self._repo(repo_id)
        commit = self._revision(repo, revision)
        payload = json.loads(self._body() or b"{}")
        files = []
        for f in payload.get("files", []):
            current = commit.files.get(f["path"])
            files.append({"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                          "oid": git_blob_sha1(current) if current is not None else None})
        self._json(200, {"files": files, "commitOid": commit.oid})

    def _commit(self, repo_id: str, revision: str, query: dict[str, list[str]]) -> None:
        self._require_write()
        repo = self._repo(repo_id)
        if query.get("create_pr"):
            raise _HTTPError(400, "pull requests are not supported by this test server")
        if revision not in repo.branches:
            raise _HTTPError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        header: dict[str, Any] | None = None
        add: dict[str, bytes] = {}
        delete: list[str] = []
        for line in self._body().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item.get("key"), item.get("value", {})
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding") != "base64":
                    raise _HTTPError(400, f"unsupported encoding {value.get('encoding')!r}")
                add[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                delete.append(value["path"])
            elif key == "lfsFile":
                raise _HTTPError(400, "LFS/Xet uploads are not available on this test server; "
                                      "preupload answers uploadMode 'regular'")
            else:
                raise _HTTPError(400, f"unknown commit operation {key!r}")
        if header is None or not header.get("summary"):
            raise _HTTPError(400, "the commit needs a header with a summary")
        oid = self.hub._commit(repo, revision, header["summary"], add, delete, header.get("parentCommit"))
        self._json(200, {"success": True, "commitOid": oid, "commitUrl": f"{self.hub.url}/{repo_id}/commit/{oid}",
                         "hookOutput": ""})

    def _resolve(self, repo_id: str, revision: str, path: str) -> None:
        repo = self._repo(repo_id)
        commit = self._revision(repo, revision)
        data = commit.files.get(path)
        if data is None:
            raise _HTTPError(404, "Entry not found", "EntryNotFound", headers={"X-Repo-Commit": commit.oid})
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_sha1(data)}"', "Accept-Ranges": "bytes"}
        status = 200
        rng = self.headers.get("Range")
        if rng and self.command == "GET":
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if not m:
                raise _HTTPError(416, f"unsupported range {rng!r}")
            start = int(m.group(1))
            stop = int(m.group(2)) + 1 if m.group(2) else len(data)
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
            data, status = data[start:stop], 206
        if self.command == "GET":
            repo.downloads += 1
        self._send(status, data, headers, content_type="application/octet-stream")

    def _model_info(self, repo_id: str, revision: str, query: dict[str, list[str]]) -> None:
        repo = self._repo(repo_id)
        commit = self._revision(repo, revision)
        blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
        self._json(200, self.hub.model_info(repo, commit, blobs=blobs))

    def _tree(self, repo_id: str, revision: str, path: str, query: dict[str, list[str]]) -> None:
        repo = self._repo(repo_id)
        commit = self._revision(repo, revision)
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        if prefix and not any(p.startswith(prefix) for p in commit.files):
            raise _HTTPError(404, f"Entry not found: {path}", "EntryNotFound")
        entries: dict[str, dict[str, Any]] = {}
        for p, data in sorted(commit.files.items()):
            if not p.startswith(prefix):
                continue
            rel = p[len(prefix):].split("/")
            if len(rel) > 1:  # the folders on the way
                for depth in range(1, len(rel) if recursive else 2):
                    folder = prefix + "/".join(rel[:depth])
                    entries.setdefault(folder, {"type": "directory", "oid": git_blob_sha1(folder.encode()),
                                                "size": 0, "path": folder})
                if not recursive:
                    continue
            entries[p] = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": p}
        self._json(200, list(entries.values()))

    def _list_models(self, query: dict[str, list[str]]) -> None:
        filters = [f for v in query.get("filter", []) for f in v.split(",") if f]
        search = (query.get("search") or [""])[0].lower()
        author = (query.get("author") or [""])[0]
        limit = int((query.get("limit") or ["0"])[0] or 0)
        card = (query.get("cardData") or query.get("full") or ["false"])[0].lower() in ("1", "true")
        offset = int((query.get("cursor") or ["0"])[0] or 0)
        with self.hub._lock:
            rows = []
            for repo_id in sorted(self.hub.repos):
                repo = self.hub.repos[repo_id]
                if repo.private and not self._authorized():
                    continue
                info = self.hub.model_info(repo, repo.resolve("main"))
                if author and info["author"] != author:
                    continue
                if search and search not in repo_id.lower():
                    continue
                if any(f not in info["tags"] and f != info.get("library_name") for f in filters):
                    continue
                if not card:
                    info.pop("cardData", None)
                info.pop("siblings", None)
                rows.append(info)
        if limit:
            rows = rows[:limit]
        page = rows[offset:offset + self.hub.page_size]
        headers = {}
        if offset + self.hub.page_size < len(rows):
            params = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs]
            params.append(("cursor", str(offset + self.hub.page_size)))
            qs = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
            headers["Link"] = f'<{self.hub.url}/api/models?{qs}>; rel="next"'
        self._json(200, page, headers)


def point_client_at(monkeypatch: Any, server: HubServer, home: os.PathLike[str] | str) -> Callable[[], None]:
    """Point the (already imported or not) ``huggingface_hub`` client at ``server`` for one test.

    huggingface_hub reads ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_OFFLINE`` ... once, at import
    time, and another test module may have imported it already; so this sets the environment
    *and* patches ``huggingface_hub.constants`` (restored by ``monkeypatch``). A fresh ``home``
    gives a fresh cache. Every HTTP request the client makes is checked to go to 127.0.0.1:
    anything else raises before it leaves the process.

    Returns
    -------
    restore : callable
        Call it at teardown to put the default HTTP client back.
    """
    home = Path(home)
    env = {
        "HF_ENDPOINT": server.url,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_TOKEN": server.token,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
                "HUGGINGFACE_HUB_CACHE", "HF_XET_CACHE", "HUGGINGFACE_CO_STAGING"):
        monkeypatch.delenv(key, raising=False)

    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    patches = {
        "ENDPOINT": server.url,
        "HUGGINGFACE_CO_URL_TEMPLATE": server.url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": frozenset(constants.HF_URL_HOSTS | {"127.0.0.1"}),
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HUGGINGFACE_HUB_CACHE": str(home / "hub"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_XET": True,
    }
    for key, value in patches.items():
        if hasattr(constants, key):
            monkeypatch.setattr(constants, key, value)

    def only_localhost(request: Any) -> None:
        host = request.url.host
        if host not in ("127.0.0.1",):
            raise RuntimeError(f"test tried to reach {host!r}: only 127.0.0.1 is allowed")

    def factory():
        client = _http.default_client_factory()
        hooks = client.event_hooks
        hooks["request"] = [only_localhost, *hooks.get("request", [])]
        client.event_hooks = hooks
        return client

    _http.set_client_factory(factory)  # also closes the shared client (pooled connections)

    def restore() -> None:
        _http.set_client_factory(_http.default_client_factory)

    return restore


def set_offline(monkeypatch: Any, offline: bool = True) -> None:
    """Switch huggingface_hub's offline mode for the rest of the test (env + constants)."""
    from huggingface_hub import constants
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
