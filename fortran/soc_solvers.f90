!> Structured linear solvers for the kernels: tridiagonal and block-tridiagonal systems
!> arising from per-layer pool interactions coupled vertically by transport.
!>
!> Block-tridiagonal layout (n layers, nb pools per layer):
!>     lo(:,j) * x(:,j-1) + dblk(:,:,j) x(:,j) + up(:,j) * x(:,j+1) = rhs(:,j)
!> The off-diagonal blocks are diagonal (transport acts pool by pool), stored as vectors.
!> The diagonal blocks are factorised with partial pivoting. A pivot that is zero or
!> smaller than `rel_pivot_tol` times the scale of its row returns SOC_ERR_SINGULAR;
!> a non-finite solution returns SOC_ERR_NONFINITE. Nothing is clipped or patched.
module soc_solvers
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_SINGULAR, SOC_ERR_NONFINITE
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  implicit none
  private
  public :: tridiag_solve, tridiag3_solve, block_tridiag_solve, dense_lu_solve, &
       band3_solve_nopivot

  real(dp), parameter, public :: rel_pivot_tol = 1.0e-14_dp

contains

  !> Thomas algorithm without pivoting (stable for the diagonally dominant M-matrices of
  !> the kernels): tl(j) x(j-1) + td(j) x(j) + tu(j) x(j+1) = rhs(j).
  pure subroutine tridiag_solve(n, tl, td, tu, rhs, x, status)
    integer, intent(in) :: n
    real(dp), intent(in) :: tl(n), td(n), tu(n), rhs(n)
    real(dp), intent(out) :: x(n)
    integer(ip), intent(out) :: status
    real(dp) :: cp(n), piv
    integer :: j
    status = SOC_OK
    piv = td(1)
    if (.not. pivot_ok(piv, abs(td(1)) + abs(tu(1)))) then
      status = SOC_ERR_SINGULAR; x = 0.0_dp; return
    end if
    cp(1) = tu(1) / piv
    x(1) = rhs(1) / piv
    do j = 2, n
      piv = td(j) - tl(j) * cp(j - 1)
      if (.not. pivot_ok(piv, abs(tl(j)) + abs(td(j)) + abs(tu(j)))) then
        status = SOC_ERR_SINGULAR; x = 0.0_dp; return
      end if
      cp(j) = tu(j) / piv
      x(j) = (rhs(j) - tl(j) * x(j - 1)) / piv
    end do
    do j = n - 1, 1, -1
      x(j) = x(j) - cp(j) * x(j + 1)
    end do
    if (.not. all(ieee_is_finite(x))) status = SOC_ERR_NONFINITE
  end subroutine tridiag_solve

  !> Three tridiagonal systems with the same off-diagonals tl, tu and their own diagonals
  !> td(:, k), solved side by side (three independent dependency chains instead of one after
  !> the other): per system the operations of tridiag_solve in its order, hence bitwise its
  !> result. ok is false if any pivot test fails or any solution is not finite; x is then
  !> undefined and the caller solves the systems one by one with tridiag_solve for the status.
  pure subroutine tridiag3_solve(n, tl, td, tu, rhs, x, ok)
    integer, intent(in) :: n
    real(dp), intent(in) :: tl(n), td(n, 3), tu(n), rhs(n, 3)
    real(dp), intent(out) :: x(n, 3)
    logical, intent(out) :: ok
    real(dp) :: cp(3, n), y(3, n), piv(3)
    integer :: j, k
    ok = .false.
    do k = 1, 3
      piv(k) = td(1, k)
      if (.not. pivot_ok(piv(k), abs(td(1, k)) + abs(tu(1)))) return
      cp(k, 1) = tu(1) / piv(k)
      y(k, 1) = rhs(1, k) / piv(k)
    end do
    do j = 2, n
      do k = 1, 3
        piv(k) = td(j, k) - tl(j) * cp(k, j - 1)
        if (.not. pivot_ok(piv(k), abs(tl(j)) + abs(td(j, k)) + abs(tu(j)))) return
        cp(k, j) = tu(j) / piv(k)
        y(k, j) = (rhs(j, k) - tl(j) * y(k, j - 1)) / piv(k)
      end do
    end do
    do j = n - 1, 1, -1
      do k = 1, 3
        y(k, j) = y(k, j) - cp(k, j) * y(k, j + 1)
      end do
    end do
    x = transpose(y)
    ok = all(ieee_is_finite(y))
  end subroutine tridiag3_solve

  !> Block Thomas algorithm; see the module header for the layout.
  pure subroutine block_tridiag_solve(n, nb, lo, dblk, up, rhs, x, status)
    integer, intent(in) :: n, nb
    real(dp), intent(in) :: lo(nb, n), dblk(nb, nb, n), up(nb, n), rhs(nb, n)
    real(dp), intent(out) :: x(nb, n)
    integer(ip), intent(out) :: status
    real(dp) :: g(nb, nb, n)   ! D'_j^{-1} diag(up_j) (stored as full blocks)
    real(dp) :: y(nb, n), m(nb, nb), b(nb, nb + 1)
    integer :: j, k
    status = SOC_OK
    do j = 1, n
      m = dblk(:, :, j)
      b(:, nb + 1) = rhs(:, j)
      if (j > 1) then
        ! D'_j = D_j - diag(lo_j) G_{j-1};  y'_j = rhs_j - lo_j * y_{j-1}
        do k = 1, nb
          m(k, :) = m(k, :) - lo(k, j) * g(k, :, j - 1)
          b(k, nb + 1) = b(k, nb + 1) - lo(k, j) * y(k, j - 1)
        end do
      end if
      ! right-hand sides: diag(up_j) columns, then the load vector
      b(:, 1:nb) = 0.0_dp
      do k = 1, nb
        b(k, k) = up(k, j)
      end do
      call dense_lu_solve(nb, nb + 1, m, b, status, row_scale_of(j))
      if (status /= SOC_OK) then
        x = 0.0_dp; return
      end if
      g(:, :, j) = b(:, 1:nb)
      y(:, j) = b(:, nb + 1)
    end do
    x(:, n) = y(:, n)
    do j = n - 1, 1, -1
      x(:, j) = y(:, j) - matmul(g(:, :, j), x(:, j + 1))
    end do
    if (.not. all(ieee_is_finite(x))) status = SOC_ERR_NONFINITE
  contains
    pure function row_scale_of(jj) result(s)
      integer, intent(in) :: jj
      real(dp) :: s(nb)
      integer :: kk
      do kk = 1, nb
        s(kk) = sum(abs(dblk(kk, :, jj))) + abs(lo(kk, jj)) + abs(up(kk, jj))
      end do
    end function row_scale_of
  end subroutine block_tridiag_solve

  !> Banded Gaussian elimination without pivoting for kl = ku = 3, the CLM5 SOM system (3 pools
  !> per layer, transport between layers), a diagonally dominant M-matrix (stable without
  !> pivoting). Band storage: a(k, i) holds A(i, i + k) for -3 <= k <= 3; it is overwritten by
  !> the factors. `scale(i)` is the scale of row i for the relative pivot test (e.g. the sum of
  !> its absolute values). The band widths are known to the compiler, so the inner loops of
  !> the full-band rows are unrolled.
  pure subroutine band3_solve_nopivot(n, a, scale, rhs, x, status)
    integer, intent(in) :: n
    real(dp), intent(inout) :: a(-3:3, n)
    real(dp), intent(in) :: scale(n), rhs(n)
    real(dp), intent(out) :: x(n)
    integer(ip), intent(out) :: status
    integer, parameter :: kl = 3, ku = 3
    real(dp) :: fac
    integer :: i, r, k
    status = SOC_OK
    x = rhs
    do i = 1, n
      if (.not. pivot_ok(a(0, i), scale(i))) then
        status = SOC_ERR_SINGULAR; x = 0.0_dp; return
      end if
      if (i + kl <= n) then                 ! full band: constant trip counts
        do r = i + 1, i + kl
          fac = a(i - r, r) / a(0, i)
          if (fac == 0.0_dp) cycle
          do k = 1, ku
            a(i + k - r, r) = a(i + k - r, r) - fac * a(k, i)
          end do
          x(r) = x(r) - fac * x(i)
        end do
      else
        do r = i + 1, n
          fac = a(i - r, r) / a(0, i)
          if (fac == 0.0_dp) cycle
          do k = 1, n - i
            a(i + k - r, r) = a(i + k - r, r) - fac * a(k, i)
          end do
          x(r) = x(r) - fac * x(i)
        end do
      end if
    end do
    do i = n, max(1, n - ku + 1), -1
      do k = 1, n - i
        x(i) = x(i) - a(k, i) * x(i + k)
      end do
      x(i) = x(i) / a(0, i)
    end do
    do i = n - ku, 1, -1
      x(i) = ((x(i) - a(1, i) * x(i + 1)) - a(2, i) * x(i + 2)) - a(3, i) * x(i + 3)
      x(i) = x(i) / a(0, i)
    end do
    if (.not. all(ieee_is_finite(x))) status = SOC_ERR_NONFINITE
  end subroutine band3_solve_nopivot

  !> Gaussian elimination with partial pivoting on a small dense system a x = b
  !> with nrhs right-hand sides (overwritten by the solution).
  pure subroutine dense_lu_solve(n, nrhs, a, b, status, row_scale)
    integer, intent(in) :: n, nrhs
    real(dp), intent(inout) :: a(n, n)
    real(dp), intent(inout) :: b(n, nrhs)
    integer(ip), intent(out) :: status
    real(dp), intent(in), optional :: row_scale(n)   !< scale of each original row for the pivot test
    real(dp) :: scale(n), tmp(max(n, nrhs)), fac
    integer :: i, k, p
    status = SOC_OK
    if (present(row_scale)) then
      scale = row_scale
    else
      do i = 1, n
        scale(i) = sum(abs(a(i, :)))
      end do
    end if
    do k = 1, n
      p = k - 1 + maxloc(abs(a(k:n, k)), dim=1)
      if (p /= k) then
        tmp(1:n) = a(k, :); a(k, :) = a(p, :); a(p, :) = tmp(1:n)
        tmp(1:nrhs) = b(k, :); b(k, :) = b(p, :); b(p, :) = tmp(1:nrhs)
        fac = scale(k); scale(k) = scale(p); scale(p) = fac
      end if
      if (.not. pivot_ok(a(k, k), scale(k))) then
        status = SOC_ERR_SINGULAR; return
      end if
      do i = k + 1, n
        fac = a(i, k) / a(k, k)
        if (fac /= 0.0_dp) then
          a(i, k + 1:n) = a(i, k + 1:n) - fac * a(k, k + 1:n)
          b(i, :) = b(i, :) - fac * b(k, :)
        end if
      end do
    end do
    do k = n, 1, -1
      if (k < n) then
        do i = 1, nrhs
          b(k, i) = b(k, i) - dot_product(a(k, k + 1:n), b(k + 1:n, i))
        end do
      end if
      b(k, :) = b(k, :) / a(k, k)
    end do
  end subroutine dense_lu_solve

  pure logical function pivot_ok(piv, scale)
    real(dp), intent(in) :: piv, scale
    pivot_ok = ieee_is_finite(piv) .and. piv /= 0.0_dp .and. abs(piv) > rel_pivot_tol * scale
  end function pivot_ok

end module soc_solvers
