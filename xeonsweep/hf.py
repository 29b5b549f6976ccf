"""Hugging Face transformers models built from their config class: random weights,
nothing downloaded. A model YAML names the class and the config's keyword
arguments, so a new Hugging Face model is a YAML file only:

    factory:
      _target_: xeonsweep.hf.from_config
      model_class: transformers.BertForSequenceClassification
      config_class: transformers.BertConfig   # optional: the model class's own config_class
      num_labels: 2                          # any keyword of the config class
"""

from __future__ import annotations

from typing import Any


def from_config(model_class: str, config_class: str | None = None, **config_kwargs: Any) -> Any:
    from hydra.utils import get_class

    model_type = get_class(model_class)
    config_type = get_class(config_class) if config_class else model_type.config_class
    config = config_type(**config_kwargs)
    return model_type(config).eval()
