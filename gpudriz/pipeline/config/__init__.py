"""The pipeline's parameters: definitions, parsing, configuration files, reference text, editpars, MDRIZTAB."""
