"""Pure, mergeable summaries of rows: column profiles and references, performance summaries, a window's summary,
and their byte encoding.

Must not import storage, the database or orchestration: profiles are functions of arrays and Arrow batches."""
