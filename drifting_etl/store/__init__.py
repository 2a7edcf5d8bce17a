"""The artifact store: every storage path, atomic reads and writes through fsspec, the project index and registry.

Imports only core and profiles (to fit a reference profile); never the database or orchestration."""
