"""Piccolo's configuration: one engine, one app. Importing it resolves the database URL."""

from piccolo.conf.apps import AppRegistry

from dispatch.db import make_engine, resolve_database_url
from dispatch.settings import get_settings

_settings = get_settings()

DB = make_engine(resolve_database_url(_settings.database_url, _settings.data_dir))

APP_REGISTRY = AppRegistry(apps=["dispatch.piccolo_app"])
