"""The publication gates: the engine, one module per gate, and findings (report/ renders them).

Each gate is one module exposing `NAME` and `check(ctx) -> list[Finding]`;
`engine` runs them over what a head changes since a base, with the base's
rules. Owns: findings (`canonry.gate/v1`), the rule functions a registry may
the PII scan. May import: store, compare, learning
(the holdout and evidence gates measure with its evaluators). Never imports
publication, runtime or cli.
"""
