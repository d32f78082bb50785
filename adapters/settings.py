"""The settings in force: a settings file (``ledger.toml`` in the working
folder, or ``--config FILE``), then the environment (``LEDGER_*``), then the
command's own flags, each overriding the one before; validated with
pydantic-settings. Read once, by the composition root (adapters/bootstrap.py)
and the command line; nothing else looks at the environment for them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

DEFAULT_FILE = "ledger.toml"


class OfficeSettings(BaseModel):
    # The paying office, as named on bank credit-transfer files (pain.001).
    office_name: str = Field(default="Phòng Lao động - Thương binh và Xã hội", min_length=1)
    # The office's account at the State Treasury, the debtor account.
    treasury_account: str = Field(default="KBNN-0000000000", min_length=4, max_length=34)


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="forbid", toml_file=DEFAULT_FILE)

    database_url: str = "sqlite:///ledger.db"
    actor: str | None = None  # the acting person, recorded on every event
    office_name: str = OfficeSettings.model_fields["office_name"].default
    treasury_account: str = OfficeSettings.model_fields["treasury_account"].default
    cipher_key: SecretStr | None = None  # encrypt every stored event (ledger keygen)
    cipher_key_file: Path | None = None  # or read the key from this file
    progress: bool = False  # progress bars in logs, not only on a terminal
    four_eyes: bool = False  # the person who ran a month's payroll may not close it (always so on the web)
    web_secret_key: SecretStr | None = None  # signs the web sessions; generated and kept in the database if unset
    web_files_dir: Path = Path("web-files")  # where the web application keeps payroll files and uploads
    web_secure_cookies: bool = False  # session cookie only over HTTPS (set behind a TLS reverse proxy)
    lock_wait_seconds: float = Field(default=60.0, ge=0)  # how long a recording command waits for its turn (--wait)
    signing_key_file: Path | None = None  # the office's Ed25519 key for checkpoints (ledger keygen --signing)
    checkpoint_dir: Path = Path("checkpoints")  # where a month's close writes its signed checkpoint
    # The province this ledger serves: with it, each month close publishes the
    # month's figures for the national database (adapters/national/).
    province_code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{1,16}$")

    @field_validator("actor", "cipher_key", "web_secret_key", "province_code", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        # Flags (init) over the environment over the file.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    @classmethod
    def load(cls, config: str | Path | None = None, **flags: Any) -> LedgerSettings:
        """The settings from ``config`` (default: ./ledger.toml if present),
        the environment and the given flags (None: not given)."""
        given = {k: v for k, v in flags.items() if v is not None}
        if config is None:
            return cls(**given)
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"no settings file {path}")

        class FromFile(cls):  # the same settings, read from the named file
            model_config = SettingsConfigDict(**{**cls.model_config, "toml_file": path})

        return FromFile(**given)

    def office(self) -> OfficeSettings:
        return OfficeSettings(office_name=self.office_name, treasury_account=self.treasury_account)

    def key(self) -> str | None:
        """The cipher key, from the setting or the key file."""
        if self.cipher_key is not None:
            return self.cipher_key.get_secret_value()
        if self.cipher_key_file is not None:
            return self.cipher_key_file.read_text(encoding="utf-8").strip() or None
        return None

    def shown(self) -> dict:
        """What `ledger config show` prints: everything, secrets masked."""
        data = self.model_dump(mode="json")
        data["cipher_key"] = "********" if self.cipher_key is not None else None
        data["web_secret_key"] = "********" if self.web_secret_key is not None else None
        return data
