"""Input/output: namelists, forcing and observation files, CF-NetCDF output, atomic writes
(:mod:`pysoc.io.atomic`, also the one CSV writer) and covariate grids with the one nearest-cell
search (:mod:`pysoc.io.grid`)."""
