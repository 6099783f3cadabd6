"""Bayesian data assimilation (spec methods.md §1–2).

- :mod:`pysoc.da.likelihood`: observation operators (layer-interval means, SOC density
  0–30 cm, Δ14C, monthly NEP) and the Gaussian cost of several data streams;
- :mod:`pysoc.da.sampler`: adaptive Metropolis (uniform test run + Haario formal run),
  vectorised over chains, with a resumable state; it knows nothing about models;
- :mod:`pysoc.da.diagnostics`: Gelman–Rubin, acceptance flags, GEV mode, quantiles and
  fit metrics;
- :mod:`pysoc.da.optimize`: SCE-UA (Duan et al. 1993); :mod:`pysoc.da.morris`: Morris
  screening (SALib);
- :mod:`pysoc.da.parallel`: the one MPI shim of pysoc (launcher detection, executor with a serial
  fallback, task farm, one-batch allreduce, chunk/round-robin splits; also used by proda and the CLIs);
- :mod:`pysoc.da.run`: orchestration of a calibration; :mod:`pysoc.da.output`: the
  ArviZ-layout posterior NetCDF and the CSV site summary.
"""
