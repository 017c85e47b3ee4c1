"""Runtime services: canonry.open, lock files, mirrors, export bundles, the HTTP API.

Owns: `api` (canonry.open, Canon, the library a service reads), `reading`,
pins (canonry.lock), mirror (remote sources as bare mirrors), watermark (no
silent downgrade), bundle and canonical (canonry.bundle/v1 and its RFC 8785
digests), serve, routes, protocol and openapi (the HTTP API), verify
(`canonry verify`), files (cache folder, atomic writes, locks). May import:
store, compare, learning, gates, publication.
"""
