"""Pure geo library: coordinates, roads, routes, supply-transfer planning, people matching.

See ``geo/README.md``. Nothing here imports the web service or touches a database.
"""
