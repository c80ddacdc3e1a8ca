"""kansci.widgets: the JupyterLab explorer over the kansci core (filled by the explorer issue)."""
