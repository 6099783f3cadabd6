"""Compiled Fortran kernels (f2py extensions built by meson). Private: only
``pysoc.models`` imports from here."""
