!> COMPAS: microbial-explicit, vertically resolved soil carbon model of Tao et al. (2024 GCB,
!> seed 001), the model PRODA calibrates next to CLM5 (spec models.md §3; equations only, no
!> reference code).
!>
!> State per layer j = 1..nlev (g C m-3), pool order of the outputs:
!>   1 CWD, 2 L1 (metabolic), 3 L2 (cellulose), 4 L3 (lignin)   litter, CLM5 machinery
!>   5 DOC, 6 MIC (microbial biomass), 7 ENZ (enzymes), 8 SOC (mineral-associated SOC)
!>
!> Litter (no SOM feedback): dL/dt = B I + A_L xi K_L L - T L, CWD -> L2 (fcwdl2) / L3,
!> T = CLM5 transport (bioturbation / cryoturbation, zero flux) on L1..L3, not on CWD;
!> solved with soc_clm5's litter solver, transport operator and input profile (shared
!> code, called, not copied).
!> Mineral soil, per layer, no transport (rates d-1, k = 1/(365 tau)):
!>   F_i  = k_Li xil L_i  (i = 1..3; xil = xi x nitrogen scalar)
!>   I_doc = F1 pl1s1 + F2 pl2s1
!>   I_mic = F1 (1-pl1s1) l1_cue + F2 (1-pl2s1) l2l3_cue + F3 (1-pl3s4) l2l3_cue
!>   I_soc = F3 pl3s4                          (the rest of the litter flux is respired)
!>   U = k_s1 xi MIC DOC / (Km_assim xi + DOC)     DOC uptake (Michaelis-Menten)
!>   D = k_s4 xi ENZ SOC / (Km_decom xi + SOC)     depolymerisation (Michaelis-Menten)
!>   dDOC/dt = I_doc + (1-p) k_d xi MIC + k_s3 xi ENZ + D - U
!>   dMIC/dt = I_mic + CUE U - (k_d + k_e) xi MIC           (respiration (1-CUE) U)
!>   dENZ/dt = k_e xi MIC - k_s3 xi ENZ
!>   dSOC/dt = I_soc + p k_d xi MIC - D
!> Steady state: litter by structured linear solves, soil pools in closed form per layer
!> (§3.3). Validity is reported through a reason code, outputs are never sign-flipped.
!> Transient: backward Euler on the coupled system (litter linear solve, then a safeguarded
!> Newton iteration per layer for the soil pools), with step halving when Newton fails.
!>
!> Parameter vector (physical values, the order of the published kp):
!>  1 bio (m2 yr-1)        2 cryo (m2 yr-1)       3 q10 (-)              4 w_scaling (-)
!>  5 tau4cwd (yr)         6 tau4l1 (yr)          7 tau4l2 (= l3) (yr)   8 tau4s1 DOC uptake (yr)
!>  9 tau4s2_death (yr)   10 tau4s2_enz (yr)     11 tau4s3 enzyme turnover (yr)
!> 12 tau4s4 depolymerisation (yr)               13 mm_const_assim (g C m-3)
!> 14 mm_const_decom (g C m-3)                    15 fcwdl2 (-)  16 pl1s1  17 pl2s1  18 pl3s4 (-)
!> 19 l1_cue  20 l2l3_cue  21 mic_cue (-)         22 pdeath2soc (-)      23 beta (-)
module soc_compas
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_PARAM, SOC_ERR_FORCING, SOC_ERR_SHAPE, &
       SOC_ERR_INVALID, SOC_ERR_NONFINITE, SOC_ERR_NOT_CONVERGED, days_per_year, tfrz
  use soc_envscalars, only: water_scalar_capped, depth_scalar
  use soc_clm5, only: clm5_check_forcing, clm5_transport, clm5_input_profile, clm5_litter_solve, &
       clm5_npar
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite, ieee_value, ieee_quiet_nan
  implicit none
  private
  public :: compas_check_params, compas_scalars, compas_litter_rates, compas_operators, &
       compas_soil_closed_form, compas_fluxes, compas_steady_state, compas_transient, compas_soil_step

  integer, parameter, public :: compas_npool = 8, compas_npar = 23, compas_nflux = 17
  integer, parameter, public :: icwd = 1, il1 = 2, il2 = 3, il3 = 4, idoc = 5, imic = 6, ienz = 7, isoc = 8
  integer, parameter :: i_bio = 1, i_cryo = 2, i_q10 = 3, i_wscal = 4, i_tcwd = 5, i_tl1 = 6, &
       i_tl2 = 7, i_ts1 = 8, i_tdeath = 9, i_tenz = 10, i_ts3 = 11, i_ts4 = 12, i_kma = 13, &
       i_kmd = 14, i_fcwdl2 = 15, i_pl1s1 = 16, i_pl2s1 = 17, i_pl3s4 = 18, i_l1cue = 19, &
       i_l23cue = 20, i_miccue = 21, i_pdeath = 22, i_beta = 23

  !> Reason codes that qualify SOC_ERR_INVALID (keep in sync with pysoc/models/compas.py).
  integer(ip), parameter, public :: COMPAS_REASON_OK = 0                !< valid solution
  integer(ip), parameter, public :: COMPAS_REASON_NEGATIVE_POOL = 1     !< a pool < 0
  integer(ip), parameter, public :: COMPAS_REASON_LOW_RATIO = 2         !< soil total / MIC stock < threshold
  integer(ip), parameter, public :: COMPAS_REASON_NO_FINITE_SOC = 3     !< k_s4 xi ENZ - p k_d xi MIC - I_soc <= 0
  integer(ip), parameter, public :: COMPAS_REASON_NO_FINITE_DOC = 4     !< DOC denominator <= 0
  integer(ip), parameter, public :: COMPAS_REASON_SINGULAR_LITTER = 5   !< litter system singular

  !> Scalar averaging: product of the monthly means (published COMPAS, default) or mean of
  !> the monthly products (as CLM5, spec M-5).
  integer, parameter, public :: XI_PRODUCT_OF_MEANS = 0, XI_MEAN_OF_PRODUCTS = 1

  !> Flux diagnostics per layer (g C m-3 d-1), second index of compas_fluxes' output.
  integer, parameter, public :: FX_CWD = 1, FX_L1 = 2, FX_L2 = 3, FX_L3 = 4, FX_IDOC = 5, &
       FX_IMIC = 6, FX_ISOC = 7, FX_UPTAKE = 8, FX_DEPOL = 9, FX_DEATH = 10, FX_ENZPROD = 11, &
       FX_ENZTURN = 12, FX_RH_L1 = 13, FX_RH_L2 = 14, FX_RH_L3 = 15, FX_RH_DOC = 16, FX_LITUPTAKE = 17

  integer, parameter :: max_halvings = 30

contains

  !> Physical-domain check of a parameter vector and the e-folding depth (not the prior).
  pure integer(ip) function compas_check_params(par, efolding) result(status)
    real(dp), intent(in) :: par(compas_npar)
    real(dp), intent(in) :: efolding            !< depth e-folding of the rates (m)
    status = SOC_OK
    if (.not. (all(ieee_is_finite(par)) .and. ieee_is_finite(efolding))) then
      status = SOC_ERR_PARAM; return
    end if
    if (par(i_bio) < 0 .or. par(i_cryo) < 0) status = SOC_ERR_PARAM
    if (par(i_q10) <= 0 .or. par(i_wscal) <= 0 .or. efolding <= 0) status = SOC_ERR_PARAM
    if (any(par(i_tcwd:i_ts4) <= 0)) status = SOC_ERR_PARAM
    if (par(i_kma) <= 0 .or. par(i_kmd) <= 0) status = SOC_ERR_PARAM
    if (any(par(i_fcwdl2:i_pdeath) < 0) .or. any(par(i_fcwdl2:i_pdeath) > 1)) status = SOC_ERR_PARAM
    if (par(i_miccue) >= 1) status = SOC_ERR_PARAM
    if (par(i_beta) <= 0 .or. par(i_beta) >= 1) status = SOC_ERR_PARAM
  end function compas_check_params

  !> Environmental scalars per layer over the nmon months given:
  !> xi (soil pools and CWD) and xil = xi x nitrogen scalar (litter L1..L3).
  !> XI_PRODUCT_OF_MEANS: xi = mean(xit) mean(xiw) mean(xio) exp(-z/efolding), xil = xi mean(fpi);
  !> XI_MEAN_OF_PRODUCTS: xi = mean(xit xiw xio) exp(-z/e), xil = mean(xit xiw xio fpi) exp(-z/e).
  !> xiw = min(1, W_SCALAR w_scaling) is capped month by month. With nmon = 1 both are the
  !> scalars of that month.
  pure subroutine compas_scalars(nlev, nmon, zsoi, par, efolding, xi_mode, tsoi, wscalar, oscalar, &
       fpi, xi, xil)
    integer, intent(in) :: nlev, nmon
    real(dp), intent(in) :: zsoi(nlev)          !< node depth (m)
    real(dp), intent(in) :: par(compas_npar)
    real(dp), intent(in) :: efolding            !< (m)
    integer, intent(in) :: xi_mode
    real(dp), intent(in) :: tsoi(nlev, nmon)    !< soil temperature (K)
    real(dp), intent(in) :: wscalar(nlev, nmon) !< CESM2 W_SCALAR (-)
    real(dp), intent(in) :: oscalar(nlev, nmon) !< oxygen scalar (-)
    real(dp), intent(in) :: fpi(nlev, nmon)     !< nitrogen scalar of litter decomposition (-)
    real(dp), intent(out) :: xi(nlev), xil(nlev)
    real(dp) :: st, sw, so, sn, sp, spn, xt, xw, xd, lnq10
    integer :: j, m
    ! froz_q10 = q10 here, for which both branches of q10_scalar reduce to q10**((T - 298.15)/10)
    ! = exp(log(q10)/10 (T - 298.15)): log(q10) once per parameter vector, one exp per layer and
    ! month instead of a pow (moves the last bits of xt only: <= 1e-12 relative, issue 18)
    lnq10 = log(par(i_q10)) / 10.0_dp
    do j = 1, nlev
      st = 0; sw = 0; so = 0; sn = 0; sp = 0; spn = 0
!GCC$ novector
      do m = 1, nmon
        xt = exp(lnq10 * (tsoi(j, m) - (tfrz + 25.0_dp)))
        xw = water_scalar_capped(wscalar(j, m), par(i_wscal))
        st = st + xt; sw = sw + xw; so = so + oscalar(j, m); sn = sn + fpi(j, m)
        sp = sp + xt * xw * oscalar(j, m)
        spn = spn + xt * xw * oscalar(j, m) * fpi(j, m)
      end do
      xd = depth_scalar(zsoi(j), efolding)
      if (xi_mode == XI_MEAN_OF_PRODUCTS) then
        xi(j) = sp / nmon * xd
        xil(j) = spn / nmon * xd
      else
        xi(j) = (st / nmon) * (sw / nmon) * (so / nmon) * xd
        xil(j) = xi(j) * (sn / nmon)
      end if
    end do
  end subroutine compas_scalars

  !> Litter decomposition rates kk(j, 1:4) = CWD, L1, L2, L3 (d-1).
  pure subroutine compas_litter_rates(nlev, par, xi, xil, kk)
    integer, intent(in) :: nlev
    real(dp), intent(in) :: par(compas_npar), xi(nlev), xil(nlev)
    real(dp), intent(out) :: kk(nlev, 4)
    kk(:, 1) = xi / (days_per_year * par(i_tcwd))
    kk(:, 2) = xil / (days_per_year * par(i_tl1))
    kk(:, 3) = xil / (days_per_year * par(i_tl2))
    kk(:, 4) = xil / (days_per_year * par(i_tl2))
  end subroutine compas_litter_rates

  !> Time-mean operators of the steady state: scalars, litter rates (d-1), CLM5 transport
  !> (d-1) and input profile (m-1). Shared pieces come from soc_clm5.
  pure subroutine compas_operators(nlev, nmon, dz, zisoi, zsoi, par, efolding, xi_mode, adv, tsoi, &
       wscalar, oscalar, fpi, altmax, altmax_ly, nbedrock, xi, xil, kk, tl, td, tu, prof)
    integer, intent(in) :: nlev, nmon, xi_mode, nbedrock
    real(dp), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev), par(compas_npar), efolding, adv
    real(dp), intent(in) :: tsoi(nlev, nmon), wscalar(nlev, nmon), oscalar(nlev, nmon), fpi(nlev, nmon)
    real(dp), intent(in) :: altmax(nmon), altmax_ly(nmon)
    real(dp), intent(out) :: xi(nlev), xil(nlev), kk(nlev, 4), tl(nlev), td(nlev), tu(nlev), prof(nlev)
    real(dp) :: pc(clm5_npar)
    call compas_scalars(nlev, nmon, zsoi, par, efolding, xi_mode, tsoi, wscalar, oscalar, fpi, xi, xil)
    call compas_litter_rates(nlev, par, xi, xil, kk)
    ! clm5_transport reads only the diffusivities, which are parameters 1 (bio) and 2 (cryo)
    ! in both models' parameter vectors
    pc = 0.0_dp
    pc(1) = par(i_bio)
    pc(2) = par(i_cryo)
    call clm5_transport(nlev, nmon, dz, zisoi, zsoi, pc, adv, nbedrock, altmax, altmax_ly, tl, td, tu)
    call clm5_input_profile(nlev, dz, zisoi, par(i_beta), maxval(altmax_ly) <= 0.0_dp, prof)
  end subroutine compas_operators

  !> Closed-form steady state of the soil pools of one layer (spec §3.3).
  !> ok_soc / ok_doc are false when no positive finite SOC / DOC exists (the pool is then NaN).
  pure subroutine compas_soil_closed_form(par, xi, i_doc, i_mic, i_soc, y, ok_soc, ok_doc)
    real(dp), intent(in) :: par(compas_npar)
    real(dp), intent(in) :: xi                     !< soil scalar of the layer (-)
    real(dp), intent(in) :: i_doc, i_mic, i_soc    !< inputs from litter (g C m-3 d-1)
    real(dp), intent(out) :: y(4)                  !< DOC, MIC, ENZ, SOC (g C m-3)
    logical, intent(out) :: ok_soc, ok_doc
    real(dp) :: ks1, kd, ke, ks3, ks4, cue, p, kdx, den_soc, den_doc
    ks1 = 1.0_dp / (days_per_year * par(i_ts1))
    kd = 1.0_dp / (days_per_year * par(i_tdeath))
    ke = 1.0_dp / (days_per_year * par(i_tenz))
    ks3 = 1.0_dp / (days_per_year * par(i_ts3))
    ks4 = 1.0_dp / (days_per_year * par(i_ts4))
    cue = par(i_miccue)
    p = par(i_pdeath)
    kdx = (kd + ke) * xi
    y(2) = (i_mic + cue * (i_soc + i_doc)) / ((1.0_dp - cue) * kdx)
    y(3) = (ke / ks3) * y(2)
    den_soc = ks4 * xi * y(3) - p * kd * xi * y(2) - i_soc
    ok_soc = den_soc > 0.0_dp
    if (ok_soc) then
      y(4) = (i_soc + p * kd * xi * y(2)) * par(i_kmd) * xi / den_soc
    else
      y(4) = ieee_value(1.0_dp, ieee_quiet_nan)
    end if
    den_doc = (cue * ks1 * xi - kdx) * y(2) + i_mic
    ok_doc = den_doc > 0.0_dp
    if (ok_doc) then
      y(1) = (kdx * y(2) - i_mic) * par(i_kma) * xi / den_doc
    else
      y(1) = ieee_value(1.0_dp, ieee_quiet_nan)
    end if
  end subroutine compas_soil_closed_form

  !> Fluxes per layer (g C m-3 d-1) for a state x, litter rates kk and soil scalar xi;
  !> indices FX_*. Every carbon flux of the model is here; the respiration terms add up to
  !> the total heterotrophic respiration.
  pure subroutine compas_fluxes(nlev, par, kk, xi, x, flux)
    integer, intent(in) :: nlev
    real(dp), intent(in) :: par(compas_npar), kk(nlev, 4), xi(nlev), x(nlev, compas_npool)
    real(dp), intent(out) :: flux(nlev, compas_nflux)
    real(dp) :: ks1, kd, ke, ks3, ks4
    integer :: j
    ks1 = 1.0_dp / (days_per_year * par(i_ts1))
    kd = 1.0_dp / (days_per_year * par(i_tdeath))
    ke = 1.0_dp / (days_per_year * par(i_tenz))
    ks3 = 1.0_dp / (days_per_year * par(i_ts3))
    ks4 = 1.0_dp / (days_per_year * par(i_ts4))
    do j = 1, nlev
      flux(j, FX_CWD) = kk(j, 1) * x(j, icwd)
      flux(j, FX_L1) = kk(j, 2) * x(j, il1)
      flux(j, FX_L2) = kk(j, 3) * x(j, il2)
      flux(j, FX_L3) = kk(j, 4) * x(j, il3)
      call litter_to_soil(par, flux(j, FX_L1), flux(j, FX_L2), flux(j, FX_L3), flux(j, FX_IDOC), &
           flux(j, FX_IMIC), flux(j, FX_ISOC))
      flux(j, FX_RH_L1) = flux(j, FX_L1) * (1.0_dp - par(i_pl1s1)) * (1.0_dp - par(i_l1cue))
      flux(j, FX_RH_L2) = flux(j, FX_L2) * (1.0_dp - par(i_pl2s1)) * (1.0_dp - par(i_l23cue))
      flux(j, FX_RH_L3) = flux(j, FX_L3) * (1.0_dp - par(i_pl3s4)) * (1.0_dp - par(i_l23cue))
      flux(j, FX_LITUPTAKE) = flux(j, FX_L1) * (1.0_dp - par(i_pl1s1)) + flux(j, FX_L2) * &
           (1.0_dp - par(i_pl2s1)) + flux(j, FX_L3) * (1.0_dp - par(i_pl3s4))
      flux(j, FX_UPTAKE) = mm_rate(ks1 * xi(j), x(j, imic), x(j, idoc), par(i_kma) * xi(j))
      flux(j, FX_DEPOL) = mm_rate(ks4 * xi(j), x(j, ienz), x(j, isoc), par(i_kmd) * xi(j))
      flux(j, FX_DEATH) = kd * xi(j) * x(j, imic)
      flux(j, FX_ENZPROD) = ke * xi(j) * x(j, imic)
      flux(j, FX_ENZTURN) = ks3 * xi(j) * x(j, ienz)
      flux(j, FX_RH_DOC) = (1.0_dp - par(i_miccue)) * flux(j, FX_UPTAKE)
    end do
  end subroutine compas_fluxes

  !> Inputs of the soil pools from the litter decomposition fluxes F1..F3 (g C m-3 d-1).
  pure subroutine litter_to_soil(par, f1, f2, f3, i_doc, i_mic, i_soc)
    real(dp), intent(in) :: par(compas_npar), f1, f2, f3
    real(dp), intent(out) :: i_doc, i_mic, i_soc
    i_doc = f1 * par(i_pl1s1) + f2 * par(i_pl2s1)
    i_mic = f1 * (1.0_dp - par(i_pl1s1)) * par(i_l1cue) + (f2 * (1.0_dp - par(i_pl2s1)) + &
         f3 * (1.0_dp - par(i_pl3s4))) * par(i_l23cue)
    i_soc = f3 * par(i_pl3s4)
  end subroutine litter_to_soil

  !> Michaelis-Menten rate v cat sub / (km + sub), zero when v = 0 (xi = 0).
  elemental real(dp) function mm_rate(v, cat, sub, km) result(r)
    real(dp), intent(in) :: v, cat, sub, km
    if (v == 0.0_dp .or. cat == 0.0_dp .or. sub == 0.0_dp) then
      r = 0.0_dp
    else
      r = v * cat * sub / (km + sub)
    end if
  end function mm_rate

  !> Steady state for one site and one parameter vector. x (nlev, 8) g C m-3; input_col and
  !> rh_col (g C m-2 yr-1; rh from the fluxes of the solution, so input - rh measures the
  !> consistency of the solution); reason (COMPAS_REASON_*). status: SOC_OK, SOC_ERR_PARAM,
  !> SOC_ERR_FORCING, SOC_ERR_INVALID (with reason /= 0) or SOC_ERR_NONFINITE.
  !> Validity (spec §3.3, reference test plus the project's reasons): singular litter
  !> system; no finite SOC or DOC in some layer (that pool is NaN there); any pool < 0;
  !> column stock (DOC+MIC+ENZ+SOC) / MIC stock < min_ratio (10 in the reference; 0 = off).
  pure subroutine compas_steady_state(nlev, nmon, dz, zisoi, zsoi, par, efolding, xi_mode, adv, &
       min_ratio, tsoi, wscalar, oscalar, fpi, litin, altmax, altmax_ly, nbedrock, x, input_col, &
       rh_col, reason, status)
    integer, intent(in) :: nlev, nmon, xi_mode
    real(dp), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)
    real(dp), intent(in) :: par(compas_npar)
    real(dp), intent(in) :: efolding                       !< (m)
    real(dp), intent(in) :: adv                            !< advection (m yr-1)
    real(dp), intent(in) :: min_ratio                      !< validity threshold (-)
    real(dp), intent(in) :: tsoi(nlev, nmon), wscalar(nlev, nmon), oscalar(nlev, nmon), fpi(nlev, nmon)
    real(dp), intent(in) :: litin(4, nmon)                 !< column input per month (g C m-2 month-1)
    real(dp), intent(in) :: altmax(nmon), altmax_ly(nmon)  !< (m)
    integer, intent(in) :: nbedrock
    real(dp), intent(out) :: x(nlev, compas_npool)
    real(dp), intent(out) :: input_col, rh_col
    integer(ip), intent(out) :: reason, status
    real(dp) :: xi(nlev), xil(nlev), kk(nlev, 4), tl(nlev), td(nlev), tu(nlev), prof(nlev)
    real(dp) :: rhs(nlev, 4), annual(4), flux(nlev, compas_nflux), y(4), i_doc, i_mic, i_soc
    real(dp) :: stock_mic, stock_soil
    logical :: ok_soc, ok_doc, all_soc, all_doc
    integer :: p, j
    x = 0; input_col = 0; rh_col = 0; reason = COMPAS_REASON_OK
    ! the forcing is checked once per site by the caller (clm5_check_forcing), not per vector
    status = compas_check_params(par, efolding)
    if (status == SOC_OK .and. (xi_mode < 0 .or. xi_mode > 1 .or. .not. ieee_is_finite(adv) &
         .or. .not. ieee_is_finite(min_ratio))) status = SOC_ERR_SHAPE
    if (status /= SOC_OK) return
    call compas_operators(nlev, nmon, dz, zisoi, zsoi, par, efolding, xi_mode, adv, tsoi, wscalar, &
         oscalar, fpi, altmax, altmax_ly, nbedrock, xi, xil, kk, tl, td, tu, prof)
    annual = sum(litin, dim=2) * (12.0_dp / nmon)          ! g C m-2 yr-1
    input_col = sum(annual)
    do p = 1, 4
      rhs(:, p) = annual(p) * prof / days_per_year         ! g C m-3 d-1
    end do
    ! a zero soil scalar in a layer leaves no finite steady state (no decomposition)
    if (.not. all(xi > 0.0_dp)) then
      reason = COMPAS_REASON_SINGULAR_LITTER; status = SOC_ERR_INVALID; return
    end if
    call clm5_litter_solve(nlev, kk, par(i_fcwdl2), tl, td, tu, 0.0_dp, rhs, x(:, 1:4), status)
    if (status /= SOC_OK) then
      x = 0; reason = COMPAS_REASON_SINGULAR_LITTER; status = SOC_ERR_INVALID; return
    end if
    all_soc = .true.; all_doc = .true.
    do j = 1, nlev
      call litter_to_soil(par, kk(j, 2) * x(j, il1), kk(j, 3) * x(j, il2), kk(j, 4) * x(j, il3), &
           i_doc, i_mic, i_soc)
      call compas_soil_closed_form(par, xi(j), i_doc, i_mic, i_soc, y, ok_soc, ok_doc)
      x(j, idoc:isoc) = y
      all_soc = all_soc .and. ok_soc
      all_doc = all_doc .and. ok_doc
    end do
    if (.not. all_soc) then
      reason = COMPAS_REASON_NO_FINITE_SOC
    else if (.not. all_doc) then
      reason = COMPAS_REASON_NO_FINITE_DOC
    else if (any(x < 0.0_dp)) then
      reason = COMPAS_REASON_NEGATIVE_POOL
    else
      stock_mic = sum(x(:, imic) * dz)
      stock_soil = sum(sum(x(:, idoc:isoc), dim=2) * dz)
      if (stock_soil < min_ratio * stock_mic) reason = COMPAS_REASON_LOW_RATIO
    end if
    if (reason /= COMPAS_REASON_OK) then
      status = SOC_ERR_INVALID
    else if (.not. all(ieee_is_finite(x))) then
      status = SOC_ERR_NONFINITE; return
    end if
    if (all_soc .and. all_doc) then
      call compas_fluxes(nlev, par, kk, xi, x, flux)
      rh_col = sum((flux(:, FX_RH_L1) + flux(:, FX_RH_L2) + flux(:, FX_RH_L3) + flux(:, FX_RH_DOC)) &
           * dz) * days_per_year
    else
      rh_col = ieee_value(1.0_dp, ieee_quiet_nan)
    end if
  end subroutine compas_steady_state

  !> One backward-Euler step of the soil pools of one layer:
  !>   y - yold = dt f(y; inputs),  y = (DOC, MIC, ENZ, SOC).
  !> The system is reduced to one scalar equation in MIC: for a given MIC, ENZ follows
  !> linearly and SOC and DOC are the positive roots of quadratics (the Michaelis-Menten
  !> terms times their denominators), so h(MIC) = MIC (1 + dt (k_d + k_e) xi) - MIC_old
  !> - dt I_mic - CUE U dt = 0 remains. Mass conservation brackets the root:
  !> h(M_lo) <= 0 at M_lo = (MIC_old + dt I_mic) / (1 + dt (k_d + k_e) xi) and h(T) >= 0 at
  !> T = total old carbon + dt inputs, so a safeguarded Newton iteration (bisection
  !> fallback) always converges, to round-off; every iterate is positive.
  !> Input = change + respiration then holds to round-off. uptake: U (g C m-3 d-1).
  !> ok = .false. only if the iteration limit is hit.
  pure subroutine compas_soil_step(par, xi, dt, i_doc, i_mic, i_soc, yold, y, uptake, ok)
    real(dp), intent(in) :: par(compas_npar)
    real(dp), intent(in) :: xi                     !< soil scalar (-)
    real(dp), intent(in) :: dt                     !< step (d)
    real(dp), intent(in) :: i_doc, i_mic, i_soc    !< inputs (g C m-3 d-1) over the step
    real(dp), intent(in) :: yold(4)
    real(dp), intent(out) :: y(4), uptake
    logical, intent(out) :: ok
    real(dp) :: ks1, kd, ke, ks3, ks4, cue, p, ka, kdm, lo, hi, m, h, dh, mnew, udt, noise, step_old
    integer :: it
    integer, parameter :: maxit = 300
    real(dp), parameter :: tol = 4.0_dp * epsilon(1.0_dp)
    ok = .true.
    ks1 = xi / (days_per_year * par(i_ts1))
    kd = xi / (days_per_year * par(i_tdeath))
    ke = xi / (days_per_year * par(i_tenz))
    ks3 = xi / (days_per_year * par(i_ts3))
    ks4 = xi / (days_per_year * par(i_ts4))
    cue = par(i_miccue)
    p = par(i_pdeath)
    ka = par(i_kma) * xi
    kdm = par(i_kmd) * xi
    if (xi <= 0.0_dp) then            ! no decomposition: inputs accumulate
      y = yold + dt * [i_doc, i_mic, 0.0_dp, i_soc]
      uptake = 0.0_dp
      return
    end if
    lo = (yold(2) + dt * i_mic) / (1.0_dp + dt * (kd + ke))
    hi = sum(yold) + dt * (i_doc + i_mic + i_soc)
    call eval_h(lo, h, dh, udt, y)
    if (h >= 0.0_dp .or. hi <= lo) then
      m = lo
    else
      m = min(max(yold(2), lo), hi)
      step_old = hi - lo
      do it = 1, maxit
        call eval_h(m, h, dh, udt, y)
        ! h is known only to the round-off of its terms
        noise = 8.0_dp * epsilon(1.0_dp) * (m * (1.0_dp + dt * (kd + ke)) + yold(2) + dt * i_mic &
             + cue * udt)
        if (abs(h) <= noise) exit
        if (h < 0.0_dp) then
          lo = m
        else
          hi = m
        end if
        mnew = m - h / dh
        ! Newton inside the bracket and at least halving the step of two iterations ago;
        ! otherwise bisection (geometric when the bracket spans orders of magnitude)
        if (.not. (dh > 0.0_dp .and. mnew > lo .and. mnew < hi .and. 2.0_dp * abs(mnew - m) < step_old)) then
          if (lo > 0.0_dp .and. hi > 4.0_dp * lo) then
            mnew = sqrt(lo) * sqrt(hi)
          else
            mnew = 0.5_dp * (lo + hi)
          end if
        end if
        step_old = max(abs(mnew - m), 0.5_dp * step_old)
        if (abs(mnew - m) <= tol * m .or. hi - lo <= tol * hi) then
          m = mnew; exit
        end if
        m = mnew
        if (it == maxit) ok = .false.
      end do
    end if
    call eval_h(m, h, dh, udt, y)
    uptake = udt / dt
  contains
    !> h(M) and dh/dM; fills yv = (DOC, M, ENZ, SOC) and U dt for this M. D dt and U dt
    !> are evaluated in their Michaelis-Menten form (relative accuracy; the SOC and DOC
    !> balances then hold to the round-off of those pools).
    pure subroutine eval_h(mm, hv, dhv, u_dt, yv)
      real(dp), intent(in) :: mm
      real(dp), intent(out) :: hv, dhv, u_dt, yv(4)
      real(dp) :: e, de, a, da, b, db, s, ds, ddt, dddt, c, dc, ee, dee, cc, dcc, dudt
      e = (yold(3) + dt * ke * mm) / (1.0_dp + dt * ks3)
      de = dt * ke / (1.0_dp + dt * ks3)
      ! SOC: S - a + b S / (Kd + S) = 0, a = S_old + dt (I_soc + p k_d M), b = dt k_s4 E
      a = yold(4) + dt * (i_soc + p * kd * mm)
      da = dt * p * kd
      b = dt * ks4 * e
      db = dt * ks4 * de
      call mm_root(a, b, kdm, da, db, s, ds)
      ddt = b * s / (kdm + s)                                         ! D dt
      dddt = db * s / (kdm + s) + b * kdm / (kdm + s)**2 * ds
      ! DOC: C - c + ee C / (Ka + C) = 0, c = C_old + dt (I_doc + (1-p) k_d M + k_s3 E) + D dt
      c = yold(1) + dt * (i_doc + (1.0_dp - p) * kd * mm + ks3 * e) + ddt
      dc = dt * ((1.0_dp - p) * kd + ks3 * de) + dddt
      ee = dt * ks1 * mm
      dee = dt * ks1
      call mm_root(c, ee, ka, dc, dee, cc, dcc)
      u_dt = ee * cc / (ka + cc)                                      ! U dt
      dudt = dee * cc / (ka + cc) + ee * ka / (ka + cc)**2 * dcc
      hv = mm * (1.0_dp + dt * (kd + ke)) - yold(2) - dt * i_mic - cue * u_dt
      dhv = 1.0_dp + dt * (kd + ke) - cue * dudt
      yv = [cc, mm, e, s]
    end subroutine eval_h
  end subroutine compas_soil_step

  !> Positive root x of x^2 + (k - a + b) x - a k = 0 (a >= 0, b >= 0, k > 0), i.e. of
  !> x - a + b x / (k + x) = 0, and its derivative for a'(.) = da, b'(.) = db. Evaluated
  !> without cancellation.
  pure subroutine mm_root(a, b, k, da, db, x, dx)
    real(dp), intent(in) :: a, b, k, da, db
    real(dp), intent(out) :: x, dx
    real(dp) :: bb, disc
    bb = k - a + b
    disc = sqrt(bb * bb + 4.0_dp * max(a, 0.0_dp) * k)
    if (bb >= 0.0_dp) then
      x = 2.0_dp * max(a, 0.0_dp) * k / (bb + disc)
    else
      x = 0.5_dp * (disc - bb)
    end if
    ! implicit derivative: phi = x^2 + bb x - a k; dphi/dx = 2x + bb; dphi/dparam = (-da + db) x - da k
    if (2.0_dp * x + bb > 0.0_dp) then
      dx = -((db - da) * x - da * k) / (2.0_dp * x + bb)
    else
      dx = 0.0_dp
    end if
  end subroutine mm_root

  !> Transient integration, monthly forcing steps of days(k) days, each split into nsub
  !> backward-Euler sub-steps (halved further, as needed, when the Newton iteration of the
  !> soil pools fails). Step k uses that month's scalars, transport and inputs (no averaging).
  !> rh (nlev, 8, nstep): respiration during the step attributed to its pathway
  !> (L1, L2, L3: litter assimilation; DOC: (1 - CUE) U), g C m-3 step-1; litter is exactly
  !> conserved by the linear solves and the soil pools to the Newton tolerance.
  pure subroutine compas_transient(nlev, nstep, dz, zisoi, zsoi, par, efolding, adv, tsoi, wscalar, &
       oscalar, fpi, litin, altmax, altmax_ly, nbedrock, days, nsub, x0, x, rh, status)
    integer, intent(in) :: nlev, nstep
    real(dp), intent(in) :: dz(nlev), zisoi(nlev), zsoi(nlev)
    real(dp), intent(in) :: par(compas_npar)
    real(dp), intent(in) :: efolding, adv
    real(dp), intent(in) :: tsoi(nlev, nstep), wscalar(nlev, nstep), oscalar(nlev, nstep), fpi(nlev, nstep)
    real(dp), intent(in) :: litin(4, nstep)                !< column input per step (g C m-2 step-1)
    real(dp), intent(in) :: altmax(nstep), altmax_ly(nstep)
    integer, intent(in) :: nbedrock
    real(dp), intent(in) :: days(nstep)                    !< length of each step (d)
    integer, intent(in) :: nsub                            !< sub-steps per step (>= 1)
    real(dp), intent(in) :: x0(nlev, compas_npool)         !< initial state (g C m-3), >= 0
    real(dp), intent(out) :: x(nlev, compas_npool, nstep)
    real(dp), intent(out) :: rh(nlev, compas_npool, nstep)
    integer(ip), intent(out) :: status
    real(dp) :: xi(nlev), xil(nlev), kk(nlev, 4), tl(nlev), td(nlev), tu(nlev), prof(nlev)
    real(dp) :: inp(nlev, 4), xold(nlev, compas_npool), xnew(nlev, compas_npool)
    real(dp) :: rstep(nlev, compas_npool), dtsub, h, tleft, y(4), upt, i_doc, i_mic, i_soc
    real(dp) :: f1, f2, f3
    logical :: ok
    integer :: k, s, p, j, nhalf
    x = 0; rh = 0
    status = compas_check_params(par, efolding)
    if (status == SOC_OK) status = clm5_check_forcing(nlev, nstep, tsoi, wscalar, oscalar, fpi, litin, &
         altmax, altmax_ly, nbedrock)
    if (status /= SOC_OK) return
    if (nsub < 1 .or. any(.not. (days > 0.0_dp)) .or. .not. ieee_is_finite(adv)) then
      status = SOC_ERR_SHAPE; return
    end if
    if (.not. all(ieee_is_finite(x0)) .or. any(x0 < 0.0_dp)) then
      status = SOC_ERR_FORCING; return
    end if
    xold = x0
    do k = 1, nstep
      call compas_operators(nlev, 1, dz, zisoi, zsoi, par, efolding, XI_PRODUCT_OF_MEANS, adv, &
           tsoi(:, k), wscalar(:, k), oscalar(:, k), fpi(:, k), altmax(k:k), altmax_ly(k:k), nbedrock, &
           xi, xil, kk, tl, td, tu, prof)
      do p = 1, 4
        inp(:, p) = litin(p, k) / days(k) * prof           ! g C m-3 d-1
      end do
      dtsub = days(k) / nsub
      do s = 1, nsub
        tleft = dtsub
        h = dtsub
        nhalf = 0
        do while (tleft > 0.0_dp)
          h = min(h, tleft)
          call clm5_litter_solve(nlev, kk, par(i_fcwdl2), tl, td, tu, 1.0_dp / h, xold(:, 1:4) / h + inp, &
               xnew(:, 1:4), status)
          if (status /= SOC_OK) return
          ok = .true.
          do j = 1, nlev
            f1 = kk(j, 2) * xnew(j, il1)
            f2 = kk(j, 3) * xnew(j, il2)
            f3 = kk(j, 4) * xnew(j, il3)
            call litter_to_soil(par, f1, f2, f3, i_doc, i_mic, i_soc)
            call compas_soil_step(par, xi(j), h, i_doc, i_mic, i_soc, xold(j, idoc:isoc), y, upt, ok)
            if (.not. ok) exit
            xnew(j, idoc:isoc) = y
            rstep(j, :) = 0.0_dp
            rstep(j, il1) = f1 * (1.0_dp - par(i_pl1s1)) * (1.0_dp - par(i_l1cue)) * h
            rstep(j, il2) = f2 * (1.0_dp - par(i_pl2s1)) * (1.0_dp - par(i_l23cue)) * h
            rstep(j, il3) = f3 * (1.0_dp - par(i_pl3s4)) * (1.0_dp - par(i_l23cue)) * h
            rstep(j, idoc) = (1.0_dp - par(i_miccue)) * upt * h
          end do
          if (.not. ok) then
            nhalf = nhalf + 1
            if (nhalf > max_halvings) then
              status = SOC_ERR_NOT_CONVERGED; return
            end if
            h = 0.5_dp * h
            cycle
          end if
          rh(:, :, k) = rh(:, :, k) + rstep
          xold = xnew
          tleft = tleft - h
          if (tleft <= 1.0e-12_dp * dtsub) tleft = 0.0_dp
          h = 2.0_dp * h
        end do
      end do
      x(:, :, k) = xold
    end do
    if (.not. (all(ieee_is_finite(x)) .and. all(ieee_is_finite(rh)))) status = SOC_ERR_NONFINITE
  end subroutine compas_transient

end module soc_compas
