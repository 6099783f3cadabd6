!> Vertical decomposition grids (spec models.md §2.2).
!>
!> Notation: dz(j) layer thickness (m), zisoi(j) depth of the bottom interface of
!> layer j (m; zisoi(0) = 0 is implicit), zsoi(j) node depth (m).
module soc_grid
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_SHAPE
  implicit none
  private
  public :: grid_clm5_20, grid_clm45_10, grid_uniform, grid_from_thickness

  integer(ip), parameter, public :: GRID_CLM5 = 1    !< CLM5 20-layer grid to 8.60 m
  integer(ip), parameter, public :: GRID_CLM45 = 2   !< CLM4.5-style 10-layer grid to 3.80 m

contains

  !> CLM5 20-layer decomposition grid (default; PRODA `matrix_fun.m` grid).
  pure subroutine grid_clm5_20(dz, zisoi, zsoi)
    real(dp), intent(out) :: dz(20)     !< layer thickness (m)
    real(dp), intent(out) :: zisoi(20)  !< bottom interface depth (m)
    real(dp), intent(out) :: zsoi(20)   !< node depth (m)
    integer :: j
    do j = 1, 4
      dz(j) = 0.02_dp * j
    end do
    do j = 5, 13
      dz(j) = dz(4) + 0.04_dp * (j - 4)
    end do
    do j = 14, 20
      dz(j) = dz(13) + 0.10_dp * (j - 13)
    end do
    call interfaces_and_nodes(dz, zisoi, zsoi)
  end subroutine grid_clm5_20

  !> CLM4.5-style exponential 10-layer grid to 3.80 m. Node depths are not
  !> layer midpoints: zsoi(j) = 0.025 (exp(0.5 (j - 0.5)) - 1).
  pure subroutine grid_clm45_10(dz, zisoi, zsoi)
    real(dp), intent(out) :: dz(10), zisoi(10), zsoi(10)   !< (m)
    real(dp) :: znode(11)
    integer :: j
    do j = 1, 11
      znode(j) = 0.025_dp * (exp(0.5_dp * (j - 0.5_dp)) - 1.0_dp)
    end do
    do j = 1, 10
      zisoi(j) = 0.5_dp * (znode(j) + znode(j + 1))
    end do
    dz(1) = zisoi(1)
    do j = 2, 10
      dz(j) = zisoi(j) - zisoi(j - 1)
    end do
    zsoi = znode(1:10)
  end subroutine grid_clm45_10

  !> n layers of equal thickness h (m), nodes at layer midpoints.
  pure subroutine grid_uniform(n, h, dz, zisoi, zsoi)
    integer(ip), intent(in) :: n
    real(dp), intent(in) :: h           !< layer thickness (m)
    real(dp), intent(out) :: dz(n), zisoi(n), zsoi(n)
    dz = h
    call interfaces_and_nodes(dz, zisoi, zsoi)
  end subroutine grid_uniform

  !> Interfaces and midpoint nodes from arbitrary positive thicknesses.
  pure subroutine grid_from_thickness(n, dz, zisoi, zsoi, status)
    integer(ip), intent(in) :: n
    real(dp), intent(in) :: dz(n)       !< (m)
    real(dp), intent(out) :: zisoi(n), zsoi(n)
    integer(ip), intent(out) :: status
    status = SOC_OK
    if (n < 1 .or. any(.not. (dz > 0.0_dp))) then
      status = SOC_ERR_SHAPE
      zisoi = 0.0_dp; zsoi = 0.0_dp
      return
    end if
    call interfaces_and_nodes(dz, zisoi, zsoi)
  end subroutine grid_from_thickness

  pure subroutine interfaces_and_nodes(dz, zisoi, zsoi)
    real(dp), intent(in) :: dz(:)
    real(dp), intent(out) :: zisoi(:), zsoi(:)
    integer :: j
    zisoi(1) = dz(1)
    zsoi(1) = 0.5_dp * dz(1)
    do j = 2, size(dz)
      zisoi(j) = zisoi(j - 1) + dz(j)
      zsoi(j) = 0.5_dp * (zisoi(j - 1) + zisoi(j))
    end do
  end subroutine interfaces_and_nodes

end module soc_grid
