!> Shared pieces of the batched f2py entry points (fortran/api_*.f90) of the layered kernels
!> (CLM5, COMPAS): the forcing of every site checked once, each batch member mapped to its
!> site. Pure, no state.
module soc_batch
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_SHAPE
  use soc_clm5, only: clm5_check_forcing
  implicit none
  private
  public :: layered_site_status, member_status

contains

  !> Status of the forcing of every site (clm5_check_forcing: the checks CLM5 and COMPAS
  !> share), computed once per site rather than once per parameter vector.
  pure subroutine layered_site_status(nlev, nmon, nsite, tsoi, wscalar, oscalar, fpi, litin, &
       altmax, altmax_ly, nbedrock, site_status)
    integer, intent(in) :: nlev, nmon, nsite
    real(dp), intent(in) :: tsoi(nlev, nmon, nsite), wscalar(nlev, nmon, nsite)
    real(dp), intent(in) :: oscalar(nlev, nmon, nsite), fpi(nlev, nmon, nsite)
    real(dp), intent(in) :: litin(4, nmon, nsite), altmax(nmon, nsite), altmax_ly(nmon, nsite)
    integer(ip), intent(in) :: nbedrock(nsite)
    integer(ip), intent(out) :: site_status(nsite)
    integer :: s
    do s = 1, nsite
      site_status(s) = clm5_check_forcing(nlev, nmon, tsoi(:, :, s), wscalar(:, :, s), &
           oscalar(:, :, s), fpi(:, :, s), litin(:, :, s), altmax(:, s), altmax_ly(:, s), nbedrock(s))
    end do
  end subroutine layered_site_status

  !> Status of a batch member run with the forcing of site s (1-based): SOC_ERR_SHAPE when s
  !> is not a site, else the site's forcing status (SOC_OK: go ahead).
  pure integer(ip) function member_status(s, nsite, site_status) result(status)
    integer, intent(in) :: s, nsite
    integer(ip), intent(in) :: site_status(nsite)
    if (s < 1 .or. s > nsite) then
      status = SOC_ERR_SHAPE
    else
      status = site_status(s)
    end if
  end function member_status

end module soc_batch
