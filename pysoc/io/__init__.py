"""Input/output: namelists, forcing and observation files, CF-NetCDF output."""
