!> f2py boundary of the CENTURY kernel (pysoc._kernels.century). Batched over parameter
!> vectors (the MCMC evaluates many parameter sets for one site per call); each vector is run
!> with the site and forcing of site_index(i) (1-based). Pure loops, no state (threadsafe).
!> Arrays are Fortran-ordered, set/site last. Units: temperature degC, precipitation
!> cm month-1, carbon g C m-2, fluxes g C m-2 month-1 (see soc_century.f90 for the layouts).

!> npar, nstate, nout, nsite, nopt, npool = layout()
!> (the array dimensions 9 pools, 23 state and 24 output variables are literal in this file
!> because f2py cannot read module constants; run_batch etc. refuse a mismatch)
subroutine layout(npar, nstate, nout, nsite, nopt, npool)
  use soc_century, only: cen_npar, cen_nstate, cen_nout, cen_nsite, cen_nopt, cen_npool
  implicit none
  integer(4), intent(out) :: npar, nstate, nout, nsite, nopt, npool
  npar = cen_npar; nstate = cen_nstate; nout = cen_nout; nsite = cen_nsite
  nopt = cen_nopt; npool = cen_npool
end subroutine layout

!> state, status = initial_state(par, site_index, site, opt, rwcf0, pann)
!> Empty plant/SOM pools, first-year litter lignin (pann: annual precipitation, cm),
!> soil water at the fraction rwcf0 of the available range.
subroutine initial_state(npar, nset, nsv, nsite, nopt, par, site_index, site, opt, rwcf0, pann, &
     state, status)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE
  use soc_century
  implicit none
  integer(4), intent(in) :: npar, nset, nsv, nsite, nopt
  real(8), intent(in) :: par(npar, nset), site(nsv, nsite), rwcf0, pann(nsite)
  integer(4), intent(in) :: site_index(nset), opt(nopt)
  real(8), intent(out) :: state(23, nset)
  integer(4), intent(out) :: status(nset)
  !f2py integer(4), intent(hide), depend(par) :: npar = shape(par, 0)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(site) :: nsv = shape(site, 0)
  !f2py integer(4), intent(hide), depend(site) :: nsite = shape(site, 1)
  !f2py integer(4), intent(hide), depend(opt) :: nopt = len(opt)
  !f2py threadsafe
  real(8) :: sc(cen_nsc)
  integer :: i, s
  state = 0
  do i = 1, nset
    s = site_index(i)
    if (npar /= cen_npar .or. nsv /= cen_nsite .or. nopt /= cen_nopt .or. s < 1 .or. s > nsite) then
      status(i) = SOC_ERR_SHAPE; cycle
    end if
    status(i) = century_check_site(site(:, s), opt)
    if (status(i) == SOC_OK) status(i) = century_check_params(par(:, i))
    if (status(i) /= SOC_OK) cycle
    call century_site_consts(par(:, i), site(:, s), opt, sc, status(i))
    if (status(i) /= SOC_OK) cycle
    call century_initial_state(par(:, i), sc, rwcf0, pann(s), state(:, i))
  end do
end subroutine initial_state

!> states, out, status = run_batch(par, site_index, site, opt, tmax, tmin, prec, state0)
!> Monthly transient run from state0 over the forcing (whole years from January).
!> states(:, m, i): state at the end of month m; out(:, m, i): monthly outputs.
subroutine run_batch(npar, nset, nsv, nsite, nopt, nmon, par, site_index, site, opt, tmax, tmin, &
     prec, state0, states, out, status)
  use soc_kinds, only: SOC_ERR_SHAPE
  use soc_century, only: century_run, cen_npar, cen_nstate, cen_nsite, cen_nopt, cen_nmap
  implicit none
  integer(4), intent(in) :: npar, nset, nsv, nsite, nopt, nmon
  real(8), intent(in) :: par(npar, nset), site(nsv, nsite)
  integer(4), intent(in) :: site_index(nset), opt(nopt)
  real(8), intent(in) :: tmax(nmon, nsite), tmin(nmon, nsite), prec(nmon, nsite)
  real(8), intent(in) :: state0(23, nset)
  real(8), intent(out) :: states(23, nmon, nset), out(24, nmon, nset)
  integer(4), intent(out) :: status(nset)
  !f2py integer(4), intent(hide), depend(par) :: npar = shape(par, 0)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(site) :: nsv = shape(site, 0)
  !f2py integer(4), intent(hide), depend(site) :: nsite = shape(site, 1)
  !f2py integer(4), intent(hide), depend(opt) :: nopt = len(opt)
  !f2py integer(4), intent(hide), depend(tmax) :: nmon = shape(tmax, 0)
  !f2py threadsafe
  real(8) :: st(cen_nstate), ymap(cen_nmap, 0)
  integer :: i, s
  do i = 1, nset
    s = site_index(i)
    if (npar /= cen_npar .or. nsv /= cen_nsite .or. nopt /= cen_nopt .or. s < 1 .or. s > nsite) then
      status(i) = SOC_ERR_SHAPE; states(:, :, i) = 0; out(:, :, i) = 0
      cycle
    end if
    st = state0(:, i)
    call century_run(nmon, par(:, i), site(:, s), opt, tmax(:, s), tmin(:, s), prec(:, s), st, &
         states(:, :, i), out(:, :, i), 0, ymap, status(i))
  end do
end subroutine run_batch

!> state, count, status = spinup_batch(par, site_index, site, opt, tmax, tmin, prec, state0,
!>     method, nyears, tol, maxit)
!> Spin-up over the nper-month forcing period. method 0 = classic (repeat the period for
!> nyears years, or until the change over one period is below tol relative when tol > 0;
!> count = years simulated); method 1 = fast matrix fixed point (tol on the largest pool
!> change relative to total C, at most maxit periods; count = periods simulated).
subroutine spinup_batch(npar, nset, nsv, nsite, nopt, nper, par, site_index, site, opt, tmax, &
     tmin, prec, state0, method, nyears, tol, maxit, state, count, status)
  use soc_kinds, only: SOC_ERR_SHAPE
  use soc_century, only: century_spinup_classic, century_spinup_fast, cen_npar, cen_nstate, &
       cen_nsite, cen_nopt
  implicit none
  integer(4), intent(in) :: npar, nset, nsv, nsite, nopt, nper, method, nyears, maxit
  real(8), intent(in) :: par(npar, nset), site(nsv, nsite), tol
  integer(4), intent(in) :: site_index(nset), opt(nopt)
  real(8), intent(in) :: tmax(nper, nsite), tmin(nper, nsite), prec(nper, nsite)
  real(8), intent(in) :: state0(23, nset)
  real(8), intent(out) :: state(23, nset)
  integer(4), intent(out) :: count(nset), status(nset)
  !f2py integer(4), intent(hide), depend(par) :: npar = shape(par, 0)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(site) :: nsv = shape(site, 0)
  !f2py integer(4), intent(hide), depend(site) :: nsite = shape(site, 1)
  !f2py integer(4), intent(hide), depend(opt) :: nopt = len(opt)
  !f2py integer(4), intent(hide), depend(tmax) :: nper = shape(tmax, 0)
  !f2py threadsafe
  integer :: i, s, cnt
  do i = 1, nset
    s = site_index(i)
    state(:, i) = state0(:, i)
    count(i) = 0
    if (npar /= cen_npar .or. nsv /= cen_nsite .or. nopt /= cen_nopt .or. s < 1 .or. s > nsite &
         .or. method < 0 .or. method > 1) then
      status(i) = SOC_ERR_SHAPE
      cycle
    end if
    if (method == 0) then
      call century_spinup_classic(nper, par(:, i), site(:, s), opt, tmax(:, s), tmin(:, s), &
           prec(:, s), nyears, tol, state(:, i), cnt, status(i))
    else
      call century_spinup_fast(nper, par(:, i), site(:, s), opt, tmax(:, s), tmin(:, s), &
           prec(:, s), tol, maxit, state(:, i), cnt, status(i))
    end if
    count(i) = cnt
  end do
end subroutine spinup_batch

!> x, status = som_steady_batch(par, site, opt, defac, anerb, strlig, inputs)
!> Matrix steady state X = -(A K)^-1 I of the litter/SOM system for constant scalars,
!> per parameter set (inputs g C m-2 yr-1 to the 9 pools; strlig(2, nset)).
subroutine som_steady_batch(npar, nset, nsv, nopt, par, site, opt, defac, anerb, strlig, inputs, &
     x, status)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE
  use soc_century
  implicit none
  integer(4), intent(in) :: npar, nset, nsv, nopt
  real(8), intent(in) :: par(npar, nset), site(nsv), defac(nset), anerb(nset), strlig(2, nset)
  real(8), intent(in) :: inputs(9, nset)
  integer(4), intent(in) :: opt(nopt)
  real(8), intent(out) :: x(9, nset)
  integer(4), intent(out) :: status(nset)
  !f2py integer(4), intent(hide), depend(par) :: npar = shape(par, 0)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(site) :: nsv = len(site)
  !f2py integer(4), intent(hide), depend(opt) :: nopt = len(opt)
  !f2py threadsafe
  real(8) :: sc(cen_nsc)
  integer :: i
  x = 0
  do i = 1, nset
    if (npar /= cen_npar .or. nsv /= cen_nsite .or. nopt /= cen_nopt) then
      status(i) = SOC_ERR_SHAPE; cycle
    end if
    status(i) = century_check_params(par(:, i))
    if (status(i) /= SOC_OK) cycle
    call century_site_consts(par(:, i), site, opt, sc, status(i))
    if (status(i) /= SOC_OK) cycle
    call century_som_steady(par(:, i), sc, int(opt(o_surf2)), defac(i), anerb(i), strlig(:, i), &
         inputs(:, i), x(:, i), status(i))
  end do
end subroutine som_steady_batch

!> x, co2, status = som_run(par, site, opt, defac, anerb, strlig, inputs, input_mode, x0)
!> Litter/SOM-only monthly run with prescribed scalars and inputs (g C m-2 month-1);
!> input_mode 0: inputs after the month's sub-steps, 1: spread over the sub-steps.
subroutine som_run(npar, nsv, nopt, nmon, par, site, opt, defac, anerb, strlig, inputs, &
     input_mode, x0, x, co2, status)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE
  use soc_century
  implicit none
  integer(4), intent(in) :: npar, nsv, nopt, nmon, input_mode
  real(8), intent(in) :: par(npar), site(nsv), defac(nmon), anerb(nmon), strlig(2)
  real(8), intent(in) :: inputs(9, nmon), x0(9)
  integer(4), intent(in) :: opt(nopt)
  real(8), intent(out) :: x(9, nmon), co2(nmon)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(par) :: npar = len(par)
  !f2py integer(4), intent(hide), depend(site) :: nsv = len(site)
  !f2py integer(4), intent(hide), depend(opt) :: nopt = len(opt)
  !f2py integer(4), intent(hide), depend(defac) :: nmon = len(defac)
  !f2py threadsafe
  real(8) :: sc(cen_nsc)
  x = 0; co2 = 0
  if (npar /= cen_npar .or. nsv /= cen_nsite .or. nopt /= cen_nopt) then
    status = SOC_ERR_SHAPE; return
  end if
  status = century_check_params(par)
  if (status /= SOC_OK) return
  call century_site_consts(par, site, opt, sc, status)
  if (status /= SOC_OK) return
  call century_som_run(nmon, par, sc, int(opt(o_surf2)), int(opt(o_ntspm)), defac, anerb, strlig, &
       inputs, input_mode, x0, x, co2, status)
end subroutine som_run

!> ak, k, status = som_matrix(par, site, opt, defac, anerb, strlig)
!> The matrix A K (yr-1) and the rates k (yr-1) of the litter/SOM system.
subroutine som_matrix(npar, nsv, nopt, par, site, opt, defac, anerb, strlig, ak, k, status)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE
  use soc_century
  implicit none
  integer(4), intent(in) :: npar, nsv, nopt
  real(8), intent(in) :: par(npar), site(nsv), defac, anerb, strlig(2)
  integer(4), intent(in) :: opt(nopt)
  real(8), intent(out) :: ak(9, 9), k(9)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(par) :: npar = len(par)
  !f2py integer(4), intent(hide), depend(site) :: nsv = len(site)
  !f2py integer(4), intent(hide), depend(opt) :: nopt = len(opt)
  !f2py threadsafe
  real(8) :: sc(cen_nsc), fr(cen_nfr)
  ak = 0; k = 0
  if (npar /= cen_npar .or. nsv /= cen_nsite .or. nopt /= cen_nopt) then
    status = SOC_ERR_SHAPE; return
  end if
  status = century_check_params(par)
  if (status /= SOC_OK) return
  call century_site_consts(par, site, opt, sc, status)
  if (status /= SOC_OK) return
  call century_som_rates(par, sc, int(opt(o_surf2)), defac, anerb, strlig, k)
  call century_som_fractions(par, sc, anerb, 0.0d0, strlig, fr)
  call century_som_matrix(int(opt(o_surf2)), k, fr, ak)
end subroutine som_matrix

!> sw, dl = radiation(lat): extraterrestrial radiation (ly d-1, mid-month) and day length
!> (h, first day of month) for months 1..12.
subroutine radiation(lat, sw, dl)
  use soc_century_production, only: shwave, daylen
  implicit none
  real(8), intent(in) :: lat
  real(8), intent(out) :: sw(12), dl(12)
  !f2py threadsafe
  integer :: m
  do m = 1, 12
    sw(m) = shwave(m, lat)
    dl(m) = daylen(m, lat)
  end do
end subroutine radiation

!> y = gpdf_curve(x, a, b, c, d): Poisson density curve of the production temperature effect.
subroutine gpdf_curve(n, x, a, b, c, d, y)
  use soc_century_production, only: gpdf
  implicit none
  integer(4), intent(in) :: n
  real(8), intent(in) :: x(n), a, b, c, d
  real(8), intent(out) :: y(n)
  !f2py integer(4), intent(hide), depend(x) :: n = len(x)
  !f2py threadsafe
  y = gpdf(x, a, b, c, d)
end subroutine gpdf_curve

!> pet = pet_month(tx, tn, month, lat, elev, thi, tlo, fwloss4, method): PET (cm month-1),
!> method 0 = Century 4.5 (Hargreaves), 1 = Century 4.0 (Linacre, with elevation).
subroutine pet_month(tx, tn, month, lat, elev, thi, tlo, fwloss4, method, pet)
  use soc_century_production, only: pet_hargreaves, pet_linacre, shwave
  implicit none
  real(8), intent(in) :: tx, tn, lat, elev, thi, tlo, fwloss4
  integer(4), intent(in) :: month, method
  real(8), intent(out) :: pet
  !f2py threadsafe
  if (method == 1) then
    pet = pet_linacre(tx, tn, lat, elev, thi, tlo, fwloss4)
  else
    pet = pet_hargreaves(tx, tn, shwave(month, lat), fwloss4)
  end if
end subroutine pet_month

!> txs, tns, ctemp, stemp = surface_temperature(tx, tn, bio, pmxtmp, pmntmp, dl)
subroutine surface_temperature(tx, tn, bio, pmxtmp, pmntmp, dl, txs, tns, ctemp, stemp)
  use soc_century_production, only: surface_temps, stemp_daylength
  implicit none
  real(8), intent(in) :: tx, tn, bio, pmxtmp, pmntmp, dl
  real(8), intent(out) :: txs, tns, ctemp, stemp
  !f2py threadsafe
  call surface_temps(tx, tn, bio, pmxtmp, pmntmp, txs, tns)
  ctemp = (txs + tns) / 2.0d0
  stemp = stemp_daylength(txs, tns, dl)
end subroutine surface_temperature

!> thfc, thwp = water_props(swflag, sand, clay, bulkd, somsc): field capacity and wilting
!> point (volumetric) of the 4 water layers.
subroutine water_props(swflag, sand, clay, bulkd, somsc, thfc, thwp)
  use soc_century_production, only: soil_water_props, cen_nlayer
  implicit none
  integer(4), intent(in) :: swflag
  real(8), intent(in) :: sand, clay, bulkd, somsc
  real(8), intent(out) :: thfc(4), thwp(4)
  !f2py threadsafe
  call soil_water_props(int(swflag), sand, clay, bulkd, somsc, thfc, thwp)
end subroutine water_props

!> h2ogef, wfunc, tfunc = scalars(x, rprpet, t, pprpts1, pprpts2, pprpts3, wc, teff1..teff4):
!> production water scalar, decomposition water and temperature scalars.
subroutine scalars(x, rprpet, t, pprpts1, pprpts2, pprpts3, wc, teff1, teff2, teff3, teff4, &
     h2ogef, wfunc, tfunc)
  use soc_century_production, only: h2ogef_of, wfunc_ratio, tcalc
  implicit none
  real(8), intent(in) :: x, rprpet, t, pprpts1, pprpts2, pprpts3, wc, teff1, teff2, teff3, teff4
  real(8), intent(out) :: h2ogef, wfunc, tfunc
  !f2py threadsafe
  h2ogef = h2ogef_of(x, pprpts1, pprpts2, pprpts3, wc)
  wfunc = wfunc_ratio(rprpet)
  tfunc = tcalc(t, teff1, teff2, teff3, teff4)
end subroutine scalars

!> fm, lstr = residue_split(lig, cn, spl1, spl2): metabolic fraction and structural lignin.
subroutine residue_split(lig, cn, spl1, spl2, fm, lstr)
  use soc_century_production, only: partition_residue
  implicit none
  real(8), intent(in) :: lig, cn, spl1, spl2
  real(8), intent(out) :: fm, lstr
  !f2py threadsafe
  call partition_residue(lig, cn, spl1, spl2, fm, lstr)
end subroutine residue_split

!> x, status = linear_steady(a, u): steady state x = -a^-1 u of a linear pool model
!> dx/dt = a x + u (any matrix form, e.g. the SoilR Parton-1987 matrix), by the pivoted
!> dense LU of soc_solvers; status 4 when singular.
subroutine linear_steady(n, a, u, x, status)
  use soc_solvers, only: dense_lu_solve
  implicit none
  integer(4), intent(in) :: n
  real(8), intent(in) :: a(n, n), u(n)
  real(8), intent(out) :: x(n)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(u) :: n = len(u)
  !f2py threadsafe
  real(8) :: aa(n, n), b(n, 1)
  aa = a
  b(:, 1) = -u
  call dense_lu_solve(n, 1, aa, b, status)
  x = b(:, 1)
end subroutine linear_steady

!> f = tfunc_default(t): Century arctangent temperature function at the default TEFF,
!> normalised at 30 degC, from the shared soc_envscalars.century_tfunc (cross-check of tcalc).
subroutine tfunc_default(n, t, f)
  use soc_envscalars, only: century_tfunc
  implicit none
  integer(4), intent(in) :: n
  real(8), intent(in) :: t(n)
  real(8), intent(out) :: f(n)
  !f2py integer(4), intent(hide), depend(t) :: n = len(t)
  !f2py threadsafe
  f = max(0.01d0, century_tfunc(t) / century_tfunc(30.0d0))
end subroutine tfunc_default
