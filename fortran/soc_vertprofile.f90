!> Vertical allocation of litter inputs (spec §2.7): the Jackson et al. (1996) beta profile.
module soc_vertprofile
  use soc_kinds, only: dp
  implicit none
  private
  public :: jackson_fraction

contains

  !> Fraction of the column input received by each layer:
  !> frac_j = (beta**(100 zisoi_{j-1}) - beta**(100 zisoi_j)) / sum_i(...), depths in cm in the exponent.
  !> When `all_top` is true (no active layer last year) everything goes into layer 1.
  pure subroutine jackson_fraction(nlev, zisoi, beta, all_top, frac)
    integer, intent(in) :: nlev
    real(dp), intent(in) :: zisoi(nlev)  !< bottom interface depths (m)
    real(dp), intent(in) :: beta         !< Jackson beta, 0 < beta < 1 (-)
    logical, intent(in) :: all_top
    real(dp), intent(out) :: frac(nlev)  !< fraction of the column input per layer (-), sums to 1
    real(dp) :: above, below, lnb, total
    integer :: j
    frac = 0.0_dp
    if (all_top) then
      frac(1) = 1.0_dp
      return
    end if
    lnb = log(beta) * 100.0_dp
    above = 1.0_dp
    do j = 1, nlev
      below = exp(lnb * zisoi(j))
      frac(j) = above - below
      above = below
    end do
    total = sum(frac)
    if (total > 0.0_dp) then
      frac = frac / total
    else
      frac = 0.0_dp
      frac(1) = 1.0_dp
    end if
  end subroutine jackson_fraction

end module soc_vertprofile
