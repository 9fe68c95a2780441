"""Portail des offres MSSanté."""

from portal.app import create_app

__all__ = ["create_app"]
