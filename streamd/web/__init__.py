"""HTTP: the JSON API (`/api/v1`), health checks and, later, the pages."""

from streamd.web.app import create_app

__all__ = ["create_app"]
