!> Environmental rate modifiers (dimensionless), CLM5/CTSM style (spec §2.3).
!> Each scalar is a separate elemental function so it can be tested and written out.
module soc_envscalars
  use soc_kinds, only: dp, tfrz
  implicit none
  private
  public :: q10_scalar, century_tfunc, q10_century_norm, water_scalar_capped, depth_scalar

contains

  !> Q10 temperature scalar, reference 25 degC, with the frozen-soil branch:
  !> q10**((T - 298.15)/10) for T >= 273.15 K, else q10**(-2.5) * froz_q10**((T - 273.15)/10).
  elemental real(dp) function q10_scalar(t_k, q10, froz_q10) result(xit)
    real(dp), intent(in) :: t_k       !< soil temperature (K)
    real(dp), intent(in) :: q10       !< Q10 above freezing (-)
    real(dp), intent(in) :: froz_q10  !< Q10 below freezing (-)
    if (t_k >= tfrz) then
      xit = q10**((t_k - (tfrz + 25.0_dp)) / 10.0_dp)
    else
      xit = q10**(-2.5_dp) * froz_q10**((t_k - tfrz) / 10.0_dp)
    end if
  end function q10_scalar

  !> Century arctangent temperature function (Parton et al. 1987), t in degC.
  elemental real(dp) function century_tfunc(t_c) result(f)
    real(dp), intent(in) :: t_c       !< temperature (degC)
    real(dp), parameter :: pi = 3.14159265358979323846_dp
    f = 11.75_dp + (29.7_dp / pi) * atan(pi * 0.031_dp * (t_c - 15.4_dp))
  end function century_tfunc

  !> Factor that normalises a Q10 scalar to the Century temperature function at 15 degC
  !> (CTSM `normalize_q10_to_century_tfunc`): (catanf(15)/catanf(30)) / q10**((15-25)/10).
  elemental real(dp) function q10_century_norm(q10) result(f)
    real(dp), intent(in) :: q10
    f = (century_tfunc(15.0_dp) / century_tfunc(30.0_dp)) / q10**(-1.0_dp)
  end function q10_century_norm

  !> Water scalar as used by PRODA: CESM2 W_SCALAR times a scaling, capped at 1.
  elemental real(dp) function water_scalar_capped(w, w_scaling) result(xiw)
    real(dp), intent(in) :: w          !< CESM2 W_SCALAR (-)
    real(dp), intent(in) :: w_scaling  !< multiplier (-)
    xiw = min(1.0_dp, w * w_scaling)
  end function water_scalar_capped

  !> Depth scalar exp(-z/efolding).
  elemental real(dp) function depth_scalar(z, efolding) result(xid)
    real(dp), intent(in) :: z          !< node depth (m)
    real(dp), intent(in) :: efolding   !< e-folding depth (m), > 0
    xid = exp(-z / efolding)
  end function depth_scalar

end module soc_envscalars
