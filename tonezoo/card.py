"""Model cards: ``README.md`` with Hub YAML front matter, rendered from a jinja2 template of ours.

The YAML follows the Hugging Face Hub's model card metadata (``library_name``, ``tags``,
``license``, ``pipeline_tag``, ``base_model``, ``model-index``) plus tonezoo's own keys, which
the Hub keeps as card data and returns from ``list_models(cardData=True)``::

    library_name: tonezoo
    tags: [tonezoo, guitar-effects, audio-to-audio, overdrive]
    pipeline_tag: audio-to-audio
    license: mit
    base_model: someone/ts9-like          # only when fine-tuned from a Hub model
    base_model_relation: finetune
    model_name: my-mt2
    category: overdrive
    sample_rate: 44100
    architecture: {cell: lstm, hidden_size: 20, num_layers: 1, skip: true, parameters: 1861}
    knobs: [gain]                         # conditioning inputs, when any
    knob_values: {gain: 0.5}              # settings of the captured device
    training_data_seconds: 30.0
    model-index: [{name: my-mt2, results: [{task: {type: audio-to-audio, ...},
                   metrics: [{type: esr, name: Validation ESR, value: 0.012}]}]}]

Nothing from the environment (paths, user names, tokens) is written: only the model's own
config and a fixed set of metadata keys.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["card_data", "render_card", "parse_card", "hub_base_model", "esr_verdict", "base_model_source",
           "source_kind", "TAGS", "STOP_TEXT"]

TAGS = ("tonezoo", "guitar-effects", "audio-to-audio")
# A Hugging Face repo id, ``owner/name`` or ``name`` (the one pattern; tonezoo.hub uses it too)
REPO_ID_RE = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$", re.ASCII)
# licence ids the Hub knows that models in this field commonly carry
_LICENSES = {"mit", "apache-2.0", "gpl-3.0", "gpl-2.0", "lgpl-3.0", "agpl-3.0", "bsd-3-clause", "cc0-1.0",
             "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nc-nd-4.0", "unlicense",
             "other"}

#: Why a training run stopped (``TrainResult.stop_reason``, ``metadata["stop_reason"]``), as words that
#: follow "stopped by": the last line of ``tonezoo train`` and the model card say it so.
STOP_TEXT = {"max_epochs": "the epoch limit (--epochs)",
             "patience": "early stopping (--patience validations in a row without a better model)",
             "target": "reaching the target validation ESR", "interrupted": "Ctrl-C"}

_TEMPLATE = """---
{{ yaml }}---

# {{ name }}

A {{ "" if imported else "tonezoo " }}neural capture{% if category %} of {{ "an" if category[0] in "aeiou" else "a" }} `{{ category }}` device{% if category_guess %} (the device-kind classifier's guess){% endif %}{% endif %}{% if imported %}, imported into tonezoo{% endif %}:
{% if arch == "lstm" %}{{ "an" if cell == "lstm" else "a" }} {{ cell | upper }}-{{ hidden }} recurrent network{% if layers > 1 %} ({{ layers }} layers){% endif %}{% else %}a {{ describe }} network{% endif %} with {{ params }} parameters,
running at {{ sample_rate }} Hz{% if skip %}, with a skip connection (the dry input is added to the output){% endif %}.
{% if knobs %}
It is conditioned on {{ knobs | length }} knob{{ "s" if knobs | length > 1 else "" }}: {{ knobs | join(", ") }} (each in [0, 1]).
{%- if knob_values %} The device was captured at {% for k, v in knob_values.items() %}{{ k }} = {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}.{% endif %}
{% endif %}
## How it was made

{% if imported %}{{ imported }}
{% else %}{% if base_model %}Fine-tuned (transfer learning) from {{ start }}: the weights of a model of a similar device were the starting point, then trained on this device's capture.
{%- else %}Trained from scratch on a capture of the device.{% endif %}
A capture is a dry guitar signal re-amped through the device and the device's output, recorded together;
the network learns to predict the output from the input
{%- if training_seconds or epochs %} ({% if training_seconds %}{{ training_seconds }} s of training audio{% endif %}{% if training_seconds and epochs %}, {% endif %}{% if epochs %}{{ epochs }} epoch{{ "" if epochs == 1 else "s" }}{% endif %}){% endif %},
{% if recipe == "nam" %}with Neural Amp Modeler's WaveNet recipe (sdatkinson/neural-amp-modeler, `nam/train/core.py`: MSE +
multi-resolution STFT loss of the pre-emphasised signals, Adam with an exponentially decaying learning rate,
the best model by validation ESR kept).
{% else %}with the Automated-GuitarAmpModelling recipe (error-to-signal ratio + DC loss, truncated backpropagation
through time, the best model by validation loss kept).
{% endif %}{% if stopped %}{{ stopped }}
{% endif %}{% if base_model and unimproved %}No epoch improved on the starting model's validation error, so these are the starting model's
weights as they entered training (output layer matched to the capture where that helped); more epochs or more audio may do better.
{% endif %}{% if auto %}
{{ auto }}
{% endif %}{% endif %}{% if val_esr is not none %}
| metric | value |
|---|---|
| validation error-to-signal ratio (ESR, lower is better{{ "; as the file states" if imported else "" }}) | {{ "%.4g" | format(val_esr) }} ({{ verdict }}) |
{% if training_seconds %}| training audio | {{ training_seconds }} s |
{% endif %}{% if di_level %}| training DI level | {{ di_level }} |
{% endif %}{% endif %}
{%- if description %}
{{ description }}
{% endif %}
## How to play it

```python
import tonezoo
{% if repo %}model = tonezoo.Model.from_pretrained("{{ repo }}")
{% else %}model = tonezoo.Model.load("path/to/this/model")        # this model's folder
{% endif %}wet = model.process(dry){% if knobs %}  # or model.process(dry, knobs={ {%- for k in knobs %}"{{ k }}": {{ knob_values.get(k, 0.5) }}{% if not loop.last %}, {% endif %}{% endfor -%} }){% endif %}
# dry: mono float32 guitar DI at {{ sample_rate }} Hz{% if di_level %}; the training DI: {{ di_level }}{% endif %}{% if input_peak_dbfs is not none %};
# input peaking more than {{ "%g" | format(level_margin) }} dB above that peak is beyond what the model learned and warns{% endif %}
```

{% if repo %}From the command line: `tonezoo pull {{ repo }} -o {{ folder }}`, then `tonezoo process {{ folder }} guitar.wav wet.wav{{ knob_args }}`
plays a WAV file through it;
{%- else %}From the command line, with this model's folder as {{ folder }}: `tonezoo process {{ folder }} guitar.wav wet.wav{{ knob_args }}`
plays a WAV file through it;
{%- endif %} export it for a player
{% if arch == "lstm" and skip %}(NeuralPi, Proteus, AIDA-X) with `tonezoo export {{ folder }} --format ... -o FILE` (not to Neural Amp Modeler:
its LSTM has no skip connection, which this model has).
{%- elif arch == "lstm" %}(NeuralPi, Proteus, AIDA-X, Neural Amp Modeler) with `tonezoo export {{ folder }} --format ... -o FILE`.
{%- else %}(Neural Amp Modeler's plugin) with `tonezoo export {{ folder }} --format nam -o model.nam`.{% endif %}
Only `config.json` and `model.safetensors` are needed; nothing in this {{ "repo" if repo else "folder" }} is pickled.
"""


def esr_verdict(esr: float) -> str:
    """Neural Amp Modeler's reading of a validation ESR."""
    if esr < 0.01:
        return "great"
    if esr < 0.035:
        return "not bad"
    if esr < 0.1:
        return "may sound ok"
    if esr < 0.3:
        return "probably won't sound great"
    return "poor"


def hub_base_model(metadata: dict[str, Any]) -> str | None:
    """The Hub id of the model this one was fine-tuned from, when there is one.

    ``metadata["base_model_repo"]`` wins; otherwise ``metadata["base_model"]`` counts when it is a
    namespaced Hub id (``owner/name``). A local zoo name such as ``ts9-like`` is not a Hub id, and
    neither is the name of a model file or zoo model that ``metadata["base_model_source"]``
    (:func:`base_model_source`) says the model started from.
    """
    local = _start_record(metadata).get("kind") in ("file", "zoo")
    for key in ("base_model_repo",) if local else ("base_model_repo", "base_model"):
        value = metadata.get(key)
        if isinstance(value, str) and "/" in value and REPO_ID_RE.match(value):
            return value
    return None


def base_model_source(source: str, base_model: str | None) -> dict[str, str]:
    """What ``tonezoo train --from SOURCE`` started from, as the card of the trained model tells it.

    ``SOURCE`` is resolved in the order the CLI loads it: an existing file is a model file (only
    its name is kept, never its folder), an existing folder a local model, a bare name a zoo id,
    anything else a Hub repo id. Store the result as ``metadata["base_model_source"]``;
    :func:`render_card` trusts it only while its ``model`` is the model's ``base_model``, so a
    record inherited from an earlier start is ignored.

    Parameters
    ----------
    source : str
        The ``--from`` argument (not ``"auto"``: ``Zoo.transfer`` records its own start).
    base_model : str or None
        ``metadata["base_model"]`` of the trained model.

    Returns
    -------
    dict
        ``{"kind": "file" | "folder" | "zoo" | "hub", "model": base_model}`` plus ``"file"`` (the
        file's name), ``"id"`` (the zoo id) or ``"repo"`` (the Hub repo id).
    """
    from pathlib import Path
    kind = source_kind(source)
    out = {"kind": kind, "model": base_model}
    extra = {"file": {"file": Path(source).name}, "zoo": {"id": source}, "hub": {"repo": source}}
    return {**out, **extra.get(kind, {})}


def source_kind(source: str) -> str:
    """What a model argument names, in the order the command line tries: ``"file"`` (an existing
    file), ``"folder"`` (an existing folder), ``"zoo"`` (a bare name: a zoo id) or ``"hub"`` (a Hub
    repo id, ``owner/name``)."""
    from pathlib import Path
    path = Path(source)
    if path.is_file():
        return "file"
    if path.exists():
        return "folder"
    return "zoo" if "/" not in source and "\\" not in source else "hub"


def _start_record(md: dict[str, Any]) -> dict[str, Any]:
    """``md["base_model_source"]`` when it describes the model's current ``base_model``, else ``{}``
    (a record inherited from an earlier start)."""
    rec = md.get("base_model_source")
    return rec if isinstance(rec, dict) and rec.get("model") == md.get("base_model") else {}


# the formats tonezoo imports (tonezoo.formats), as the card names them
_FORMAT_NAMES = {"nam": "a Neural Amp Modeler (`.nam`) file",
                 "agam": "an Automated-GuitarAmpModelling (NeuralPi / Proteus) JSON file",
                 "aidax": "an AIDA-X (RTNeural) JSON file"}


def _imported(metadata: dict[str, Any]) -> bool:
    """Whether the model was read from another tool's file (``tonezoo.formats.import_model``), not trained here."""
    return metadata.get("source_format") not in (None, "tonezoo")


def _words(value: Any) -> str:
    """A metadata value on one line of markdown (a file's author may hold anything)."""
    return " ".join(str(value).replace("`", "'").split())


def _imported_text(md: dict[str, Any], sample_rate: int) -> str:
    """The "How it was made" paragraph of an imported model: where it came from, not a recipe."""
    fmt = str(md["source_format"])
    text = "Imported from " + _FORMAT_NAMES.get(fmt, f"a `{_words(fmt)}` model file")
    details = []
    if md.get("source_file"):
        details.append(f"`{_words(md['source_file'])}`")
    if md.get("source_format_version"):
        details.append(f"file version {_words(md['source_format_version'])}")
    if details:
        text += " (" + ", ".join(details) + ")"
    if md.get("author"):
        text += f", made by {_words(md['author'])}"
    if md.get("device"):
        text += f", a capture of the {_words(md['device'])}"
    text += (".\ntonezoo did not train it: the weights are the file's, converted as they are; the capture and the "
             "recipe they were\ntrained with are the original author's.")
    if md.get("sample_rate_assumed"):
        text += f" The file does not state its sample rate; {sample_rate} Hz is assumed."
    return text


def _start_text(md: dict[str, Any], hub_id: str | None) -> str:
    """Where a fine-tuned model started: a model file, a zoo model, a Hub model or a local model."""
    base = _words(md.get("base_model"))
    rec = _start_record(md)
    kind = rec.get("kind")
    if kind == "file" and rec.get("file"):
        file = _words(rec["file"])
        named = "" if base in (file, file.rsplit(".", 1)[0]) else f" ({base})"
        return f"the model file `{file}`{named}"
    if kind == "zoo" and rec.get("id"):
        return f"the zoo model `{_words(rec['id'])}`"
    if hub_id:
        return f"the Hub model `{hub_id}`"
    if kind == "folder":
        return f"the local model `{base}`"
    if kind is None and md.get("base_model_name"):
        return f"the zoo model `{base}`"            # Zoo.transfer (--from auto) records the id and the name
    return f"the model `{base}`"


def _num(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (metadata may hold anything)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None


def _epochs(n: Any) -> str:
    """``"1 epoch"``, ``"40 epochs"``."""
    return f"{n} epoch{'' if n == 1 else 's'}"


def _stop_text(md: dict[str, Any]) -> str:
    """Why training stopped, as ``tonezoo train``'s last line words it (:data:`STOP_TEXT`); ``""`` when not recorded."""
    reason = md.get("stop_reason")
    if not reason:
        return ""
    epochs, best = md.get("epochs"), md.get("best_epoch")
    text = "Training stopped" + (f" after {_epochs(epochs)}" if isinstance(epochs, int) else "")
    text += f", by {STOP_TEXT.get(str(reason), _words(reason))}"
    if isinstance(best, int):
        text += f"; the weights kept are the best on validation, those of epoch {best}"
        text += " (before training)" if best == 0 else ""
    return text + "."


def _auto_text(md: dict[str, Any]) -> str:
    """How ``tonezoo train --from auto`` (:func:`tonezoo.zoo.transfer.transfer`) chose the start, as recorded.

    A markdown list: the ranking (``suggestions``, stage 1's DI level ``suggest_level_db``), the
    architecture the candidates kept to (``candidates``), the race (``race``), the start's output layer (``output_refit``) and the final against a
    from-scratch model (``final``). ``""`` for a model of another start, or when the ranking is not
    this model's (its start is not among the suggestions).
    """
    from .audio import level_text
    sugg = md.get("suggestions")
    rows = [r for r in sugg if isinstance(r, dict) and r.get("id")] if isinstance(sugg, list) else []
    final = md.get("final") if isinstance(md.get("final"), dict) else {}
    scratch_won = final.get("winner") == "scratch"
    base = md.get("base_model")
    ids = [str(r["id"]) for r in rows]
    if not ids or _start_record(md).get("kind") or not ((base is None and scratch_won) or base in ids):
        return ""
    out = []
    level = _num(md.get("suggest_level_db"))
    at = f" at the DI level of the whole capture ({level_text(None, level)})" if level is not None else ""
    names = ", ".join(f"`{_words(i)}`" for i in ids)
    if all(_num(r.get("zero_shot_esr")) is not None for r in rows):
        out.append(f"- **Ranking**: stage 1 compared the capture's fingerprint with the zoo models' fingerprints{at}; "
                   "stage 2 ranked the nearest by their error on the capture's own audio (zero-shot ESR after "
                   f"matching output level and polarity): {names}.")
    else:
        out.append(f"- **Ranking**: by fingerprint distance to the capture{at}: {names}.")
    cand = md.get("candidates") if isinstance(md.get("candidates"), dict) else {}
    if cand.get("architecture"):
        why = ("as `--arch` asked" if cand.get("chosen_by") == "--arch" else
               "the architecture of the best suggestion: a race trains one architecture side by side")
        left = [f"`{_words(str(i))}`" for i in cand.get("left_out") or []]
        out.append(f"- **Candidates**: {cand['architecture']} models only, {why}"
                   + (f"; left out of the ranking: {', '.join(left)}." if left else "."))
    race = [r for r in md.get("race") or []
            if isinstance(r, dict) and r.get("id") and _num(r.get("val_esr")) is not None]
    if race:
        won = min(race, key=lambda r: float(r["val_esr"]))
        spans = sorted({r.get("epochs") for r in race if isinstance(r.get("epochs"), int)})
        length = f" for {_epochs(spans[0])}" if len(spans) == 1 else ""
        esrs = ", ".join(f"`{_words(r['id'])}` {float(r['val_esr']):.4g}{' (won)' if r is won else ''}" for r in race)
        out.append(f"- **Race**: the top {len(race)} were fine-tuned side by side{length}; validation ESR after the "
                   f"race: {esrs}. The winner carried on from where the race left it.")
    else:
        out.append(f"- **Race**: none; the top suggestion, `{_words(ids[0])}`, was fine-tuned directly.")
    refit = md.get("output_refit")
    if not scratch_won and isinstance(refit, dict):
        out.append(_refit_text(refit))
    t, s = _num(final.get("transfer_val_esr")), _num(final.get("scratch_val_esr"))
    if t is not None and s is not None:
        on = _num(final.get("validation_seconds"))
        kept = "the from-scratch model was kept: these are its weights" if scratch_won else \
            "the fine-tuned model was kept"
        out.append(f"- **Against scratch**: a model trained from scratch with the same recipe and budget reached a "
                   f"validation ESR of {s:.4g}, the fine-tuned one {t:.4g}"
                   f"{f' (on {on:.1f} s of validation audio)' if on is not None else ''}; {kept}.")
    else:
        out.append("- **Against scratch**: no from-scratch contender was trained against it.")
    return "The starting point was picked from the zoo (`tonezoo train --from auto`):\n\n" + \
        "\n".join(line for line in out if line)


def _refit_text(rec: dict[str, Any]) -> str:
    """The ``output_refit`` record (:func:`tonezoo.warmstart.refit_output`, ``{"fit": "none"}`` from
    :func:`tonezoo.zoo.transfer.transfer` when it kept the layer) as a line of :func:`_auto_text`'s list."""
    fit = rec.get("fit")
    if fit == "none":
        return ("- **Output layer**: kept as it was: neither a least-squares refit to the capture nor a single gain "
                "lowered the validation error.")
    before, after, on = (_num(rec.get(k)) for k in ("val_esr_before", "val_esr_after", "val_seconds"))
    audio = "validation"
    if before is None or after is None:
        before, after, on = (_num(rec.get(k)) for k in ("esr_before", "esr_after", "seconds"))
        audio = "training"
    figures = f"; ESR {before:.4g} -> {after:.4g} on {on:.1f} s of {audio} audio" \
        if None not in (before, after, on) else ""
    gain = _num(rec.get("gain"))
    if fit == "gain" and gain is not None and gain != 0.0:
        import math
        turn = f"{20 * math.log10(abs(gain)):+.1f} dB" + (", polarity inverted" if gain < 0 else "")
        return (f"- **Output layer**: scaled by a single gain ({turn}) to the capture's level and polarity before "
                f"training (a least-squares refit did not lower the validation error){figures}.")
    if fit == "least squares":
        return f"- **Output layer**: refit to the capture by least squares before training{figures}."
    return ""


def _recipe_name(config: Any) -> str:
    """``"nam"`` or ``"agam"``: the recipe :func:`tonezoo.train.recipe` trains ``config``'s architecture with.

    The same rule as ``recipe`` (NAM's for a WaveNet, AGAM's otherwise), not a call to it: the card
    is written by the model files' writer, which training itself imports.
    """
    return "nam" if getattr(config, "arch", "lstm") == "wavenet" else "agam"


def _license(metadata: dict[str, Any]) -> tuple[str, str | None]:
    """(Hub licence id, licence name when it is "other")."""
    raw = metadata.get("license")
    if raw is None:
        # trained with tonezoo: the user's own work; imported from elsewhere: unknown
        return ("other", "see the original model's licence") if _imported(metadata) else ("mit", None)
    value = str(raw).strip().lower()
    if value in _LICENSES:
        return value, None
    return "other", str(raw)


def card_data(model: Any, repo_id: str | None = None) -> dict[str, Any]:
    """The YAML front matter of the card of ``model``.

    Parameters
    ----------
    model : tonezoo.Model
    repo_id : str, optional
        The Hub repo the card is for (names the model when it has no ``name``).

    Returns
    -------
    dict, in the key order written to the card.
    """
    md = model.metadata
    cfg = model.config
    name = str(md.get("name") or (repo_id.split("/")[-1] if repo_id else "unnamed"))
    category = md.get("category")
    tags = list(TAGS)
    if category and str(category) not in tags:
        tags.append(str(category))
    if cfg.knobs:
        tags.append("knob-conditioned")
    license_id, license_name = _license(md)
    data: dict[str, Any] = {
        "library_name": "tonezoo",
        "tags": tags,
        "pipeline_tag": "audio-to-audio",
        "license": license_id,
    }
    if license_name:
        data["license_name"] = license_name
    base = hub_base_model(md)
    if base:
        data["base_model"] = base
        data["base_model_relation"] = "finetune"
    elif md.get("base_model"):
        data["base_model_name"] = str(md["base_model"])
    data["model_name"] = name
    if category:
        data["category"] = str(category)
    data["sample_rate"] = int(cfg.sample_rate)
    from . import architectures
    arch = architectures.get(cfg.arch)
    data["architecture"] = {**({} if cfg.arch == "lstm" else {"arch": cfg.arch}), **arch.summary(cfg),
                            "parameters": architectures.param_count(cfg)}
    if cfg.knobs:
        data["knobs"] = list(cfg.knobs)
    if md.get("knob_values"):
        data["knob_values"] = {str(k): float(v) for k, v in md["knob_values"].items()}
    if md.get("training_seconds") is not None:
        data["training_data_seconds"] = round(float(md["training_seconds"]), 3)
    if md.get("val_esr") is not None:
        data["model-index"] = [{
            "name": name,
            "results": [{
                "task": {"type": "audio-to-audio", "name": "Guitar device capture"},
                "dataset": {"type": "capture", "name": str(md.get("capture_name") or name)},
                "metrics": [{"type": "esr", "name": "Validation ESR", "value": float(md["val_esr"])}],
            }],
        }]
    return data


def render_card(model: Any, repo_id: str | None = None) -> str:
    """Render ``README.md`` for ``model``: YAML front matter + how it was made + how to play it.

    "How it was made" tells the model's provenance: imported from another tool's file
    (``metadata["source_format"]``; no recipe is claimed), or trained by tonezoo from scratch or
    fine-tuned from a model file, a zoo model, a Hub model or a local model (``base_model`` and
    :func:`base_model_source`'s record), with the recipe of its architecture
    (:func:`tonezoo.train.recipe`: Automated-GuitarAmpModelling's for an LSTM/GRU, Neural Amp
    Modeler's for a WaveNet), why training stopped (``stop_reason``, :data:`STOP_TEXT`) and, for
    ``tonezoo train --from auto``, how the start was picked (the ranking and the DI level stage 1
    compared at, the race, the output layer's refit, the final against scratch) as far as the
    metadata records it. The training DI's level is given as a peak and as an RMS figure
    (:func:`tonezoo.audio.level_text`).

    "How to play it" loads the model from the Hub, with ``tonezoo pull``, only when it is on the
    Hub (``repo_id``, or ``metadata["hub_repo"]`` of a loaded copy); a local model is loaded and
    played from its folder.

    Parameters
    ----------
    model : tonezoo.Model
    repo_id : str, optional
        The Hub repo the card is for (it is being pushed there); used in the loading examples.

    Returns
    -------
    str, the markdown text.
    """
    import jinja2
    from .architectures import param_count
    from .audio import LEVEL_MARGIN_DB
    from .audio import level_text
    md = model.metadata
    data = card_data(model, repo_id)
    repo = _repo(md, repo_id)
    base_hub = data.get("base_model")
    base_any = base_hub or data.get("base_model_name")
    imported = _imported(md)
    val_esr = md.get("val_esr")
    val_esr = None if val_esr is None else float(val_esr)
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        yaml=yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
        name=data["model_name"], category=md.get("category"), category_guess=md.get("category_source") == "guess",
        cell=model.config.cell, arch=model.config.arch,
        describe=model.config.describe(),
        hidden=model.config.hidden_size, layers=model.config.num_layers, params=param_count(model.config),
        sample_rate=model.config.sample_rate, skip=model.config.skip, knobs=list(model.config.knobs),
        knob_values=data.get("knob_values") or {}, base_model=base_any,
        start=_start_text(md, base_hub) if base_any and not imported else "",
        imported=_imported_text(md, model.config.sample_rate) if imported else "",
        recipe="" if imported else _recipe_name(model.config),
        training_seconds=data.get("training_data_seconds"), epochs=md.get("epochs"), val_esr=val_esr,
        unimproved=md.get("best_epoch") == 0 and bool(md.get("epochs")),
        verdict=esr_verdict(val_esr) if val_esr is not None else "", description=md.get("description"),
        stopped="" if imported else _stop_text(md), auto="" if imported else _auto_text(md),
        input_peak_dbfs=_num(md.get("input_peak_dbfs")),
        di_level=level_text(_num(md.get("input_peak_dbfs")), _num(md.get("input_rms_dbfs"))),
        level_margin=LEVEL_MARGIN_DB, repo=repo, folder="my-model" if repo else "MODEL_DIR",
        knob_args="".join(f" --knob {k}={(data.get('knob_values') or {}).get(k, 0.5)}" for k in model.config.knobs))


def _repo(md: dict[str, Any], repo_id: str | None) -> str | None:
    """The Hub repo the model is on: ``repo_id`` (the card is rendered for a push), else the repo a
    loaded copy came from (``metadata["hub_repo"]``); ``None`` for a model that is only local."""
    for value in (repo_id, md.get("hub_repo")):
        if isinstance(value, str) and REPO_ID_RE.match(value):
            return value
    return None


def parse_card(text: str) -> dict[str, Any]:
    """Parse and check a card with ``huggingface_hub.ModelCard`` (offline); returns its YAML data.

    Raises
    ------
    ConfigError
        The YAML front matter is missing or does not parse as Hub model card data (for example a
        malformed ``model-index``).
    """
    from huggingface_hub import ModelCard
    from .errors import ConfigError
    if not text.startswith("---"):
        raise ConfigError("model card has no YAML front matter (it must start with '---')")
    try:
        card = ModelCard(text, ignore_metadata_errors=False)
    except Exception as e:  # huggingface_hub raises ValueError / yaml errors of several kinds
        raise ConfigError(f"model card metadata is invalid: {e}") from None
    return card.data.to_dict()
