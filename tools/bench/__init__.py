"""The project's benchmarks (``eldercare bench``): tools that drive the product against
real services; no product package imports them."""
