"""A zoo from the Hugging Face Hub: add the tonezoo models listed there to a local zoo.

:func:`pull_into_zoo` is what :meth:`tonezoo.zoo.Zoo.pull` and ``tonezoo zoo pull`` run; the
Hub access itself (listing, download, validation) is :mod:`tonezoo.hub`.

Examples
--------
>>> from tonezoo.zoo.hub import pull_into_zoo
>>> pull_into_zoo(zoo, filter="tonezoo", author="me")    # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from .._progress import count_text
from ..errors import ConfigError, HubError, ModelFileError, ZooError
from ..hub import fetch_model, list_hub_records
from ..model import Model

__all__ = ["pull_into_zoo", "PullReport"]

logger = logging.getLogger(__name__)


@dataclass
class PullReport:
    """What :func:`pull_into_zoo` did.

    Attributes
    ----------
    added : list of str
        Repo ids added to the zoo.
    skipped : list of (repo_id, reason)
        Repos left out, with why (failed validation, already in the zoo, not cached, ...).
    offline : bool
        True when the Hub was not used (``HF_HUB_OFFLINE=1`` or unreachable) and the local
        cache stood in for it.
    entries : list
        What ``zoo.add`` returned for each added model.
    """

    added: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    offline: bool = False
    entries: list[Any] = field(default_factory=list)

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = []
        if self.offline:
            lines.append("offline: used the local Hugging Face cache, not the Hub")
        lines.append(f"added {count_text(len(self.added), 'model')}" + (f": {', '.join(self.added)}" if self.added else ""))
        for repo_id, reason in self.skipped:
            lines.append(f"skipped {repo_id}: {reason}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _zoo_hub_repos(zoo: Any) -> set[str]:
    """Hub repo ids already in ``zoo`` (entries' metadata ``hub_repo``)."""
    found = set()
    try:
        entries = list(zoo.list())
    except Exception:  # a zoo without a listing: nothing to deduplicate against
        return found
    for entry in entries:
        md = entry.get("metadata") if isinstance(entry, dict) else getattr(entry, "metadata", None)
        repo = (md or {}).get("hub_repo") if isinstance(md, dict) else None
        repo = repo or (entry.get("hub_repo") if isinstance(entry, dict) else getattr(entry, "hub_repo", None))
        if repo:
            found.add(str(repo))
    return found


def pull_into_zoo(zoo: Any, *, filter: str | Iterable[str] | None = "tonezoo", search: str | None = None,
                  author: str | None = None, limit: int | None = None, token: str | None = None,
                  cache_dir: str | os.PathLike | None = None, progress: bool = False) -> PullReport:
    """Add the tonezoo models listed on the Hub to a local zoo.

    Each listed repo's ``config.json`` and ``model.safetensors`` are downloaded (cached by
    huggingface_hub), validated, and given to ``zoo.add(model)``, which fingerprints and indexes
    them. Repos that fail validation, or are already in the zoo (same ``hub_repo``), are skipped
    with the reason. Offline, the local cache stands in for the Hub and the report says so.

    Parameters
    ----------
    zoo : tonezoo.Zoo
        Anything with ``add(model, source=...)`` and ``list()`` (``add_many`` is used when present).
    filter, search, author, limit, token, cache_dir
        As in :func:`tonezoo.hub.list_hub_models`.
    progress : bool
        Show the fingerprinting's progress (:meth:`tonezoo.zoo.Zoo.add_many`).

    Returns
    -------
    PullReport
    """
    listed, offline = list_hub_records(filter=filter, search=search, author=author, limit=limit, token=token,
                                       cache_dir=cache_dir)
    report = PullReport(offline=offline)
    have = _zoo_hub_repos(zoo)
    ready: list[tuple[str, Any]] = []
    for item in listed:
        if item.repo_id in have:
            report.skipped.append((item.repo_id, "already in the zoo"))
            continue
        try:
            parts, from_cache = fetch_model(item.repo_id, token=token, cache_dir=cache_dir)
            model = Model(*parts)
        except (HubError, ModelFileError, ConfigError) as e:
            report.skipped.append((item.repo_id, str(e)))
            logger.warning("skipped %s: %s", item.repo_id, e)
            continue
        if not model.metadata.get("name"):
            model.metadata["name"] = item.repo_id.split("/")[-1]
        report.offline = report.offline or from_cache
        ready.append((item.repo_id, model))
    if not ready:
        return report
    sources = [f"hf://{repo_id}" for repo_id, _ in ready]
    if hasattr(zoo, "add_many"):
        try:  # one batch: the zoo fingerprints all models together
            report.entries.extend(zoo.add_many([m for _, m in ready], sources=sources, progress=progress))
            report.added.extend(repo_id for repo_id, _ in ready)
            return report
        except (ZooError, ConfigError) as e:
            logger.info("adding the batch failed (%s); adding models one by one", e)
    for (repo_id, model), source in zip(ready, sources):
        try:
            report.entries.append(zoo.add(model, source=source))
        except (ZooError, ConfigError, ModelFileError) as e:
            report.skipped.append((repo_id, str(e)))
            logger.warning("skipped %s: %s", repo_id, e)
            continue
        report.added.append(repo_id)
    return report
