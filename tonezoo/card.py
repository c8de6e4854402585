"""Model cards: ``README.md`` with YAML front matter, rendered from a jinja2 template of ours."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["card_data", "render_card"]

_TEMPLATE = """---
{{ yaml }}---

# {{ name }}

A tonezoo neural capture{% if category %} of a device in the `{{ category }}` category{% endif %}: a {{ cell | upper }}-{{ hidden }}
recurrent network ({{ params }} parameters) at {{ sample_rate }} Hz{% if skip %} with a skip connection{% endif %}.
{% if knobs %}
Knobs (inputs in [0, 1]): {{ knobs | join(", ") }}.{% if knob_values %} Captured at {% for k, v in knob_values.items() %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}.{% endif %}
{% endif %}
## How it was made
{% if base_model %}Fine-tuned from `{{ base_model }}` (transfer learning){% else %}Trained from scratch{% endif %}
{%- if training_seconds %} on {{ training_seconds }} s of capture audio{% endif %} with the
Automated-GuitarAmpModelling recipe (ESR + DC loss, truncated backpropagation through time).
{% if val_esr is not none %}Validation error-to-signal ratio: **{{ "%.4f" | format(val_esr) }}**.{% endif %}
{% if description %}
{{ description }}
{% endif %}
## How to play it

```python
import tonezoo
model = tonezoo.Model.from_pretrained("{{ repo_id or "path/to/this/model" }}")
wet = model.process(dry_audio)  # mono float32 at {{ sample_rate }} Hz
```

or export it for a player: `tonezoo export MODEL_DIR --format agam|aidax|nam -o FILE`.
"""


def card_data(model: Any, repo_id: str | None = None) -> dict[str, Any]:
    """The YAML front matter of the card of ``model``."""
    md = model.metadata
    cfg = model.config
    tags = ["tonezoo", "guitar-effects", "audio-to-audio"]
    if md.get("category"):
        tags.append(str(md["category"]))
    data: dict[str, Any] = {
        "library_name": "tonezoo",
        "tags": tags,
        "pipeline_tag": "audio-to-audio",
        "license": md.get("license", "mit"),
        "model_name": md.get("name", "unnamed"),
        "sample_rate": cfg.sample_rate,
        "architecture": {"cell": cfg.cell, "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers,
                         "skip": cfg.skip},
    }
    if md.get("category"):
        data["category"] = md["category"]
    if cfg.knobs:
        data["knobs"] = list(cfg.knobs)
    if md.get("knob_values"):
        data["knob_values"] = {str(k): float(v) for k, v in md["knob_values"].items()}
    if md.get("training_seconds") is not None:
        data["training_data_seconds"] = float(md["training_seconds"])
    if md.get("base_model"):
        data["base_model"] = str(md["base_model"])
    if md.get("val_esr") is not None:
        data["model-index"] = [{
            "name": str(md.get("name", "unnamed")),
            "results": [{
                "task": {"type": "audio-to-audio", "name": "Device capture"},
                "dataset": {"type": "capture", "name": str(md.get("capture_name", md.get("name", "capture")))},
                "metrics": [{"type": "esr", "name": "validation ESR", "value": float(md["val_esr"])}],
            }],
        }]
    return data


def render_card(model: Any, repo_id: str | None = None) -> str:
    """Render ``README.md`` for ``model`` (YAML front matter + a short human-readable body)."""
    import jinja2
    from .model import param_count
    md = model.metadata
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        yaml=yaml.safe_dump(card_data(model, repo_id), sort_keys=False),
        name=md.get("name", "unnamed"), category=md.get("category"), cell=model.config.cell,
        hidden=model.config.hidden_size, params=param_count(model.config), sample_rate=model.config.sample_rate,
        skip=model.config.skip, knobs=list(model.config.knobs), knob_values=md.get("knob_values") or {},
        base_model=md.get("base_model"), training_seconds=md.get("training_seconds"), val_esr=md.get("val_esr"),
        description=md.get("description"), repo_id=repo_id)
