"""Device kernels: faster forwards for single registry entries on one device, declared on the
entry (``defop(..., kernels={"cuda": fn})``) and tested against the portable forward they
replace (tests/test_kernels.py). CuPy is imported only when a kernel first runs."""
