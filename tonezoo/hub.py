"""Hugging Face Hub, a model's side: publish models, load them, list them.

A tonezoo Hub repo is a model directory (:mod:`tonezoo.modelfile`): ``config.json``,
``model.safetensors`` and a ``README.md`` model card (:mod:`tonezoo.card`) whose YAML carries
``library_name: tonezoo`` and the tags ``tonezoo``, ``guitar-effects``, ``audio-to-audio`` and the
device category, so ``list_models(filter="tonezoo")`` finds every published capture.

Loading downloads only ``config.json`` and ``model.safetensors`` (cached by huggingface_hub) and
validates them before use: a repo whose weights are pickles (``*.bin``, ``*.pt``, ...) is refused
without downloading anything, sizes are checked against the repo listing and again on disk, the
config schema is checked, and every tensor's name, shape and finiteness against the config.

Tokens come from huggingface_hub's usual places (``HF_TOKEN``, ``hf auth login``) or the
``token`` argument; tonezoo never prints, logs or writes them. With ``HF_HUB_OFFLINE=1``, or
when the Hub cannot be reached, models load from the local cache and a warning says so.

Examples
--------
>>> model.push_to_hub("me/my-mt2")                       # doctest: +SKIP
'https://huggingface.co/me/my-mt2'
>>> tonezoo.Model.from_pretrained("me/my-mt2")           # doctest: +SKIP

Filling a zoo from the Hub is :mod:`tonezoo.zoo.hub` (``Zoo.pull``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .card import REPO_ID_RE
from .errors import ConfigError, HubError, ModelFileError, TonezooError
from .modelfile import (CARD_NAME, CONFIG_NAME, MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES, PICKLE_SUFFIXES, WEIGHTS_NAME,
                        ModelParts, read_config, read_model_dir, write_dir_atomically)

__all__ = [
    "push_to_hub",
    "push_dir",
    "load_pretrained",
    "pull",
    "list_hub_models",
    "list_hub_records",
    "fetch_model",
    "HubModel",
    "is_offline",
    "PICKLE_SUFFIXES",
]

logger = logging.getLogger(__name__)

MAX_CARD_BYTES = 1 << 20
_PROVENANCE_KEYS = ("hub_repo", "hub_revision")


# -- records -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HubModel:
    """A tonezoo model listed on the Hub (or found in the local cache when offline).

    Attributes
    ----------
    repo_id : str
        ``owner/name``.
    sha : str or None
        Commit of the listed revision (None when the listing does not say).
    tags : tuple of str
    card_data : dict
        The card's YAML (``sample_rate``, ``category``, ``knobs``, ``model-index``, ...).
    last_modified : str or None
        ISO 8601 time of the last commit.
    cached : bool
        True when the record comes from the local cache instead of the Hub.
    """

    repo_id: str
    sha: str | None = None
    tags: tuple[str, ...] = ()
    card_data: dict[str, Any] = field(default_factory=dict)
    last_modified: str | None = None
    cached: bool = False

    @property
    def id(self) -> str:
        """Alias of :attr:`repo_id` (as in ``huggingface_hub.ModelInfo``)."""
        return self.repo_id

    @property
    def category(self) -> str | None:
        return self.card_data.get("category")

    @property
    def sample_rate(self) -> int | None:
        return self.card_data.get("sample_rate")

    @property
    def base_model(self) -> str | None:
        return self.card_data.get("base_model")

    @property
    def val_esr(self) -> float | None:
        """Validation ESR from the card's ``model-index``, when reported."""
        for entry in self.card_data.get("model-index") or []:
            for result in (entry or {}).get("results") or []:
                for metric in (result or {}).get("metrics") or []:
                    if isinstance(metric, dict) and metric.get("type") == "esr":
                        try:
                            return float(metric["value"])
                        except (KeyError, TypeError, ValueError):
                            return None
        return None


@dataclass(frozen=True)
class _Fetched:
    directory: Path          # the cache snapshot folder holding the files
    files: dict[str, Path]   # name -> local path
    commit: str | None
    from_cache: bool


# -- huggingface_hub plumbing -------------------------------------------------------------------------
def is_offline() -> bool:
    """True when huggingface_hub is in offline mode (``HF_HUB_OFFLINE=1`` when it was imported)."""
    from huggingface_hub import constants
    return bool(constants.is_offline_mode())


def _endpoint() -> str:
    from huggingface_hub import constants
    return constants.ENDPOINT


def _api(token: str | None):
    from huggingface_hub import HfApi
    return HfApi(token=token)


def _check_repo_id(repo_id: str) -> str:
    if not isinstance(repo_id, str) or not REPO_ID_RE.match(repo_id) or ".." in repo_id \
            or repo_id.endswith((".", "-")):
        raise HubError(f"{repo_id!r} is not a Hub repo id; expected 'owner/name' (letters, digits, '-', '_', '.')")
    return repo_id


def _is_connection_error(err: BaseException) -> bool:
    """Network failures of any HTTP stack huggingface_hub may use (httpx, requests) or offline mode."""
    names = {c.__name__ for c in type(err).__mro__}
    return bool(names & {"ConnectionError", "NetworkError", "TimeoutException", "ConnectError", "Timeout",
                         "OfflineModeIsEnabled", "ProxyError"})


def _hub_error(err: BaseException, repo_id: str, *, revision: str | None = None, action: str = "access",
               filename: str | None = None) -> HubError:
    """Turn a huggingface_hub / network exception into a :class:`HubError` with a clear message."""
    from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError,
                                        RevisionNotFoundError)
    where = _endpoint()
    if isinstance(err, RevisionNotFoundError):
        return HubError(f"model repo {repo_id!r} has no revision {revision!r} on {where}; "
                        "use a branch name, tag or commit id that exists (default: main)")
    if isinstance(err, RepositoryNotFoundError):
        return HubError(f"no model repo {repo_id!r} on {where} (or it is private and your token cannot read it); "
                        "check the id, or log in with `hf auth login` or set HF_TOKEN")
    if isinstance(err, EntryNotFoundError):
        rev = f" at revision {revision!r}" if revision else ""
        return HubError(f"model repo {repo_id!r}{rev} has no file {filename or ''!s}; "
                        "it is not a complete tonezoo model repo")
    if isinstance(err, HfHubHTTPError):
        status = getattr(getattr(err, "response", None), "status_code", None)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if status in (401, 403):
            return HubError(f"not allowed to {action} {repo_id!r} on {where} (HTTP {status}); check that your token "
                            "(HF_TOKEN or `hf auth login`) has write access to that namespace")
        return HubError(f"the Hub at {where} refused to {action} {repo_id!r}: {first}")
    if _is_connection_error(err):
        return HubError(f"cannot reach the Hub at {where} to {action} {repo_id!r} ({type(err).__name__}); "
                        "check the connection, or set HF_HUB_OFFLINE=1 to use cached models")
    return HubError(f"could not {action} {repo_id!r} on {where}: {type(err).__name__}: {err}")


# -- publishing -----------------------------------------------------------------------------------------
def _check_card(text: str, where: str) -> None:
    from .card import parse_card
    try:
        data = parse_card(text)
    except ConfigError as e:
        raise HubError(f"{where}: {e}") from None
    if data.get("library_name") != "tonezoo" or "tonezoo" not in (data.get("tags") or []):
        logger.warning("%s: the card's YAML lacks library_name: tonezoo / tag tonezoo; "
                       "list_hub_models(filter='tonezoo') will not find this model", where)


def _upload(directory: Path, repo_id: str, *, private: bool, token: str | None, commit_message: str) -> str:
    """Create ``repo_id`` if needed and commit the model files of ``directory``; returns the repo URL."""
    from huggingface_hub import CommitOperationAdd
    api = _api(token)
    names = [n for n in (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME) if (directory / n).is_file()]
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.create_commit(repo_id, [CommitOperationAdd(path_in_repo=n, path_or_fileobj=str(directory / n))
                                    for n in names],
                          commit_message=commit_message, repo_type="model")
    except TonezooError:
        raise
    except Exception as e:  # huggingface_hub / network errors
        raise _hub_error(e, repo_id, action="push to") from None
    logger.info("pushed %s to %s", ", ".join(names), url)
    return str(url)


def push_dir(model_dir: str | os.PathLike, repo_id: str, *, private: bool = False, token: str | None = None,
             commit_message: str | None = None) -> str:
    """Publish a model directory as is: ``config.json``, ``model.safetensors`` and ``README.md``.

    The directory is validated first (:func:`tonezoo.modelfile.read_model_dir`). Its ``README.md`` is uploaded unchanged
    when present (its YAML is checked), unless it is the card :meth:`tonezoo.Model.save` wrote, unedited:
    that one, like a missing one, is rendered again for ``repo_id``, so that the published card loads
    the model from the repo rather than from a local folder. Other files in the directory are not
    uploaded.

    Parameters
    ----------
    model_dir : path
        A tonezoo model directory.
    repo_id : str
        ``owner/name``; the repo is created when missing.
    private : bool
        Create the repo private (an existing repo keeps its visibility).
    token : str, optional
        A Hub token; by default huggingface_hub's (``HF_TOKEN``, ``hf auth login``).
    commit_message : str, optional

    Returns
    -------
    str, the repo URL.

    Raises
    ------
    ModelFileError
        ``model_dir`` is not a valid model directory.
    HubError
        The Hub refused (no write access, invalid card) or could not be reached.
    """
    from .card import render_card
    _check_repo_id(repo_id)
    if is_offline():
        raise HubError(f"cannot push to {repo_id!r}: offline mode is on (HF_HUB_OFFLINE); unset it to publish")
    src = Path(model_dir)
    model = read_model_dir(src)
    with tempfile.TemporaryDirectory(prefix="tonezoo-push-") as tmp:
        stage = Path(tmp)
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            shutil.copyfile(src / name, stage / name)
        card = src / CARD_NAME
        if card.is_file():
            if card.stat().st_size > MAX_CARD_BYTES:
                raise HubError(f"{card}: {card.stat().st_size} bytes is too large for a model card")
            text = card.read_text(encoding="utf-8")
            if text == render_card(model):       # the local card save wrote, unedited: the repo's instead
                text = render_card(model, repo_id=repo_id)
        else:
            text = render_card(model, repo_id=repo_id)
        _check_card(text, str(card))
        (stage / CARD_NAME).write_text(text, encoding="utf-8")
        return _upload(stage, repo_id, private=private, token=token,
                       commit_message=commit_message or f"Upload tonezoo model {model.name}")


def push_to_hub(model: Any, repo_id: str, *, private: bool = False, token: str | None = None,
                commit_message: str | None = None) -> str:
    """Publish ``model`` to the Hub: ``config.json``, ``model.safetensors`` and a model card.

    The card (:func:`tonezoo.card.render_card`) is rendered for ``repo_id`` and checked with
    ``huggingface_hub.ModelCard`` before anything is sent.

    Parameters
    ----------
    model : tonezoo.Model
    repo_id : str
        ``owner/name``; created when missing (``exist_ok``), otherwise a new commit is added.
    private : bool
    token : str, optional
        By default huggingface_hub's token (``HF_TOKEN``, ``hf auth login``); never printed.
    commit_message : str, optional

    Returns
    -------
    str, the repo URL.

    Examples
    --------
    >>> result.model.push_to_hub("me/my-mt2")            # doctest: +SKIP
    'https://huggingface.co/me/my-mt2'
    """
    from .card import render_card
    _check_repo_id(repo_id)
    if is_offline():
        raise HubError(f"cannot push to {repo_id!r}: offline mode is on (HF_HUB_OFFLINE); unset it to publish")
    # where a loaded copy came from is filled in on load; a stale value must not be published
    model = model.copy()
    for key in _PROVENANCE_KEYS:
        model.metadata.pop(key, None)
    with tempfile.TemporaryDirectory(prefix="tonezoo-push-") as tmp:
        stage = model.save(Path(tmp) / "model", card=False)
        text = render_card(model, repo_id=repo_id)
        _check_card(text, f"card of {model.name!r}")
        (stage / CARD_NAME).write_text(text, encoding="utf-8")
        return _upload(stage, repo_id, private=private, token=token,
                       commit_message=commit_message or f"Upload tonezoo model {model.name}")


# -- loading --------------------------------------------------------------------------------------------
def _check_listing(repo_id: str, revision: str | None, sizes: dict[str, int | None]) -> None:
    """Refuse repos that are not tonezoo models before downloading anything."""
    rev = f" (revision {revision!r})" if revision else ""
    if WEIGHTS_NAME not in sizes:
        pickles = sorted(n for n in sizes if n.lower().endswith(PICKLE_SUFFIXES))
        if pickles:
            raise HubError(f"refusing {repo_id!r}{rev}: it holds pickled weights {pickles} and no {WEIGHTS_NAME}; "
                           "pickles can run code when loaded, so tonezoo never opens them")
        raise HubError(f"{repo_id!r}{rev} is not a tonezoo model repo: no {WEIGHTS_NAME} "
                       f"(files: {sorted(sizes) or 'none'})")
    if CONFIG_NAME not in sizes:
        raise HubError(f"{repo_id!r}{rev} is not a tonezoo model repo: no {CONFIG_NAME}")
    for name, limit in ((CONFIG_NAME, MAX_CONFIG_BYTES), (WEIGHTS_NAME, MAX_WEIGHTS_BYTES)):
        size = sizes.get(name)
        if size is not None and size > limit:
            raise HubError(f"refusing {repo_id!r}{rev}: {name} is {size} bytes, over the {limit} byte limit "
                           "for a tonezoo model")


def _fetch(repo_id: str, *, revision: str | None, token: str | None, cache_dir: str | os.PathLike | None,
           force_download: bool, optional: Iterable[str] = ()) -> _Fetched:
    """Download (or find in the cache) ``config.json`` + ``model.safetensors`` (+ ``optional`` files)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError
    from_cache = is_offline()
    commit = None
    rev_text = f"@{revision}" if revision else ""
    if from_cache:
        logger.warning("offline mode (HF_HUB_OFFLINE): loading %s%s from the local cache", repo_id, rev_text)
    else:
        try:
            info = _api(token).model_info(repo_id, revision=revision, files_metadata=True)
        except Exception as e:
            if not _is_connection_error(e):
                raise _hub_error(e, repo_id, revision=revision, action="read") from None
            logger.warning("cannot reach the Hub at %s (%s): loading %s%s from the local cache",
                           _endpoint(), type(e).__name__, repo_id, rev_text)
            from_cache = True
        else:
            commit = info.sha
            _check_listing(repo_id, revision, {s.rfilename: s.size for s in info.siblings or []})
    if from_cache and force_download:
        logger.warning("force_download ignored: the Hub is not available, using the cache")
    files: dict[str, Path] = {}
    for name, required in [(CONFIG_NAME, True), (WEIGHTS_NAME, True)] + [(n, False) for n in optional]:
        try:
            path = hf_hub_download(repo_id, name, revision=revision, cache_dir=cache_dir, token=token,
                                   force_download=force_download and not from_cache, local_files_only=from_cache)
        except LocalEntryNotFoundError:
            if not required:
                continue
            raise HubError(f"{repo_id}{rev_text} is not in the local Hugging Face cache ({name} missing) and the "
                           "Hub is not available; connect once (without HF_HUB_OFFLINE) to download it") from None
        except EntryNotFoundError as e:
            if not required:
                continue
            raise _hub_error(e, repo_id, revision=revision, action="download", filename=name) from None
        except TonezooError:
            raise
        except Exception as e:
            raise _hub_error(e, repo_id, revision=revision, action="download") from None
        files[name] = Path(path)
    folder = files[CONFIG_NAME].parent
    if files[WEIGHTS_NAME].parent != folder:
        raise HubError(f"{repo_id}: {CONFIG_NAME} and {WEIGHTS_NAME} came from different commits "
                       "(the repo changed during the download); try again")
    return _Fetched(folder, files, commit or folder.name, from_cache)


def _load_fetched(fetched: _Fetched, repo_id: str) -> ModelParts:
    try:
        model = read_model_dir(fetched.directory)
    except ModelFileError as e:
        raise HubError(f"refusing model {repo_id!r}: {e}") from None
    model.metadata["hub_repo"] = repo_id
    model.metadata["hub_revision"] = fetched.commit
    return model


def load_pretrained(repo_id_or_dir: str | os.PathLike, *, revision: str | None = None, token: str | None = None,
                    cache_dir: str | os.PathLike | None = None, force_download: bool = False) -> ModelParts:
    """Read a model from a local model directory or a Hub repo (what ``Model.from_pretrained`` runs).

    Parameters
    ----------
    repo_id_or_dir : str or path
        An existing directory is read with :func:`tonezoo.modelfile.read_model_dir`; anything else is a Hub repo id.
    revision : str, optional
        Branch, tag or commit (Hub only; default ``main``).
    token : str, optional
        By default huggingface_hub's token.
    cache_dir : path, optional
        The huggingface_hub cache (default ``$HF_HOME/hub``).
    force_download : bool
        Download again even when cached.

    Returns
    -------
    ModelParts
        ``(config, params, metadata)``: ``tonezoo.Model(*parts)``. The ``metadata`` gains
        ``hub_repo`` and ``hub_revision`` (the commit) when loaded from the Hub.

    Raises
    ------
    HubError
        Missing repo, revision or file; a refused repo (pickles, over-size files, bad config or
        tensor shapes); not cached while offline.
    ModelFileError
        A local directory that is not a valid model directory.
    """
    path = Path(repo_id_or_dir)
    if path.is_dir():
        if revision is not None:
            raise HubError(f"{path} is a local directory; revision={revision!r} applies to Hub repos only")
        return read_model_dir(path)
    if path.exists():
        raise ModelFileError(f"{path}: is a file; expected a model directory or a Hub repo id 'owner/name'")
    text = str(repo_id_or_dir)
    if not REPO_ID_RE.match(text):
        raise ModelFileError(f"{text}: no such model directory, and not a Hub repo id ('owner/name')")
    try:
        fetched = _fetch(_check_repo_id(text), revision=revision, token=token, cache_dir=cache_dir,
                         force_download=force_download)
    except HubError as e:
        if str(e).startswith("no model repo"):
            raise HubError(f"{e}; there is no local model directory {text!r} either") from None
        raise
    return _load_fetched(fetched, text)


def pull(repo_id: str, out_dir: str | os.PathLike, *, revision: str | None = None, token: str | None = None,
         cache_dir: str | os.PathLike | None = None) -> Path:
    """Download a Hub model into a model directory (validated before it is written).

    ``config.json``, ``model.safetensors`` and, when present, ``README.md`` are copied byte for
    byte. The directory is written under a temporary name and renamed into place; an existing
    model directory (or an empty directory) at ``out_dir`` is replaced.

    Returns
    -------
    Path, ``out_dir``.
    """
    _check_repo_id(repo_id)
    target = Path(out_dir)
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / CONFIG_NAME).exists())):
        raise ModelFileError(f"{target}: exists and is not a model directory; choose another output path")
    fetched = _fetch(repo_id, revision=revision, token=token, cache_dir=cache_dir, force_download=False,
                     optional=(CARD_NAME,))
    _load_fetched(fetched, repo_id)  # validate before writing anything
    card = fetched.files.get(CARD_NAME)
    if card is not None and card.stat().st_size > MAX_CARD_BYTES:
        raise HubError(f"refusing {repo_id!r}: {CARD_NAME} is {card.stat().st_size} bytes")
    def copy_files(tmp: Path) -> None:
        for name, src in fetched.files.items():
            shutil.copyfile(src, tmp / name)

    write_dir_atomically(target, copy_files)
    return target


# -- listing and zoo ------------------------------------------------------------------------------------
def _to_record(info: Any) -> HubModel:
    card = info.card_data
    card_dict = card.to_dict() if hasattr(card, "to_dict") else dict(card or {})
    modified = getattr(info, "last_modified", None)
    return HubModel(repo_id=info.id, sha=getattr(info, "sha", None), tags=tuple(info.tags or ()),
                    card_data=card_dict, last_modified=modified.isoformat() if modified else None)


def _list_cached(*, filter: str | Iterable[str] | None, search: str | None, author: str | None,
                 limit: int | None, cache_dir: str | os.PathLike | None) -> list[HubModel]:
    """Tonezoo models in the local huggingface_hub cache (their ``main`` snapshot), filtered alike."""
    from huggingface_hub import constants, scan_cache_dir
    from huggingface_hub.errors import CacheNotFound
    wanted = [filter] if isinstance(filter, str) else list(filter or [])
    try:
        cache = scan_cache_dir(cache_dir or constants.HF_HUB_CACHE)
    except CacheNotFound:
        return []
    out = []
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        if author and repo.repo_id.split("/")[0] != author:
            continue
        if search and search.lower() not in repo.repo_id.lower():
            continue
        revs = [r for r in repo.revisions if "main" in r.refs] or sorted(repo.revisions, key=lambda r: -r.last_modified)
        if not revs:
            continue
        snap = revs[0].snapshot_path
        try:
            _, md = read_config(snap)
        except ModelFileError:
            continue
        from .card import TAGS
        tags = list(TAGS) + ([str(md["category"])] if md.get("category") else [])
        if any(t not in tags for t in wanted):
            continue
        card = {k: md[k] for k in ("category",) if md.get(k)}
        out.append(HubModel(repo.repo_id, sha=revs[0].commit_hash, tags=tuple(tags), card_data=card, cached=True))
        if limit is not None and len(out) >= limit:
            break
    return out


def _list(*, filter: str | Iterable[str] | None, search: str | None, author: str | None, limit: int | None,
          token: str | None, cache_dir: str | os.PathLike | None) -> tuple[list[HubModel], bool]:
    kw = dict(filter=filter, search=search, author=author, limit=limit)
    if is_offline():
        logger.warning("offline mode (HF_HUB_OFFLINE): listing tonezoo models from the local cache, not the Hub")
        return _list_cached(**kw, cache_dir=cache_dir), True
    try:
        infos = list(_api(token).list_models(**kw, cardData=True))
    except Exception as e:
        if not _is_connection_error(e):
            raise _hub_error(e, f"models (filter={filter!r})", action="list") from None
        logger.warning("cannot reach the Hub at %s (%s): listing tonezoo models from the local cache",
                       _endpoint(), type(e).__name__)
        return _list_cached(**kw, cache_dir=cache_dir), True
    return [_to_record(i) for i in infos], False


def list_hub_models(*, filter: str | Iterable[str] | None = "tonezoo", search: str | None = None,
                    author: str | None = None, limit: int | None = None, token: str | None = None,
                    cache_dir: str | os.PathLike | None = None) -> list[HubModel]:
    """List tonezoo models on the Hub (``list_models(filter=..., cardData=True)``).

    Parameters
    ----------
    filter : str or list of str
        Tag(s) every listed model must carry (default ``"tonezoo"``; e.g. ``["tonezoo", "fuzz"]``).
    search : str, optional
        Substring of the repo id.
    author : str, optional
        Owner (user or organisation).
    limit : int, optional
    token, cache_dir : optional

    Returns
    -------
    list of HubModel
        Offline (``HF_HUB_OFFLINE=1`` or the Hub unreachable) the models come from the local cache
        (``cached=True``) and a warning is logged.
    """
    return _list(filter=filter, search=search, author=author, limit=limit, token=token, cache_dir=cache_dir)[0]


def list_hub_records(*, filter: str | Iterable[str] | None = "tonezoo", search: str | None = None,
                     author: str | None = None, limit: int | None = None, token: str | None = None,
                     cache_dir: str | os.PathLike | None = None) -> tuple[list[HubModel], bool]:
    """:func:`list_hub_models` plus whether the local cache stood in for the Hub (offline)."""
    return _list(filter=filter, search=search, author=author, limit=limit, token=token, cache_dir=cache_dir)


def fetch_model(repo_id: str, *, revision: str | None = None, token: str | None = None,
                cache_dir: str | os.PathLike | None = None) -> tuple[Any, bool]:
    """Download (or find in the cache) and validate a Hub model: ``(ModelParts, from_cache)``.

    Raises
    ------
    HubError, ModelFileError, ConfigError
        As :func:`load_pretrained`.
    """
    fetched = _fetch(repo_id, revision=revision, token=token, cache_dir=cache_dir, force_download=False)
    return _load_fetched(fetched, repo_id), fetched.from_cache
