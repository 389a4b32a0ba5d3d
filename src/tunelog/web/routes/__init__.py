"""The dashboard's pages, one module per family: projects, runs, traces, artifacts, reports."""
