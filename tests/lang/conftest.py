"""The language tests need nothing but the compiler: no model, no caches."""
