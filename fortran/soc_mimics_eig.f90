!> Eigenvalues of a small dense real matrix, for the stability test of MIMICS steady
!> states (spec models.md §4.8: a root is accepted only if every eigenvalue of the
!> Jacobian has a negative real part).
!>
!> Textbook algorithm (Golub & Van Loan, Matrix Computations, 4th ed., §7.4-7.5):
!> diagonal balancing by powers of 2, Householder reduction to upper Hessenberg form,
!> then the implicit Francis double-shift QR iteration with deflation on small
!> subdiagonal entries, eigenvalues only (no vectors). Pure, no module state.
module soc_mimics_eig
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_NOT_CONVERGED, SOC_ERR_NONFINITE
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  implicit none
  private
  public :: real_eigenvalues, max_real_eigenvalue

contains

  !> Largest real part of the eigenvalues of a(n,n) (a is not modified).
  pure subroutine max_real_eigenvalue(n, a, maxre, status)
    integer, intent(in) :: n
    real(dp), intent(in) :: a(n, n)
    real(dp), intent(out) :: maxre
    integer(ip), intent(out) :: status
    real(dp) :: wr(n), wi(n)
    call real_eigenvalues(n, a, wr, wi, status)
    maxre = maxval(wr)
  end subroutine max_real_eigenvalue

  !> All eigenvalues wr + i wi of a(n,n).
  pure subroutine real_eigenvalues(n, a, wr, wi, status)
    integer, intent(in) :: n
    real(dp), intent(in) :: a(n, n)
    real(dp), intent(out) :: wr(n), wi(n)
    integer(ip), intent(out) :: status
    real(dp) :: h(n, n)
    status = SOC_OK
    wr = 0.0_dp; wi = 0.0_dp
    if (.not. all(ieee_is_finite(a))) then
      status = SOC_ERR_NONFINITE; return
    end if
    h = a
    call balance(n, h)
    call hessenberg(n, h)
    call francis_qr(n, h, wr, wi, status)
  end subroutine real_eigenvalues

  !> Similarity scaling D^-1 A D with D a diagonal of powers of 2 so that the row and
  !> column norms of every index become comparable (exact in floating point).
  pure subroutine balance(n, a)
    integer, intent(in) :: n
    real(dp), intent(inout) :: a(n, n)
    real(dp), parameter :: radix = 2.0_dp
    real(dp) :: c, r, f, g, s
    logical :: done
    integer :: i, sweep
    do sweep = 1, 100
      done = .true.
      do i = 1, n
        c = sum(abs(a(:, i))) - abs(a(i, i))
        r = sum(abs(a(i, :))) - abs(a(i, i))
        if (c == 0.0_dp .or. r == 0.0_dp) cycle
        s = c + r
        f = 1.0_dp
        g = r / radix
        do while (c < g)
          f = f * radix; c = c * radix * radix
        end do
        g = r * radix
        do while (c > g)
          f = f / radix; c = c / (radix * radix)
        end do
        if ((c + r) / f < 0.95_dp * s) then
          done = .false.
          a(i, :) = a(i, :) / f
          a(:, i) = a(:, i) * f
        end if
      end do
      if (done) exit
    end do
  end subroutine balance

  !> In-place reduction to upper Hessenberg form by Householder similarity transforms.
  pure subroutine hessenberg(n, a)
    integer, intent(in) :: n
    real(dp), intent(inout) :: a(n, n)
    real(dp) :: v(n), alpha, vnorm2, w
    integer :: k, m, j
    do k = 1, n - 2
      m = n - k                      ! length of the column part below the diagonal
      v(1:m) = a(k + 1:n, k)
      alpha = sqrt(sum(v(1:m)**2))
      if (alpha == 0.0_dp) cycle
      if (v(1) < 0.0_dp) alpha = -alpha
      v(1) = v(1) + alpha            ! v = x + sign(x1) |x| e1
      vnorm2 = sum(v(1:m)**2)
      ! A <- P A with P = I - 2 v v^T / (v^T v) acting on rows k+1..n
      do j = k, n
        w = 2.0_dp * dot_product(v(1:m), a(k + 1:n, j)) / vnorm2
        a(k + 1:n, j) = a(k + 1:n, j) - w * v(1:m)
      end do
      ! A <- A P acting on columns k+1..n
      do j = 1, n
        w = 2.0_dp * dot_product(a(j, k + 1:n), v(1:m)) / vnorm2
        a(j, k + 1:n) = a(j, k + 1:n) - w * v(1:m)
      end do
      a(k + 2:n, k) = 0.0_dp
    end do
  end subroutine hessenberg

  !> Eigenvalues of an upper Hessenberg matrix by the implicit double-shift QR
  !> iteration. The active window is h(lo:hi, lo:hi); converged 1x1 and 2x2 blocks are
  !> deflated from the bottom.
  pure subroutine francis_qr(n, h, wr, wi, status)
    integer, intent(in) :: n
    real(dp), intent(inout) :: h(n, n)
    real(dp), intent(out) :: wr(n), wi(n)
    integer(ip), intent(out) :: status
    real(dp), parameter :: eps = epsilon(1.0_dp)
    integer, parameter :: maxits_per_root = 60
    integer :: hi, lo, its, k, r, i
    real(dp) :: s, t, x, y, z, hnorm, v(3), beta, nu
    status = SOC_OK
    hnorm = 0.0_dp
    do i = 1, n
      hnorm = max(hnorm, sum(abs(h(i, max(1, i - 1):n))))
    end do
    if (hnorm == 0.0_dp) then
      wr = 0.0_dp; wi = 0.0_dp; return
    end if
    hi = n
    its = 0
    do while (hi >= 1)
      ! find lo: the top of the unreduced block ending at hi
      lo = hi
      do while (lo > 1)
        s = abs(h(lo - 1, lo - 1)) + abs(h(lo, lo))
        if (s == 0.0_dp) s = hnorm
        if (abs(h(lo, lo - 1)) <= eps * s) then
          h(lo, lo - 1) = 0.0_dp
          exit
        end if
        lo = lo - 1
      end do
      if (lo == hi) then                    ! 1x1 block
        wr(hi) = h(hi, hi); wi(hi) = 0.0_dp
        hi = hi - 1; its = 0
        cycle
      else if (lo == hi - 1) then           ! 2x2 block
        call eig2(h(hi - 1, hi - 1), h(hi - 1, hi), h(hi, hi - 1), h(hi, hi), &
             wr(hi - 1), wi(hi - 1), wr(hi), wi(hi))
        hi = hi - 2; its = 0
        cycle
      end if
      its = its + 1
      if (its > maxits_per_root) then
        ! no convergence: a (nearly) defective cluster, e.g. the repeated eigenvalues of
        ! nearly identical layers, where the subdiagonal stalls near sqrt(eps) of the
        ! diagonal. Deflate at the relatively smallest subdiagonal of the window; the
        ! eigenvalues move by about its size, which the stability test tolerates.
        k = lo + 1
        x = huge(1.0_dp)
        do i = lo + 1, hi
          s = abs(h(i - 1, i - 1)) + abs(h(i, i))
          if (s == 0.0_dp) s = hnorm
          if (abs(h(i, i - 1)) / s < x) then
            x = abs(h(i, i - 1)) / s; k = i
          end if
        end do
        if (x > 1.0e-6_dp) then
          status = SOC_ERR_NOT_CONVERGED; return
        end if
        h(k, k - 1) = 0.0_dp
        its = 0
        cycle
      end if
      ! shifts: eigenvalues of the trailing 2x2 (sum s, product t); exceptional
      ! ad-hoc shifts every 10 iterations without deflation
      if (mod(its, 10) == 0) then
        ! exceptional shifts (EISPACK choice): roots of a 2x2 with trace 1.5 e and
        ! determinant e**2 around h(hi,hi), e = |h(hi,hi-1)| + |h(hi-1,hi-2)|
        x = abs(h(hi, hi - 1)) + abs(h(hi - 1, hi - 2))
        s = 2.0_dp * h(hi, hi) + 1.5_dp * x
        t = h(hi, hi)**2 + 1.5_dp * x * h(hi, hi) + x * x
      else
        s = h(hi - 1, hi - 1) + h(hi, hi)
        t = h(hi - 1, hi - 1) * h(hi, hi) - h(hi - 1, hi) * h(hi, hi - 1)
      end if
      ! first column of (H - s1 I)(H - s2 I) restricted to the active block
      x = h(lo, lo) * h(lo, lo) + h(lo, lo + 1) * h(lo + 1, lo) - s * h(lo, lo) + t
      y = h(lo + 1, lo) * (h(lo, lo) + h(lo + 1, lo + 1) - s)
      if (lo + 2 <= hi) then
        z = h(lo + 1, lo) * h(lo + 2, lo + 1)
      else
        z = 0.0_dp
      end if
      ! chase the bulge down the active block with 3-element reflectors
      do k = lo - 1, hi - 3
        v = [x, y, z]
        call house3(v, beta, nu)
        if (beta /= 0.0_dp) then
          r = max(lo, k)
          call reflect_rows(h, k + 1, 3, v, beta, r, hi)
          if (k >= lo) then          ! the bulge column is now (nu, 0, 0)
            h(k + 2, k) = 0.0_dp
            h(k + 3, k) = 0.0_dp
          end if
          r = min(k + 4, hi)
          call reflect_cols(h, k + 1, 3, v, beta, lo, r)
        end if
        x = h(k + 2, k + 1)
        y = h(k + 3, k + 1)
        if (k < hi - 3) z = h(k + 4, k + 1)
      end do
      ! last 2-element reflector
      v(1:2) = [x, y]; v(3) = 0.0_dp
      call house2(v, beta)
      if (beta /= 0.0_dp) then
        call reflect_rows(h, hi - 1, 2, v, beta, hi - 2, hi)
        call reflect_cols(h, hi - 1, 2, v, beta, lo, hi)
      end if
    end do
    if (.not. (all(ieee_is_finite(wr)) .and. all(ieee_is_finite(wi)))) status = SOC_ERR_NONFINITE
  end subroutine francis_qr

  !> Householder vector v (v(1) = 1 after scaling) and beta with (I - beta v v^T) x = nu e1.
  pure subroutine house3(v, beta, nu)
    real(dp), intent(inout) :: v(3)
    real(dp), intent(out) :: beta, nu
    real(dp) :: sig, x1, scl
    scl = maxval(abs(v))
    if (scl == 0.0_dp) then
      beta = 0.0_dp; nu = 0.0_dp; return
    end if
    v = v / scl
    x1 = v(1)
    sig = v(2)**2 + v(3)**2
    nu = sqrt(x1**2 + sig)
    if (sig == 0.0_dp) then
      beta = 0.0_dp; return
    end if
    if (x1 <= 0.0_dp) then
      v(1) = x1 - nu
    else
      v(1) = -sig / (x1 + nu)
    end if
    beta = 2.0_dp * v(1)**2 / (sig + v(1)**2)
    v(2:3) = v(2:3) / v(1)
    v(1) = 1.0_dp
  end subroutine house3

  pure subroutine house2(v, beta)
    real(dp), intent(inout) :: v(3)
    real(dp), intent(out) :: beta
    real(dp) :: nu
    v(3) = 0.0_dp
    call house3(v, beta, nu)
  end subroutine house2

  !> h(i0:i0+m-1, c0:c1) <- (I - beta v v^T) h(i0:i0+m-1, c0:c1)
  pure subroutine reflect_rows(h, i0, m, v, beta, c0, c1)
    real(dp), intent(inout) :: h(:, :)
    integer, intent(in) :: i0, m, c0, c1
    real(dp), intent(in) :: v(3), beta
    integer :: j
    real(dp) :: w
    do j = c0, c1
      w = beta * dot_product(v(1:m), h(i0:i0 + m - 1, j))
      h(i0:i0 + m - 1, j) = h(i0:i0 + m - 1, j) - w * v(1:m)
    end do
  end subroutine reflect_rows

  !> h(r0:r1, i0:i0+m-1) <- h(r0:r1, i0:i0+m-1) (I - beta v v^T)
  pure subroutine reflect_cols(h, i0, m, v, beta, r0, r1)
    real(dp), intent(inout) :: h(:, :)
    integer, intent(in) :: i0, m, r0, r1
    real(dp), intent(in) :: v(3), beta
    integer :: i
    real(dp) :: w
    do i = r0, r1
      w = beta * dot_product(h(i, i0:i0 + m - 1), v(1:m))
      h(i, i0:i0 + m - 1) = h(i, i0:i0 + m - 1) - w * v(1:m)
    end do
  end subroutine reflect_cols

  !> Eigenvalues of the real 2x2 matrix [a b; c d].
  pure subroutine eig2(a, b, c, d, wr1, wi1, wr2, wi2)
    real(dp), intent(in) :: a, b, c, d
    real(dp), intent(out) :: wr1, wi1, wr2, wi2
    real(dp) :: p, q, disc, rt, tr, det
    p = 0.5_dp * (a - d)
    q = b * c
    disc = p * p + q
    tr = 0.5_dp * (a + d)
    if (disc >= 0.0_dp) then
      ! real pair: larger-magnitude root first, the other from the determinant
      rt = sqrt(disc)
      if (tr < 0.0_dp) rt = -rt
      wr1 = tr + rt
      det = a * d - b * c
      if (wr1 /= 0.0_dp) then
        wr2 = det / wr1
      else
        wr2 = tr - rt
      end if
      wi1 = 0.0_dp; wi2 = 0.0_dp
    else
      rt = sqrt(-disc)
      wr1 = tr; wr2 = tr
      wi1 = rt; wi2 = -rt
    end if
  end subroutine eig2

end module soc_mimics_eig
