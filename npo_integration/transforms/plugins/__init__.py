"""Built-in code plug-ins, loaded lazily by name through ``registry.BUILTIN_PLUGINS``."""
