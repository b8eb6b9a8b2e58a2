"""Configuration: one validated object, read once from a TOML file and the environment.

Precedence, highest first: values passed in code (CLI flags), ``AGENTLAB_*`` environment variables
(nested with ``__``, e.g. ``AGENTLAB_MODELS__PLANNER``), the TOML file, the defaults below.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platformdirs import user_data_path
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from agentlab.config.memory import MemorySettings
from agentlab.config.phoenix_state import running_phoenix
from agentlab.config.roles import RoleModels
from agentlab.errors import ConfigError

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def masked_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) as ``***``."""
    url = re.sub(r"^([a-z]+://[^:/@?#]*):[^/?#]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url)


class ContextBudgets(BaseModel):
    """Working memory (``[context]`` in the config file): per role, the tokens its model call
    may be sent (system prompt, tools, memories, summary, recent turns, its own message);
    ``recent_tokens`` of recent turns kept whole, past which the oldest are folded into the
    running summary (down to half of it, so a summary is not rewritten every turn), which grows
    to ``summary_tokens``."""

    model_config = ConfigDict(extra="forbid")

    planner: int = Field(default=24_000, ge=256)
    executor: int = Field(default=16_000, ge=256)
    validator: int = Field(default=16_000, ge=256)
    responder: int = Field(default=16_000, ge=256)
    summarizer: int = Field(default=16_000, ge=256)
    recent_tokens: int = Field(default=6_000, ge=0)
    summary_tokens: int = Field(default=800, ge=32)

    def for_role(self, role: str) -> int:
        """The token budget of ``role``'s calls."""
        return int(getattr(self, role))


class Budgets(BaseModel):
    """Ceilings every run is held to unless it sets its own (``[budgets]`` in the config file):
    model tokens and dollars per run, per session and per principal per UTC day; ``warn_at`` the
    fraction of a ceiling that warns, ``webhook_url`` where warnings are POSTed (JSON)."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, ge=1)
    max_usd: float | None = Field(default=None, gt=0)
    max_session_tokens: int | None = Field(default=None, ge=1)
    max_session_usd: float | None = Field(default=None, gt=0)
    max_daily_tokens: int | None = Field(default=None, ge=1)
    max_daily_usd: float | None = Field(default=None, gt=0)
    warn_at: float | None = Field(default=None, gt=0, le=1)
    webhook_url: str | None = Field(
        default=None,
        description="Budget warnings are POSTed here as JSON; failures are only logged.",
    )

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL: give one as https://hooks.example.com/budget")
        return value


class Access(BaseModel):
    """Who may do what (``[access]``): ``act_as`` maps an OS user (or a token's principal) to
    the principals it may act as with ``--as`` (``"*"``: any); ``operators`` may kill, resume
    and give feedback on every principal's runs (otherwise only their own)."""

    model_config = ConfigDict(extra="forbid")

    act_as: dict[str, list[str]] = Field(default_factory=dict)
    operators: list[str] = Field(default_factory=list)


class Settings(BaseSettings):
    """Everything a run needs to know about its environment."""

    model_config = SettingsConfigDict(
        env_prefix="AGENTLAB_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    data_dir: Path = Field(
        default_factory=lambda: user_data_path("agentlab"),
        description="Where runs (checkpoints) and domain databases are stored.",
    )
    default_agent: str = Field(
        "agentlab.domains.support:agent",
        description="The agent runs use when none is named: 'package.module:attr' or "
        "'path/to/file.py:attr'.",
    )
    agent_paths: list[Path] = Field(default_factory=list)  # where runs' agents may load from
    max_iterations: int = Field(
        10, ge=1, le=100_000, description="Planning rounds plus executed steps allowed per run."
    )
    max_parallel_calls: int = Field(
        4, ge=1, le=256, description="Tool calls run at once for steps whose dependencies are done."
    )
    tool_output_max_depth: int = Field(
        64,
        ge=1,
        le=200,  # tools.OUTPUT_DEPTH_CEILING: the checkpoints' serializer stops at 255 levels
        description="How many levels a tool's output may nest (unless the tool sets its own "
        "max_output_depth); a deeper output is an error result the model sees.",
    )
    tool_output_max_bytes: int = Field(
        1_000_000,
        ge=1_000,
        description="How large a tool's output may be, as JSON (unless the tool sets its own "
        "max_output_bytes); a larger one is truncated, with a note saying so.",
    )
    approval_cost_threshold_usd: float = Field(
        1.0, ge=0, description="Under the default policy, steps estimated above this ask a human."
    )
    models: RoleModels = Field(default_factory=RoleModels)
    budgets: Budgets = Field(default_factory=Budgets)
    context: ContextBudgets = Field(default_factory=ContextBudgets)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    access: Access = Field(default_factory=Access)
    database_url: SecretStr | None = Field(
        None,
        description="A PostgreSQL server keeping runs, checkpoints and the tool journal "
        "('postgresql://user:password@host:5432/database'), shared by every process and machine "
        "pointing at it; unset, they are kept in one SQLite file in data_dir.",
    )
    lease_ttl_s: float = Field(
        30.0,
        ge=2,
        le=3600,
        description="How long a process's claim on a run lasts unless renewed (it is renewed "
        "while the run advances); another process takes over a crashed holder's run after it.",
    )
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("AGENTLAB_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("AGENTLAB_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
        description="An Anthropic-compatible endpoint (self-hosted models, a gateway).",
    )
    anthropic_max_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of a Claude call that failed in a way that may pass (429, 529, 5xx, "
        "408, a reset, a timeout, a cut-off response): this + 1 attempts per model of a role, "
        "by agentlab (not the SDK), with backoff and jitter or retry-after (up to 60 s).",
    )
    anthropic_timeout_s: float = Field(
        60.0, gt=0, description="The longest one attempt at a Claude call may take (then retried)."
    )
    anthropic_stream: bool = Field(False, description="Stream responses from the Messages API.")
    prompt_caching: bool = Field(True, description="Mark system prompts and tools cacheable.")
    prompts_dir: Path | None = Field(
        None, description="A version of the system prompts: planner.md... (unset: the built-in)."
    )
    otlp_endpoint: str | None = Field(
        None,
        description="The OTLP/HTTP traces endpoint spans are exported to "
        "('http://127.0.0.1:6006/v1/traces' for a local Phoenix). Unset, and with no "
        "OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT either, it is the "
        "endpoint of the Phoenix that 'agentlab phoenix' runs for this data_dir, while it runs.",
    )
    phoenix_command: str | None = Field(
        None,
        description="The Arize Phoenix 'agentlab phoenix' runs: the 'phoenix' command of one you "
        "installed (uv tool install arize-phoenix, pipx install arize-phoenix; a name on PATH or "
        "a path), or the Python of its environment. Unset, agentlab installs the Phoenix it is "
        "tested with into an environment of its own, in the user cache directory, on first use.",
    )
    trace_project: str = Field(
        "agentlab", min_length=1, description="The Phoenix project runs' traces are filed under."
    )
    redaction_patterns: list[str] = Field(
        default_factory=list,
        description="Regular expressions masked (as '[redacted]') in exported spans and log "
        "lines, besides emails, phone numbers, card numbers, API keys and the settings' secrets.",
    )
    trace_attribute_max_chars: int = Field(
        32_768, ge=256, description="Longer span attribute values are exported cut, with a note."
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _postgres_url(cls, value: Any) -> Any:
        url = value.get_secret_value() if isinstance(value, SecretStr) else value
        if url is None or url == "":
            return None
        if not isinstance(url, str) or not url.startswith(_POSTGRES_SCHEMES):
            raise ValueError(
                "not a PostgreSQL URL: give one as postgresql://user:password@host:5432/database, "
                "or leave it unset to keep runs in SQLite in data_dir"
            )
        return url

    @field_validator("otlp_endpoint", mode="before")
    @classmethod
    def _http_url(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL: give one as http://127.0.0.1:6006/v1/traces")
        return value

    @property
    def checkpoint_path(self) -> Path:
        """The SQLite file of every run's checkpoints and the runs table (no database_url)."""
        return self.data_dir / "runs.sqlite"

    @property
    def phoenix_dir(self) -> Path:
        """Where 'agentlab phoenix' keeps Phoenix's data (its PHOENIX_WORKING_DIR)."""
        return self.data_dir / "phoenix"

    @property
    def runs_database(self) -> str:
        """Where runs are kept, for messages: the SQLite file, or the URL, password masked."""
        if self.database_url is None:
            return str(self.checkpoint_path)
        return masked_url(self.database_url.get_secret_value())

    @property
    def has_anthropic_key(self) -> bool:
        return bool(self.anthropic_api_key and self.anthropic_api_key.get_secret_value())


class _TomlSource(PydanticBaseSettingsSource):
    """Values from an already-parsed TOML file, below the environment in precedence."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build ``Settings`` from ``config_file`` (TOML), the environment and ``overrides``.

    Without ``config_file``, the file named by ``AGENTLAB_CONFIG`` is read, if it is set: the CLI,
    notebooks and graphs served by LangGraph see the same settings.

    Raises ``ConfigError`` with a one-line explanation when the file is missing, a value is
    invalid, or an ``AGENTLAB_*`` environment variable names no setting (a typo would otherwise
    be ignored silently).
    """
    _check_environment(os.environ)
    if config_file is None:
        config_file = os.environ.get("AGENTLAB_CONFIG") or None
    file_values: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None

    class _FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _TomlSource(settings_cls, file_values))

    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        loaded = _FileSettings(**clean)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        where = _source_of(str(first["loc"][0]), clean, file_values, config_file)
        raise ConfigError(f"invalid setting {loc}{where}: {first['msg']}") from None
    values = dict(loaded)
    if values["otlp_endpoint"] is None and not _OTEL_ENDPOINTS.intersection(os.environ):
        published = running_phoenix(loaded.phoenix_dir)
        values["otlp_endpoint"] = published["otlp_endpoint"] if published else None
    return Settings.model_construct(**values)


# The standard variables that already say where spans go.
_OTEL_ENDPOINTS = frozenset({"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"})


def _source_of(
    name: str, overrides: dict[str, Any], file_values: dict[str, Any], config_file: Any
) -> str:
    """Where an invalid value came from, in precedence order, so the user fixes the right place."""
    if name in overrides:
        return " (given on the command line)"
    field = Settings.model_fields.get(name)
    aliases = getattr(field.validation_alias, "choices", []) if field else []
    env_names = [*(a for a in aliases if isinstance(a, str)), f"AGENTLAB_{name.upper()}"]
    for env_name in env_names:
        if env_name in os.environ or any(k.startswith(f"{env_name}__") for k in os.environ):
            return f" (from the environment variable {env_name})"
    if name in file_values or any(a in file_values for a in aliases):
        return f" in {config_file}"
    return ""


def _known_variables() -> set[str]:
    known = {"AGENTLAB_CONFIG"}  # read by the command line itself, not by Settings
    for name, field in Settings.model_fields.items():
        known.add(f"AGENTLAB_{name.upper()}")
        aliases = getattr(field.validation_alias, "choices", [])
        known.update(a for a in aliases if isinstance(a, str) and a.startswith("AGENTLAB_"))
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):  # a section: [models]...
            known |= _nested(f"AGENTLAB_{name.upper()}", kind)
    return known


def _nested(prefix: str, model: type[BaseModel]) -> set[str]:
    """The environment variables of a section's settings, sub-sections' too."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        variable = f"{prefix}__{name.upper()}"
        names.add(variable)
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= _nested(variable, kind)
    return names


def _check_environment(environ: Mapping[str, str]) -> None:
    """Refuse ``AGENTLAB_*`` variables that name no setting, suggesting the closest one."""
    known = _known_variables()
    for name in sorted(environ):
        if name.startswith("AGENTLAB_") and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
            hint = f": did you mean {close[0]}?" if close else ": remove or rename it"
            raise ConfigError(f"unknown setting in the environment variable {name}{hint}")
