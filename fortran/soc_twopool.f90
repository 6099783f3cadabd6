!> Two-pool soil carbon model: the template kernel of docs/adding_a_model.md.
!>
!> One bulk soil layer of thickness H (m) with two pools (g C m-2 in the kernel, g C m-3 at
!> the Python boundary after division by H):
!>   1 LIT  litter             dL/dt = I - k_L xi L
!>   2 SOM  soil organic matter dS/dt = h k_L xi L - k_S xi S
!> Rates at the reference climate k = 1/(days_per_year tau) (d-1), modified by one
!> environmental scalar xi = f_T f_W ("rate = base x named scalars", as CTSM):
!>   f_T = q10**((T - t_ref)/10)            temperature scalar (T, t_ref in K)
!>   f_W = min(1, w / w_opt)                moisture scalar (w relative soil water, 0-1)
!> A fraction h of the litter decomposition is humified into SOM; the rest (1 - h) and all
!> SOM decomposition are respired (heterotrophic respiration Rh).
!>
!> Steady state (analytic) of the mean forcing: with I_mean = sum(I_m) / sum(days_m) and
!> xi_mean = sum(xi_m days_m) / sum(days_m) (mean of the monthly products),
!>   L* = I_mean / (k_L xi_mean),  S* = h I_mean / (k_S xi_mean).
!> Transient: exact solution of the linear system for each month (rates and input rate
!> constant within the month), so a constant forcing reaches the steady state exactly and
!> the carbon budget closes to rounding: input = change in stock + respiration.
!>
!> Parameter vector (physical values):
!>  1 tau_lit (yr)  turnover time of litter at xi = 1     (> 0)
!>  2 tau_som (yr)  turnover time of SOM at xi = 1        (> 0)
!>  3 hum (1)       humification fraction                 [0, 1]
!>  4 q10 (1)       temperature sensitivity               (> 0)
!>  5 w_opt (1)     relative soil water above which f_W = 1   (0, 1]
!> Every procedure is pure, with explicit intent; problems are returned as status codes
!> (soc_kinds), never stop or print.
module soc_twopool
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_PARAM, SOC_ERR_FORCING, SOC_ERR_SINGULAR, &
       SOC_ERR_NONFINITE, days_per_year
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  implicit none
  private
  public :: twopool_check_params, twopool_check_forcing, twopool_scalar, twopool_steady_state, &
       twopool_step, twopool_transient

  integer, parameter, public :: twopool_npool = 2, twopool_npar = 5
  integer, parameter, public :: ilit = 1, isom = 2
  integer, parameter, public :: i_tau_lit = 1, i_tau_som = 2, i_hum = 3, i_q10 = 4, i_w_opt = 5
  real(dp), parameter :: tmin = 150.0_dp, tmax = 350.0_dp   !< plausible soil temperatures (K)

contains

  !> SOC_OK when every parameter is inside its physical domain, else SOC_ERR_PARAM.
  pure integer(ip) function twopool_check_params(par) result(status)
    real(dp), intent(in) :: par(twopool_npar)
    status = SOC_ERR_PARAM
    if (.not. all(ieee_is_finite(par))) return
    if (par(i_tau_lit) <= 0 .or. par(i_tau_som) <= 0) return
    if (par(i_hum) < 0 .or. par(i_hum) > 1) return
    if (par(i_q10) <= 0) return
    if (par(i_w_opt) <= 0 .or. par(i_w_opt) > 1) return
    status = SOC_OK
  end function twopool_check_params

  !> SOC_OK when the monthly forcing is finite and inside its physical domain:
  !> tsoi (K) in [150, 350], w (1) in [0, 1], litin (g C m-2 per step) >= 0, days (d) > 0.
  pure integer(ip) function twopool_check_forcing(nstep, tsoi, w, litin, days) result(status)
    integer, intent(in) :: nstep
    real(dp), intent(in) :: tsoi(nstep), w(nstep), litin(nstep), days(nstep)
    status = SOC_ERR_FORCING
    if (.not. (all(ieee_is_finite(tsoi)) .and. all(ieee_is_finite(w)) .and. &
         all(ieee_is_finite(litin)) .and. all(ieee_is_finite(days)))) return
    if (any(tsoi < tmin) .or. any(tsoi > tmax)) return
    if (any(w < 0) .or. any(w > 1)) return
    if (any(litin < 0) .or. any(days <= 0)) return
    status = SOC_OK
  end function twopool_check_forcing

  !> Environmental scalar xi = f_T f_W (1) and its two factors, elementwise.
  elemental subroutine twopool_scalar(tsoi, w, q10, w_opt, t_ref, xi, f_t, f_w)
    real(dp), intent(in) :: tsoi, w, q10, w_opt, t_ref     ! K, 1, 1, 1, K
    real(dp), intent(out) :: xi, f_t, f_w                  ! 1
    f_t = q10 ** ((tsoi - t_ref) / 10.0_dp)
    f_w = min(1.0_dp, w / w_opt)
    xi = f_t * f_w
  end subroutine twopool_scalar

  !> Analytic steady state of the mean forcing of nmon months.
  !> x (2) g C m-2; input_yr, rh_yr (g C m-2 yr-1); xi_mean (1).
  pure subroutine twopool_steady_state(nmon, par, tsoi, w, litin, days, t_ref, x, input_yr, rh_yr, &
       xi_mean, status)
    integer, intent(in) :: nmon
    real(dp), intent(in) :: par(twopool_npar), tsoi(nmon), w(nmon), litin(nmon), days(nmon), t_ref
    real(dp), intent(out) :: x(twopool_npool), input_yr, rh_yr, xi_mean
    integer(ip), intent(out) :: status
    real(dp) :: xi(nmon), ft(nmon), fw(nmon), kl, ks, imean
    x = 0; input_yr = 0; rh_yr = 0; xi_mean = 0
    status = twopool_check_params(par)
    if (status /= SOC_OK) return
    status = twopool_check_forcing(nmon, tsoi, w, litin, days)
    if (status /= SOC_OK) return
    call twopool_scalar(tsoi, w, par(i_q10), par(i_w_opt), t_ref, xi, ft, fw)
    xi_mean = sum(xi * days) / sum(days)
    imean = sum(litin) / sum(days)                         ! g C m-2 d-1
    input_yr = imean * days_per_year
    if (.not. xi_mean > 0) then
      status = SOC_ERR_SINGULAR                            ! no decomposition in any month
      return
    end if
    kl = 1.0_dp / (days_per_year * par(i_tau_lit))         ! d-1
    ks = 1.0_dp / (days_per_year * par(i_tau_som))
    x(ilit) = imean / (kl * xi_mean)
    x(isom) = par(i_hum) * imean / (ks * xi_mean)
    ! respiration from the state (not by identity), so that the budget is a real check
    rh_yr = ((1.0_dp - par(i_hum)) * kl * xi_mean * x(ilit) + ks * xi_mean * x(isom)) * days_per_year
    if (.not. (all(ieee_is_finite(x)) .and. ieee_is_finite(rh_yr))) status = SOC_ERR_NONFINITE
  end subroutine twopool_steady_state

  !> (1 - exp(-y)) / y, stable for small |y| (1 at y = 0).
  elemental real(dp) function phi(y)
    real(dp), intent(in) :: y
    if (abs(y) < 1.0e-4_dp) then
      phi = 1.0_dp - y / 2.0_dp + y * y / 6.0_dp
    else
      phi = (1.0_dp - exp(-y)) / y
    end if
  end function phi

  !> One step of dt days with constant decay rates a = k_L xi, b = k_S xi (d-1) and input
  !> rate u (g C m-2 d-1), solved exactly. x0, x1 (2) g C m-2; resp (2) g C m-2 respired
  !> from each pool during the step.
  pure subroutine twopool_step(x0, a, b, hum, u, dt, x1, resp)
    real(dp), intent(in) :: x0(twopool_npool), a, b, hum, u, dt
    real(dp), intent(out) :: x1(twopool_npool), resp(twopool_npool)
    real(dp) :: ea, eb, g, dlit
    ea = dt * phi(a * dt)                                  ! integral of exp(-a s), 0..dt
    eb = dt * phi(b * dt)
    ! g = (exp(-a dt) - exp(-b dt)) / (b - a), symmetric in a and b, no cancellation
    g = exp(-min(a, b) * dt) * dt * phi(abs(b - a) * dt)
    x1(ilit) = x0(ilit) * exp(-a * dt) + u * ea
    x1(isom) = x0(isom) * exp(-b * dt) + hum * a * x0(ilit) * g + hum * u * (eb - g)
    dlit = u * dt - (x1(ilit) - x0(ilit))                  ! litter decomposed during the step
    resp(ilit) = (1.0_dp - hum) * dlit
    resp(isom) = hum * dlit - (x1(isom) - x0(isom))        ! SOM decomposed (all respired)
  end subroutine twopool_step

  !> Monthly transient from x0 (2) g C m-2: x (2, nstep) state at the end of each step,
  !> rh (2, nstep) g C m-2 respired during each step.
  pure subroutine twopool_transient(nstep, par, tsoi, w, litin, days, t_ref, x0, x, rh, status)
    integer, intent(in) :: nstep
    real(dp), intent(in) :: par(twopool_npar), tsoi(nstep), w(nstep), litin(nstep), days(nstep), t_ref
    real(dp), intent(in) :: x0(twopool_npool)
    real(dp), intent(out) :: x(twopool_npool, nstep), rh(twopool_npool, nstep)
    integer(ip), intent(out) :: status
    real(dp) :: xi(nstep), ft(nstep), fw(nstep), kl, ks, prev(twopool_npool)
    integer :: t
    x = 0; rh = 0
    status = twopool_check_params(par)
    if (status /= SOC_OK) return
    status = twopool_check_forcing(nstep, tsoi, w, litin, days)
    if (status /= SOC_OK) return
    if (.not. (all(ieee_is_finite(x0)) .and. all(x0 >= 0))) then
      status = SOC_ERR_FORCING
      return
    end if
    call twopool_scalar(tsoi, w, par(i_q10), par(i_w_opt), t_ref, xi, ft, fw)
    kl = 1.0_dp / (days_per_year * par(i_tau_lit))
    ks = 1.0_dp / (days_per_year * par(i_tau_som))
    prev = x0
    do t = 1, nstep
      call twopool_step(prev, kl * xi(t), ks * xi(t), par(i_hum), litin(t) / days(t), days(t), &
           x(:, t), rh(:, t))
      prev = x(:, t)
    end do
    if (.not. (all(ieee_is_finite(x)) .and. all(ieee_is_finite(rh)))) status = SOC_ERR_NONFINITE
  end subroutine twopool_transient

end module soc_twopool
