!> f2py boundary of the COMPAS kernel (pysoc._kernels.compas). Batched over parameter
!> vectors; each vector is evaluated with the forcing of site site_index(i) (1-based).
!> Pure loops, no state: every entry point is `!f2py threadsafe` (releases the GIL). Arrays
!> are Fortran-ordered, site/set last. Array sizes are the constants of soc_compas (f2py reads
!> them from fortran/soc_compas.f90: a parameter vector of another length is a ValueError);
!> litin and the litter rates kk have 4 rows/columns (CWD, L1, L2, L3), the soil pools of
!> one layer are 4 (DOC, MIC, ENZ, SOC). Same forcing as api_clm5.f90, whose per-site check
!> and member-to-site mapping it shares (soc_batch). The one-layer soil step probe of the tests
!> is in api_compas_probes.f90.
!> Logical options are integer(4) (0 = false); xi_mode 0 = product of monthly means
!> (published COMPAS), 1 = mean of monthly products.

!> x, input_col, rh_col, reason, status = steady_batch(dz, zisoi, zsoi, par, site_index, tsoi,
!>     wscalar, oscalar, fpi, litin, altmax, altmax_ly, nbedrock, efolding, xi_mode, adv, min_ratio)
subroutine steady_batch(nlev, nmon, nset, nsite, dz, zisoi, zsoi, par, site_index, &
     tsoi, wscalar, oscalar, fpi, litin, altmax, altmax_ly, nbedrock, efolding, xi_mode, adv, &
     min_ratio, x, input_col, rh_col, reason, status)
  use soc_kinds, only: SOC_OK
  use soc_compas, only: compas_steady_state, compas_npar, compas_npool
  use soc_batch, only: layered_site_status, member_status
  implicit none
  integer(4), intent(in) :: nlev, nmon, nset, nsite
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)
  real(8), intent(in) :: par(compas_npar, nset)
  integer(4), intent(in) :: site_index(nset)
  real(8), intent(in) :: tsoi(nlev, nmon, nsite), wscalar(nlev, nmon, nsite)
  real(8), intent(in) :: oscalar(nlev, nmon, nsite), fpi(nlev, nmon, nsite)
  real(8), intent(in) :: litin(4, nmon, nsite), altmax(nmon, nsite), altmax_ly(nmon, nsite)
  integer(4), intent(in) :: nbedrock(nsite), xi_mode
  real(8), intent(in) :: efolding, adv, min_ratio
  real(8), intent(out) :: x(nlev, compas_npool, nset), input_col(nset), rh_col(nset)
  integer(4), intent(out) :: reason(nset), status(nset)
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: nmon = shape(tsoi, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: nsite = shape(tsoi, 2)
  !f2py threadsafe
  integer :: i, s
  integer(4) :: site_status(nsite)
  call layered_site_status(nlev, nmon, nsite, tsoi, wscalar, oscalar, fpi, litin, altmax, &
       altmax_ly, nbedrock, site_status)
  do i = 1, nset
    s = site_index(i)
    status(i) = member_status(s, nsite, site_status)
    if (status(i) /= SOC_OK) then
      reason(i) = 0; x(:, :, i) = 0; input_col(i) = 0; rh_col(i) = 0
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
subroutine transient(nlev, nstep, dz, zisoi, zsoi, par, tsoi, wscalar, oscalar, fpi, &
     litin, altmax, altmax_ly, nbedrock, days, nsub, x0, efolding, adv, x, rh, status)
  use soc_compas, only: compas_transient, compas_npar, compas_npool
  implicit none
  integer(4), intent(in) :: nlev, nstep
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev), par(compas_npar)
  real(8), intent(in) :: tsoi(nlev, nstep), wscalar(nlev, nstep), oscalar(nlev, nstep), fpi(nlev, nstep)
  real(8), intent(in) :: litin(4, nstep), altmax(nstep), altmax_ly(nstep), days(nstep)
  integer(4), intent(in) :: nbedrock, nsub
  real(8), intent(in) :: x0(nlev, compas_npool), efolding, adv
  real(8), intent(out) :: x(nlev, compas_npool, nstep), rh(nlev, compas_npool, nstep)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: nstep = shape(tsoi, 1)
  !f2py threadsafe
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
  use soc_compas, only: compas_operators, compas_check_params, compas_npar
  implicit none
  integer(4), intent(in) :: nlev, nmon, nbedrock, xi_mode
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev), par(compas_npar), efolding, adv
  real(8), intent(in) :: tsoi(nlev, nmon), wscalar(nlev, nmon), oscalar(nlev, nmon), fpi(nlev, nmon)
  real(8), intent(in) :: altmax(nmon), altmax_ly(nmon)
  real(8), intent(out) :: xi(nlev), xil(nlev), kk(nlev, 4), tl(nlev), td(nlev), tu(nlev), prof(nlev)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: nmon = shape(tsoi, 1)
  !f2py threadsafe
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
  use soc_compas, only: compas_fluxes, compas_npar, compas_npool, compas_nflux
  implicit none
  integer(4), intent(in) :: nlev
  real(8), intent(in) :: par(compas_npar), kk(nlev, 4), xi(nlev), x(nlev, compas_npool)
  real(8), intent(out) :: flux(nlev, compas_nflux)
  !f2py integer(4), intent(hide), depend(xi) :: nlev = len(xi)
  !f2py threadsafe
  call compas_fluxes(nlev, par, kk, xi, x, flux)
end subroutine fluxes

!> codes = reason_codes(): ok, negative_pool, low_total_to_mic_ratio, no_finite_soc,
!> no_finite_doc, singular_litter_solve (tested against pysoc.models.compas.REASONS).
subroutine reason_codes(codes)
  use soc_compas
  implicit none
  integer(4), intent(out) :: codes(6)
  !f2py threadsafe
  codes = [COMPAS_REASON_OK, COMPAS_REASON_NEGATIVE_POOL, COMPAS_REASON_LOW_RATIO, &
       COMPAS_REASON_NO_FINITE_SOC, COMPAS_REASON_NO_FINITE_DOC, COMPAS_REASON_SINGULAR_LITTER]
end subroutine reason_codes
