"""``tonezoo push`` and ``tonezoo pull``: publish a model directory to the Hugging Face Hub, fetch one.

The token comes from huggingface_hub's usual places (``HF_TOKEN``, ``hf auth login``); there is no
``--token`` option, so a token never lands in shell history or process listings. Without a network
the commands fail within seconds (one connection attempt, see :func:`check_hub_reachable`) rather
than after the client's retries.
"""

from __future__ import annotations

import argparse
import os

from ._outputs import check_model_dir_output

__all__ = ["register", "check_hub_reachable"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "push", help="publish a model directory to the Hugging Face Hub",
        description="Upload config.json, model.safetensors and README.md of MODEL_DIR to the Hub repo REPO_ID "
                    "(created when missing). Without a README.md a model card is generated.")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a tonezoo model directory")
    p.add_argument("repo_id", metavar="REPO_ID", help="owner/name on the Hub")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--message", "-m", default=None, help="commit message")
    p.set_defaults(func=_push)

    p = subparsers.add_parser(
        "pull", help="download a model from the Hugging Face Hub into a model directory",
        description="Download config.json, model.safetensors (and README.md) of REPO_ID, validate them, and "
                    "write a model directory. Files are cached; with HF_HUB_OFFLINE=1 the cache is used.")
    p.add_argument("repo_id", metavar="REPO_ID", help="owner/name on the Hub")
    p.add_argument("-o", "--output", "--out", dest="out", required=True, metavar="DIR",
                   help="output model directory (--out: the same)")
    p.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model directory at -o")
    p.set_defaults(func=_pull)


def check_hub_reachable(timeout: float = 4.0) -> None:
    """One TCP connection to the Hub endpoint (``HF_ENDPOINT``); a clear error at once when it fails.

    Skipped in offline mode (``HF_HUB_OFFLINE=1``: the cache is used) and behind an HTTP(S) proxy
    (the client connects through it, not directly).

    Raises
    ------
    HubError
        The endpoint's host does not resolve or does not accept a connection within ``timeout`` s.
    """
    import socket
    from urllib.parse import urlparse
    from ..errors import HubError
    from ..hub import is_offline
    if is_offline() or any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                                                       "ALL_PROXY", "all_proxy")):
        return
    from huggingface_hub import constants
    url = urlparse(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise HubError(f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} ({why}); check the network "
                       "connection, or set HF_HUB_OFFLINE=1 to use models already in the local cache") from None


def _push(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..hub import _check_repo_id, push_dir
    if not os.path.isdir(args.model_dir):
        raise ConfigError(f"MODEL_DIR {args.model_dir}: no such model directory")
    _check_repo_id(args.repo_id)        # a malformed id is the user's, not the network's
    check_hub_reachable()
    url = push_dir(args.model_dir, args.repo_id, private=args.private, commit_message=args.message)
    print(f"pushed {args.model_dir} to {url}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from ..hub import _check_repo_id, pull
    _check_repo_id(args.repo_id)
    check_model_dir_output(args.out, "-o", overwrite=args.overwrite)
    check_hub_reachable()
    out = pull(args.repo_id, args.out, revision=args.revision)
    print(f"pulled {args.repo_id} into {out}")
    return 0
