"""Settings for tests: from the test's arguments only, never from the machine's environment."""

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from app.config import Settings


class IsolatedSettings(Settings):
    """Settings from the test's arguments only, never from the machine's environment."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)
