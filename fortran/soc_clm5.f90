!> CLM5 vertical soil carbon model in matrix form, PRODA 21-parameter version
!> (spec models.md §2; Lu et al. 2020; Tao et al. 2023).
!>
!> Governing equation, per site, state X (g C m-3), pools p = CWD, L1, L2, L3, S1, S2, S3
!> in every layer j = 1..nlev:
!>     dX/dt = B I(t) + A xi(t) K X - T(t) X
!> A: transfer matrix (-1 on the diagonal, net transfer efficiencies off the diagonal);
!> K xi: decomposition rates (d-1) = base rate x temperature x water x oxygen x depth
!> (x nitrogen for L1..L3); T: vertical transport (soc_transport), for all pools but CWD;
!> B I: litter inputs (g C m-3 d-1) distributed with the Jackson beta profile.
!>
!> Structure used by the solvers: the litter pools do not depend on SOM and are
!> lower-triangular among themselves (CWD feeds L2 and L3), so CWD is a diagonal solve
!> and L1..L3 are independent tridiagonal solves; the three SOM pools form a
!> block-tridiagonal system with 3x3 blocks. No dense (7 nlev)^2 matrix is ever formed.
!>
!> Parameter vector (physical values, order of PRODA's kp):
!>  1 bio (m2 yr-1)   2 cryo (m2 yr-1)  3 q10 (-)        4 efolding (m)    5 tau_cwd (yr)
!>  6 tau_l1 (yr)     7 tau_l2l3 (yr)   8 tau_s1 (yr)     9 tau_s2 (yr)    10 tau_s3 (yr)
!> 11 fl1s1  12 fl2s1  13 fl3s2  14 fs1s2  15 fs1s3  16 fs2s1  17 fs2s3  18 fs3s1 (-)
!> 19 fcwdl2 (-)     20 w_scaling (-)  21 beta (-)
module soc_clm5
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_PARAM, SOC_ERR_FORCING, SOC_ERR_SHAPE, &
       SOC_ERR_SINGULAR, SOC_ERR_NONFINITE, days_per_year, tfrz
  use soc_envscalars, only: q10_century_norm, water_scalar_capped, depth_scalar
  use soc_vertprofile, only: jackson_fraction
  use soc_transport, only: mixing_diffusivity, transport_operator
  use soc_solvers, only: tridiag_solve, tridiag3_solve, band3_solve_nopivot
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  implicit none
  private
  public :: clm5_check_params, clm5_check_forcing, clm5_rates, clm5_transport, clm5_input_profile, &
       clm5_respired_fraction, clm5_solve, clm5_steady_state, clm5_transient, clm5_litter_solve

  integer, parameter, public :: clm5_npool = 7, clm5_npar = 21
  integer, parameter, public :: icwd = 1, il1 = 2, il2 = 3, il3 = 4, is1 = 5, is2 = 6, is3 = 7
  integer, parameter :: i_bio = 1, i_cryo = 2, i_q10 = 3, i_efold = 4, i_tcwd = 5, i_tl1 = 6, &
       i_tl2 = 7, i_ts1 = 8, i_ts2 = 9, i_ts3 = 10, i_fl1s1 = 11, i_fl2s1 = 12, i_fl3s2 = 13, &
       i_fs1s2 = 14, i_fs1s3 = 15, i_fs2s1 = 16, i_fs2s3 = 17, i_fs3s1 = 18, i_fcwdl2 = 19, &
       i_wscal = 20, i_beta = 21
  public :: i_beta   ! the input-profile parameter, read by api_clm5.f90 operators

contains

  !> Physical-domain check of a parameter vector (not the calibration prior).
  pure integer(ip) function clm5_check_params(par) result(status)
    real(dp), intent(in) :: par(clm5_npar)
    status = SOC_OK
    if (.not. all(ieee_is_finite(par))) then
      status = SOC_ERR_PARAM; return
    end if
    if (par(i_bio) < 0 .or. par(i_cryo) < 0) status = SOC_ERR_PARAM
    if (par(i_q10) <= 0 .or. par(i_efold) <= 0) status = SOC_ERR_PARAM
    if (any(par(i_tcwd:i_ts3) <= 0)) status = SOC_ERR_PARAM
    if (any(par(i_fl1s1:i_fcwdl2) < 0) .or. any(par(i_fl1s1:i_fcwdl2) > 1)) status = SOC_ERR_PARAM
    if (par(i_fs1s2) + par(i_fs1s3) > 1 .or. par(i_fs2s1) + par(i_fs2s3) > 1) status = SOC_ERR_PARAM
    if (par(i_wscal) < 0) status = SOC_ERR_PARAM
    if (par(i_beta) <= 0 .or. par(i_beta) >= 1) status = SOC_ERR_PARAM
  end function clm5_check_params

  !> Physical-domain check of a site's forcing: finite, temperature > 0 K, scalars and
  !> inputs >= 0, 1 <= nbedrock <= nlev.
  pure integer(ip) function clm5_check_forcing(nlev, nmon, tsoi, wscalar, oscalar, fpi, litin, &
       altmax, altmax_ly, nbedrock) result(status)
    integer, intent(in) :: nlev, nmon, nbedrock
    real(dp), intent(in) :: tsoi(nlev, nmon), wscalar(nlev, nmon), oscalar(nlev, nmon), fpi(nlev, nmon)
    real(dp), intent(in) :: litin(4, nmon), altmax(nmon), altmax_ly(nmon)
    status = SOC_OK
    if (nbedrock < 1 .or. nbedrock > nlev) then
      status = SOC_ERR_FORCING; return
    end if
    if (.not. (all(tsoi > 0.0_dp) .and. all(wscalar >= 0.0_dp) .and. all(oscalar >= 0.0_dp) &
         .and. all(fpi >= 0.0_dp) .and. all(litin >= 0.0_dp))) status = SOC_ERR_FORCING
    if (.not. (all(ieee_is_finite(tsoi)) .and. all(ieee_is_finite(wscalar)) .and. &
         all(ieee_is_finite(oscalar)) .and. all(ieee_is_finite(fpi)) .and. all(ieee_is_finite(litin)) &
         .and. all(ieee_is_finite(altmax)) .and. all(ieee_is_finite(altmax_ly)))) status = SOC_ERR_FORCING
  end function clm5_check_forcing

  !> Decomposition rates kk(j,p) (d-1) averaged over the nmon months given
  !> (mean of products of the monthly scalars, spec M-5).
  pure subroutine clm5_rates(nlev, nmon, zsoi, par, normalize_q10, tsoi, wscalar, oscalar, fpi, kk)
    integer, intent(in) :: nlev, nmon
    real(dp), intent(in) :: zsoi(nlev)           !< node depth (m)
    real(dp), intent(in) :: par(clm5_npar)
    logical, intent(in) :: normalize_q10         !< scale Q10 to the Century tfunc at 15 degC
    real(dp), intent(in) :: tsoi(nlev, nmon)     !< soil temperature (K)
    real(dp), intent(in) :: wscalar(nlev, nmon)  !< CESM2 W_SCALAR (-)
    real(dp), intent(in) :: oscalar(nlev, nmon)  !< oxygen scalar (-)
    real(dp), intent(in) :: fpi(nlev, nmon)      !< nitrogen limitation of litter decomposition (-)
    real(dp), intent(out) :: kk(nlev, clm5_npool) !< effective rates (d-1)
    real(dp) :: kbase(clm5_npool), xi, sum_xi, sum_xin, tnorm, xid, lnq10
    integer :: j, m
    kbase = 1.0_dp / (days_per_year * [par(i_tcwd), par(i_tl1), par(i_tl2), par(i_tl2), &
         par(i_ts1), par(i_ts2), par(i_ts3)])
    tnorm = 1.0_dp
    if (normalize_q10) tnorm = q10_century_norm(par(i_q10))
    ! PRODA sets froz_q10 = q10, for which both branches of q10_scalar reduce to
    ! q10**((T - 298.15)/10): one exp per layer and month (the hot loop of the MCMC)
    lnq10 = log(par(i_q10)) / 10.0_dp
    do j = 1, nlev
      sum_xi = 0.0_dp
      sum_xin = 0.0_dp
      ! inlined scalars: a vectorised (SIMD) exp would change the last bits of the rates
!GCC$ novector
      do m = 1, nmon
        xi = exp(lnq10 * (tsoi(j, m) - (tfrz + 25.0_dp))) &
             * water_scalar_capped(wscalar(j, m), par(i_wscal)) * oscalar(j, m)
        sum_xi = sum_xi + xi
        sum_xin = sum_xin + xi * fpi(j, m)
      end do
      xid = depth_scalar(zsoi(j), par(i_efold)) * tnorm / nmon
      kk(j, icwd) = kbase(icwd) * sum_xi * xid
      kk(j, il1:il3) = kbase(il1:il3) * sum_xin * xid
      kk(j, is1:is3) = kbase(is1:is3) * sum_xi * xid
    end do
  end subroutine clm5_rates

  !> Transport operator averaged over the nmon months given (d-1).
  pure subroutine clm5_transport(nlev, nmon, dz, zisoi, zsoi, par, adv, nbedrock, altmax, &
       altmax_ly, tl, td, tu)
    integer, intent(in) :: nlev, nmon
    real(dp), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)   !< grid (m)
    real(dp), intent(in) :: par(clm5_npar)
    real(dp), intent(in) :: adv                  !< advection velocity (m yr-1, downward)
    integer, intent(in) :: nbedrock              !< layers above bedrock
    real(dp), intent(in) :: altmax(nmon), altmax_ly(nmon)   !< active-layer depth, this / last year (m)
    real(dp), intent(out) :: tl(nlev), td(nlev), tu(nlev)   !< tridiagonal operator (d-1)
    real(dp) :: d(nlev), f(nlev), l(nlev), c(nlev), u(nlev), alt, alt_prev
    integer :: m
    tl = 0; td = 0; tu = 0
    alt_prev = -huge(1.0_dp)
    do m = 1, nmon
      alt = max(altmax(m), altmax_ly(m))
      if (alt /= alt_prev) then   ! the operator only changes with the active-layer depth
        call mixing_diffusivity(nlev, zisoi, nbedrock, alt, par(i_bio) / days_per_year, &
             par(i_cryo) / days_per_year, adv / days_per_year, d, f)
        call transport_operator(nlev, dz, zisoi, zsoi, d, f, l, c, u)
        alt_prev = alt
      end if
      tl = tl + l; td = td + c; tu = tu + u
    end do
    tl = tl / nmon; td = td / nmon; tu = tu / nmon
  end subroutine clm5_transport

  !> Input profile (m-1): fraction of the column input per layer divided by dz.
  pure subroutine clm5_input_profile(nlev, dz, zisoi, beta, all_top, prof)
    integer, intent(in) :: nlev
    real(dp), intent(in) :: dz(nlev), zisoi(nlev), beta
    logical, intent(in) :: all_top
    real(dp), intent(out) :: prof(nlev)
    call jackson_fraction(nlev, zisoi, beta, all_top, prof)
    prof = prof / dz
  end subroutine clm5_input_profile

  !> Fraction of each pool's decomposition flux respired as CO2 (-).
  pure function clm5_respired_fraction(par) result(r)
    real(dp), intent(in) :: par(clm5_npar)
    real(dp) :: r(clm5_npool)
    r(icwd) = 0.0_dp   ! CWD is fragmented into L2 and L3 without respiration
    r(il1) = 1.0_dp - par(i_fl1s1)
    r(il2) = 1.0_dp - par(i_fl2s1)
    r(il3) = 1.0_dp - par(i_fl3s2)
    r(is1) = 1.0_dp - par(i_fs1s2) - par(i_fs1s3)
    r(is2) = 1.0_dp - par(i_fs2s1) - par(i_fs2s3)
    r(is3) = 1.0_dp - par(i_fs3s1)
  end function clm5_respired_fraction

  !> Litter part (CWD, L1, L2, L3) of (shift I - A K + T) x = rhs. Shared with COMPAS,
  !> whose litter pools follow the same equations.
  pure subroutine clm5_litter_solve(nlev, kk, fcwdl2, tl, td, tu, shift, rhs, x, status)
    integer, intent(in) :: nlev
    real(dp), intent(in) :: kk(nlev, 4)         !< rates of CWD, L1, L2, L3 (d-1)
    real(dp), intent(in) :: fcwdl2              !< CWD -> L2 fraction (L3 gets the rest)
    real(dp), intent(in) :: tl(nlev), td(nlev), tu(nlev)
    real(dp), intent(in) :: shift               !< added to the diagonal (d-1): 0 or 1/dt
    real(dp), intent(in) :: rhs(nlev, 4)
    real(dp), intent(out) :: x(nlev, 4)
    integer(ip), intent(out) :: status
    real(dp) :: b3(nlev, 3), d3(nlev, 3), x3(nlev, 3)
    integer :: p
    logical :: ok
    status = SOC_OK
    ! CWD: no transport
    if (any(.not. (kk(:, icwd) + shift > 0.0_dp))) then
      status = SOC_ERR_SINGULAR; x = 0; return
    end if
    x(:, icwd) = rhs(:, icwd) / (kk(:, icwd) + shift)
    ! L1, L2, L3 side by side; when a solve fails, the one-by-one solves of the same systems
    ! give the status (and the state) of the first failing pool
    b3(:, 1) = rhs(:, il1)
    b3(:, 2) = rhs(:, il2) + fcwdl2 * kk(:, icwd) * x(:, icwd)
    b3(:, 3) = rhs(:, il3) + (1.0_dp - fcwdl2) * kk(:, icwd) * x(:, icwd)
    do p = 1, 3
      d3(:, p) = td + kk(:, il1 + p - 1) + shift
    end do
    call tridiag3_solve(nlev, tl, d3, tu, b3, x3, ok)
    if (ok) then
      x(:, il1:il3) = x3
      return
    end if
    do p = 1, 3
      call tridiag_solve(nlev, tl, d3(:, p), tu, b3(:, p), x(:, il1 + p - 1), status)
      if (status /= SOC_OK) return
    end do
  end subroutine clm5_litter_solve

  !> Solve (shift I - A K + T) x = rhs for the full 7-pool state.
  pure subroutine clm5_solve(nlev, par, kk, tl, td, tu, shift, rhs, x, status)
    integer, intent(in) :: nlev
    real(dp), intent(in) :: par(clm5_npar)
    real(dp), intent(in) :: kk(nlev, clm5_npool)
    real(dp), intent(in) :: tl(nlev), td(nlev), tu(nlev), shift
    real(dp), intent(in) :: rhs(nlev, clm5_npool)
    real(dp), intent(out) :: x(nlev, clm5_npool)
    integer(ip), intent(out) :: status
    ! SOM unknowns ordered layer-major, i = 3 (j - 1) + p: a band matrix with kl = ku = 3
    ! (pool coupling within a layer, transport of the same pool between layers)
    real(dp) :: ab(-3:3, 3 * nlev), b(3 * nlev), s(3 * nlev)
    integer :: j, i
    call clm5_litter_solve(nlev, kk(:, 1:4), par(i_fcwdl2), tl, td, tu, shift, rhs(:, 1:4), &
         x(:, 1:4), status)
    if (status /= SOC_OK) return
    ab = 0.0_dp
    do j = 1, nlev
      i = 3 * (j - 1)
      ! row S1 (i+1): donors S1, S2 (offset +1), S3 (offset +2)
      ab(0, i + 1) = shift + td(j) + kk(j, is1)
      ab(1, i + 1) = -par(i_fs2s1) * kk(j, is2)
      ab(2, i + 1) = -par(i_fs3s1) * kk(j, is3)
      ! row S2 (i+2): donors S1 (offset -1), S2
      ab(-1, i + 2) = -par(i_fs1s2) * kk(j, is1)
      ab(0, i + 2) = shift + td(j) + kk(j, is2)
      ! row S3 (i+3): donors S1 (offset -2), S2 (offset -1), S3
      ab(-2, i + 3) = -par(i_fs1s3) * kk(j, is1)
      ab(-1, i + 3) = -par(i_fs2s3) * kk(j, is2)
      ab(0, i + 3) = shift + td(j) + kk(j, is3)
      ! transport: same pool in layers j -1 and j + 1
      if (j > 1) ab(-3, i + 1:i + 3) = tl(j)
      if (j < nlev) ab(3, i + 1:i + 3) = tu(j)
      b(i + 1) = rhs(j, is1) + par(i_fl1s1) * kk(j, il1) * x(j, il1) + par(i_fl2s1) * kk(j, il2) * x(j, il2)
      b(i + 2) = rhs(j, is2) + par(i_fl3s2) * kk(j, il3) * x(j, il3)
      b(i + 3) = rhs(j, is3)
    end do
    call band3_solve_nopivot(3 * nlev, ab, sum(abs(ab), dim=1), b, s, status)
    if (status /= SOC_OK) return
    do j = 1, nlev
      x(j, is1:is3) = s(3 * (j - 1) + 1:3 * j)
    end do
  end subroutine clm5_solve

  !> Steady state with time-mean operators for one site and one parameter vector:
  !> X = -(A K - T)^-1 B I. The forcing must have passed clm5_check_forcing. Returns the state (g C m-3), the column input and the
  !> column heterotrophic respiration (both g C m-2 yr-1).
  pure subroutine clm5_steady_state(nlev, nmon, dz, zisoi, zsoi, par, normalize_q10, adv, &
       tsoi, wscalar, oscalar, fpi, litin, altmax, altmax_ly, nbedrock, x, input_col, rh_col, status)
    integer, intent(in) :: nlev, nmon
    real(dp), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)
    real(dp), intent(in) :: par(clm5_npar)
    logical, intent(in) :: normalize_q10
    real(dp), intent(in) :: adv                            !< (m yr-1)
    real(dp), intent(in) :: tsoi(nlev, nmon), wscalar(nlev, nmon), oscalar(nlev, nmon), fpi(nlev, nmon)
    real(dp), intent(in) :: litin(4, nmon)                 !< column input CWD, L1, L2, L3 per month (g C m-2 month-1)
    real(dp), intent(in) :: altmax(nmon), altmax_ly(nmon)  !< (m)
    integer, intent(in) :: nbedrock
    real(dp), intent(out) :: x(nlev, clm5_npool)           !< (g C m-3)
    real(dp), intent(out) :: input_col, rh_col             !< (g C m-2 yr-1)
    integer(ip), intent(out) :: status
    real(dp) :: kk(nlev, clm5_npool), tl(nlev), td(nlev), tu(nlev), prof(nlev)
    real(dp) :: rhs(nlev, clm5_npool), annual(4), resp(clm5_npool)
    integer :: p
    x = 0; input_col = 0; rh_col = 0
    ! the forcing is checked once per site by the caller (clm5_check_forcing), not per vector
    status = clm5_check_params(par)
    if (status /= SOC_OK) return
    call clm5_rates(nlev, nmon, zsoi, par, normalize_q10, tsoi, wscalar, oscalar, fpi, kk)
    call clm5_transport(nlev, nmon, dz, zisoi, zsoi, par, adv, nbedrock, altmax, altmax_ly, tl, td, tu)
    call clm5_input_profile(nlev, dz, zisoi, par(i_beta), maxval(altmax_ly) <= 0.0_dp, prof)
    annual = sum(litin, dim=2) * (12.0_dp / nmon)          ! g C m-2 yr-1
    rhs = 0.0_dp
    do p = 1, 4
      rhs(:, p) = annual(p) * prof / days_per_year         ! g C m-3 d-1
    end do
    call clm5_solve(nlev, par, kk, tl, td, tu, 0.0_dp, rhs, x, status)
    if (status /= SOC_OK) return
    resp = clm5_respired_fraction(par)
    input_col = sum(annual)
    rh_col = 0.0_dp
    do p = 1, clm5_npool
      rh_col = rh_col + resp(p) * sum(kk(:, p) * x(:, p) * dz)
    end do
    rh_col = rh_col * days_per_year
  end subroutine clm5_steady_state

  !> Transient integration, one implicit (backward Euler) step per sub-step, nsub sub-steps
  !> per forcing step; each forcing step k lasts days(k) days and uses that step's
  !> scalars, transport and inputs (no averaging). Unconditionally stable and exactly
  !> mass conserving: input = change in stock + respiration, per step.
  pure subroutine clm5_transient(nlev, nstep, dz, zisoi, zsoi, par, normalize_q10, adv, &
       tsoi, wscalar, oscalar, fpi, litin, altmax, altmax_ly, nbedrock, days, nsub, x0, &
       x, rh, status)
    integer, intent(in) :: nlev, nstep
    real(dp), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)
    real(dp), intent(in) :: par(clm5_npar)
    logical, intent(in) :: normalize_q10
    real(dp), intent(in) :: adv
    real(dp), intent(in) :: tsoi(nlev, nstep), wscalar(nlev, nstep), oscalar(nlev, nstep), fpi(nlev, nstep)
    real(dp), intent(in) :: litin(4, nstep)                !< column input per step (g C m-2 step-1)
    real(dp), intent(in) :: altmax(nstep), altmax_ly(nstep)
    integer, intent(in) :: nbedrock
    real(dp), intent(in) :: days(nstep)                    !< length of each step (d)
    integer, intent(in) :: nsub                            !< implicit sub-steps per step (>= 1)
    real(dp), intent(in) :: x0(nlev, clm5_npool)           !< initial state (g C m-3)
    real(dp), intent(out) :: x(nlev, clm5_npool, nstep)    !< state at the end of each step (g C m-3)
    real(dp), intent(out) :: rh(nlev, clm5_npool, nstep)   !< respiration during each step (g C m-3 step-1)
    integer(ip), intent(out) :: status
    real(dp) :: kk(nlev, clm5_npool), tl(nlev), td(nlev), tu(nlev), prof(nlev)
    real(dp) :: inp(nlev, clm5_npool), xold(nlev, clm5_npool), xnew(nlev, clm5_npool)
    real(dp) :: resp(clm5_npool), dt
    integer :: k, s, p
    x = 0; rh = 0
    status = clm5_check_params(par)
    if (status == SOC_OK) status = clm5_check_forcing(nlev, nstep, tsoi, wscalar, oscalar, fpi, litin, &
         altmax, altmax_ly, nbedrock)
    if (status /= SOC_OK) return
    if (nsub < 1 .or. any(.not. (days > 0.0_dp))) then
      status = SOC_ERR_SHAPE; return
    end if
    resp = clm5_respired_fraction(par)
    xold = x0
    do k = 1, nstep
      call clm5_rates(nlev, 1, zsoi, par, normalize_q10, tsoi(:, k), wscalar(:, k), oscalar(:, k), &
           fpi(:, k), kk)
      call clm5_transport(nlev, 1, dz, zisoi, zsoi, par, adv, nbedrock, altmax(k:k), altmax_ly(k:k), &
           tl, td, tu)
      call clm5_input_profile(nlev, dz, zisoi, par(i_beta), altmax_ly(k) <= 0.0_dp, prof)
      inp = 0.0_dp
      do p = 1, 4
        inp(:, p) = litin(p, k) / days(k) * prof          ! g C m-3 d-1
      end do
      dt = days(k) / nsub
      do s = 1, nsub
        call clm5_solve(nlev, par, kk, tl, td, tu, 1.0_dp / dt, xold / dt + inp, xnew, status)
        if (status /= SOC_OK) return
        do p = 1, clm5_npool
          rh(:, p, k) = rh(:, p, k) + resp(p) * kk(:, p) * xnew(:, p) * dt
        end do
        xold = xnew
      end do
      x(:, :, k) = xnew
    end do
    if (.not. all(ieee_is_finite(x))) status = SOC_ERR_NONFINITE
  end subroutine clm5_transient

end module soc_clm5
