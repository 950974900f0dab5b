"""`touchgate demo`: a whole shop on one machine (broker, gateway, simulated touchpoints)."""

from gateway.demo.runner import run_demo

__all__ = ["run_demo"]
