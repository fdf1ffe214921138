"""Time-series stores behind one small interface (``base.Store``)."""
