"""NPO transform plug-ins: NPO records in, platform events out (see ``contract``)."""
