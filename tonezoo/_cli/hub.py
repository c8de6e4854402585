"""``tonezoo push`` and ``tonezoo pull``: publish a model directory to the Hugging Face Hub, fetch one.

The token comes from huggingface_hub's usual places (``HF_TOKEN``, ``hf auth login``); there is no
``--token`` option, so a token never lands in shell history or process listings.
"""

from __future__ import annotations

import argparse


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
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output model directory")
    p.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    p.set_defaults(func=_pull)


def _push(args: argparse.Namespace) -> int:
    from ..hub import push_dir
    url = push_dir(args.model_dir, args.repo_id, private=args.private, commit_message=args.message)
    print(f"pushed {args.model_dir} to {url}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from ..hub import pull
    out = pull(args.repo_id, args.out, revision=args.revision)
    print(f"pulled {args.repo_id} into {out}")
    return 0
