!> f2py boundary for the shared modules (pysoc._kernels.core). Plain real(8)/integer(4)
!> explicit-shape arguments only; no state, no I/O: every entry point is `!f2py threadsafe`
!> (releases the GIL).

!> dz, zisoi, zsoi = grid(kind, nlev): kind 1 = CLM5 20 layers, 2 = CLM4.5-style 10 layers.
subroutine grid(kind, nlev, dz, zisoi, zsoi, status)
  use soc_kinds, only: SOC_OK, SOC_ERR_SHAPE
  use soc_grid, only: grid_clm5_20, grid_clm45_10
  implicit none
  integer(4), intent(in) :: kind, nlev
  real(8), intent(out) :: dz(nlev), zisoi(nlev), zsoi(nlev)
  integer(4), intent(out) :: status
  !f2py threadsafe
  status = SOC_OK
  dz = 0; zisoi = 0; zsoi = 0
  if (kind == 1 .and. nlev == 20) then
    call grid_clm5_20(dz, zisoi, zsoi)
  else if (kind == 2 .and. nlev == 10) then
    call grid_clm45_10(dz, zisoi, zsoi)
  else
    status = SOC_ERR_SHAPE
  end if
end subroutine grid

!> codes = status_codes(): the status codes of soc_kinds, in order ok, shape, param,
!> forcing, singular, not_converged, invalid, nonfinite (tested against pysoc._status).
subroutine status_codes(codes)
  use soc_kinds
  implicit none
  integer(4), intent(out) :: codes(8)
  !f2py threadsafe
  codes = [SOC_OK, SOC_ERR_SHAPE, SOC_ERR_PARAM, SOC_ERR_FORCING, SOC_ERR_SINGULAR, &
       SOC_ERR_NOT_CONVERGED, SOC_ERR_INVALID, SOC_ERR_NONFINITE]
end subroutine status_codes

!> Transport operator (d-1) for one month: tl, td, tu = transport(dz, zisoi, zsoi, nbedrock,
!> alt, bio, cryo, adv) with diffusivities in m2 d-1 and advection in m d-1.
subroutine transport(nlev, dz, zisoi, zsoi, nbedrock, alt, bio, cryo, adv, tl, td, tu)
  use soc_transport, only: mixing_diffusivity, transport_operator
  implicit none
  integer(4), intent(in) :: nlev, nbedrock
  real(8), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev), alt, bio, cryo, adv
  real(8), intent(out) :: tl(nlev), td(nlev), tu(nlev)
  !f2py integer(4), intent(hide), depend(dz) :: nlev = len(dz)
  !f2py threadsafe
  real(8) :: d(nlev), f(nlev)
  call mixing_diffusivity(nlev, zisoi, nbedrock, alt, bio, cryo, adv, d, f)
  call transport_operator(nlev, dz, zisoi, zsoi, d, f, tl, td, tu)
end subroutine transport

!> frac = jackson_fraction(zisoi, beta, all_top): share of the column input per layer.
subroutine jackson(nlev, zisoi, beta, all_top, frac)
  use soc_vertprofile, only: jackson_fraction
  implicit none
  integer(4), intent(in) :: nlev, all_top
  real(8), intent(in) :: zisoi(nlev), beta
  real(8), intent(out) :: frac(nlev)
  !f2py integer(4), intent(hide), depend(zisoi) :: nlev = len(zisoi)
  !f2py threadsafe
  call jackson_fraction(nlev, zisoi, beta, all_top /= 0, frac)
end subroutine jackson

!> xit, xiw = decomposition_scalars(t_k, w, q10, froz_q10, w_scaling, normalize): the Q10
!> temperature scalar of soc_envscalars (times the Century normalisation when normalize /= 0)
!> and the capped water scalar, elementwise over the n values of t_k (K) and w (-). The
!> same functions set the decomposition rates of the CLM5 and COMPAS kernels.
subroutine decomposition_scalars(n, t_k, w, q10, froz_q10, w_scaling, normalize, xit, xiw)
  use soc_envscalars, only: q10_scalar, q10_century_norm, water_scalar_capped
  implicit none
  integer(4), intent(in) :: n, normalize
  real(8), intent(in) :: t_k(n), w(n), q10, froz_q10, w_scaling
  real(8), intent(out) :: xit(n), xiw(n)
  !f2py integer(4), intent(hide), depend(t_k) :: n = len(t_k)
  !f2py threadsafe
  xit = q10_scalar(t_k, q10, froz_q10)
  if (normalize /= 0) xit = xit * q10_century_norm(q10)
  xiw = water_scalar_capped(w, w_scaling)
end subroutine decomposition_scalars
