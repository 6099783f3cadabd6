!> f2py boundary of the CLM5 kernel (pysoc._kernels.clm5). Batched over parameter
!> vectors; each vector is evaluated with the forcing of site site_index(i) (1-based).
!> Pure loops, no state: every entry point is `!f2py threadsafe` (releases the GIL). Arrays
!> are Fortran-ordered, site/set last. Array sizes are the constants of soc_clm5 (f2py reads
!> them from fortran/soc_clm5.f90: a parameter vector of another length is a ValueError);
!> litin has 4 rows (CWD, L1, L2, L3 inputs). The per-site forcing check and the mapping of
!> batch members to sites are shared with api_compas.f90 (soc_batch).

!> x, input_col, rh_col, status = steady_batch(dz, zisoi, zsoi, par, site_index, tsoi, wscalar,
!>     oscalar, fpi, litin, altmax, altmax_ly, nbedrock, normalize_q10, adv)
subroutine steady_batch(nlev, nmon, nset, nsite, dz, zisoi, zsoi, par, site_index, &
     tsoi, wscalar, oscalar, fpi, litin, altmax, altmax_ly, nbedrock, normalize_q10, adv, &
     x, input_col, rh_col, status)
  use soc_kinds, only: SOC_OK
  use soc_clm5, only: clm5_steady_state, clm5_npar, clm5_npool
  use soc_batch, only: layered_site_status, member_status
  implicit none
  integer(4), intent(in) :: nlev, nmon, nset, nsite
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)
  real(8), intent(in) :: par(clm5_npar, nset)
  integer(4), intent(in) :: site_index(nset)
  real(8), intent(in) :: tsoi(nlev, nmon, nsite), wscalar(nlev, nmon, nsite)
  real(8), intent(in) :: oscalar(nlev, nmon, nsite), fpi(nlev, nmon, nsite)
  real(8), intent(in) :: litin(4, nmon, nsite), altmax(nmon, nsite), altmax_ly(nmon, nsite)
  integer(4), intent(in) :: nbedrock(nsite), normalize_q10
  real(8), intent(in) :: adv
  real(8), intent(out) :: x(nlev, clm5_npool, nset), input_col(nset), rh_col(nset)
  integer(4), intent(out) :: status(nset)
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
      x(:, :, i) = 0; input_col(i) = 0; rh_col(i) = 0
      cycle
    end if
    call clm5_steady_state(nlev, nmon, dz, zisoi, zsoi, par(:, i), normalize_q10 /= 0, adv, &
         tsoi(:, :, s), wscalar(:, :, s), oscalar(:, :, s), fpi(:, :, s), litin(:, :, s), &
         altmax(:, s), altmax_ly(:, s), nbedrock(s), x(:, :, i), input_col(i), rh_col(i), status(i))
  end do
end subroutine steady_batch

!> x, rh, status = transient(dz, zisoi, zsoi, par, tsoi, wscalar, oscalar, fpi, litin, altmax,
!>     altmax_ly, nbedrock, days, nsub, x0, normalize_q10, adv)
subroutine transient(nlev, nstep, dz, zisoi, zsoi, par, tsoi, wscalar, oscalar, fpi, &
     litin, altmax, altmax_ly, nbedrock, days, nsub, x0, normalize_q10, adv, x, rh, status)
  use soc_clm5, only: clm5_transient, clm5_npar, clm5_npool
  implicit none
  integer(4), intent(in) :: nlev, nstep
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev), par(clm5_npar)
  real(8), intent(in) :: tsoi(nlev, nstep), wscalar(nlev, nstep), oscalar(nlev, nstep), fpi(nlev, nstep)
  real(8), intent(in) :: litin(4, nstep), altmax(nstep), altmax_ly(nstep), days(nstep)
  integer(4), intent(in) :: nbedrock, nsub, normalize_q10
  real(8), intent(in) :: x0(nlev, clm5_npool), adv
  real(8), intent(out) :: x(nlev, clm5_npool, nstep), rh(nlev, clm5_npool, nstep)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: nstep = shape(tsoi, 1)
  !f2py threadsafe
  call clm5_transient(nlev, nstep, dz, zisoi, zsoi, par, normalize_q10 /= 0, adv, tsoi, wscalar, &
       oscalar, fpi, litin, altmax, altmax_ly, nbedrock, days, nsub, x0, x, rh, status)
end subroutine transient

!> kk, tl, td, tu, prof, status = operators(dz, zisoi, zsoi, par, tsoi, wscalar, oscalar, fpi,
!>     altmax, altmax_ly, nbedrock, normalize_q10, adv)
!> Time-mean decomposition rates kk (d-1), transport (d-1) and input profile (m-1):
!> the pieces of the matrix equation, for diagnostics and the dense reference solver.
subroutine operators(nlev, nmon, dz, zisoi, zsoi, par, tsoi, wscalar, oscalar, fpi, altmax, &
     altmax_ly, nbedrock, normalize_q10, adv, kk, tl, td, tu, prof, status)
  use soc_kinds, only: SOC_OK
  use soc_clm5, only: clm5_rates, clm5_transport, clm5_input_profile, clm5_check_params, &
       clm5_npar, clm5_npool, i_beta
  implicit none
  integer(4), intent(in) :: nlev, nmon, nbedrock, normalize_q10
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev), par(clm5_npar), adv
  real(8), intent(in) :: tsoi(nlev, nmon), wscalar(nlev, nmon), oscalar(nlev, nmon), fpi(nlev, nmon)
  real(8), intent(in) :: altmax(nmon), altmax_ly(nmon)
  real(8), intent(out) :: kk(nlev, clm5_npool), tl(nlev), td(nlev), tu(nlev), prof(nlev)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: nmon = shape(tsoi, 1)
  !f2py threadsafe
  status = clm5_check_params(par)
  kk = 0; tl = 0; td = 0; tu = 0; prof = 0
  if (status /= SOC_OK) return
  call clm5_rates(nlev, nmon, zsoi, par, normalize_q10 /= 0, tsoi, wscalar, oscalar, fpi, kk)
  call clm5_transport(nlev, nmon, dz, zisoi, zsoi, par, adv, nbedrock, altmax, altmax_ly, tl, td, tu)
  call clm5_input_profile(nlev, dz, zisoi, par(i_beta), maxval(altmax_ly) <= 0.0d0, prof)
end subroutine operators
