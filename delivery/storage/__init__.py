"""Storage: the schema, the engine, migrations and the data-access modules."""
