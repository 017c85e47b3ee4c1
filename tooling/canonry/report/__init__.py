"""Rendering of results: what a command prints, and the exit code it ends with.

Checkers compute results (a `GateResult` from gates/, a `canonry.diff/v1`
document from compare/); this layer only renders them, the way check-jsonschema
separates checker, result and reporter. Owns: the gate reporters (`gate`:
text, json, github, markdown; `REPORTER_BY_NAME`), the diff renderers (`diff`:
json, yaml, text, markdown; `RENDERERS`), the text of every other command
(`drafts`, `review`, `publication`, `versions`, `channels`, `learning`,
`flywheel`, `verify`) and the exit code of a result or a channels/impact
document (`outcome`). May import: errors, store, compare, learning, gates,
publication, runtime; never cli. Renderer modules import nothing heavy at
module level, so that the command line can name their formats in `--help`.
"""
