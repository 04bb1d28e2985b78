"""YAML text -> LoadedConfig: parse, substitute the environment, normalise legacy forms, validate, index.

Every failure is a ConfigError whose lines each name the key path (or the YAML line) and what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llmroute.config import legacy, route_examples, validate
from llmroute.config.env import substitute_env
from llmroute.config.errors import ConfigError, describe_type, pydantic_errors
from llmroute.config.models import Config
from llmroute.config.resolved import LoadedConfig


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read and validate the config file at path. Raises ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, expected a YAML file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read config file ({exc})"]) from None
    return load_config_text(text, env=env, source=str(path))


def load_config_text(
    text: str, env: Mapping[str, str] | None = None, source: str = "<config>"
) -> LoadedConfig:
    """Validate a config given as YAML text. `source` is recorded as LoadedConfig.source_path."""
    doc = legacy.drop_extension_keys(parse_yaml(text))
    errors: list[str] = []
    warnings: list[str] = []
    doc = substitute_env(doc, os.environ if env is None else env, errors)
    written = legacy.written_paths(doc)
    doc = legacy.normalise_document(doc, errors, warnings)
    if errors:
        raise ConfigError(errors)
    try:
        config = Config.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(written(pydantic_errors(exc, Config, extra_keys=("llm_providers",)))) from None
    has_top_level_preferences = bool(config.routing_preferences)
    validate.check_version(config, has_top_level_preferences, errors)
    validate.check_listeners(config, errors)
    config = legacy.migrate_inline_preferences(config, errors, warnings)
    config = config.model_copy(
        update={"model_providers": legacy.strip_inline_preferences(config.model_providers)}
    )
    tables = validate.build_model_tables(config, errors)
    aliases = validate.resolve_aliases(config, tables, errors, warnings)
    routes = validate.build_routes(config.routing_preferences, tables, errors)
    route_examples.check_generator(config, tables.model_refs, errors)
    source_path = None if source == "<config>" else source
    routes = route_examples.include_examples(config, routes, source_path, errors, warnings)
    validate.check_metric_sources(config, errors)
    validate.warn_old_thresholds(config, warnings)
    if errors:
        raise ConfigError(written(errors))
    return LoadedConfig(
        raw=config,
        models=tables.models,
        wildcards=tables.wildcards,
        model_refs=tables.model_refs,
        routes=routes,
        aliases=aliases,
        default_model=validate.default_model(config, tables),
        deployments={model: tuple(group) for model, group in tables.deployments.items()},
        warnings=tuple(warnings),
        source_path=source_path,
    )


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key written twice in one mapping (PyYAML silently keeps the last)."""


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    # Only keys written in this mapping count: a key that overrides one merged in with `<<: *anchor` is fine.
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool):
            continue  # an unhashable key; construct_mapping reports it
        if key in seen:
            mark = key_node.start_mark
            raise ConfigError([f"line {mark.line + 1}, column {mark.column + 1}: duplicate key '{key}'"])
        seen.add(key)
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str) -> dict[str, Any]:
    """The document as a mapping; YAML syntax errors become "line N, column M: problem"."""
    try:
        doc = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise ConfigError([f"{where}YAML syntax error: {problem}{context}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"YAML syntax error: {exc}"]) from None
    if doc is None:
        raise ConfigError(["the config is empty; it needs at least model_providers"])
    if not isinstance(doc, dict):
        raise ConfigError(
            [
                f"the config must be a mapping of keys (version, model_providers, ...), got {describe_type(doc)}"
            ]
        )
    for key in doc:
        if not isinstance(key, str):
            raise ConfigError([f"top-level key {key!r} must be a string"])
    return doc
