"""Partner formats: one module per file that a partner receives or sends."""
