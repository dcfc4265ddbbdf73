"""The ground floor: settings, engines and the unit of work, the declarative base and
column types, the clock, keyed hashing. It imports no other package of the project."""
