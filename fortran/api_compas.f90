!> f2py boundary of the COMPAS kernel (pysoc._kernels.compas). Batched over parameter
!> vectors; each vector is evaluated with the forcing of site site_index(i) (1-based).
!> Pure loops, no state (threadsafe). Arrays are Fortran-ordered, site/set last.
!> Logical options are integer(4) (0 = false); xi_mode 0 = product of monthly means
!> (published COMPAS), 1 = mean of monthly products.

!> x, input_col, rh_col, reason, status = steady_batch(dz, zisoi, zsoi, par, site_index, tsoi,
!>     wscalar, oscalar, fpi, litin, altmax, altmax_ly, nbedrock, efolding, xi_mode, adv, min_ratio)
subroutine steady_batch(nlev, nmon, npar, nset, nsite, dz, zisoi, zsoi, par, site_index, &
     tsoi, wscalar, oscalar, fpi, litin, altmax, altmax_ly, nbedrock, efolding, xi_mode, adv, &
     min_ratio, x, input_col, rh_col, reason, status)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE
  use soc_clm5, only: clm5_check_forcing
  use soc_compas, only: compas_steady_state, compas_npar
  implicit none
  integer(4), intent(in) :: nlev, nmon, npar, nset, nsite
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)
  real(8), intent(in) :: par(npar, nset)
  integer(4), intent(in) :: site_index(nset)
  real(8), intent(in) :: tsoi(nlev, nmon, nsite), wscalar(nlev, nmon, nsite)
  real(8), intent(in) :: oscalar(nlev, nmon, nsite), fpi(nlev, nmon, nsite)
  real(8), intent(in) :: litin(4, nmon, nsite), altmax(nmon, nsite), altmax_ly(nmon, nsite)
  integer(4), intent(in) :: nbedrock(nsite), xi_mode
  real(8), intent(in) :: efolding, adv, min_ratio
  real(8), intent(out) :: x(nlev, 8, nset), input_col(nset), rh_col(nset)
  integer(4), intent(out) :: reason(nset), status(nset)
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py integer(4), intent(hide), depend(par) :: npar = shape(par, 0)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: nmon = shape(tsoi, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: nsite = shape(tsoi, 2)
  !f2py threadsafe
  integer :: i, s
  integer(4) :: site_status(nsite)
  do s = 1, nsite     ! forcing checked once per site, not once per parameter vector
    site_status(s) = clm5_check_forcing(nlev, nmon, tsoi(:, :, s), wscalar(:, :, s), oscalar(:, :, s), &
         fpi(:, :, s), litin(:, :, s), altmax(:, s), altmax_ly(:, s), nbedrock(s))
  end do
  do i = 1, nset
    s = site_index(i)
    if (npar /= compas_npar .or. s < 1 .or. s > nsite) then
      status(i) = SOC_ERR_SHAPE; reason(i) = 0; x(:, :, i) = 0; input_col(i) = 0; rh_col(i) = 0
      cycle
    end if
    if (site_status(s) /= SOC_OK) then
      status(i) = site_status(s); reason(i) = 0; x(:, :, i) = 0; input_col(i) = 0; rh_col(i) = 0
      cycle
    end if
    call compas_steady_state(nlev, nmon, dz, zisoi, zsoi, par(:, i), efolding, xi_mode, adv, min_ratio, &
         tsoi(:, :, s), wscalar(:, :, s), oscalar(:, :, s), fpi(:, :, s), litin(:, :, s), &
         altmax(:, s), altmax_ly(:, s), nbedrock(s), x(:, :, i), input_col(i), rh_col(i), reason(i), &
         status(i))
  end do
end subroutine steady_batch

!> x, rh, status = transient(dz, zisoi, zsoi, par, tsoi, wscalar, oscalar, fpi, litin, altmax,
!>     altmax_ly, nbedrock, days, nsub, x0, efolding, adv)
subroutine transient(nlev, nstep, npar, dz, zisoi, zsoi, par, tsoi, wscalar, oscalar, fpi, &
     litin, altmax, altmax_ly, nbedrock, days, nsub, x0, efolding, adv, x, rh, status)
  use soc_kinds, only: SOC_ERR_SHAPE
  use soc_compas, only: compas_transient, compas_npar
  implicit none
  integer(4), intent(in) :: nlev, nstep, npar
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev), par(npar)
  real(8), intent(in) :: tsoi(nlev, nstep), wscalar(nlev, nstep), oscalar(nlev, nstep), fpi(nlev, nstep)
  real(8), intent(in) :: litin(4, nstep), altmax(nstep), altmax_ly(nstep), days(nstep)
  integer(4), intent(in) :: nbedrock, nsub
  real(8), intent(in) :: x0(nlev, 8), efolding, adv
  real(8), intent(out) :: x(nlev, 8, nstep), rh(nlev, 8, nstep)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py integer(4), intent(hide), depend(par) :: npar = len(par)
  !f2py integer(4), intent(hide), depend(tsoi) :: nstep = shape(tsoi, 1)
  !f2py threadsafe
  if (npar /= compas_npar) then
    status = SOC_ERR_SHAPE; x = 0; rh = 0
    return
  end if
  call compas_transient(nlev, nstep, dz, zisoi, zsoi, par, efolding, adv, tsoi, wscalar, oscalar, &
       fpi, litin, altmax, altmax_ly, nbedrock, days, nsub, x0, x, rh, status)
end subroutine transient

!> xi, xil, kk, tl, td, tu, prof, status = operators(dz, zisoi, zsoi, par, tsoi, wscalar, oscalar,
!>     fpi, altmax, altmax_ly, nbedrock, efolding, xi_mode, adv)
!> Time-mean scalars xi (soil pools, CWD) and xil (L1..L3), litter rates kk (d-1) of CWD, L1,
!> L2, L3, transport (d-1) and input profile (m-1): the pieces of the steady-state equations.
subroutine operators(nlev, nmon, dz, zisoi, zsoi, par, tsoi, wscalar, oscalar, fpi, altmax, &
     altmax_ly, nbedrock, efolding, xi_mode, adv, xi, xil, kk, tl, td, tu, prof, status)
  use soc_kinds, only: SOC_OK
  use soc_compas, only: compas_operators, compas_check_params
  implicit none
  integer(4), intent(in) :: nlev, nmon, nbedrock, xi_mode
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev), par(23), efolding, adv
  real(8), intent(in) :: tsoi(nlev, nmon), wscalar(nlev, nmon), oscalar(nlev, nmon), fpi(nlev, nmon)
  real(8), intent(in) :: altmax(nmon), altmax_ly(nmon)
  real(8), intent(out) :: xi(nlev), xil(nlev), kk(nlev, 4), tl(nlev), td(nlev), tu(nlev), prof(nlev)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: nmon = shape(tsoi, 1)
  status = compas_check_params(par, efolding)
  xi = 0; xil = 0; kk = 0; tl = 0; td = 0; tu = 0; prof = 0
  if (status /= SOC_OK) return
  call compas_operators(nlev, nmon, dz, zisoi, zsoi, par, efolding, xi_mode, adv, tsoi, wscalar, &
       oscalar, fpi, altmax, altmax_ly, nbedrock, xi, xil, kk, tl, td, tu, prof)
end subroutine operators

!> flux = fluxes(par, kk, xi, x): every carbon flux per layer (g C m-3 d-1) of state x
!> (nlev, 8) under litter rates kk (nlev, 4) and soil scalar xi (nlev); columns: CWD, L1, L2,
!> L3 decomposition, I_doc, I_mic, I_soc, DOC uptake U, depolymerisation D, microbial death,
!> enzyme production, enzyme turnover, respiration of the L1, L2, L3 pathways and of DOC
!> uptake, microbial uptake of litter carbon.
subroutine fluxes(nlev, par, kk, xi, x, flux)
  use soc_compas, only: compas_fluxes
  implicit none
  integer(4), intent(in) :: nlev
  real(8), intent(in) :: par(23), kk(nlev, 4), xi(nlev), x(nlev, 8)
  real(8), intent(out) :: flux(nlev, 17)
  !f2py integer(4), intent(hide), depend(xi) :: nlev = len(xi)
  call compas_fluxes(nlev, par, kk, xi, x, flux)
end subroutine fluxes

!> y, uptake, ok = soil_step(par, xi, dt, i_doc, i_mic, i_soc, yold): one backward-Euler step
!> of the soil pools (DOC, MIC, ENZ, SOC) of one layer (for tests and diagnostics).
subroutine soil_step(par, xi, dt, i_doc, i_mic, i_soc, yold, y, uptake, ok)
  use soc_compas, only: compas_soil_step
  implicit none
  real(8), intent(in) :: par(23), xi, dt, i_doc, i_mic, i_soc, yold(4)
  real(8), intent(out) :: y(4), uptake
  integer(4), intent(out) :: ok
  logical :: lok
  call compas_soil_step(par, xi, dt, i_doc, i_mic, i_soc, yold, y, uptake, lok)
  ok = merge(1, 0, lok)
end subroutine soil_step

!> codes = reason_codes(): ok, negative_pool, low_total_to_mic_ratio, no_finite_soc,
!> no_finite_doc, singular_litter_solve (tested against pysoc.models.compas.REASONS).
subroutine reason_codes(codes)
  use soc_compas
  implicit none
  integer(4), intent(out) :: codes(6)
  codes = [COMPAS_REASON_OK, COMPAS_REASON_NEGATIVE_POOL, COMPAS_REASON_LOW_RATIO, &
       COMPAS_REASON_NO_FINITE_SOC, COMPAS_REASON_NO_FINITE_DOC, COMPAS_REASON_SINGULAR_LITTER]
end subroutine reason_codes
