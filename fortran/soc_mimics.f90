!> Vertically resolved MIMICS with radiocarbon (spec models.md §0.5 and §4; Wieder et al.
!> 2014, 2015; Wang et al. 2021 JGR-B = seed 003).
!>
!> Governing equation, per site, state C(p, j) (mg C cm-3) for the pools
!>     p = LITm, LITs, MICr, MICk, SOMp, SOMc, SOMa   (order of the regression files)
!> in every layer j = 1..nlay (layer thickness dz_j):
!>     dC/dt = I(p, j) + sum_f S(p, f) phi_f(C(:, j)) - (T C)(p, j)
!> phi_f: the 11 MIMICS fluxes of layer j (mg C cm-3 h-1), S: their stoichiometry
!> (-1 for the donor; the growth efficiency (CUE) or the partitioning fraction for the
!> receiver; 1 - CUE of every uptake flux is respired), T: Patankar diffusion with
!> D = x_D D0 and zero flux through the surface and the bottom (soc_transport),
!> I: litter inputs, aboveground into layer 1, roots by the normalised negative
!> exponential profile, split by fMET into LITm/LITs and by FI into SOMp/SOMc.
!>
!> Fluxes f (donor pool; microbe):
!>   1 LITm by MICr (V1, K1)   2 LITs by MICr (V2, K2)   3 SOMa by MICr (V3, K3)
!>   4 LITm by MICk (V4, K4)   5 LITs by MICk (V5, K5)   6 SOMa by MICk (V6, K6)
!>   7 SOMc oxidised by MICr (V2, KO1 K2) -> SOMa   8 SOMc by MICk (V5, KO2 K5) -> SOMa
!>   9 MICr turnover tau_r MICr^beta -> SOMp/SOMc/SOMa (fPHYS_r, fCHEM_r, fAVAI_r)
!>  10 MICk turnover tau_k MICk^beta -> SOMp/SOMc/SOMa (fPHYS_k, fCHEM_k, fAVAI_k)
!>  11 desorption desorb SOMp -> SOMa
!> Forward Michaelis-Menten (default, X-2): phi = M V S/(K + S); reverse: M V S/(K + M).
!> Every flux is written phi_f = k_f C_donor(f); the radiocarbon tracer c (mg C cm-3 x
!> fraction modern) moves with the same k_f and decays at lambda = ln 2 / 5730 yr:
!>     dc/dt = I F_atm + sum_f S(:, f) k_f c_donor(f) - lambda c - T c.
!>
!> Units: internally mg C cm-3, hours, cm; at the boundary layer thickness in m, litter
!> inputs in g C m-2 yr-1 (1 g C m-2 yr-1 = 0.1/8760 mg C cm-2 h-1), temperature in degC.
!> Year = 8760 h.
!>
!> Parameter vector par(mim_npar) (values, units):
!>   1- 6 vslope (degC-1), order r:LITm r:LITs r:SOMa k:LITm k:LITs k:SOMa
!>   7 vint (-)   8 aV (mg C (mg MIC)-1 h-1)   9-14 vMOD (-)
!>  15-20 kslope (degC-1)   21 kint (-)   22 aK (mg C cm-3)   23-28 kMOD (-)
!>  29-30 pSCALAR p1, p2: kMOD_3 and kMOD_6 x p1 exp(p2 sqrt(clay))
!>  31-32 KO_r, KO_k (-)   33-36 CUE1..CUE4 (-) (r on LITm/SOMa, r on LITs, k on LITm/SOMa, k on LITs)
!>  37-38 tau_r p1 (h-1), p2 (-)   39-40 tau_k p1, p2: tau = p1 exp(p2 fMET) tauMod
!>  41-44 Tau_MOD1 (g C m-2 yr-1), MOD2 (min), MOD3 (max), MOD4 (factor):
!>        tauMod = clamp(sqrt(Itot/MOD1), MOD2, MOD3) MOD4, Itot = total litter input
!>  45-46 fPHYS_r p1, p2   47-48 fPHYS_k p1, p2: fPHYS = p1 exp(p2 clay)
!>  49-51 fCHEM_r p1, p2, p3   52-54 fCHEM_k: fCHEM = p1 exp(p2 fMET) p3
!>  55-56 fSOM_p p1 (h-1), p2: desorb = p1 exp(p2 clay)
!>  57-58 FI_met, FI_struc (-)   59-61 fmet_p1..3: fMET = p1 (p2 - p3 lig:N)
!>  62 fMET_fixed (-): > 0 replaces the lig:N formula for both litter sources
!>  63 D0 (cm2 h-1)
!>  64 x_v  65 x_K  66 x_d  67 x_D (-)  68 alpha_r (m-1)  69 alpha_v (m-1)  70 beta (-)
!>  (seed 003 Table 1; z in the exponents is in m, spec §4.5 units note)
!>
!> Site forcing: clay(nlay) (fraction), temperature tsoi(nlay, ntime) (degC), moisture
!> scalar wsc(nlay, ntime) (-, multiplies Vmax), litter(4) = aboveground input,
!> root input (g C m-2 yr-1), lig:N aboveground, lig:N roots.
!> fMET for tau and fCHEM is the input-weighted mean of the two litter sources.
module soc_mimics
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_PARAM, SOC_ERR_FORCING, SOC_ERR_SHAPE, &
       SOC_ERR_SINGULAR, SOC_ERR_NOT_CONVERGED, SOC_ERR_INVALID, SOC_ERR_NONFINITE
  use soc_grid, only: grid_from_thickness
  use soc_transport, only: transport_operator
  use soc_solvers, only: block_tridiag_solve, dense_lu_solve
  use soc_mimics_eig, only: max_real_eigenvalue
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  implicit none
  private
  public :: mim_site, mim_work, mim_check_params, mim_kinetics, mim_setup, mim_column_eval, mim_initial_guess, &
       mim_newton, mim_steady_state, mim_c14_steady, mim_step, mim_transient, mim_spinup, &
       mim_full_jacobian, mim_stock_balance, mim_c14_transient, mim_tracer_blocks

  integer, parameter, public :: mim_npool = 7, mim_npar = 70, mim_nflux = 11, mim_nlitter = 4
  integer, parameter, public :: ilm = 1, ils = 2, imr = 3, imk = 4, isp = 5, isc = 6, isa = 7
  integer, parameter, public :: KIN_FORWARD = 1, KIN_REVERSE = 2
  !> reasons returned with SOC_ERR_INVALID (bit flags)
  integer(ip), parameter, public :: REASON_EXTINCT = 1, REASON_UNSTABLE = 2, REASON_STABILITY_UNKNOWN = 4

  integer, parameter, public :: i_vslope = 1, i_vint = 7, i_av = 8, i_vmod = 9, i_kslope = 15, &
       i_kint = 21, i_ak = 22, i_kmod = 23, i_psc = 29, i_ko = 31, i_cue = 33, i_taur = 37, &
       i_tauk = 39, i_taumod = 41, i_fphysr = 45, i_fphysk = 47, i_fchemr = 49, i_fchemk = 52, &
       i_fsom = 55, i_fi = 57, i_fmet = 59, i_fmetfix = 62, i_d0 = 63, i_xv = 64, i_xk = 65, &
       i_xd = 66, i_xdiff = 67, i_ar = 68, i_avd = 69, i_beta = 70

  real(dp), parameter, public :: hours_per_year = 8760.0_dp
  real(dp), parameter, public :: gm2yr_to_mgcm2h = 0.1_dp / hours_per_year
  real(dp), parameter, public :: c14_half_life = 5730.0_dp                       !< (yr)
  real(dp), parameter, public :: lambda14 = 0.6931471805599453_dp / (c14_half_life * hours_per_year) !< (h-1)

  !> donor pool and microbe of each flux (0: no microbe)
  integer, parameter :: donor(mim_nflux) = [ilm, ils, isa, ilm, ils, isa, isc, isc, imr, imk, isp]
  integer, parameter :: microbe(mim_nflux) = [imr, imr, imr, imk, imk, imk, imr, imk, 0, 0, 0]

  !> Site description after setup: everything that does not depend on time or state.
  type :: mim_site
    integer :: nlay = 0
    integer :: kin = KIN_FORWARD
    real(dp), allocatable :: dz(:)          !< layer thickness (cm)
    real(dp), allocatable :: vfac(:, :)     !< (6, nlay) aV vMOD x_v exp(-alpha_v z) (mg C (mg MIC)-1 h-1)
    real(dp), allocatable :: kfac(:, :)     !< (6, nlay) aK x_K / kMOD (x 1/pSCALAR for SOMa) (mg C cm-3)
    real(dp), allocatable :: tau(:, :)      !< (2, nlay) turnover coefficients (h-1 (mg C cm-3)^(1-beta))
    real(dp), allocatable :: desorb(:)      !< (nlay) desorption rate (h-1)
    real(dp), allocatable :: stoich(:, :, :) !< (7, 11, nlay) stoichiometry S
    real(dp), allocatable :: inp(:, :)      !< (7, nlay) litter input (mg C cm-3 h-1)
    real(dp), allocatable :: tl(:), td(:), tu(:)  !< transport operator (h-1)
    real(dp) :: vslope(6) = 0, vint = 0, kslope(6) = 0, kint = 0, ko(2) = 0
    real(dp) :: beta = 1
    real(dp) :: itot = 0      !< column input (mg C cm-2 h-1)
    real(dp) :: iscale = 0    !< column input / column depth (mg C cm-3 h-1): residual scale
    real(dp) :: fmet = 0      !< effective metabolic fraction (-)
    real(dp) :: depth = 0     !< column depth (cm)
  end type mim_site

  !> Factorisation cache of the chord iteration of the time steps.
  type :: mim_work
    real(dp), allocatable :: dinv(:, :, :), g(:, :, :)
    real(dp), allocatable :: dxprev(:, :)   !< last step's change (linear predictor)
    real(dp) :: h = -1.0_dp
    real(dp) :: tol = 1.0e-14_dp            !< relative update at which a step is converged
    logical :: valid = .false.
  end type mim_work

contains

  ! ------------------------------------------------------------------------------------
  ! parameters, forcing, setup
  ! ------------------------------------------------------------------------------------

  !> Physical-domain check of a parameter vector (not the calibration prior).
  pure integer(ip) function mim_check_params(par) result(status)
    real(dp), intent(in) :: par(mim_npar)
    status = SOC_OK
    if (.not. all(ieee_is_finite(par))) then
      status = SOC_ERR_PARAM; return
    end if
    if (par(i_av) <= 0 .or. any(par(i_vmod:i_vmod + 5) <= 0)) status = SOC_ERR_PARAM
    if (par(i_ak) <= 0 .or. any(par(i_kmod:i_kmod + 5) <= 0)) status = SOC_ERR_PARAM
    if (par(i_psc) <= 0 .or. any(par(i_ko:i_ko + 1) <= 0)) status = SOC_ERR_PARAM
    if (any(par(i_cue:i_cue + 3) <= 0) .or. any(par(i_cue:i_cue + 3) > 1)) status = SOC_ERR_PARAM
    if (par(i_taur) <= 0 .or. par(i_tauk) <= 0) status = SOC_ERR_PARAM
    if (par(i_taumod) <= 0 .or. par(i_taumod + 1) < 0 .or. par(i_taumod + 2) < par(i_taumod + 1) &
         .or. par(i_taumod + 3) <= 0) status = SOC_ERR_PARAM
    if (par(i_fphysr) < 0 .or. par(i_fphysk) < 0) status = SOC_ERR_PARAM
    if (par(i_fchemr) < 0 .or. par(i_fchemk) < 0 .or. par(i_fchemr + 2) < 0 .or. par(i_fchemk + 2) < 0) &
         status = SOC_ERR_PARAM
    if (par(i_fsom) <= 0) status = SOC_ERR_PARAM
    if (any(par(i_fi:i_fi + 1) < 0) .or. any(par(i_fi:i_fi + 1) >= 1)) status = SOC_ERR_PARAM
    if (par(i_fmetfix) >= 1) status = SOC_ERR_PARAM
    if (par(i_d0) < 0) status = SOC_ERR_PARAM
    if (par(i_xv) <= 0 .or. par(i_xk) <= 0 .or. par(i_xd) <= 0 .or. par(i_xdiff) < 0) status = SOC_ERR_PARAM
    if (par(i_ar) < 0 .or. par(i_avd) < 0) status = SOC_ERR_PARAM
    if (par(i_beta) < 1 .or. par(i_beta) > 3) status = SOC_ERR_PARAM
  end function mim_check_params

  !> Metabolic fraction of one litter source.
  pure real(dp) function litter_fmet(par, lign) result(f)
    real(dp), intent(in) :: par(mim_npar), lign
    if (par(i_fmetfix) > 0) then
      f = par(i_fmetfix)
    else
      f = par(i_fmet) * (par(i_fmet + 1) - par(i_fmet + 2) * lign)
    end if
  end function litter_fmet

  !> exp(x) - 1 without cancellation for small |x|.
  pure real(dp) function expm1(x)
    real(dp), intent(in) :: x
    if (abs(x) < 1.0e-5_dp) then
      expm1 = x * (1.0_dp + x * (0.5_dp + x / 6.0_dp))
    else
      expm1 = exp(x) - 1.0_dp
    end if
  end function expm1

  !> Build the site description. dz_m: layer thickness (m); clay (fraction);
  !> litter = (aboveground input, root input (g C m-2 yr-1), lig:N above, lig:N roots).
  !> Status: shape (bad grid), param (par outside its domain, or fPHYS + fCHEM > 1 for
  !> this site), forcing (clay outside [0,1], negative or zero total input, fMET outside (0,1)).
  pure subroutine mim_setup(nlay, dz_m, par, kin, clay, litter, s, status)
    integer, intent(in) :: nlay
    real(dp), intent(in) :: dz_m(nlay), par(mim_npar)
    integer, intent(in) :: kin
    real(dp), intent(in) :: clay(nlay), litter(mim_nlitter)
    type(mim_site), intent(out) :: s
    integer(ip), intent(out) :: status
    real(dp) :: zisoi(nlay), zsoi(nlay), ztop, zbot, h, frac, ia, ib, fma, fmb, taumod, ps, d(nlay)
    real(dp) :: fp(2), fc(2), fa(2), zero(nlay), dzc(nlay), zic(nlay), znc(nlay)
    integer :: j, f
    status = SOC_OK
    if (nlay < 1) then
      status = SOC_ERR_SHAPE; return
    end if
    call grid_from_thickness(int(nlay, ip), dz_m, zisoi, zsoi, status)
    if (status /= SOC_OK) return
    status = mim_check_params(par)
    if (status /= SOC_OK) return
    if (kin /= KIN_FORWARD .and. kin /= KIN_REVERSE) then
      status = SOC_ERR_PARAM; return
    end if
    if (.not. (all(ieee_is_finite(clay)) .and. all(ieee_is_finite(litter)))) then
      status = SOC_ERR_FORCING; return
    end if
    if (any(clay < 0) .or. any(clay > 1)) status = SOC_ERR_FORCING
    ia = litter(1); ib = litter(2)
    if (ia < 0 .or. ib < 0 .or. ia + ib <= 0) status = SOC_ERR_FORCING
    fma = litter_fmet(par, litter(3))
    fmb = litter_fmet(par, litter(4))
    if (.not. (fma > 0 .and. fma < 1 .and. fmb > 0 .and. fmb < 1)) status = SOC_ERR_FORCING
    if (status /= SOC_OK) return

    s%nlay = nlay
    s%kin = kin
    allocate(s%dz(nlay), s%vfac(6, nlay), s%kfac(6, nlay), s%tau(2, nlay), s%desorb(nlay), &
         s%stoich(mim_npool, mim_nflux, nlay), s%inp(mim_npool, nlay), s%tl(nlay), s%td(nlay), s%tu(nlay))
    s%dz = dz_m * 100.0_dp
    s%depth = sum(s%dz)
    s%vslope = par(i_vslope:i_vslope + 5)
    s%vint = par(i_vint)
    s%kslope = par(i_kslope:i_kslope + 5)
    s%kint = par(i_kint)
    s%ko = par(i_ko:i_ko + 1)
    s%beta = par(i_beta)
    s%fmet = (ia * fma + ib * fmb) / (ia + ib)
    taumod = min(max(sqrt((ia + ib) / par(i_taumod)), par(i_taumod + 1)), par(i_taumod + 2)) &
         * par(i_taumod + 3)
    h = zisoi(nlay)
    do j = 1, nlay
      ! kinetics: Vmax attenuation with node depth (m), Km with clay for SOMa
      s%vfac(:, j) = par(i_av) * par(i_vmod:i_vmod + 5) * par(i_xv) * exp(-par(i_avd) * zsoi(j))
      ps = par(i_psc) * exp(par(i_psc + 1) * sqrt(clay(j)))
      s%kfac(:, j) = par(i_ak) * par(i_xk) / par(i_kmod:i_kmod + 5)
      s%kfac(3, j) = s%kfac(3, j) / ps
      s%kfac(6, j) = s%kfac(6, j) / ps
      s%tau(1, j) = par(i_taur) * exp(par(i_taur + 1) * s%fmet) * taumod
      s%tau(2, j) = par(i_tauk) * exp(par(i_tauk + 1) * s%fmet) * taumod
      s%desorb(j) = par(i_xd) * par(i_fsom) * exp(par(i_fsom + 1) * clay(j))
      fp(1) = par(i_fphysr) * exp(par(i_fphysr + 1) * clay(j))
      fp(2) = par(i_fphysk) * exp(par(i_fphysk + 1) * clay(j))
      fc(1) = par(i_fchemr) * exp(par(i_fchemr + 1) * s%fmet) * par(i_fchemr + 2)
      fc(2) = par(i_fchemk) * exp(par(i_fchemk + 1) * s%fmet) * par(i_fchemk + 2)
      fa = 1.0_dp - fp - fc
      if (any(fa < 0)) then
        status = SOC_ERR_PARAM; return
      end if
      ! stoichiometry
      s%stoich(:, :, j) = 0.0_dp
      do f = 1, 8
        s%stoich(donor(f), f, j) = -1.0_dp
      end do
      s%stoich(imr, 1, j) = par(i_cue)
      s%stoich(imr, 2, j) = par(i_cue + 1)
      s%stoich(imr, 3, j) = par(i_cue)
      s%stoich(imk, 4, j) = par(i_cue + 2)
      s%stoich(imk, 5, j) = par(i_cue + 3)
      s%stoich(imk, 6, j) = par(i_cue + 2)
      s%stoich(isa, 7, j) = 1.0_dp
      s%stoich(isa, 8, j) = 1.0_dp
      s%stoich(imr, 9, j) = -1.0_dp
      s%stoich(isp:isa, 9, j) = [fp(1), fc(1), fa(1)]
      s%stoich(imk, 10, j) = -1.0_dp
      s%stoich(isp:isa, 10, j) = [fp(2), fc(2), fa(2)]
      s%stoich(isp, 11, j) = -1.0_dp
      s%stoich(isa, 11, j) = 1.0_dp
      ! litter inputs (mg C cm-3 h-1): aboveground into layer 1, roots by the
      ! normalised negative exponential profile (uniform if alpha_r = 0)
      ztop = 0.0_dp
      if (j > 1) ztop = zisoi(j - 1)
      zbot = zisoi(j)
      if (par(i_ar) * h > 1.0e-12_dp) then
        frac = exp(-par(i_ar) * ztop) * expm1(-par(i_ar) * (zbot - ztop)) / expm1(-par(i_ar) * h)
      else
        frac = (zbot - ztop) / h
      end if
      s%inp(:, j) = 0.0_dp
      s%inp(ilm, j) = ib * frac * fmb * (1.0_dp - par(i_fi))
      s%inp(ils, j) = ib * frac * (1.0_dp - fmb) * (1.0_dp - par(i_fi + 1))
      s%inp(isp, j) = ib * frac * fmb * par(i_fi)
      s%inp(isc, j) = ib * frac * (1.0_dp - fmb) * par(i_fi + 1)
      if (j == 1) then
        s%inp(ilm, j) = s%inp(ilm, j) + ia * fma * (1.0_dp - par(i_fi))
        s%inp(ils, j) = s%inp(ils, j) + ia * (1.0_dp - fma) * (1.0_dp - par(i_fi + 1))
        s%inp(isp, j) = s%inp(isp, j) + ia * fma * par(i_fi)
        s%inp(isc, j) = s%inp(isc, j) + ia * (1.0_dp - fma) * par(i_fi + 1)
      end if
      s%inp(:, j) = s%inp(:, j) * gm2yr_to_mgcm2h / s%dz(j)
    end do
    s%itot = (ia + ib) * gm2yr_to_mgcm2h
    s%iscale = s%itot / s%depth
    ! transport (h-1) on the grid in cm; no operator at all without diffusion
    s%tl = 0.0_dp; s%td = 0.0_dp; s%tu = 0.0_dp
    if (nlay > 1 .and. par(i_xdiff) * par(i_d0) > 0) then
      d = par(i_xdiff) * par(i_d0)
      zero = 0.0_dp
      dzc = s%dz; zic = zisoi * 100.0_dp; znc = zsoi * 100.0_dp
      call transport_operator(nlay, dzc, zic, znc, d, zero, s%tl, s%td, s%tu)
    end if
  end subroutine mim_setup

  !> Check of the time-varying forcing of one site: finite temperature in [-80, 80] degC
  !> and moisture scalar >= 0.
  pure integer(ip) function check_env(nlay, nt, tsoi, wsc) result(status)
    integer, intent(in) :: nlay, nt
    real(dp), intent(in) :: tsoi(nlay, nt), wsc(nlay, nt)
    status = SOC_OK
    if (.not. (all(ieee_is_finite(tsoi)) .and. all(ieee_is_finite(wsc)))) then
      status = SOC_ERR_FORCING; return
    end if
    if (any(tsoi < -80.0_dp) .or. any(tsoi > 80.0_dp) .or. any(wsc < 0.0_dp)) status = SOC_ERR_FORCING
  end function check_env

  ! ------------------------------------------------------------------------------------
  ! fluxes, tendency, Jacobian
  ! ------------------------------------------------------------------------------------

  !> One Michaelis-Menten uptake by microbe m of substrate c (donor):
  !> rate per unit donor k, flux phi = k c, derivatives w.r.t. donor and microbe.
  pure subroutine mm_flux(kin, m, c, v, km, k, phi, dd, dm)
    integer, intent(in) :: kin
    real(dp), intent(in) :: m, c, v, km
    real(dp), intent(out) :: k, phi, dd, dm
    real(dp) :: den
    if (kin == KIN_FORWARD) then
      den = km + c
      k = m * v / den
      phi = k * c
      dd = m * v * km / (den * den)
      dm = v * c / den
    else
      den = km + m
      k = m * v / den
      phi = k * c
      dd = k
      dm = v * c * km / (den * den)
    end if
  end subroutine mm_flux

  !> Maximum uptake rates v (mg C (mg MIC)-1 h-1) and half-saturation constants km
  !> (mg C cm-3) of every layer for the nt forcing columns (temperature, moisture).
  pure subroutine mim_kinetics(s, nt, tsoi, wsc, v, km)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt
    real(dp), intent(in) :: tsoi(s%nlay, nt), wsc(s%nlay, nt)
    real(dp), intent(out) :: v(6, s%nlay, nt), km(6, s%nlay, nt)
    integer :: j, it
    do it = 1, nt
      do j = 1, s%nlay
        v(:, j, it) = exp(s%vslope * tsoi(j, it) + s%vint) * s%vfac(:, j) * wsc(j, it)
        km(:, j, it) = exp(s%kslope * tsoi(j, it) + s%kint) * s%kfac(:, j)
      end do
    end do
  end subroutine mim_kinetics

  !> Fluxes of layer j with kinetic constants v, km (mim_kinetics).
  !> k(f): rate per unit donor (h-1), phi(f) (mg C cm-3 h-1), dd/dm: d phi / d donor, microbe.
  pure subroutine layer_fluxes(s, j, v, km, x, k, phi, dd, dm)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: j
    real(dp), intent(in) :: v(6), km(6), x(mim_npool)
    real(dp), intent(out) :: k(mim_nflux), phi(mim_nflux), dd(mim_nflux), dm(mim_nflux)
    real(dp) :: mb
    integer :: f, ic
    do f = 1, 6
      call mm_flux(s%kin, x(microbe(f)), x(donor(f)), v(f), km(f), k(f), phi(f), dd(f), dm(f))
    end do
    call mm_flux(s%kin, x(imr), x(isc), v(2), s%ko(1) * km(2), k(7), phi(7), dd(7), dm(7))
    call mm_flux(s%kin, x(imk), x(isc), v(5), s%ko(2) * km(5), k(8), phi(8), dd(8), dm(8))
    do f = 9, 10
      ic = f - 8
      mb = max(x(donor(f)), 0.0_dp)
      if (s%beta == 1.0_dp) then
        k(f) = s%tau(ic, j)
        dd(f) = k(f)
      else
        k(f) = s%tau(ic, j) * mb**(s%beta - 1.0_dp)
        dd(f) = s%beta * k(f)
      end if
      phi(f) = k(f) * mb
      dm(f) = 0.0_dp
    end do
    k(11) = s%desorb(j)
    phi(11) = k(11) * x(isp)
    dd(11) = k(11)
    dm(11) = 0.0_dp
  end subroutine layer_fluxes

  !> Time-mean tendency of the column f(7, nlay) (mg C cm-3 h-1) for the kinetic
  !> constants of nt forcing columns (mim_kinetics; nt = 1: instantaneous), reaction Jacobian blocks jb(7, 7, nlay) (h-1)
  !> if want_jac, respiration resp(nlay) (mg C cm-3 h-1) and the mean rate coefficients
  !> kf(11, nlay) (h-1) for the tracer. Litter inputs are multiplied by iscl.
  pure subroutine mim_column_eval(s, nt, v, km, iscl, x, f, resp, want_jac, jb, kf, gross)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt
    real(dp), intent(in) :: v(6, s%nlay, nt), km(6, s%nlay, nt), iscl, x(mim_npool, s%nlay)
    real(dp), intent(out) :: f(mim_npool, s%nlay), resp(s%nlay)
    logical, intent(in) :: want_jac
    real(dp), intent(out) :: jb(mim_npool, mim_npool, s%nlay), kf(mim_nflux, s%nlay)
    real(dp), intent(out) :: gross(mim_npool, s%nlay)  !< sum of the magnitudes of all terms of f
    real(dp) :: k(mim_nflux), phi(mim_nflux), dd(mim_nflux), dm(mim_nflux)
    real(dp) :: sphi(mim_nflux), sdd(mim_nflux), sdm(mim_nflux), sk(mim_nflux)
    integer :: j, it, q, n
    n = s%nlay
    do j = 1, n
      sphi = 0; sdd = 0; sdm = 0; sk = 0
      do it = 1, nt
        call layer_fluxes(s, j, v(:, j, it), km(:, j, it), x(:, j), k, phi, dd, dm)
        sphi = sphi + phi; sdd = sdd + dd; sdm = sdm + dm; sk = sk + k
      end do
      if (nt > 1) then
        sphi = sphi / nt; sdd = sdd / nt; sdm = sdm / nt; sk = sk / nt
      end if
      f(:, j) = iscl * s%inp(:, j) + matmul(s%stoich(:, :, j), sphi)
      resp(j) = -sum(matmul(s%stoich(:, :, j), sphi))
      gross(:, j) = iscl * s%inp(:, j) + matmul(abs(s%stoich(:, :, j)), sphi)
      kf(:, j) = sk
      if (want_jac) then
        jb(:, :, j) = 0.0_dp
        do q = 1, mim_nflux
          jb(:, donor(q), j) = jb(:, donor(q), j) + s%stoich(:, q, j) * sdd(q)
          if (microbe(q) > 0) jb(:, microbe(q), j) = jb(:, microbe(q), j) + s%stoich(:, q, j) * sdm(q)
        end do
      end if
    end do
    ! transport
    do j = 1, n
      f(:, j) = f(:, j) - s%td(j) * x(:, j)
      gross(:, j) = gross(:, j) + abs(s%td(j) * x(:, j))
      if (j > 1) then
        f(:, j) = f(:, j) - s%tl(j) * x(:, j - 1)
        gross(:, j) = gross(:, j) + abs(s%tl(j) * x(:, j - 1))
      end if
      if (j < n) then
        f(:, j) = f(:, j) - s%tu(j) * x(:, j + 1)
        gross(:, j) = gross(:, j) + abs(s%tu(j) * x(:, j + 1))
      end if
    end do
  end subroutine mim_column_eval

  !> Solve (sigma I - J) dx = rhs with J = blocks jb - T (block tridiagonal).
  pure subroutine shifted_solve(s, sigma, jb, rhs, dx, status)
    type(mim_site), intent(in) :: s
    real(dp), intent(in) :: sigma, jb(mim_npool, mim_npool, s%nlay), rhs(mim_npool, s%nlay)
    real(dp), intent(out) :: dx(mim_npool, s%nlay)
    integer(ip), intent(out) :: status
    real(dp) :: dblk(mim_npool, mim_npool, s%nlay), lo(mim_npool, s%nlay), up(mim_npool, s%nlay)
    integer :: j, i
    do j = 1, s%nlay
      dblk(:, :, j) = -jb(:, :, j)
      do i = 1, mim_npool
        dblk(i, i, j) = dblk(i, i, j) + sigma + s%td(j)
      end do
      lo(:, j) = s%tl(j)
      up(:, j) = s%tu(j)
    end do
    call block_tridiag_solve(s%nlay, mim_npool, lo, dblk, up, rhs, dx, status)
  end subroutine shifted_solve

  !> Dense Jacobian of the column (7 nlay x 7 nlay), index p + 7 (j - 1).
  pure subroutine mim_full_jacobian(s, jb, a)
    type(mim_site), intent(in) :: s
    real(dp), intent(in) :: jb(mim_npool, mim_npool, s%nlay)
    real(dp), intent(out) :: a(mim_npool * s%nlay, mim_npool * s%nlay)
    integer :: j, i, o
    a = 0.0_dp
    do j = 1, s%nlay
      o = mim_npool * (j - 1)
      a(o + 1:o + mim_npool, o + 1:o + mim_npool) = jb(:, :, j)
      do i = 1, mim_npool
        a(o + i, o + i) = a(o + i, o + i) - s%td(j)
        if (j > 1) a(o + i, o - mim_npool + i) = -s%tl(j)
        if (j < s%nlay) a(o + i, o + mim_npool + i) = -s%tu(j)
      end do
    end do
  end subroutine mim_full_jacobian

  !> Largest relative positive step alpha <= 1 keeping x + alpha dx >= keep x.
  pure real(dp) function positive_step(x, dx, keep) result(alpha)
    real(dp), intent(in) :: x(:, :), dx(:, :), keep
    integer :: i, j
    alpha = 1.0_dp
    do j = 1, size(x, 2)
      do i = 1, size(x, 1)
        if (dx(i, j) < 0.0_dp) alpha = min(alpha, (1.0_dp - keep) * x(i, j) / (-dx(i, j)))
      end do
    end do
  end function positive_step

  ! ------------------------------------------------------------------------------------
  ! steady state (spec §4.8, X-4)
  ! ------------------------------------------------------------------------------------

  !> Initial guess, layer by layer without transport: microbial production from the
  !> local input (plus a small background, so that layers without litter input start
  !> positive) with mean growth efficiency cbar, P = I cbar/(1 - cbar) x pscale, shared
  !> between r and K by share_r; microbes from turnover = production; then every
  !> substrate pool from its own balance with these microbes (scalar Michaelis-Menten
  !> solves). variant selects (share_r, pscale).
  pure subroutine mim_initial_guess(s, nt, tsoi, wsc, variant, x)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt, variant
    real(dp), intent(in) :: tsoi(s%nlay, nt), wsc(s%nlay, nt)
    real(dp), intent(out) :: x(mim_npool, s%nlay)
    real(dp), parameter :: shares(5) = [0.4_dp, 0.8_dp, 0.15_dp, 0.4_dp, 0.4_dp]
    real(dp), parameter :: pscales(5) = [1.0_dp, 1.0_dp, 1.0_dp, 4.0_dp, 0.25_dp]
    real(dp) :: v(6), km(6), t, w, bg, itl, cbar, p, tr, tk, mr, mk, share, pscale, oxid, ina
    real(dp) :: fpr, fcr, far, fpk, fck, fak
    real(dp) :: f(mim_npool, s%nlay), jb(mim_npool, mim_npool, s%nlay), kf(mim_nflux, s%nlay)
    real(dp) :: gr(mim_npool, s%nlay), resp(s%nlay), a(mim_npool, mim_npool, s%nlay), xp(mim_npool, s%nlay)
    integer(ip) :: st
    integer :: j, iv
    real(dp) :: vk(6, s%nlay, nt), kmk(6, s%nlay, nt)
    call mim_kinetics(s, nt, tsoi, wsc, vk, kmk)
    iv = min(max(variant, 1), 5)
    share = shares(iv); pscale = pscales(iv)
    do j = 1, s%nlay
      t = sum(tsoi(j, :)) / nt
      w = sum(wsc(j, :)) / nt
      v = exp(s%vslope * t + s%vint) * s%vfac(:, j) * w
      km = exp(s%kslope * t + s%kint) * s%kfac(:, j)
      bg = 1.0e-3_dp * s%iscale
      itl = sum(s%inp(:, j)) + bg
      cbar = (s%stoich(imr, 1, j) + s%stoich(imr, 2, j) + s%stoich(imk, 4, j) + s%stoich(imk, 5, j)) / 4
      p = itl * cbar / (1.0_dp - cbar) * pscale
      tr = share * p
      tk = (1.0_dp - share) * p
      mr = (tr / s%tau(1, j))**(1.0_dp / s%beta)
      mk = (tk / s%tau(2, j))**(1.0_dp / s%beta)
      fpr = s%stoich(isp, 9, j); fcr = s%stoich(isc, 9, j); far = s%stoich(isa, 9, j)
      fpk = s%stoich(isp, 10, j); fck = s%stoich(isc, 10, j); fak = s%stoich(isa, 10, j)
      x(imr, j) = mr
      x(imk, j) = mk
      x(ilm, j) = substrate_for(s%kin, mr, mk, v(1), v(4), km(1), km(4), s%inp(ilm, j) + bg * s%fmet)
      x(ils, j) = substrate_for(s%kin, mr, mk, v(2), v(5), km(2), km(5), &
           s%inp(ils, j) + bg * (1.0_dp - s%fmet))
      x(isp, j) = (s%inp(isp, j) + fpr * tr + fpk * tk) / s%desorb(j)
      oxid = s%inp(isc, j) + fcr * tr + fck * tk
      x(isc, j) = substrate_for(s%kin, mr, mk, v(2), v(5), s%ko(1) * km(2), s%ko(2) * km(5), oxid)
      ina = far * tr + fak * tk + s%desorb(j) * x(isp, j) + oxid
      x(isa, j) = substrate_for(s%kin, mr, mk, v(3), v(6), km(3), km(6), ina)
    end do
    ! one Picard step with the rates frozen at this guess, transport included:
    ! (T - A(x)) x_new = I; this brings in the diffusive supply of layers with little
    ! litter input, which the layer-by-layer guess ignores
    call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .false., jb, kf, gr)
    call mim_tracer_blocks(s, kf, a)
    call shifted_solve(s, 0.0_dp, a, s%inp, xp, st)
    if (st == SOC_OK) x = max(xp, 1.0e-6_dp * x)
  end subroutine mim_initial_guess

  !> Substrate level S at which the uptake by both microbes equals the supply q:
  !> forward MM: mr vr S/(kr + S) + mk vk S/(kk + S) = q (capped at 90 % of the
  !> saturated uptake; solved by bisection on the monotone left side);
  !> reverse MM: S (mr vr/(kr + mr) + mk vk/(kk + mk)) = q.
  pure real(dp) function substrate_for(kin, mr, mk, vr, vk, kr, kk, q) result(sx)
    integer, intent(in) :: kin
    real(dp), intent(in) :: mr, mk, vr, vk, kr, kk, q
    real(dp) :: a, b, lo, hi, mid, qq, g
    integer :: it
    a = mr * vr; b = mk * vk
    if (kin == KIN_REVERSE) then
      sx = q / (a / (kr + mr) + b / (kk + mk))
      return
    end if
    qq = min(q, 0.9_dp * (a + b))
    lo = 0.0_dp
    hi = max(kr, kk)
    do while (a * hi / (kr + hi) + b * hi / (kk + hi) < qq)
      hi = 2.0_dp * hi
    end do
    do it = 1, 200
      mid = 0.5_dp * (lo + hi)
      g = a * mid / (kr + mid) + b * mid / (kk + mid) - qq
      if (g > 0.0_dp) then
        hi = mid
      else
        lo = mid
      end if
      if (hi - lo <= 1.0e-12_dp * hi) exit
    end do
    sx = max(0.5_dp * (lo + hi), tiny(1.0_dp) * 1.0e10_dp)
  end function substrate_for

  !> Newton's method with pseudo-transient continuation (PTC; Kelley & Keyes 1998,
  !> SIAM J. Numer. Anal. 35:508): steps (I/delta - J) dx = f, the pseudo-time step delta
  !> at least doubling while |f| does not grow (switched evolution relaxation when |f|
  !> drops faster), held when |f| grows moderately, shortened when it grows a lot or
  !> when positivity truncates the step (every pool keeps at least 10 % of its value);
  !> plain Newton (delta = inf) with backtracking on |f| once |f|/iscale <= tol, back to
  !> PTC if Newton fails to decrease |f|.
  !> Converged: |f|_inf / iscale <= tol (global residual, spec §4.8), every pool's
  !> residual <= 1e-9 of the sum of the magnitudes of its own terms (so that pools that
  !> are tiny, e.g. deep microbes, are converged as well), and a relative Newton step
  !> <= 1e-10 or a residual at its round-off floor. relres: that per-pool measure.
  pure subroutine mim_newton(s, nt, tsoi, wsc, delta0, maxit, tol, x, niter, resid, relres, status)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt, maxit
    real(dp), intent(in) :: tsoi(s%nlay, nt), wsc(s%nlay, nt), delta0, tol
    real(dp), intent(inout) :: x(mim_npool, s%nlay)
    integer, intent(out) :: niter
    real(dp), intent(out) :: resid, relres
    integer(ip), intent(out) :: status
    real(dp), parameter :: keep = 0.1_dp, delta_newton = 1.0e25_dp, reltol = 1.0e-9_dp
    real(dp) :: f(mim_npool, s%nlay), ft(mim_npool, s%nlay), jb(mim_npool, mim_npool, s%nlay)
    real(dp) :: kf(mim_nflux, s%nlay), resp(s%nlay), dx(mim_npool, s%nlay), xt(mim_npool, s%nlay)
    real(dp) :: gr(mim_npool, s%nlay), grt(mim_npool, s%nlay)
    real(dp) :: delta, rn, rnt, alpha, sigma, steprel, rn_prev_newton, fac
    integer(ip) :: st
    integer :: it, nback, nfloor
    real(dp) :: vk(6, s%nlay, nt), kmk(6, s%nlay, nt)
    call mim_kinetics(s, nt, tsoi, wsc, vk, kmk)
    status = SOC_ERR_NOT_CONVERGED
    niter = 0
    delta = delta0
    call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .true., jb, kf, gr)
    rn = maxval(abs(f)) / s%iscale
    resid = rn
    relres = rel_residual(f, gr)
    if (.not. ieee_is_finite(rn)) then
      status = SOC_ERR_NONFINITE; return
    end if
    rn_prev_newton = huge(1.0_dp)
    nfloor = 0
    do it = 1, maxit
      niter = it
      sigma = 0.0_dp
      if (delta < delta_newton) sigma = 1.0_dp / delta
      call shifted_solve(s, sigma, jb, f, dx, st)
      if (st /= SOC_OK) then
        if (sigma == 0.0_dp) then
          delta = 1.0e4_dp; cycle         ! singular Newton matrix: back to PTC
        end if
        delta = 0.1_dp * delta
        if (delta < 1.0e-8_dp) then
          status = st; return
        end if
        cycle
      end if
      alpha = positive_step(x, dx, keep)
      nback = 0
      do
        xt = x + alpha * dx
        call mim_column_eval(s, nt, vk, kmk, 1.0_dp, xt, ft, resp, .false., jb, kf, grt)
        rnt = maxval(abs(ft)) / s%iscale
        if (ieee_is_finite(rnt)) then
          if (sigma > 0.0_dp .or. rnt < rn .or. rnt <= tol * 1.0e-3_dp) exit
        end if
        nback = nback + 1
        if (nback > 8) exit
        alpha = 0.5_dp * alpha
      end do
      if (.not. ieee_is_finite(rnt)) then
        delta = min(delta, 1.0e4_dp) * 0.01_dp
        if (delta < 1.0e-8_dp) then
          status = SOC_ERR_NONFINITE; return
        end if
        call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .true., jb, kf, gr)
        cycle
      end if
      if (sigma == 0.0_dp .and. rnt >= rn .and. (rn > tol .or. relres > reltol)) then
        ! Newton failed to decrease |f|: back to pseudo-transient continuation
        delta = 1.0e4_dp
        call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .true., jb, kf, gr)
        cycle
      end if
      if (sigma > 0.0_dp .and. rnt > 10.0_dp * rn) then
        ! pseudo-time step too long: reject and shorten
        delta = 0.25_dp * delta
        if (delta < 1.0e-8_dp) return
        call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .true., jb, kf, gr)
        cycle
      end if
      steprel = maxval(abs(xt - x) / x)
      x = xt
      if (sigma > 0.0_dp) then
        if (rnt <= 1.2_dp * rn) then
          fac = min(max(2.0_dp, rn / max(rnt, tiny(1.0_dp))), 1.0e3_dp)
        else if (rnt <= 3.0_dp * rn) then
          fac = 1.0_dp
        else
          fac = 0.5_dp
        end if
        if (alpha < 1.0_dp) fac = min(fac, 1.0_dp) * max(alpha, 0.05_dp)
        delta = delta * fac
      end if
      rn = rnt
      resid = rn
      call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .true., jb, kf, gr)
      relres = rel_residual(f, gr)
      if (rn <= tol .and. relres <= reltol .and. sigma == 0.0_dp) then
        if (steprel <= 1.0e-10_dp) then
          status = SOC_OK; return
        end if
        if (rn > 0.5_dp * rn_prev_newton) nfloor = nfloor + 1
        if (nfloor >= 2) then
          status = SOC_OK; return
        end if
      end if
      if (rn <= tol .and. sigma > 0.0_dp) delta = 1.0e6_dp * delta_newton
      if (sigma == 0.0_dp) rn_prev_newton = rn
    end do
  end subroutine mim_newton

  !> Largest residual of a pool relative to the sum of the magnitudes of its terms.
  pure real(dp) function rel_residual(f, gr) result(r)
    real(dp), intent(in) :: f(:, :), gr(:, :)
    integer :: i, j
    r = 0.0_dp
    do j = 1, size(f, 2)
      do i = 1, size(f, 1)
        if (gr(i, j) > 0.0_dp) then
          r = max(r, abs(f(i, j)) / gr(i, j))
        else if (f(i, j) /= 0.0_dp) then
          r = huge(1.0_dp)
        end if
      end do
    end do
  end function rel_residual

  !> Robust steady state of one site (spec §4.8): Newton-PTC from the given guess
  !> (use_x0) and/or from the default guesses (mim_initial_guess variants 1..5) until a
  !> root is accepted. "ok" requires a converged interior root (every pool, both
  !> microbial groups included, positive and converged in the per-pool sense of
  !> mim_newton) and, if check_stab, every Jacobian eigenvalue with a negative real
  !> part. Otherwise the best state found is returned with SOC_ERR_INVALID and reason
  !> bits (1: a microbial group extinct, i.e. iterates approach a boundary root with
  !> MIC -> 0 while all other pools are converged; 2: unstable; 4: eigenvalues not
  !> computed), or SOC_ERR_NOT_CONVERGED. attempt: the start that gave the returned
  !> state (1: x0, 2..6: default guesses).
  pure subroutine mim_steady_state(s, nt, tsoi, wsc, x0, use_x0, check_stab, x, resp, niter, &
       resid, maxeig, attempt, status, reason)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt
    real(dp), intent(in) :: tsoi(s%nlay, nt), wsc(s%nlay, nt), x0(mim_npool, s%nlay)
    logical, intent(in) :: use_x0, check_stab
    real(dp), intent(out) :: x(mim_npool, s%nlay), resp(s%nlay)
    integer, intent(out) :: niter, attempt
    real(dp), intent(out) :: resid, maxeig
    integer(ip), intent(out) :: status, reason
    integer, parameter :: nattempt = 6, maxit = 300
    real(dp), parameter :: tol = 1.0e-10_dp
    real(dp) :: xa(mim_npool, s%nlay), f(mim_npool, s%nlay), jb(mim_npool, mim_npool, s%nlay)
    real(dp) :: kf(mim_nflux, s%nlay), gr(mim_npool, s%nlay), ra, ea, rr, best_resid
    integer(ip) :: st, rs, best_status
    integer :: a, ni, rank, best_rank
    real(dp) :: vk(6, s%nlay, nt), kmk(6, s%nlay, nt)
    niter = 0; resid = huge(1.0_dp); maxeig = 0.0_dp; attempt = 0
    status = check_env(s%nlay, nt, tsoi, wsc)
    reason = 0
    x = 0.0_dp; resp = 0.0_dp
    if (status /= SOC_OK) return
    call mim_kinetics(s, nt, tsoi, wsc, vk, kmk)
    if (use_x0) then
      if (.not. (all(ieee_is_finite(x0)) .and. all(x0 > 0))) then
        status = SOC_ERR_FORCING; return
      end if
    end if
    best_rank = 99; best_status = SOC_ERR_NOT_CONVERGED; best_resid = huge(1.0_dp)
    do a = 1, nattempt
      if (a == 1 .and. use_x0) then
        xa = x0
      else if (a == 1) then
        cycle
      else
        call mim_initial_guess(s, nt, tsoi, wsc, a - 1, xa)
      end if
      call mim_newton(s, nt, tsoi, wsc, 1.0_dp, maxit, tol, xa, ni, ra, rr, st)
      niter = niter + ni
      rs = 0; ea = 0.0_dp
      if (st == SOC_OK) then
        call classify(s, nt, tsoi, wsc, xa, check_stab, ea, rs)
        rank = 0
        if (rs /= 0) then
          rank = 1; st = SOC_ERR_INVALID
        end if
      else if (st == SOC_ERR_NOT_CONVERGED .and. ra <= tol .and. extinct_root(s, nt, tsoi, wsc, xa)) then
        rank = 2; st = SOC_ERR_INVALID; rs = REASON_EXTINCT
      else
        rank = 3
      end if
      if (rank < best_rank .or. (rank == best_rank .and. ra < best_resid)) then
        best_rank = rank; best_status = st; best_resid = ra
        x = xa; maxeig = ea; reason = rs; attempt = a; resid = ra
      end if
      if (rank == 0) exit
    end do
    status = best_status
    if (best_rank <= 2) then
      call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .false., jb, kf, gr)
      if (.not. all(ieee_is_finite(x))) status = SOC_ERR_NONFINITE
    end if
  end subroutine mim_steady_state

  !> Boundary-root test for a non-converged state: in some layer a microbial group is
  !> below 1e-20 of the layer's carbon and every pool other than such microbes is
  !> converged (per-pool residual <= 1e-8 of its terms).
  pure logical function extinct_root(s, nt, tsoi, wsc, x) result(ext)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt
    real(dp), intent(in) :: tsoi(s%nlay, nt), wsc(s%nlay, nt), x(mim_npool, s%nlay)
    real(dp) :: f(mim_npool, s%nlay), jb(mim_npool, mim_npool, s%nlay), kf(mim_nflux, s%nlay)
    real(dp) :: gr(mim_npool, s%nlay), resp(s%nlay)
    integer :: j, i
    logical :: dead
    real(dp) :: vk(6, s%nlay, nt), kmk(6, s%nlay, nt)
    call mim_kinetics(s, nt, tsoi, wsc, vk, kmk)
    ext = .false.
    call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .false., jb, kf, gr)
    do j = 1, s%nlay
      do i = 1, mim_npool
        dead = (i == imr .or. i == imk) .and. x(i, j) <= 1.0e-20_dp * sum(x(:, j))
        if (dead) then
          ext = .true.
        else if (abs(f(i, j)) > 1.0e-8_dp * gr(i, j)) then
          ext = .false.; return
        end if
      end do
    end do
  end function extinct_root

  !> Stability of a converged interior root: largest real part of the eigenvalues of
  !> the full column Jacobian (dense, 7 nlay).
  pure subroutine classify(s, nt, tsoi, wsc, x, check_stab, maxeig, reason)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt
    real(dp), intent(in) :: tsoi(s%nlay, nt), wsc(s%nlay, nt), x(mim_npool, s%nlay)
    logical, intent(in) :: check_stab
    real(dp), intent(out) :: maxeig
    integer(ip), intent(out) :: reason
    real(dp) :: f(mim_npool, s%nlay), jb(mim_npool, mim_npool, s%nlay), kf(mim_nflux, s%nlay)
    real(dp) :: resp(s%nlay), gr(mim_npool, s%nlay)
    real(dp), allocatable :: a(:, :)
    integer(ip) :: st
    real(dp) :: vk(6, s%nlay, nt), kmk(6, s%nlay, nt)
    call mim_kinetics(s, nt, tsoi, wsc, vk, kmk)
    reason = 0
    maxeig = 0.0_dp
    if (.not. all(x > 0.0_dp)) reason = ior(reason, REASON_EXTINCT)
    if (check_stab) then
      call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .true., jb, kf, gr)
      allocate(a(mim_npool * s%nlay, mim_npool * s%nlay))
      call mim_full_jacobian(s, jb, a)
      call max_real_eigenvalue(mim_npool * s%nlay, a, maxeig, st)
      if (st /= SOC_OK) then
        reason = ior(reason, REASON_STABILITY_UNKNOWN)
      else if (.not. (maxeig < 0.0_dp)) then
        reason = ior(reason, REASON_UNSTABLE)
      end if
    end if
  end subroutine classify

  ! ------------------------------------------------------------------------------------
  ! radiocarbon
  ! ------------------------------------------------------------------------------------

  !> Tracer blocks A14(:, :, j) = sum_f S(:, f) k_f e_donor(f)^T (h-1).
  pure subroutine mim_tracer_blocks(s, kf, a14)
    type(mim_site), intent(in) :: s
    real(dp), intent(in) :: kf(mim_nflux, s%nlay)
    real(dp), intent(out) :: a14(mim_npool, mim_npool, s%nlay)
    integer :: j, q
    a14 = 0.0_dp
    do j = 1, s%nlay
      do q = 1, mim_nflux
        a14(:, donor(q), j) = a14(:, donor(q), j) + s%stoich(:, q, j) * kf(q, j)
      end do
    end do
  end subroutine mim_tracer_blocks

  !> Steady-state radiocarbon c (mg C cm-3 x F) for the carbon state x, litter of
  !> fraction modern fatm: 0 = I fatm + A14 c - lambda c - T c.
  pure subroutine mim_c14_steady(s, nt, tsoi, wsc, x, fatm, c, status)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt
    real(dp), intent(in) :: tsoi(s%nlay, nt), wsc(s%nlay, nt), x(mim_npool, s%nlay), fatm
    real(dp), intent(out) :: c(mim_npool, s%nlay)
    integer(ip), intent(out) :: status
    real(dp) :: gr(mim_npool, s%nlay)
    real(dp) :: f(mim_npool, s%nlay), jb(mim_npool, mim_npool, s%nlay), kf(mim_nflux, s%nlay)
    real(dp) :: a14(mim_npool, mim_npool, s%nlay), resp(s%nlay)
    real(dp) :: vk(6, s%nlay, nt), kmk(6, s%nlay, nt)
    call mim_kinetics(s, nt, tsoi, wsc, vk, kmk)
    call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .false., jb, kf, gr)
    call mim_tracer_blocks(s, kf, a14)
    call shifted_solve(s, lambda14, a14, s%inp * fatm, c, status)
  end subroutine mim_c14_steady

  !> Radiocarbon through a period with the carbon state x held fixed (a steady state
  !> under constant forcing): nstep forcing steps of hours(k) hours, nsub backward-Euler
  !> sub-steps each, litter fraction modern fatm(k). The tracer system is linear with
  !> a constant matrix, factorised once. c: in the initial, out the final tracer state.
  pure subroutine mim_c14_transient(s, nt, tsoi, wsc, x, nstep, hours, fatm, nsub, c, status)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nt, nstep, nsub
    real(dp), intent(in) :: tsoi(s%nlay, nt), wsc(s%nlay, nt), x(mim_npool, s%nlay)
    real(dp), intent(in) :: hours(nstep), fatm(nstep)
    real(dp), intent(inout) :: c(mim_npool, s%nlay)
    integer(ip), intent(out) :: status
    real(dp) :: gr(mim_npool, s%nlay)
    real(dp) :: f(mim_npool, s%nlay), jb(mim_npool, mim_npool, s%nlay), kf(mim_nflux, s%nlay)
    real(dp) :: a14(mim_npool, mim_npool, s%nlay), resp(s%nlay), rhs(mim_npool, s%nlay)
    real(dp) :: dinv(mim_npool, mim_npool, s%nlay), g(mim_npool, mim_npool, s%nlay), h, hfac
    integer :: k, m
    real(dp) :: vk(6, s%nlay, nt), kmk(6, s%nlay, nt)
    call mim_kinetics(s, nt, tsoi, wsc, vk, kmk)
    status = SOC_OK
    if (nstep == 0) return
    if (nsub < 1 .or. .not. all(hours > 0) .or. .not. all(ieee_is_finite(hours)) .or. &
         .not. all(ieee_is_finite(fatm)) .or. .not. all(fatm >= 0)) then
      status = SOC_ERR_FORCING; return
    end if
    call mim_column_eval(s, nt, vk, kmk, 1.0_dp, x, f, resp, .false., jb, kf, gr)
    call mim_tracer_blocks(s, kf, a14)
    hfac = -1.0_dp
    do k = 1, nstep
      h = hours(k) / nsub
      if (h /= hfac) then
        call bt_factor(s, 1.0_dp / h + lambda14, a14, dinv, g, status)
        if (status /= SOC_OK) return
        hfac = h
      end if
      do m = 1, nsub
        rhs = c / h + s%inp * fatm(k)
        call bt_solve(s, dinv, g, rhs, c)
      end do
    end do
    if (.not. all(ieee_is_finite(c))) status = SOC_ERR_NONFINITE
  end subroutine mim_c14_transient

  !> Block-tridiagonal factorisation of (sigma I - A + T) kept for repeated solves:
  !> dinv(:,:,j) = D'_j^-1, g(:,:,j) = D'_j^-1 diag(tu_j), D'_j = D_j - tl_j g_{j-1}.
  pure subroutine bt_factor(s, sigma, a, dinv, g, status)
    type(mim_site), intent(in) :: s
    real(dp), intent(in) :: sigma, a(mim_npool, mim_npool, s%nlay)
    real(dp), intent(out) :: dinv(mim_npool, mim_npool, s%nlay), g(mim_npool, mim_npool, s%nlay)
    integer(ip), intent(out) :: status
    real(dp) :: m(mim_npool, mim_npool), b(mim_npool, mim_npool)
    integer :: j, i
    status = SOC_OK
    do j = 1, s%nlay
      m = -a(:, :, j)
      do i = 1, mim_npool
        m(i, i) = m(i, i) + sigma + s%td(j)
      end do
      if (j > 1) m = m - s%tl(j) * g(:, :, j - 1)
      b = 0.0_dp
      do i = 1, mim_npool
        b(i, i) = 1.0_dp
      end do
      call dense_lu_solve(mim_npool, mim_npool, m, b, status)
      if (status /= SOC_OK) return
      dinv(:, :, j) = b
      g(:, :, j) = b * s%tu(j)
    end do
  end subroutine bt_factor

  pure subroutine bt_solve(s, dinv, g, rhs, x)
    type(mim_site), intent(in) :: s
    real(dp), intent(in) :: dinv(mim_npool, mim_npool, s%nlay), g(mim_npool, mim_npool, s%nlay)
    real(dp), intent(in) :: rhs(mim_npool, s%nlay)
    real(dp), intent(out) :: x(mim_npool, s%nlay)
    integer :: j
    x(:, 1) = matmul(dinv(:, :, 1), rhs(:, 1))
    do j = 2, s%nlay
      x(:, j) = matmul(dinv(:, :, j), rhs(:, j) - s%tl(j) * x(:, j - 1))
    end do
    do j = s%nlay - 1, 1, -1
      x(:, j) = x(:, j) - matmul(g(:, :, j), x(:, j + 1))
    end do
  end subroutine bt_solve

  ! ------------------------------------------------------------------------------------
  ! time stepping
  ! ------------------------------------------------------------------------------------

  !> One backward-Euler step of length h (hours) with kinetic constants v, km, input
  !> multiplier iscl: x <- x_new solving x_new - x - h f(x_new) = 0 by a chord Newton
  !> iteration: the factorised matrix (I/h - J) is kept in wk between steps and
  !> refreshed only when the iteration contracts slowly, the step length changed or a
  !> step needed positivity truncation (pools keep >= 1 % of their value per iteration).
  !> Converged when the relative update is <= 1e-14 (or at the round-off floor below
  !> 1e-11). If with14, the tracer step follows with the rate coefficients at x_new
  !> (linear, solved directly). resp, resp14: respiration at x_new, dec14: radioactive
  !> decay at the new tracer state (mg C cm-3 h-1, x fraction modern for the tracer).
  pure subroutine mim_step(s, h, v, km, iscl, fatm, with14, x, c, resp, resp14, dec14, wk, status)
    type(mim_site), intent(in) :: s
    real(dp), intent(in) :: h, v(6, s%nlay), km(6, s%nlay), iscl, fatm
    logical, intent(in) :: with14
    real(dp), intent(inout) :: x(mim_npool, s%nlay), c(mim_npool, s%nlay)
    real(dp), intent(out) :: resp(s%nlay), resp14(s%nlay), dec14(s%nlay)
    type(mim_work), intent(inout) :: wk
    integer(ip), intent(out) :: status
    real(dp) :: gr(mim_npool, s%nlay)
    real(dp) :: xn(mim_npool, s%nlay), f(mim_npool, s%nlay), jb(mim_npool, mim_npool, s%nlay)
    real(dp) :: kf(mim_nflux, s%nlay), a14(mim_npool, mim_npool, s%nlay), dx(mim_npool, s%nlay)
    real(dp) :: g(mim_npool, s%nlay), alpha, sig, rel, rel_prev
    integer :: it, j, q
    logical :: refresh
    sig = 1.0_dp / h
    xn = x
    status = SOC_ERR_NOT_CONVERGED
    if (.not. allocated(wk%dinv)) then
      allocate(wk%dinv(mim_npool, mim_npool, s%nlay), wk%g(mim_npool, mim_npool, s%nlay), &
           wk%dxprev(mim_npool, s%nlay))
      wk%valid = .false.
      wk%dxprev = 0.0_dp
    end if
    ! linear predictor from the previous step (same step length), kept positive
    if (wk%valid .and. wk%h == h) xn = max(x + wk%dxprev, 0.5_dp * x)
    refresh = .not. wk%valid .or. wk%h /= h
    rel_prev = huge(1.0_dp)
    do it = 1, 40
      call mim_column_eval(s, 1, v, km, iscl, xn, f, resp, refresh, jb, kf, gr)
      if (refresh) then
        call bt_factor(s, sig, jb, wk%dinv, wk%g, status)
        if (status /= SOC_OK) then
          wk%valid = .false.; return
        end if
        wk%valid = .true.; wk%h = h
        refresh = .false.
      end if
      ! (I/h - J) dx = f - (xn - x)/h
      g = f - (xn - x) * sig
      call bt_solve(s, wk%dinv, wk%g, g, dx)
      alpha = positive_step(xn, dx, 0.01_dp)
      xn = xn + alpha * dx
      rel = maxval(abs(alpha * dx) / xn)
      if (.not. ieee_is_finite(rel)) then
        wk%valid = .false.; status = SOC_ERR_NONFINITE; return
      end if
      if (alpha == 1.0_dp .and. rel <= wk%tol) then
        status = SOC_OK; exit
      end if
      if (alpha == 1.0_dp .and. rel <= 1.0e-11_dp .and. rel > 0.5_dp * rel_prev) then
        status = SOC_OK; exit            ! round-off floor
      end if
      if (alpha < 1.0_dp .or. (it >= 2 .and. rel > 0.1_dp * rel_prev)) refresh = .true.
      rel_prev = rel
    end do
    if (status /= SOC_OK) then
      wk%valid = .false.; return
    end if
    call mim_column_eval(s, 1, v, km, iscl, xn, f, resp, .false., jb, kf, gr)
    wk%dxprev = xn - x
    x = xn
    resp14 = 0.0_dp
    dec14 = 0.0_dp
    if (with14) then
      call mim_tracer_blocks(s, kf, a14)
      g = c * sig + iscl * s%inp * fatm
      call shifted_solve(s, sig + lambda14, a14, g, dx, status)
      if (status /= SOC_OK) return
      c = dx
      do j = 1, s%nlay
        do q = 1, mim_nflux
          resp14(j) = resp14(j) - sum(s%stoich(:, q, j)) * kf(q, j) * c(donor(q), j)
        end do
        dec14(j) = lambda14 * sum(c(:, j))
      end do
    end if
  end subroutine mim_step

  !> Column stocks (mg C cm-2) of a state.
  pure real(dp) function mim_stock_balance(s, x) result(stock)
    type(mim_site), intent(in) :: s
    real(dp), intent(in) :: x(mim_npool, s%nlay)
    integer :: j
    stock = 0.0_dp
    do j = 1, s%nlay
      stock = stock + s%dz(j) * sum(x(:, j))
    end do
  end function mim_stock_balance

  !> Advance the state by `hours` hours in nsub backward-Euler sub-steps, halving the
  !> sub-step (up to 2^12 times finer) when a sub-step's Newton iteration fails.
  !> rmean/r14mean: mean respiration over the interval (mg C cm-3 h-1).
  pure subroutine advance(s, hours, nsub, t, w, iscl, fatm, with14, x, c, rmean, r14mean, d14mean, wk, status)
    type(mim_site), intent(in) :: s
    real(dp), intent(in) :: hours, t(s%nlay), w(s%nlay), iscl, fatm
    integer, intent(in) :: nsub
    logical, intent(in) :: with14
    real(dp), intent(inout) :: x(mim_npool, s%nlay), c(mim_npool, s%nlay)
    real(dp), intent(out) :: rmean(s%nlay), r14mean(s%nlay), d14mean(s%nlay)
    type(mim_work), intent(inout) :: wk
    integer(ip), intent(out) :: status
    real(dp) :: xb(mim_npool, s%nlay), cb(mim_npool, s%nlay), r(s%nlay), r14(s%nlay), d14(s%nlay), h, done
    real(dp) :: v(6, s%nlay), km(6, s%nlay)
    integer :: level
    rmean = 0.0_dp; r14mean = 0.0_dp; d14mean = 0.0_dp
    call mim_kinetics(s, 1, t, w, v, km)
    done = 0.0_dp
    level = 0
    status = SOC_OK
    do while (done < hours * (1.0_dp - 1.0e-12_dp))
      h = min(hours / (nsub * 2.0_dp**level), hours - done)
      xb = x; cb = c
      call mim_step(s, h, v, km, iscl, fatm, with14, x, c, r, r14, d14, wk, status)
      if (status /= SOC_OK) then
        x = xb; c = cb
        level = level + 1
        if (level > 12) return
        cycle
      end if
      rmean = rmean + r * h
      r14mean = r14mean + r14 * h
      d14mean = d14mean + d14 * h
      done = done + h
    end do
    rmean = rmean / hours
    r14mean = r14mean / hours
    d14mean = d14mean / hours
  end subroutine advance

  !> Transient run over nstep forcing steps of hours(k) hours each, nsub backward-Euler
  !> sub-steps per forcing step (adaptive halving on failure, see advance). Outputs at
  !> the end of every forcing step; resp/resp14: mean respiration over the step
  !> (mg C cm-3 h-1), dec14: step-mean radioactive decay. iscl(k) multiplies the litter inputs, fatm(k) is the fraction
  !> modern of the litter entering during step k (already lagged by the caller).
  pure subroutine mim_transient(s, nstep, tsoi, wsc, iscl, hours, fatm, nsub, with14, x0, c0, &
       x, c, resp, resp14, dec14, status)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: nstep, nsub
    real(dp), intent(in) :: tsoi(s%nlay, nstep), wsc(s%nlay, nstep), iscl(nstep), hours(nstep), fatm(nstep)
    logical, intent(in) :: with14
    real(dp), intent(in) :: x0(mim_npool, s%nlay), c0(mim_npool, s%nlay)
    real(dp), intent(out) :: x(mim_npool, s%nlay, nstep), c(mim_npool, s%nlay, nstep)
    real(dp), intent(out) :: resp(s%nlay, nstep), resp14(s%nlay, nstep), dec14(s%nlay, nstep)
    integer(ip), intent(out) :: status
    real(dp) :: xs(mim_npool, s%nlay), cs(mim_npool, s%nlay)
    type(mim_work) :: wk
    integer :: k
    x = 0.0_dp; c = 0.0_dp; resp = 0.0_dp; resp14 = 0.0_dp; dec14 = 0.0_dp
    status = check_env(s%nlay, nstep, tsoi, wsc)
    if (status == SOC_OK) then
      if (nsub < 1 .or. .not. all(hours > 0) .or. .not. all(iscl >= 0) .or. &
           .not. all(ieee_is_finite(iscl)) .or. .not. all(ieee_is_finite(hours))) status = SOC_ERR_FORCING
      if (with14 .and. .not. (all(ieee_is_finite(fatm)) .and. all(fatm >= 0))) status = SOC_ERR_FORCING
      if (.not. (all(ieee_is_finite(x0)) .and. all(x0 > 0))) status = SOC_ERR_FORCING
      if (with14 .and. .not. (all(ieee_is_finite(c0)) .and. all(c0 >= 0))) status = SOC_ERR_FORCING
    end if
    if (status /= SOC_OK) return
    xs = x0; cs = c0
    do k = 1, nstep
      call advance(s, hours(k), nsub, tsoi(:, k), wsc(:, k), iscl(k), fatm(k), with14, xs, cs, &
           resp(:, k), resp14(:, k), dec14(:, k), wk, status)
      if (status /= SOC_OK) return
      x(:, :, k) = xs
      c(:, :, k) = cs
    end do
  end subroutine mim_transient

  !> Spin-up by backward-Euler time stepping (seed 003 §2.2): the ncyc forcing columns
  !> cover one year (8760/ncyc hours each), sub-stepped at about dt hours; years are
  !> repeated until the largest relative change of any pool between successive years
  !> is below tol (seed 003: 1e-4), or max_years. years: number of years run;
  !> change: the last relative change.
  pure subroutine mim_spinup(s, ncyc, tsoi, wsc, dt, tol, max_years, x, years, change, status)
    type(mim_site), intent(in) :: s
    integer, intent(in) :: ncyc, max_years
    real(dp), intent(in) :: tsoi(s%nlay, ncyc), wsc(s%nlay, ncyc), dt, tol
    real(dp), intent(inout) :: x(mim_npool, s%nlay)
    integer, intent(out) :: years
    real(dp), intent(out) :: change
    integer(ip), intent(out) :: status
    real(dp) :: xprev(mim_npool, s%nlay), c(mim_npool, s%nlay), r(s%nlay), r14(s%nlay), d14(s%nlay), hk
    type(mim_work) :: wk
    integer :: y, k, nsub
    years = 0
    change = huge(1.0_dp)
    status = check_env(s%nlay, ncyc, tsoi, wsc)
    if (status /= SOC_OK) return
    if (.not. (dt > 0 .and. tol > 0) .or. .not. (all(ieee_is_finite(x)) .and. all(x > 0))) then
      status = SOC_ERR_FORCING; return
    end if
    hk = hours_per_year / ncyc
    nsub = max(1, nint(hk / dt))
    c = 0.0_dp
    wk%tol = 1.0e-11_dp          ! no mass-balance bookkeeping in the spin-up
    status = SOC_ERR_NOT_CONVERGED
    do y = 1, max_years
      xprev = x
      do k = 1, ncyc
        call advance(s, hk, nsub, tsoi(:, k), wsc(:, k), 1.0_dp, 0.0_dp, .false., x, c, r, r14, d14, wk, status)
        if (status /= SOC_OK) return
      end do
      years = y
      change = maxval(abs(x - xprev) / xprev)
      if (change < tol) then
        status = SOC_OK; return
      end if
      status = SOC_ERR_NOT_CONVERGED
    end do
  end subroutine mim_spinup

end module soc_mimics
