!> Vertical transport of soil carbon by diffusion (bio-/cryoturbation) and advection
!> (spec §2.6), discretised with Patankar's finite-volume scheme on a zero-flux column.
!>
!> The operator is returned as the tridiagonal matrix T (d-1) of
!>     dX/dt = ... - T X,      T(j,j-1) = tl(j), T(j,j) = td(j), T(j,j+1) = tu(j),
!> with no flux through the surface or the bottom, so that every column of diag(dz) T
!> sums to zero (mass conservation, spec M-3) for any diffusivity and advection.
module soc_transport
  use soc_kinds, only: dp
  implicit none
  private
  public :: mixing_diffusivity, transport_operator

  real(dp), parameter, public :: max_altdepth_cryoturbation = 2.0_dp  !< (m)
  real(dp), parameter, public :: max_depth_cryoturb = 3.0_dp          !< (m)
  real(dp), parameter :: dmin = 1.0e-30_dp                            !< floor on |D|

contains

  !> Diffusivity D_j (m2 d-1) at the bottom interface of each layer, and the advective
  !> velocity (m d-1, positive downward) at the same interfaces, for one month.
  !> Regime from the active-layer thickness alt = max(altmax, altmax_lastyear):
  !> cryoturbation if 0 < alt <= 2 m, bioturbation if alt > 2 m, otherwise none.
  pure subroutine mixing_diffusivity(nlev, zisoi, nbedrock, alt, bio, cryo, adv, d, f)
    integer, intent(in) :: nlev
    real(dp), intent(in) :: zisoi(nlev)  !< bottom interface depths (m)
    integer, intent(in) :: nbedrock      !< number of soil layers above bedrock (1..nlev)
    real(dp), intent(in) :: alt          !< active-layer thickness (m)
    real(dp), intent(in) :: bio          !< bioturbation diffusivity (m2 d-1)
    real(dp), intent(in) :: cryo         !< cryoturbation diffusivity (m2 d-1)
    real(dp), intent(in) :: adv          !< advection velocity (m d-1), bioturbation regime only
    real(dp), intent(out) :: d(nlev)     !< diffusivity at the bottom interface of layer j (m2 d-1)
    real(dp), intent(out) :: f(nlev)     !< advective velocity at the bottom interface of layer j (m d-1)
    real(dp) :: zlim
    integer :: j, jmax
    d = 0.0_dp
    f = 0.0_dp
    jmax = min(nbedrock + 1, nlev)
    if (alt > 0.0_dp .and. alt <= max_altdepth_cryoturbation) then
      if (nbedrock < nlev) then
        zlim = min(max_depth_cryoturb, zisoi(nbedrock + 1))
      else
        zlim = max_depth_cryoturb
      end if
      do j = 1, jmax
        if (zisoi(j) < alt) then
          d(j) = cryo
        else if (zlim > alt) then
          d(j) = max(cryo * (1.0_dp - (zisoi(j) - alt) / (zlim - alt)), 0.0_dp)
        end if
      end do
    else if (alt > 0.0_dp) then
      d(1:jmax) = bio
      ! advection across interfaces that have soil on both sides
      do j = 1, min(nbedrock, nlev) - 1
        f(j) = adv
      end do
    end if
    where (abs(d) < dmin) d = dmin
  end subroutine mixing_diffusivity

  !> Patankar tridiagonal operator T (d-1) for one month, zero flux at top and bottom.
  pure subroutine transport_operator(nlev, dz, zisoi, zsoi, d, f, tl, td, tu)
    integer, intent(in) :: nlev
    real(dp), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)  !< grid (m)
    real(dp), intent(in) :: d(nlev)    !< diffusivity at bottom interfaces (m2 d-1)
    real(dp), intent(in) :: f(nlev)    !< advective velocity at bottom interfaces (m d-1, down > 0)
    real(dp), intent(out) :: tl(nlev)  !< T(j,j-1) (d-1); tl(1) = 0
    real(dp), intent(out) :: td(nlev)  !< T(j,j)   (d-1)
    real(dp), intent(out) :: tu(nlev)  !< T(j,j+1) (d-1); tu(nlev) = 0
    real(dp) :: w, dint, dnode, cdiff, pe
    real(dp) :: out_down(nlev), out_up(nlev)  ! coefficients of X_j leaving through bottom / top
    real(dp) :: in_from_above(nlev), in_from_below(nlev)
    integer :: j
    out_down = 0.0_dp; out_up = 0.0_dp
    in_from_above = 0.0_dp; in_from_below = 0.0_dp
    ! one interface between layer j and j+1 at a time: its exchange coefficients
    ! enter both adjacent rows, which makes the scheme conservative by construction
    do j = 1, nlev - 1
      dnode = zsoi(j + 1) - zsoi(j)                       ! node distance (m)
      w = (zsoi(j + 1) - zisoi(j)) / dnode                ! interface weight
      dint = 1.0_dp / ((1.0_dp - w) / d(j) + w / d(j + 1)) ! harmonic mean (m2 d-1)
      cdiff = dint / dnode                                 ! (m d-1)
      if (f(j) /= 0.0_dp) then
        pe = f(j) / cdiff
        cdiff = cdiff * max(0.0_dp, (1.0_dp - 0.1_dp * abs(pe))**5)
      end if
      ! flux through the interface (m d-1 times concentration):
      !   (cdiff + max(f,0)) X_j  -  (cdiff + max(-f,0)) X_{j+1}
      out_down(j) = cdiff + max(f(j), 0.0_dp)
      in_from_below(j) = cdiff + max(-f(j), 0.0_dp)
      out_up(j + 1) = in_from_below(j)
      in_from_above(j + 1) = out_down(j)
    end do
    do j = 1, nlev
      td(j) = (out_down(j) + out_up(j)) / dz(j)
      tl(j) = -in_from_above(j) / dz(j)
      tu(j) = -in_from_below(j) / dz(j)
    end do
    tl(1) = 0.0_dp
    tu(nlev) = 0.0_dp
  end subroutine transport_operator

end module soc_transport
