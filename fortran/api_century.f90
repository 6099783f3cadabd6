!> f2py boundary of the CENTURY kernel (pysoc._kernels.century). Batched over parameter
!> vectors (the MCMC evaluates many parameter sets for one site per call); each vector is run
!> with the site and forcing of site_index(i) (1-based). Pure loops, no state: every entry
!> point is `!f2py threadsafe` (releases the GIL). Arrays are Fortran-ordered, set/site last;
!> their sizes are the constants of soc_century (f2py reads them from fortran/soc_century.f90:
!> a parameter, site or option vector of another length is a ValueError). The test probes of
!> single components (radiation, PET, scalars, SOM-only runs, ...) are not part of this API:
!> fortran/api_century_probes.f90 (pysoc._kernels.century_probes, test-only). Units: temperature degC, precipitation
!> cm month-1, carbon g C m-2, fluxes g C m-2 month-1 (see soc_century.f90 for the layouts).

!> npar, nstate, nout, nsite, nopt, npool = layout()
!> The sizes of the parameter, state, output, site and option vectors and the pool count.
subroutine layout(npar, nstate, nout, nsite, nopt, npool)
  use soc_century, only: cen_npar, cen_nstate, cen_nout, cen_nsite, cen_nopt, cen_npool
  implicit none
  integer(4), intent(out) :: npar, nstate, nout, nsite, nopt, npool
  !f2py threadsafe
  npar = cen_npar; nstate = cen_nstate; nout = cen_nout; nsite = cen_nsite
  nopt = cen_nopt; npool = cen_npool
end subroutine layout

!> state, status = initial_state(par, site_index, site, opt, rwcf0, pann)
!> Empty plant/SOM pools, first-year litter lignin (pann: annual precipitation, cm),
!> soil water at the fraction rwcf0 of the available range.
subroutine initial_state(nset, nsite, par, site_index, site, opt, rwcf0, pann, state, status)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE
  use soc_century, only: century_check_site, century_check_params, century_site_consts, &
       century_initial_state, cen_npar, cen_nstate, cen_nsite, cen_nopt, cen_nsc
  implicit none
  integer(4), intent(in) :: nset, nsite
  real(8), intent(in) :: par(cen_npar, nset), site(cen_nsite, nsite), rwcf0, pann(nsite)
  integer(4), intent(in) :: site_index(nset), opt(cen_nopt)
  real(8), intent(out) :: state(cen_nstate, nset)
  integer(4), intent(out) :: status(nset)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(site) :: nsite = shape(site, 1)
  !f2py threadsafe
  real(8) :: sc(cen_nsc)
  integer :: i, s
  state = 0
  do i = 1, nset
    s = site_index(i)
    if (s < 1 .or. s > nsite) then
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
subroutine run_batch(nset, nsite, nmon, par, site_index, site, opt, tmax, tmin, prec, state0, &
     states, out, status)
  use soc_kinds, only: SOC_ERR_SHAPE
  use soc_century, only: century_run, cen_npar, cen_nstate, cen_nout, cen_nsite, cen_nopt, cen_nmap
  implicit none
  integer(4), intent(in) :: nset, nsite, nmon
  real(8), intent(in) :: par(cen_npar, nset), site(cen_nsite, nsite)
  integer(4), intent(in) :: site_index(nset), opt(cen_nopt)
  real(8), intent(in) :: tmax(nmon, nsite), tmin(nmon, nsite), prec(nmon, nsite)
  real(8), intent(in) :: state0(cen_nstate, nset)
  real(8), intent(out) :: states(cen_nstate, nmon, nset), out(cen_nout, nmon, nset)
  integer(4), intent(out) :: status(nset)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(site) :: nsite = shape(site, 1)
  !f2py integer(4), intent(hide), depend(tmax) :: nmon = shape(tmax, 0)
  !f2py threadsafe
  real(8) :: st(cen_nstate), ymap(cen_nmap, 0)
  integer :: i, s
  do i = 1, nset
    s = site_index(i)
    if (s < 1 .or. s > nsite) then
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
subroutine spinup_batch(nset, nsite, nper, par, site_index, site, opt, tmax, tmin, prec, state0, &
     method, nyears, tol, maxit, state, count, status)
  use soc_kinds, only: SOC_ERR_SHAPE
  use soc_century, only: century_spinup_classic, century_spinup_fast, cen_npar, cen_nstate, &
       cen_nsite, cen_nopt
  implicit none
  integer(4), intent(in) :: nset, nsite, nper, method, nyears, maxit
  real(8), intent(in) :: par(cen_npar, nset), site(cen_nsite, nsite), tol
  integer(4), intent(in) :: site_index(nset), opt(cen_nopt)
  real(8), intent(in) :: tmax(nper, nsite), tmin(nper, nsite), prec(nper, nsite)
  real(8), intent(in) :: state0(cen_nstate, nset)
  real(8), intent(out) :: state(cen_nstate, nset)
  integer(4), intent(out) :: count(nset), status(nset)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(site) :: nsite = shape(site, 1)
  !f2py integer(4), intent(hide), depend(tmax) :: nper = shape(tmax, 0)
  !f2py threadsafe
  integer :: i, s, cnt
  do i = 1, nset
    s = site_index(i)
    state(:, i) = state0(:, i)
    count(i) = 0
    if (s < 1 .or. s > nsite .or. method < 0 .or. method > 1) then
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

!> thfc, thwp = water_props(swflag, sand, clay, bulkd, somsc): field capacity and wilting
!> point (volumetric) of the 4 water layers.
subroutine water_props(swflag, sand, clay, bulkd, somsc, thfc, thwp)
  use soc_century_production, only: soil_water_props, cen_nlayer
  implicit none
  integer(4), intent(in) :: swflag
  real(8), intent(in) :: sand, clay, bulkd, somsc
  real(8), intent(out) :: thfc(cen_nlayer), thwp(cen_nlayer)
  !f2py threadsafe
  call soil_water_props(int(swflag), sand, clay, bulkd, somsc, thfc, thwp)
end subroutine water_props

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
