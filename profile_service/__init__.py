"""A small reference central profile service (aiohttp + SQLite) implementing Touchgate's sync API.

It is another program: the gateway never imports it, and it never imports the gateway.
"""

from profile_service.launch import ProfileServiceProcess, running_profile_service, start_profile_service

__all__ = ["ProfileServiceProcess", "running_profile_service", "start_profile_service"]
