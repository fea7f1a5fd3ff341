"""Entities, state machines, rules and the domain events they record (servicekit.aggregate). Pure: the
standard library, pydantic, servicekit.aggregate and contracts.vocabulary only (import-linter checks it)."""
