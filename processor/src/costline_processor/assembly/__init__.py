"""Assembly: buffer spans by trace (buffer), then tag, price and roll them up (rollup, which runs the passes)."""
