"""CUDA overrides: faster device kernels for single registry entries, each tested against the
portable rule it replaces (tests/test_kernels.py). Loaded the first time an op meets a CuPy
array; nothing here runs on the CPU."""
