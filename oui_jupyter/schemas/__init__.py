"""Request and response bodies as msgspec Structs.

msgspec imports in a few milliseconds and validates faster than anything else we tried, and
``msgspec.json.schema_components`` turns these classes into the OpenAPI document.
"""
