"""Topic files of the rights knowledge base (read by `handlers.rights.kb`).

An (empty) package on purpose: setuptools' package-data rule `"*" = ["*.json"]` only
ships JSON that sits directly in a package, so making this folder a package is what
puts the topic files into the wheel without touching pyproject.toml.
"""
