"""What changed between two trees: entry and field diffs, and the structured three-way merge.

Owns: the one value-equality rule (`values`), `canonry.diff/v1` (`diff`: computes,
never renders), the field-by-field merge of an entry (`entry_merge`), of a file
(`file_merge`) and of two trees plus the merge driver (`merge`, which also
re-exports the merge's public names). May import: errors, store.
"""
