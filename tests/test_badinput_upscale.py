"""Bad input of pysoc-upscale (issue 15): exit status 2, one line naming the file, the key and
the allowed range, no traceback and no new file (truncated or malformed SRDB tables, output
paths, covariate grid, saved-model files)."""

from badinput import one_error_line, read_only_dir
from pysoc.cli.upscale import main as upscale_main
from pysoc.io.namelist import PKGDATA

PROG = "pysoc-upscale"


def namelist(tmp_path, run="  output_dir = 'out'\n", extra="", name="u.nml"):
    p = tmp_path / name
    p.write_text(f"&run\n{run}  progress = .false.\n  figures = .false.\n/\n{extra}")
    return p


def fails(tmp_path, capsys, argv, fragments, prog=PROG):
    return one_error_line(upscale_main, [str(a) for a in argv], capsys, prog, fragments, watch=[tmp_path])


def _srdb(tmp_path) -> dict:
    text = (PKGDATA / "srdb" / "srdb_rh_records.csv").read_text()
    lines = text.splitlines(keepends=True)
    out = {"trunc.csv": "".join(lines[:40]) + lines[40][: len(lines[40]) // 2],      # cut inside a record
           "empty.csv": "",
           "nocolumn.csv": "Record_number,Study_number\n1,2\n"}
    for name, body in out.items():
        (tmp_path / name).write_text(body)
    return out


def test_srdb_tables(tmp_path, capsys):
    _srdb(tmp_path)
    cases = [("trunc.csv", ["trunc.csv", "truncated"]), ("empty.csv", ["empty.csv", "empty"]),
             ("nocolumn.csv", ["nocolumn.csv", "lacks required column", "Rh_annual"]),
             ("absent.csv", ["absent.csv", "not found"])]
    for name, frags in cases:
        fails(tmp_path, capsys, [namelist(tmp_path, extra=f"&srdb\n  srdb_file = '{name}'\n/\n")], frags)


def test_namelist_grid_and_output_paths(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "grid.nc").write_text("lat,lon\n1,2\n")
    cases = [({"extra": "&run\n/\n"}, ["u.nml", "&run appears more than once"]),
             ({"run": "  output_dir = 'file/out'\n"}, ["u.nml: &run output_dir", "file is a file"]),
             ({"run": "  output_dir = 'file'\n"}, ["&run output_dir", "exists and is not a directory"]),
             ({"extra": "&predictors\n  grid_file = 'grid.nc'\n/\n"}, ["grid.nc", "covariate grid is not a NetCDF "
                                                                        "file"]),
             ({"extra": "&cv\n  n_folds = 1\n/\n"}, ["u.nml: &cv n_folds", "minimum 2"])]
    for kw, frags in cases:
        fails(tmp_path, capsys, [namelist(tmp_path, **kw)], frags)
    ro = tmp_path / "ro"
    undo = read_only_dir(ro)
    if undo is not None:
        try:
            fails(tmp_path, capsys, [namelist(tmp_path, "  output_dir = 'ro/out'\n")], ["&run output_dir",
                                                                                     "cannot create directories in"])
        finally:
            undo()
    assert not (tmp_path / "out").exists()


def test_saved_model_files(tmp_path, capsys):
    (tmp_path / "empty.zip").write_bytes(b"")
    (tmp_path / "text.zip").write_text("not a model\n")
    cases = [(["predict", tmp_path / "absent.zip", "10,10"], ["absent.zip", "not found"]),
             (["predict", tmp_path / "text.zip", "10,10"], ["text.zip", "not a pysoc-upscale model"]),
             (["predict", tmp_path / "empty.zip", "10,10"], ["empty.zip"]),
             (["evaluate", tmp_path / "absent.zip", tmp_path / "r.csv"], ["absent.zip", "not found"])]
    for argv, frags in cases:
        fails(tmp_path, capsys, argv, frags)
