"""NPO transform plug-ins: NPO records in, platform events out (see ``contract``).

Keep this module free of imports: ``models.npo_config`` imports
``transforms.declarative.spec`` while ``models.events`` is still loading.
"""
