"""Configuration: YAML -> validated pydantic models -> the read-only LoadedConfig the gateway runs on.

from llmroute.config import load_config, ConfigError
loaded = load_config("llmroute.yaml")   # raises ConfigError, one "key.path: problem" line per error
"""

from llmroute.config.errors import ConfigError
from llmroute.config.loader import load_config, load_config_text
from llmroute.config.resolved import LoadedConfig

__all__ = ["ConfigError", "LoadedConfig", "load_config", "load_config_text"]
