"""What changed between two trees: entry and field diffs, and the structured three-way merge.

Owns: `canonry.diff/v1` (`diff`), the field-by-field merge by entry id and the
merge driver (`merge`). May import: store.
"""
