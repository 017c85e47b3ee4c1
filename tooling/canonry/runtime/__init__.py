"""Runtime services: lock files (pins), remote mirrors, export bundles, the HTTP API.

Modules: pins (canonry.lock), mirror (remote sources as bare mirrors),
watermark (no silent downgrade), bundle and canonical (canonry.bundle/v1 and
its RFC 8785 digests), serve, routes, protocol and openapi (the HTTP API),
verify (`canonry verify`), files (cache folder, atomic writes, locks). The
entry point is canonry.open (api.py).
"""
