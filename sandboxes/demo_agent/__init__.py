"""Foundry's demo agent: a real ACP agent with no model and no key.

It runs as a sandbox-agent launcher (see ``launcher.py``) in local
sandboxes, so it takes the path real agents take. Deterministic; its
behaviour and its prompt words are documented in ``agent.py``. This package
imports nothing of Django: it starts in its own process.
"""
