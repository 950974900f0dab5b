"""Wyoming: Home Assistant's voice protocol. A server offering the gateway's recogniser, voices and
skills (`server.py`), and a host for `wyoming-satellite` speakers (`satellite.py`) whose turns run
through the same dialogue core as Hermes sessions."""
