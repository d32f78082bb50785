"""Everything that talks to the outside: stores, partner files, the command."""
