!> f2py boundary of the vertically resolved MIMICS kernel (pysoc._kernels.mimics).
!> Plain explicit-shape arguments, no state: every entry point is `!f2py threadsafe` (releases
!> the GIL); sizes are the constants of soc_mimics (mim_npar, mim_npool, mim_nlitter, mim_nflux;
!> f2py reads them from fortran/soc_mimics.f90: an array of another size is a ValueError). Arrays are Fortran-ordered with
!> (layer, pool) first and the parameter set / site last. Pools: LITm, LITs, MICr, MICk,
!> SOMp, SOMc, SOMa (mg C cm-3). dz: layer thickness (m). clay (fraction), tsoi (degC),
!> wsc (moisture scalar, -), litter(mim_nlitter, site) = aboveground input, root input
!> (g C m-2 yr-1), lig:N aboveground, lig:N roots. kinetics: 1 forward, 2 reverse MM.
!> Parameter vector layout: fortran/soc_mimics.f90 header (mim_npar values). Test probes of
!> single pieces (tendency and Jacobian, site quantities, eigenvalues): api_mimics_probes.f90.

!> x, resp, niter, resid, maxeig, attempt, status, reason = steady_batch(dz, par, site_index,
!>     clay, tsoi, wsc, litter, kinetics, check_stab, x0, use_x0)
!> Steady state of every parameter set i with the forcing of site site_index(i) (1-based),
!> tsoi/wsc averaged as vector fields over their time dimension. resp (mg C cm-3 h-1).
subroutine steady_batch(nlay, ntime, nset, nsite, dz, par, site_index, clay, tsoi, wsc, litter, &
     kinetics, check_stab, x0, use_x0, x, resp, niter, resid, maxeig, attempt, status, reason)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE
  use soc_mimics, only: mim_site, mim_setup, mim_steady_state, &
       mim_npar, mim_npool, mim_nlitter
  implicit none
  integer(4), intent(in) :: nlay, ntime, nset, nsite
  real(8), intent(in) :: dz(nlay), par(mim_npar, nset)
  integer(4), intent(in) :: site_index(nset)
  real(8), intent(in) :: clay(nlay, nsite), tsoi(nlay, ntime, nsite), wsc(nlay, ntime, nsite)
  real(8), intent(in) :: litter(mim_nlitter, nsite)
  integer(4), intent(in) :: kinetics, check_stab, use_x0
  real(8), intent(in) :: x0(nlay, mim_npool, nset)
  real(8), intent(out) :: x(nlay, mim_npool, nset), resp(nlay, nset), resid(nset), maxeig(nset)
  integer(4), intent(out) :: niter(nset), attempt(nset), status(nset), reason(nset)
  !f2py integer(4), intent(hide), depend(dz) :: nlay = len(dz)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: ntime = shape(tsoi, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: nsite = shape(tsoi, 2)
  !f2py threadsafe
  type(mim_site) :: s
  real(8) :: xi(mim_npool, nlay), x0i(mim_npool, nlay)
  integer :: i, k, ni, at
  x = 0; resp = 0; resid = 0; maxeig = 0; niter = 0; attempt = 0; reason = 0
  do i = 1, nset
    k = site_index(i)
    if (k < 1 .or. k > nsite) then
      status(i) = SOC_ERR_SHAPE; cycle
    end if
    call mim_setup(nlay, dz, par(:, i), kinetics, clay(:, k), litter(:, k), s, status(i))
    if (status(i) /= SOC_OK) cycle
    x0i = transpose(x0(:, :, i))
    call mim_steady_state(s, ntime, tsoi(:, :, k), wsc(:, :, k), x0i, use_x0 /= 0, check_stab /= 0, &
         xi, resp(:, i), ni, resid(i), maxeig(i), at, status(i), reason(i))
    niter(i) = ni; attempt(i) = at
    x(:, :, i) = transpose(xi)
  end do
end subroutine steady_batch

!> x, fm, fm_ss, resp, niter, resid, maxeig, status, reason = profile_batch(dz, par,
!>     site_index, clay, tsoi, wsc, litter, kinetics, check_stab, fatm_ss, fatm, hours,
!>     nvalid, nsub)
!> Carbon steady state (as steady_batch) and radiocarbon: tracer steady state with litter
!> of fraction modern fatm_ss(site) (1950 atmosphere), then nvalid(site) steps of
!> hours(k, site) hours with litter fraction modern fatm(k, site) (lagged by the caller),
!> nsub backward-Euler sub-steps each. fm: fraction modern of every pool at the end,
!> fm_ss: at the tracer steady state.
subroutine profile_batch(nlay, ntime, nset, nsite, nstep, dz, par, site_index, clay, tsoi, wsc, &
     litter, kinetics, check_stab, fatm_ss, fatm, hours, nvalid, nsub, x, fm, fm_ss, resp, niter, &
     resid, maxeig, status, reason)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE, SOC_ERR_FORCING
  use soc_mimics, only: mim_site, mim_setup, mim_steady_state, mim_c14_steady, mim_c14_transient, &
       mim_npar, mim_npool, mim_nlitter
  implicit none
  integer(4), intent(in) :: nlay, ntime, nset, nsite, nstep
  real(8), intent(in) :: dz(nlay), par(mim_npar, nset)
  integer(4), intent(in) :: site_index(nset)
  real(8), intent(in) :: clay(nlay, nsite), tsoi(nlay, ntime, nsite), wsc(nlay, ntime, nsite)
  real(8), intent(in) :: litter(mim_nlitter, nsite), fatm_ss(nsite), fatm(nstep, nsite), hours(nstep, nsite)
  integer(4), intent(in) :: kinetics, check_stab, nvalid(nsite), nsub
  real(8), intent(out) :: x(nlay, mim_npool, nset), fm(nlay, mim_npool, nset), fm_ss(nlay, mim_npool, nset), resp(nlay, nset)
  real(8), intent(out) :: resid(nset), maxeig(nset)
  integer(4), intent(out) :: niter(nset), status(nset), reason(nset)
  !f2py integer(4), intent(hide), depend(dz) :: nlay = len(dz)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: ntime = shape(tsoi, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: nsite = shape(tsoi, 2)
  !f2py integer(4), intent(hide), depend(fatm) :: nstep = shape(fatm, 0)
  !f2py threadsafe
  type(mim_site) :: s
  real(8) :: xi(mim_npool, nlay), ci(mim_npool, nlay), x0i(mim_npool, nlay)
  integer :: i, k, ni, at, n
  x = 0; fm = 0; fm_ss = 0; resp = 0; resid = 0; maxeig = 0; niter = 0; reason = 0
  x0i = 0
  do i = 1, nset
    k = site_index(i)
    if (k < 1 .or. k > nsite) then
      status(i) = SOC_ERR_SHAPE; cycle
    end if
    n = nvalid(k)
    if (n < 0 .or. n > nstep) then
      status(i) = SOC_ERR_SHAPE; cycle
    end if
    if (.not. (fatm_ss(k) >= 0)) then
      status(i) = SOC_ERR_FORCING; cycle
    end if
    call mim_setup(nlay, dz, par(:, i), kinetics, clay(:, k), litter(:, k), s, status(i))
    if (status(i) /= SOC_OK) cycle
    call mim_steady_state(s, ntime, tsoi(:, :, k), wsc(:, :, k), x0i, .false., check_stab /= 0, &
         xi, resp(:, i), ni, resid(i), maxeig(i), at, status(i), reason(i))
    niter(i) = ni
    x(:, :, i) = transpose(xi)
    if (status(i) /= SOC_OK) cycle
    call mim_c14_steady(s, ntime, tsoi(:, :, k), wsc(:, :, k), xi, fatm_ss(k), ci, status(i))
    if (status(i) /= SOC_OK) cycle
    fm_ss(:, :, i) = transpose(ci / xi)
    call mim_c14_transient(s, ntime, tsoi(:, :, k), wsc(:, :, k), xi, n, hours(1:n, k), &
         fatm(1:n, k), nsub, ci, status(i))
    if (status(i) /= SOC_OK) cycle
    fm(:, :, i) = transpose(ci / xi)
  end do
end subroutine profile_batch

!> x, c, resp, resp14, dec14, status = transient(dz, par, clay, tsoi, wsc, litter, iscl, hours,
!>     fatm, nsub, with14, x0, c0, kinetics)
!> Backward-Euler run of one site over nstep forcing steps (hours(k) hours, nsub
!> sub-steps); states at the end of each step; resp/resp14: step-mean respiration
!> (mg C cm-3 h-1), dec14: step-mean radioactive decay of the tracer; c: radiocarbon
!> (mg C cm-3 x fraction modern) if with14.
subroutine transient(nlay, nstep, dz, par, clay, tsoi, wsc, litter, iscl, hours, fatm, nsub, &
     with14, x0, c0, kinetics, x, c, resp, resp14, dec14, status)
  use soc_kinds, only: SOC_OK
  use soc_mimics, only: mim_site, mim_setup, mim_transient, &
       mim_npar, mim_npool, mim_nlitter
  implicit none
  integer(4), intent(in) :: nlay, nstep
  real(8), intent(in) :: dz(nlay), par(mim_npar), clay(nlay), tsoi(nlay, nstep), wsc(nlay, nstep)
  real(8), intent(in) :: litter(mim_nlitter), iscl(nstep), hours(nstep), fatm(nstep)
  integer(4), intent(in) :: nsub, with14, kinetics
  real(8), intent(in) :: x0(nlay, mim_npool), c0(nlay, mim_npool)
  real(8), intent(out) :: x(nlay, mim_npool, nstep), c(nlay, mim_npool, nstep), resp(nlay, nstep), resp14(nlay, nstep)
  real(8), intent(out) :: dec14(nlay, nstep)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlay = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: nstep = shape(tsoi, 1)
  !f2py threadsafe
  type(mim_site) :: s
  real(8), allocatable :: xi(:, :, :), ci(:, :, :)
  integer :: k
  x = 0; c = 0; resp = 0; resp14 = 0; dec14 = 0
  call mim_setup(nlay, dz, par, kinetics, clay, litter, s, status)
  if (status /= SOC_OK) return
  allocate(xi(mim_npool, nlay, nstep), ci(mim_npool, nlay, nstep))
  call mim_transient(s, nstep, tsoi, wsc, iscl, hours, fatm, nsub, with14 /= 0, transpose(x0), &
       transpose(c0), xi, ci, resp, resp14, dec14, status)
  do k = 1, nstep
    x(:, :, k) = transpose(xi(:, :, k))
    c(:, :, k) = transpose(ci(:, :, k))
  end do
end subroutine transient

!> x, years, change, status = spinup(dz, par, clay, tsoi, wsc, litter, dt, tol, max_years, x0,
!>     kinetics)
!> Backward-Euler spin-up with the ncyc forcing columns repeated every year (8760/ncyc h
!> each, sub-steps of about dt hours) until the largest relative pool change between
!> successive years is < tol.
subroutine spinup(nlay, ncyc, dz, par, clay, tsoi, wsc, litter, dt, tol, max_years, x0, kinetics, &
     x, years, change, status)
  use soc_kinds, only: SOC_OK
  use soc_mimics, only: mim_site, mim_setup, mim_spinup, &
       mim_npar, mim_npool, mim_nlitter
  implicit none
  integer(4), intent(in) :: nlay, ncyc, max_years, kinetics
  real(8), intent(in) :: dz(nlay), par(mim_npar), clay(nlay), tsoi(nlay, ncyc), wsc(nlay, ncyc)
  real(8), intent(in) :: litter(mim_nlitter), dt, tol, x0(nlay, mim_npool)
  real(8), intent(out) :: x(nlay, mim_npool), change
  integer(4), intent(out) :: years, status
  !f2py integer(4), intent(hide), depend(dz) :: nlay = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: ncyc = shape(tsoi, 1)
  !f2py threadsafe
  type(mim_site) :: s
  real(8) :: xi(mim_npool, nlay)
  integer :: y
  x = 0; years = 0; change = 0
  call mim_setup(nlay, dz, par, kinetics, clay, litter, s, status)
  if (status /= SOC_OK) return
  xi = transpose(x0)
  call mim_spinup(s, ncyc, tsoi, wsc, dt, tol, max_years, xi, y, change, status)
  years = y
  x = transpose(xi)
end subroutine spinup

!> c, status = c14_steady(dz, par, clay, tsoi, wsc, litter, x, fatm, kinetics)
!> Radiocarbon steady state (mg C cm-3 x fraction modern) for the carbon state x.
subroutine c14_steady(nlay, ntime, dz, par, clay, tsoi, wsc, litter, x, fatm, kinetics, c, status)
  use soc_kinds, only: SOC_OK
  use soc_mimics, only: mim_site, mim_setup, mim_c14_steady, &
       mim_npar, mim_npool, mim_nlitter
  implicit none
  integer(4), intent(in) :: nlay, ntime, kinetics
  real(8), intent(in) :: dz(nlay), par(mim_npar), clay(nlay), tsoi(nlay, ntime), wsc(nlay, ntime)
  real(8), intent(in) :: litter(mim_nlitter), x(nlay, mim_npool), fatm
  real(8), intent(out) :: c(nlay, mim_npool)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlay = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: ntime = shape(tsoi, 1)
  !f2py threadsafe
  type(mim_site) :: s
  real(8) :: ci(mim_npool, nlay)
  c = 0
  call mim_setup(nlay, dz, par, kinetics, clay, litter, s, status)
  if (status /= SOC_OK) return
  call mim_c14_steady(s, ntime, tsoi, wsc, transpose(x), fatm, ci, status)
  c = transpose(ci)
end subroutine c14_steady

!> x, status = initial_guess(dz, par, clay, tsoi, wsc, litter, kinetics, variant)
!> The solver's layer-by-layer starting state (diagnostics).
subroutine initial_guess(nlay, ntime, dz, par, clay, tsoi, wsc, litter, kinetics, variant, x, status)
  use soc_kinds, only: SOC_OK
  use soc_mimics, only: mim_site, mim_setup, mim_initial_guess, &
       mim_npar, mim_npool, mim_nlitter
  implicit none
  integer(4), intent(in) :: nlay, ntime, kinetics, variant
  real(8), intent(in) :: dz(nlay), par(mim_npar), clay(nlay), tsoi(nlay, ntime), wsc(nlay, ntime), litter(mim_nlitter)
  real(8), intent(out) :: x(nlay, mim_npool)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlay = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: ntime = shape(tsoi, 1)
  !f2py threadsafe
  type(mim_site) :: s
  real(8) :: xi(mim_npool, nlay)
  x = 0
  call mim_setup(nlay, dz, par, kinetics, clay, litter, s, status)
  if (status /= SOC_OK) return
  call mim_initial_guess(s, ntime, tsoi, wsc, variant, xi)
  x = transpose(xi)
end subroutine initial_guess
