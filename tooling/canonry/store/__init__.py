"""The store: everything Canonry knows about a repository and the entries in it.

Owns: the one wrapper around pygit2 and the git executable (`repo`, with
`gitcli` for the executable's named operations, `gitwrite`, `githistory`,
`gittypes`, and `integrity` for bounded object reads), the strict YAML loader
and canonical dumper (`yamlio`, `yamlguard`, `yamldump`), the registry and the rules
read at a commit (`registry`, `rules`), trees and states (`states`), entries
and libraries with their caches and effective confidence (`entries`,
`entry_cache`, `confidence`), versions and tag metadata (`versions`), commits with provenance
(`commits`), ids, text normalisation and the clock (`ids`, `text`, `times`),
and the scaffold of a new repository (`init`). May import: errors only.
"""
